import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess } from "@fairseq-ts/data";
import { runCli } from "./cli.js";

/**
 * Summarization-length sources (up to 1000 tokens, fairseq's --max-source-positions 1024) through train and generate
 * with a BART of tiny width: --checkpoint-activations trains as the plain model does, and generate's row chunks
 * (--micro-batch-tokens) give the hypotheses of the whole batch.
 */
let dir: string;
let bin: string;
const TINY_BART = (
  "--arch bart_base --encoder-layers 2 --decoder-layers 2 --encoder-embed-dim 16 --decoder-embed-dim 16 " +
  "--encoder-ffn-embed-dim 32 --decoder-ffn-embed-dim 32 --encoder-attention-heads 2 --decoder-attention-heads 2"
).split(" ");
const POSITIONS = ["--max-source-positions", "1024", "--max-target-positions", "1024"];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fsts-long-"));
  // a summary is the first words of its source; source lengths differ so that batches are padded
  let state = 7;
  const rand = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const words = Array.from({ length: 60 }, (_, i) => `w${i}`);
  for (const [split, n] of [
    ["train", 8],
    ["valid", 2],
    ["test", 6],
  ] as const) {
    const src: string[] = [];
    const tgt: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = Array.from({ length: 900 + rand(100) }, () => words[rand(words.length)]!);
      src.push(s.join(" "));
      tgt.push(s.slice(0, 8).join(" "));
    }
    writeFileSync(join(dir, `${split}.src`), `${src.join("\n")}\n`);
    writeFileSync(join(dir, `${split}.tgt`), `${tgt.join("\n")}\n`);
  }
  bin = join(dir, "bin");
  await preprocess({
    sourceLang: "src",
    targetLang: "tgt",
    trainpref: join(dir, "train"),
    validpref: join(dir, "valid"),
    testpref: join(dir, "test"),
    joinedDictionary: true,
    workers: 1,
    destdir: bin,
    log: () => {},
  });
}, 60_000);

/** The logged values of every train_inner line (loss, nll_loss, gnorm, ...), without the timing ones. */
const trainValues = (out: string) =>
  out
    .split("\n")
    .filter((l) => l.includes("| train_inner |"))
    .map((l) =>
      l
        .split("|")
        .pop()!
        .split(", ")
        .filter((kv) => !/^(wps|ups|train_wall|wall)=/.test(kv.trim()))
        .join(", "),
    );

describe("long sources (1024 positions)", () => {
  it("train --checkpoint-activations: the same losses and gradient norms as without; generate in row chunks = the whole batch", async () => {
    const train = (save: string, extra: string[]) =>
      runCli([
        "train",
        bin,
        ...TINY_BART,
        ...POSITIONS,
        "--max-tokens",
        "2048",
        "--micro-batch-tokens",
        "1024",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--criterion",
        "label_smoothed_cross_entropy",
        "--label-smoothing",
        "0.1",
        "--max-update",
        "3",
        "--seed",
        "2",
        "--log-interval",
        "1",
        "--disable-validation",
        "--no-epoch-checkpoints",
        "--save-dir",
        save,
        ...extra,
      ]);
    const plain = await train(join(dir, "plain"), ["--no-save"]);
    expect(plain.status, plain.stderr).toBe(0);
    const ckpt = await train(join(dir, "ckpt"), ["--checkpoint-activations"]);
    expect(ckpt.status, ckpt.stderr).toBe(0);
    const a = trainValues(plain.stdout);
    expect(a.length).toBe(3);
    expect(a[0]).toMatch(/loss=[\d.]+, nll_loss=[\d.]+/);
    expect(trainValues(ckpt.stdout)).toEqual(a);

    const gen = (extra: string[]) =>
      runCli([
        "generate",
        bin,
        "--path",
        join(dir, "ckpt/checkpoint_last.safetensors"),
        "--gen-subset",
        "test",
        ...POSITIONS,
        "--beam",
        "2",
        "--nbest",
        "2",
        "--lenpen",
        "2.0",
        "--max-len-b",
        "12",
        "--min-len",
        "3",
        "--no-repeat-ngram-size",
        "3",
        "--batch-size",
        "6",
        ...extra,
      ]);
    const hypLines = (out: string) => out.split("\n").filter((l) => /^[SHDP]-/.test(l));
    const whole = await gen(["--micro-batch-tokens", "0"]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(hypLines(whole.stdout).filter((l) => l.startsWith("H-")).length).toBe(12);
    // 2500 source tokens x beam per chunk: one 900-1000-token sentence at a time
    const rowByRow = await gen(["--micro-batch-tokens", "2500"]);
    expect(rowByRow.status, rowByRow.stderr).toBe(0);
    expect(hypLines(rowByRow.stdout)).toEqual(hypLines(whole.stdout));
    // three sentences per chunk
    const threes = await gen(["--micro-batch-tokens", "6000"]);
    expect(hypLines(threes.stdout)).toEqual(hypLines(whole.stdout));
  }, 300_000);
});
