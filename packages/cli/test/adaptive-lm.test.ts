/**
 * A tiny transformer_lm with adaptive input and a tied adaptive softmax (the transformer_lm_wiki103 recipe in
 * miniature), trained with --criterion adaptive_loss through the CLI; eval-lm's loss equals the per-token log-probs
 * read off the full distribution over the vocabulary of the saved model, computed here block by block.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { loadModelCheckpointBytes, type LanguageModel } from "@fairseq-ts/models";
import { LanguageModelingTask } from "@fairseq-ts/tasks";
import { runCli } from "./cli.js";

describe("adaptive input + adaptive softmax language model", () => {
  it("trains with adaptive_loss (the loss falls), and eval-lm's loss is the full distribution's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-adaptive-lm-"));
    let x = 7;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    // a Zipf-like vocabulary: frequent words land in the head, rare ones in the tails
    const word = () => `w${Math.floor(40 * rnd() ** 3)}`;
    const make = (n: number) => Array.from({ length: n }, () => [word(), word(), word(), word(), "."].join(" ")).join("\n") + "\n";
    writeFileSync(join(dir, "train.txt"), make(400));
    writeFileSync(join(dir, "valid.txt"), make(40));
    const pre = await runCli([
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
    const dictSize = readFileSync(join(dir, "bin/dict.txt"), "utf8").trim().split("\n").length + 4;
    expect(dictSize).toBeGreaterThan(24);
    const tr = await runCli([
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
      "32",
      "--decoder-attention-heads",
      "2",
      "--adaptive-input",
      "--adaptive-input-cutoff",
      "10,20",
      "--adaptive-softmax-cutoff",
      "10,20",
      "--tie-adaptive-weights",
      "--tie-adaptive-proj",
      "--adaptive-softmax-dropout",
      "0.1",
      "--criterion",
      "adaptive_loss",
      "--tokens-per-sample",
      "16",
      "--sample-break-mode",
      "none",
      "--optimizer",
      "adam",
      "--lr",
      "0.01",
      "--max-tokens",
      "256",
      "--max-update",
      "60",
      "--log-interval",
      "10",
      "--save-dir",
      join(dir, "ck"),
      "--log-format",
      "simple",
      "--no-epoch-checkpoints",
      "--backend",
      "cpu",
    ]);
    expect(tr.status, tr.out).toBe(0);
    expect(tr.out).toMatch(/criterion: adaptive_loss/);
    const trainLosses = [...tr.out.matchAll(/\| train \| epoch \d+ \| loss ([\d.]+) \|/g)].map((m) => Number(m[1]));
    expect(trainLosses.length).toBeGreaterThan(2);
    expect(trainLosses.at(-1)!).toBeLessThan(trainLosses[0]! - 0.5);

    const ev = await runCli([
      "eval-lm",
      join(dir, "bin"),
      "--path",
      join(dir, "ck/checkpoint_last.safetensors"),
      "--gen-subset",
      "valid",
      "--tokens-per-sample",
      "16",
      "--backend",
      "cpu",
    ]);
    expect(ev.status, ev.out).toBe(0);
    const tokens = Number(/Evaluated (\d+) tokens/.exec(ev.out)![1]);
    const loss = Number(/Loss \(base 2\): ([\d.]+)/.exec(ev.out)![1]);

    // independent: every block of the valid split through the saved model, -log2 p(target) from the whole distribution
    await initBackend({ backend: "cpu", log: null });
    const task = await LanguageModelingTask.setup({ data: join(dir, "bin"), tokensPerSample: 16, sampleBreakMode: "none" });
    const dict = task.dictionary;
    const { model } = loadModelCheckpointBytes(readFileSync(join(dir, "ck/checkpoint_last.safetensors")), { vocabSize: dict.length, padIdx: dict.pad() });
    const lm = model as LanguageModel;
    lm.eval();
    expect(lm.decoder.adaptiveSoftmax).toBeTruthy();
    const ds = task.loadDataset("valid");
    let nll = 0;
    let n = 0;
    for (let i = 0; i < ds.length; i++) {
      const item = ds.get(i);
      const t = item.source.length;
      const rows = tf.tidy(() => lm.getNormalizedProbs(lm.forward(tf.tensor2d(item.source, [1, t], "int32")), true).arraySync()[0]!);
      rows.forEach((row, j) => {
        expect(row.length).toBe(dict.length);
        expect(row.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 4);
        const target = item.target[j]!;
        if (target === dict.pad()) return;
        nll -= row[target]!;
        n++;
      });
    }
    expect(n).toBe(tokens);
    expect(loss).toBeCloseTo(nll / n / Math.LN2, 3);
    lm.dispose();
  }, 240_000);
});
