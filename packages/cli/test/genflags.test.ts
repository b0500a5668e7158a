/**
 * fairseq's last generation flags, each on its own through the CLI: --model-overrides (a Python dict set on the
 * checkpoint's args before the model is built), --retain-dropout / --retain-dropout-modules (Monte Carlo dropout,
 * seeded by --seed), and eval-lm ensembles (--path a:b: ln of the mean of the models' probabilities).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { encodeCheckpoint, loadFairseqCheckpoint } from "@fairseq-ts/models";
import { SHARED } from "./shared.js";
import { runCli } from "./cli.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");
/** fairseq's Multi30k transformer: trained with --dropout 0.1 (attention and activation dropout 0). */
const INTERACTIVE = ["interactive", join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "2", "--nbest", "2"];
const INPUT = "zwei männer sitzen in einem restaurant .\nein kleines mädchen klettert in ein spielhaus aus holz .\n";
const hp = (text: string) => text.split("\n").filter((l) => /^[HP]-/.test(l));
const NO_DROPOUT = "{'dropout': 0.0, 'attention_dropout': 0.0, 'activation_dropout': 0.0}";

async function translate(extra: string[]): Promise<string[]> {
  const r = await runCli([...INTERACTIVE, ...extra], { input: INPUT });
  expect(r.status, r.stderr).toBe(0);
  return hp(r.stdout);
}

describe("--retain-dropout / --retain-dropout-modules (interactive on fairseq's Multi30k model)", () => {
  it("dropout stays on: repeatable per --seed, another seed another output; no dropout left: the plain output", async () => {
    const plain = await translate([]);
    const [a, again, other] = await Promise.all([
      translate(["--retain-dropout", "--seed", "1"]),
      translate(["--retain-dropout", "--seed", "1"]),
      translate(["--retain-dropout", "--seed", "2"]),
    ]);
    expect(plain).toHaveLength(8);
    expect(again).toEqual(a);
    expect(a).not.toEqual(plain);
    expect(other).not.toEqual(a);
    // retained dropout of p = 0 (the overridden args) is the identity: exactly the plain output
    expect(await translate(["--retain-dropout", "--model-overrides", NO_DROPOUT])).toEqual(plain);
  }, 120_000);

  it("the module list restricts it: MultiheadAttention's dropout is 0 in this model (no change), the decoder layers' is not", async () => {
    const plain = await translate([]);
    const [attn, layers] = await Promise.all([
      translate(["--retain-dropout", "--retain-dropout-modules", "MultiheadAttention"]),
      translate(["--retain-dropout", "--retain-dropout-modules", "TransformerDecoderLayer", "TransformerEncoder"]),
    ]);
    expect(attn).toEqual(plain);
    expect(layers).not.toEqual(plain);
    const bad = await runCli([...INTERACTIVE, "--retain-dropout", "--retain-dropout-modules", "TransformerEncoderLayr"], { input: INPUT });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /error: option '--retain-dropout-modules': 'TransformerEncoderLayr': no such dropout module in the model\(s\) \(fairseq class names: TransformerEncoder, TransformerEncoderLayer, /,
    );
  }, 120_000);
});

