import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildPointerGeneratorDictionary, dictionaryWords, replaceOovs, restoreOovs } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const BIN = join(pkg, "node_modules/@fairseq-ts/cli/dist/bin.js");

function run(args: string[]): Promise<{ status: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args]);
    let out = "";
    let stdout = "";
    p.stdout.on("data", (d) => ((out += String(d)), (stdout += String(d))));
    p.stderr.on("data", (d) => (out += String(d)));
    p.on("close", (status) => resolve({ status, out, stdout }));
  });
}

/** A seeded stream (mulberry32) so the toy data is the same on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The toy copy task: a source of 4-7 words from a 12-word vocabulary with two words never seen before (fresh in every
 * example) next to each other somewhere in it; the target is those two words.
 */
function copyTask(n: number, seed: number): { src: string[]; tgt: string[] } {
  const r = rng(seed);
  const pick = (k: number) => Math.floor(r() * k);
  const fresh = () => Array.from({ length: 5 }, () => "bcdfghjklmnpqrstvz"[pick(18)]).join("");
  const src: string[] = [];
  const tgt: string[] = [];
  for (let i = 0; i < n; i++) {
    const words = Array.from({ length: 2 + pick(4) }, () => `w${pick(12)}`);
    const oov = [fresh(), fresh()];
    words.splice(pick(words.length + 1), 0, ...oov);
    src.push(words.join(" "));
    tgt.push(oov.join(" "));
  }
  return { src, tgt };
}

describe("transformer_pointer_generator through the CLI (--user-dir)", () => {
  it("trains with label_smoothed_cross_entropy, generates with beam search, and copies OOV words through <unk-N> that --force-generation 1 (no pointing) cannot", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-pointer-generator-"));
    const train = copyTask(400, 1);
    const test = copyTask(20, 2);
    const markers = 8;
    // the README's dictionary: the words of the training text (the 12 in-vocabulary words; every OOV word occurs once,
    // so a vocabulary of 12 + 4 keeps them out) and the markers
    const dict = buildPointerGeneratorDictionary([...train.src, ...train.tgt], 16, markers);
    expect(dict.split("\n").filter((l) => /^w\d+ /.test(l)).length).toBe(12);
    writeFileSync(join(dir, "dict.pg.txt"), dict);
    const vocab = dictionaryWords(dict);
    for (const [split, data] of [
      ["train", train],
      ["valid", copyTask(40, 3)],
      ["test", test],
    ] as const) {
      const marked = data.src.map((s, i) => replaceOovs(s, data.tgt[i], vocab));
      writeFileSync(join(dir, `${split}.pg.src`), marked.map((m) => m.source).join("\n") + "\n");
      writeFileSync(join(dir, `${split}.pg.tgt`), marked.map((m) => m.target).join("\n") + "\n");
    }
    expect(readFileSync(join(dir, "test.pg.tgt"), "utf8").split("\n")[0]).toMatch(/^<unk-\d> <unk-\d>$/);
    const pre = await run([
      "preprocess",
      "-s",
      "src",
      "-t",
      "tgt",
      "--trainpref",
      join(dir, "train.pg"),
      "--validpref",
      join(dir, "valid.pg"),
      "--testpref",
      join(dir, "test.pg"),
      "--srcdict",
      join(dir, "dict.pg.txt"),
      "--joined-dictionary",
      "--destdir",
      join(dir, "bin"),
    ]);
    expect(pre.status, pre.out).toBe(0);

    const trainAndGenerate = async (name: string, updates: number, extra: string[]) => {
      const tr = await run([
        "train",
        join(dir, "bin"),
        "--user-dir",
        pkg,
        "--arch",
        "transformer_pointer_generator",
        ...["--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "32", "--decoder-embed-dim", "32"],
        ...["--encoder-ffn-embed-dim", "64", "--decoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"],
        ...["--share-all-embeddings", "--alignment-layer", "-1", "--alignment-heads", "1", "--source-position-markers", String(markers)],
        ...["--dropout", "0", "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"],
        ...["--optimizer", "adam", "--lr", "0.01", "--max-tokens", "600", "--max-update", String(updates), "--seed", "2"],
        ...["--save-dir", join(dir, name), "--no-epoch-checkpoints", "--log-format", "simple", "--log-interval", "20"],
        ...extra,
      ]);
      expect(tr.status, tr.out).toBe(0);
      const losses = [...tr.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
      expect(losses.at(-1)!).toBeLessThan(losses[0]!);
      const gen = await run([
        "generate",
        join(dir, "bin"),
        "--user-dir",
        pkg,
        "--path",
        join(dir, name, "checkpoint_last.safetensors"),
        ...["--gen-subset", "test", "--beam", "4", "--batch-size", "8", "--max-len-a", "0", "--max-len-b", "6"],
      ]);
      expect(gen.status, gen.out).toBe(0);
      const hyps = new Array<string>(test.src.length);
      for (const m of gen.stdout.matchAll(/^H-(\d+)\t\S+\t(.*)$/gm)) hyps[Number(m[1])] = m[2]!;
      expect(hyps.filter((h) => h !== undefined).length).toBe(test.src.length);
      // postprocess.py: markers back to the source's words
      return hyps.map((h, i) => restoreOovs(test.src[i]!, h, i + 1));
    };

    const pointer = await trainAndGenerate("pointer", 120, []);
    const copied = pointer.filter((h, i) => h === test.tgt[i]).length;
    expect(copied, pointer.map((h, i) => `${h} | ${test.tgt[i]}`).join("\n")).toBeGreaterThanOrEqual(16);

    // the same model with p_gen forced to 1: only the first len(dict) - markers types have probability, so no word
    // is copied however long it trains (40 updates keep the test short)
    const generator = await trainAndGenerate("generator", 40, ["--force-generation", "1"]);
    const oovWords = new Set(test.tgt.flatMap((t) => t.split(" ")));
    expect(generator.flatMap((h) => h.split(" ")).filter((w) => oovWords.has(w))).toEqual([]);
  });
});
