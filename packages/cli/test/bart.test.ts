import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { applyArchitecture, decodeCheckpoint, modelOptionsOf, type ModelArgs } from "@fairseq-ts/models";
import { parseCommand } from "../src/index.js";
import { runCli } from "./cli.js";
import { pyValue, readFlagFiles } from "./flag-table.js";
import { MULTI30K, SHARED } from "./shared.js";

const R = join(SHARED, "reference/fairseq/bart-tiny");
/** bart-tiny's joined data-bin, made here with COMMANDS.md's preprocess flags. */
let J: string;

beforeAll(async () => {
  J = mkdtempSync(join(tmpdir(), "fsts-bart-J-"));
  const D = MULTI30K;
  const pre = await runCli(
    `preprocess --source-lang de --target-lang en --trainpref ${D}/train --validpref ${D}/valid --testpref ${D}/test --thresholdsrc 2 --thresholdtgt 2 --joined-dictionary --workers 1 --destdir ${J}`.split(
      " ",
    ),
  );
  expect(pre.status, pre.out).toBe(0);
  // 13,648 types with the 4 specials (COMMANDS.md)
  expect(readFileSync(join(J, "dict.de.txt"), "utf8").split("\n").length - 1 + 4).toBe(13648);
}, 180_000);

const lines = (text: string, prefix: RegExp) => text.split("\n").filter((l) => prefix.test(l));
const sha16 = (text: string) => `sha:${createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16)}`;

/** Every H/D/P line equal to fairseq's in order and text, scores within 1e-3; returns the largest score difference. */
function compareLines(ours: string[], theirs: string[], text: (ourText: string) => string): number {
  expect(ours.length).toBe(theirs.length);
  let maxDiff = 0;
  ours.forEach((l, i) => {
    const a = l.split("\t");
    const b = theirs[i]!.split("\t");
    expect(a[0]).toBe(b[0]);
    if (a[0]!.startsWith("P-")) {
      const x = a[1]!.split(" ").map(Number);
      const y = b[1]!.split(" ").map(Number);
      expect(x.length, a[0]).toBe(y.length);
      x.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - y[k]!))));
    } else {
      expect(text(a[2]!), a[0]).toBe(b[2]);
      maxDiff = Math.max(maxDiff, Math.abs(Number(a[1]) - Number(b[1])));
    }
  });
  expect(maxDiff).toBeLessThan(1e-3);
  return maxDiff;
}

describe("bart-tiny (fairseq's bart_base shape, trained by fairseq v0.10.2) through fairseq-ts generate", () => {
  it("--score-reference: fairseq's H and P lines (texts hashed as stored), scores within 1e-3, the same BLEU line", async () => {
    const r = await runCli(["generate", J, "--gen-subset", "test", "--batch-size", "64", "--path", join(R, "model.pt"), "--score-reference"]);
    expect(r.status, r.stderr).toBe(0);
    const ref = readFileSync(join(R, "score-reference.txt"), "utf8");
    const d = compareLines(lines(r.stdout, /^[HP]-/), lines(ref, /^[HP]-/), sha16);
    expect(r.stdout.trim().split("\n").pop()).toBe(ref.trim().split("\n").pop());
    console.log(`bart-tiny --score-reference: 1000 sentences, max |score diff| ${d.toExponential(2)}`);
  }, 180_000);

  it("--beam 5 on the whole test set: gen-beam5.txt's H, D and P lines in fairseq's order, scores within 1e-3, the same BLEU line", async () => {
    const r = await runCli(["generate", J, "--gen-subset", "test", "--batch-size", "64", "--path", join(R, "model.pt"), "--beam", "5"]);
    expect(r.status, r.stderr).toBe(0);
    const ref = readFileSync(join(R, "gen-beam5.txt"), "utf8");
    const d = compareLines(lines(r.stdout, /^[HDP]-/), lines(ref, /^[HDP]-/), (x) => x);
    expect(lines(r.stdout, /^H-/).length).toBe(1000);
    const bleu = (t: string) => lines(t, /^Generate test with beam=5: BLEU4/);
    expect(bleu(r.stdout)).toEqual(bleu(ref));
    console.log(`bart-tiny --beam 5: 1000 of 1000 hypotheses identical, max |score diff| ${d.toExponential(2)}; ${bleu(r.stdout)[0]}`);
  }, 300_000);
});