describe("--model-overrides", () => {
  it("replaces stored args before the model is built (generate and interactive); bad literals and misfits are errors naming the flag or file", async () => {
    const GENERATE = ["generate", join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "2", "--gen-subset", "valid", "--quiet"];
    // (shard 0 of 100 of the valid split in batches of 5: 15 sentences)
    const SHARD = ["--batch-size", "5", "--num-shards", "100"];
    const [plain, unscaled, ignored, bad, notDict, misfit, gen, genPlain] = await Promise.all([
      translate([]),
      // fairseq's transformer scales embeddings by sqrt(dim) unless no_scale_embedding: another model, other scores
      translate(["--model-overrides", "{'no_scale_embedding': True}"]),
      // an arg the model does not read (fairseq accepts any key) and dropout (off at inference): the same model
      translate(["--model-overrides", '{"beam": 3, "dropout": 0.5}']),
      runCli([...INTERACTIVE, "--model-overrides", "{'dropout': foo}"], { input: INPUT }),
      runCli([...INTERACTIVE, "--model-overrides", "['dropout', 0.5]"], { input: INPUT }),
      // a shape the weights do not fit: the state dict load fails, naming the checkpoint (fairseq's strict load fails too)
      runCli([...INTERACTIVE, "--model-overrides", "{'decoder_layers': 1}"], { input: INPUT }),
      runCli([...GENERATE, ...SHARD, "--model-overrides", "{'no_scale_embedding': True}"]),
      runCli([...GENERATE, ...SHARD]),
    ]);
    expect(unscaled).not.toEqual(plain);
    expect(ignored).toEqual(plain);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/error: option '--model-overrides': not a Python dict literal: 'foo' is not a literal .* at column 13 of/);
    expect(notDict.status).toBe(2);
    expect(notDict.stderr).toMatch(/error: option '--model-overrides': expected a Python dict/);
    expect(misfit.status).toBe(1);
    expect(misfit.stderr).toMatch(/--path .*model\.pt: state dict does not fit the model:\n\s+unexpected decoder\.layers\.1\./);
    // generate: the overrides reach its model too
    for (const r of [gen, genPlain]) expect(r.status, r.stderr).toBe(0);
    const bleu = (s: string) => s.split("\n").find((l) => l.startsWith("Generate valid"));
    expect(bleu(genPlain.stdout)).toMatch(/^Generate valid with beam=2: BLEU4 = /);
    expect(bleu(gen.stdout)).not.toEqual(bleu(genPlain.stdout));
  }, 240_000);
});

describe("eval-lm --path a:b (an ensemble of language models) and --model-overrides", () => {
  it("one model twice scores as the model; two models: ln of their mean probability lies between", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-evallm-ens-"));
    const wt = join(SHARED, "data/wikitext-2");
    // fairseq's lm-tiny dictionary is WikiText-2's valid.txt (COMMANDS.md there); score 30 lines of test.txt
    writeFileSync(join(dir, "test30.txt"), readFileSync(join(wt, "test.txt"), "utf8").split("\n").slice(0, 30).join("\n") + "\n");
    const pre = await runCli([
      "preprocess",
      "--only-source",
      "--trainpref",
      join(wt, "valid.txt"),
      "--validpref",
      join(dir, "test30.txt"),
      "--destdir",
      join(dir, "bin"),
    ]);
    expect(pre.status, pre.out).toBe(0);
    const lmTiny = join(SHARED, "reference/fairseq/lm-tiny/model.pt");
    // a second model: lm-tiny with its output projection halved (flatter distributions), as a fairseq-ts checkpoint
    await initBackend({ backend: "wasm", log: null });
    const { model, args } = await loadFairseqCheckpoint(lmTiny, { vocabSize: 13784 });
    const w = model.namedParameters().get("decoder.output_projection.weight")!;
    w.assign(tf.mul(w, 0.5));
    const flat = join(dir, "flat.safetensors");
    writeFileSync(flat, encodeCheckpoint(model, { args }));
    model.dispose();
    const EVAL = ["eval-lm", join(dir, "bin"), "--gen-subset", "valid", "--tokens-per-sample", "128", "--max-tokens", "2048"];
    const loss = async (path: string, extra: string[] = []) => {
      const r = await runCli([...EVAL, "--path", path, ...extra]);
      expect(r.status, r.stderr).toBe(0);
      const m = /Loss \(base 2\): ([\d.]+), Perplexity: ([\d.]+)/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      return Number(m![1]);
    };
    const [one, twice, other, both] = await Promise.all([loss(lmTiny), loss(`${lmTiny}:${lmTiny}`), loss(flat), loss(`${lmTiny}:${flat}`)]);
    expect(twice).toBe(one);
    expect(other).not.toBe(one);
    // -log2 of the mean probability of each token: below the mean of the two models' losses (Jensen; strict, as they differ)
    expect(both).toBeLessThan((one + other) / 2);
    // --model-overrides in eval-lm (fairseq's eval(model_overrides)): the unscaled embeddings make another model
    expect(await loss(lmTiny, ["--model-overrides", "{'no_scale_embedding': True}"])).not.toBe(one);
    const bad = await runCli([...EVAL, "--path", lmTiny, "--model-overrides", "{'no_scale_embedding': true}"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/error: option '--model-overrides': not a Python dict literal: 'true' is not a literal/);
  }, 240_000);
});
