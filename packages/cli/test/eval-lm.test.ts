import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

const run = (args: string[]) => runCli(args);

describe("fairseq-ts eval-lm", () => {
  it("its loss equals the trainer's validation loss on the same split; --context-window scores every token once with more context", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-evallm-"));
    let x = 11;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    // a corpus with long-range structure: the subject word returns at the end of the sentence
    const make = (n: number) =>
      Array.from({ length: n }, () => {
        const subj = `s${Math.floor(rnd() * 6)}`;
        return [subj, ...Array.from({ length: 3 + Math.floor(rnd() * 4) }, () => `w${Math.floor(rnd() * 12)}`), subj, "."].join(" ");
      }).join("\n") + "\n";
    writeFileSync(join(dir, "train.txt"), make(600));
    writeFileSync(join(dir, "valid.txt"), make(80));
    const pre = await run([
      "preprocess",
      "--only-source",
      "--trainpref",
      join(dir, "train.txt"),
      "--validpref",
      join(dir, "valid.txt"),
      "--destdir",
      join(dir, "bin"),
    ]);
    expect(pre.status, pre.out).toBe(0);
    const tr = await run([
      "train",
      join(dir, "bin"),
      "--task",
      "language_modeling",
      "--arch",
      "transformer_lm",
      "--decoder-layers",
      "1",
      "--decoder-embed-dim",
      "32",
      "--decoder-ffn-embed-dim",
      "64",
      "--decoder-attention-heads",
      "2",
      "--tokens-per-sample",
      "32",
      "--sample-break-mode",
      "none",
      "--optimizer",
      "adam",
      "--lr",
      "0.005",
      "--max-tokens",
      "512",
      "--max-update",
      "200",
      "--dropout",
      "0",
      "--criterion",
      "cross_entropy",
      "--save-dir",
      join(dir, "ck"),
      "--log-format",
      "simple",
      "--no-epoch-checkpoints",
      "--backend",
      "cpu",
    ]);
    expect(tr.status, tr.out).toBe(0);
    const validLosses = [...tr.out.matchAll(/\| valid on 'valid' subset \| loss ([\d.]+) \|/g)].map((m) => Number(m[1]));
    const lastValid = validLosses.at(-1)!;
    const ev = (extra: string[]) =>
      run([
        "eval-lm",
        join(dir, "bin"),
        "--path",
        join(dir, "ck/checkpoint_last.safetensors"),
        "--gen-subset",
        "valid",
        "--backend",
        "cpu",
        ...(extra.includes("--tokens-per-sample") ? [] : ["--tokens-per-sample", "32"]),
        ...extra,
      ]);
    const plain = await ev([]);
    expect(plain.status, plain.out).toBe(0);
    const parse = (out: string) => ({
      tokens: Number(/Evaluated (\d+) tokens/.exec(out)![1]),
      loss: Number(/Loss \(base 2\): ([\d.]+), Perplexity: ([\d.]+)/.exec(out)![1]),
      ppl: Number(/Perplexity: ([\d.]+)/.exec(out)![1]),
    });
    const a = parse(plain.out);
    // independent path: the criterion's validation loss (base 2, rounded to 3 places) at the same weights
    expect(a.loss).toBeCloseTo(lastValid, 2);
    expect(a.ppl).toBeCloseTo(2 ** a.loss, 0);
    const windowed = await ev(["--context-window", "16"]);
    expect(windowed.status, windowed.out).toBe(0);
    const b = parse(windowed.out);
    expect(b.tokens).toBe(a.tokens); // every token scored exactly once
    expect(b.loss).toBeLessThan(a.loss); // block starts now see context
    // one token of context already helps blocks of 16 (fairseq keeps corpus order for this)
    const p16 = parse((await ev(["--tokens-per-sample", "16"])).out);
    const w1 = parse((await ev(["--tokens-per-sample", "17", "--context-window", "1"])).out);
    expect(w1.tokens).toBe(p16.tokens);
    expect(w1.loss).toBeLessThan(p16.loss);
    const bad = await ev(["--context-window", "32"]);
    expect(bad.status).toBe(1);
    expect(bad.out).toMatch(/--context-window 32 must be >= 0 and smaller than --tokens-per-sample 32/);
  }, 240_000);
});