describe("fairseq-ts train --arch bart_base (tiny sizes)", () => {
  it("trains a few updates with the bart flags; the checkpoint holds a BART (learned positions, layernorm_embedding, one shared embedding) and loads back", async () => {
    const save = mkdtempSync(join(tmpdir(), "fsts-bart-train-"));
    const tr = await runCli(
      (
        `train ${J} --task translation --arch bart_base --encoder-layers 1 --decoder-layers 1 --encoder-embed-dim 32 --decoder-embed-dim 32 ` +
        `--encoder-ffn-embed-dim 64 --decoder-ffn-embed-dim 64 --encoder-attention-heads 2 --decoder-attention-heads 2 --pooler-dropout 0.2 ` +
        `--pooler-activation-fn relu --optimizer adam --lr 0.001 --max-tokens 1000 --max-update 8 --log-format simple --log-interval 4 ` +
        `--save-dir ${save} --no-epoch-checkpoints --disable-validation --seed 3`
      ).split(" "),
    );
    expect(tr.status, tr.out).toBe(0);
    const losses = [...tr.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(losses.length).toBe(2);
    const ckpt = decodeCheckpoint(readFileSync(join(save, "checkpoint_last.safetensors")), "checkpoint_last");
    const args = ckpt.metadata.args;
    expect([args.arch, args.pooler_dropout, args.pooler_activation_fn]).toEqual(["bart_base", 0.2, "relu"]);
    const shape = (k: string) => ckpt.weights.get(k)?.shape;
    expect(shape("encoder.embed_tokens.weight")).toEqual([13648, 32]);
    expect(shape("encoder.embed_positions.weight")).toEqual([1026, 32]);
    expect(shape("decoder.embed_positions.weight")).toEqual([1026, 32]);
    expect(shape("encoder.layernorm_embedding.weight")).toEqual([32]);
    expect(shape("decoder.layernorm_embedding.weight")).toEqual([32]);
    // shared: the decoder's embedding and output projection are the encoder's embedding, stored once
    expect(shape("decoder.embed_tokens.weight")).toBeUndefined();
    expect(shape("decoder.output_projection.weight")).toBeUndefined();
    // it loads back: generate scores the validation set with it
    const gen = await runCli([
      "generate",
      J,
      "--gen-subset",
      "valid",
      "--batch-size",
      "128",
      "--path",
      join(save, "checkpoint_last.safetensors"),
      "--score-reference",
    ]);
    expect(gen.status, gen.stderr).toBe(0);
    expect(lines(gen.stdout, /^H-/).length).toBe(1014);
  }, 240_000);

  it("the bart flags land in the model options; --spectral-norm-classification-head is refused by name", async () => {
    const p = await parseCommand([
      "train",
      "DATA",
      "--arch",
      "mbart_large",
      "--pooler-dropout",
      "0.3",
      "--pooler-activation-fn",
      "gelu",
      "--layernorm-embedding",
    ]);
    expect(p.options.model).toMatchObject({ arch: "mbart_large", pooler_dropout: 0.3, pooler_activation_fn: "gelu", layernorm_embedding: true });
    const refused = await parseCommand(["train", "DATA", "--arch", "bart_large", "--spectral-norm-classification-head"]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommanderError);
    expect((refused as CommanderError).exitCode).toBe(2);
    expect((refused as CommanderError).message).toMatch(/--spectral-norm-classification-head'?: not supported by fairseq-ts: spectral normalization/);
  });

  it("COMMANDS.md's train flags give every model arg of bart-tiny's train.log Namespace (the bart_base preset under the tiny sizes)", async () => {
    const cmd =
      "train J --task translation --arch bart_base --encoder-layers 2 --decoder-layers 2 --encoder-embed-dim 64 --decoder-embed-dim 64 " +
      "--encoder-ffn-embed-dim 128 --decoder-ffn-embed-dim 128 --encoder-attention-heads 4 --decoder-attention-heads 4 --optimizer adam " +
      "--lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 400 --criterion label_smoothed_cross_entropy --label-smoothing 0.1 " +
      "--max-tokens 4096 --max-update 1500 --seed 3 --cpu --log-format json --save-dir out";
    const parsed = await parseCommand([...cmd.split(" "), "--adam-betas", "(0.9,0.98)"]);
    const { args } = applyArchitecture({ ...(parsed.options.model as ModelArgs) });
    const ns = /Namespace\((.*)\)$/m.exec(readFileSync(join(R, "train.log"), "utf8"))![1]!;
    const theirs = new Map(ns.split(/, (?=[a-z_0-9]+=)/).map((kv) => [kv.slice(0, kv.indexOf("=")), pyValue(kv.slice(kv.indexOf("=") + 1))] as const));
    // the model's flags: fairseq's transformer model flags (flags-train-transformer.tsv) and BART's three
    const modelFlags = readFlagFiles()
      .find((f) => f.file === "flags-train-transformer.tsv")!
      .flags.filter((f) => f.group === "Model-specific configuration")
      .map((f) => f.dest);
    const compared: string[] = [];
    for (const key of [...modelFlags, "pooler_dropout", "pooler_activation_fn", "decoder_input_dim"]) {
      if (!theirs.has(key) || !(key in args)) continue;
      expect(args[key], key).toEqual(theirs.get(key));
      compared.push(key);
    }
    // fairseq leaves activation_dropout out of the Namespace (its layers fall back to relu_dropout = 0.0)
    expect([args.activation_dropout, theirs.get("relu_dropout")]).toEqual([0, 0]);
    // every other model flag is one fairseq-ts refuses by name (pretrained embeddings, layerdrop, quant-noise, ...)
    const decls = modelOptionsOf("bart_base")!.declarations;
    const rest = modelFlags.filter((k) => !compared.includes(k) && k !== "activation_dropout");
    expect(rest.filter((k) => decls[k]?.kind !== "refused")).toEqual([]);
    expect(compared.length).toBe(27); // adaptive_softmax_cutoff and adaptive_softmax_dropout are honoured (and compared) too
  });
});
