import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { makeReversalTask, reversalTrainOptions } from "./reversal-task.js";
import { initBackend } from "@fairseq-ts/backend";
import { TranslationTask } from "@fairseq-ts/tasks";
import { readCheckpointFile, train, type TrainOptions } from "../src/index.js";

let dataDir: string;

/** A small synthetic task: the target is the source reversed, words from a 30-word vocabulary. */
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  const made = await makeReversalTask({
    seed: 7,
    vocab: 30,
    minWords: 3,
    wordSpread: 6,
    splits: [
      ["train", 400],
      ["valid", 40],
    ],
  });
  dataDir = made.dataDir;
});

const options = (saveDir: string, maxUpdate: number, extra: Partial<TrainOptions> = {}): TrainOptions =>
  reversalTrainOptions(saveDir, { maxTokens: 200, maxUpdate, seed: 3, ...extra });

async function finalWeights(saveDir: string): Promise<Map<string, Float32Array>> {
  const ck = await readCheckpointFile(join(saveDir, "checkpoint_last.safetensors"));
  return new Map([...ck.model].map(([k, t]) => [k, new Float32Array(Uint8Array.from(t.data).buffer)]));
}

describe("training loop", () => {
  it("an interrupted run resumed from checkpoint_last ends bitwise identical to an uninterrupted one", async () => {
    const task = await TranslationTask.setup({ data: dataDir });
    const a = mkdtempSync(join(tmpdir(), "fsts-a-"));
    const full = await train(task, options(a, 12));
    expect(full.numUpdates).toBe(12);
    const b = mkdtempSync(join(tmpdir(), "fsts-b-"));
    const half = await train(task, options(b, 5));
    expect(half.stoppedBy).toBe("max-update");
    const resumed = await train(task, options(b, 12));
    expect(resumed.numUpdates).toBe(12);
    const wa = await finalWeights(a);
    const wb = await finalWeights(b);
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    for (const [k, v] of wa) expect(Buffer.from(wb.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
    const ck = await readCheckpointFile(join(b, "checkpoint_last.safetensors"));
    expect(ck.meta.numUpdates).toBe(12);
    expect(ck.optimizer?.step).toBe(12);
  }, 240_000);

  it("the loss falls, tensors stay flat over updates, checkpoints follow fairseq's names", async () => {
    const task = await TranslationTask.setup({ data: dataDir });
    const dir = mkdtempSync(join(tmpdir(), "fsts-c-"));
    const counts: number[] = [];
    const lines: string[] = [];
    const r = await train(task, {
      ...options(dir, 0, {
        maxEpoch: 3,
        onUpdate: () => counts.push(tf.memory().numTensors),
        logFormat: "json",
        logInterval: 1000,
        sink: (n, m) => lines.push(`${n} | ${m}`),
      }),
    });
    expect(r.stoppedBy).toBe("max-epoch");
    expect(new Set(counts.slice(2)).size).toBe(1); // no tensor leak across updates
    const valid = lines.filter((l) => l.startsWith("valid | ")).map((l) => JSON.parse(l.slice(8)) as Record<string, string>);
    expect(valid.length).toBe(3);
    expect(Number(valid[2]!.valid_loss)).toBeLessThan(Number(valid[0]!.valid_loss));
    expect(readdirSync(dir).sort()).toEqual([
      "checkpoint1.safetensors",
      "checkpoint2.safetensors",
      "checkpoint3.safetensors",
      "checkpoint_best.safetensors",
      "checkpoint_last.safetensors",
    ]);
  }, 240_000);

  it("--micro-batch-tokens: chunked batches give the same updates (dropout off) and the same logged stats", async () => {
    const task = await TranslationTask.setup({ data: dataDir });
    const noDropout = (dir: string, extra: Partial<TrainOptions>) => {
      // SGD: the update is linear in the gradient, so float-order differences stay at rounding level
      // (Adam's first steps are ~lr*sign(g) and would amplify them on near-zero gradients).
      const o = options(dir, 6, {
        maxTokens: 400,
        logFormat: "json",
        logInterval: 1,
        optimizer: "sgd",
        lr: [0.5],
        lrScheduler: "fixed",
        scheduler: {},
        ...extra,
      });
      return { ...o, model: { ...o.model, dropout: 0 } };
    };
    const linesA: string[] = [];
    const linesB: string[] = [];
    const a = mkdtempSync(join(tmpdir(), "fsts-mb0-"));
    const b = mkdtempSync(join(tmpdir(), "fsts-mb1-"));
    await train(task, noDropout(a, { sink: (n, m) => linesA.push(`${n} | ${m}`) }));
    await train(task, noDropout(b, { microBatchTokens: 60, sink: (n, m) => linesB.push(`${n} | ${m}`) }));
    const stats = (lines: string[]) => lines.filter((l) => l.startsWith("train_inner | ")).map((l) => JSON.parse(l.slice(14)) as Record<string, string>);
    const sa = stats(linesA);
    const sb = stats(linesB);
    expect(sb.length).toBe(6);
    sa.forEach((x, i) => {
      expect(sb[i]!.wpb).toBe(x.wpb);
      expect(sb[i]!.bsz).toBe(x.bsz);
      expect(Number(sb[i]!.loss)).toBeCloseTo(Number(x.loss), 2);
    });
    const wa = await finalWeights(a);
    const wb = await finalWeights(b);
    let max = 0;
    for (const [k, v] of wa) v.forEach((x, i) => (max = Math.max(max, Math.abs(x - wb.get(k)![i]!))));
    expect(max).toBeLessThan(2e-6);
  }, 240_000);

  it.each([
    // lr changes every update (warmup), so NAG's correction lr/lr_old needs the saved previous lr
    ["nag", { optimizer: "nag", lr: [0.05], lrScheduler: "inverse_sqrt", scheduler: { warmupUpdates: 6 } }],
    ["adafactor", { optimizer: "adafactor", lr: [0.01], lrScheduler: "tri_stage", scheduler: { warmupSteps: 2, holdSteps: 2, decaySteps: 4 } }],
  ] as const)(
    "exact resume with %s (optimizer state beyond lr/step travels in the checkpoint)",
    async (_name, extra) => {
      const task = await TranslationTask.setup({ data: dataDir });
      const a = mkdtempSync(join(tmpdir(), "fsts-ra-"));
      const b = mkdtempSync(join(tmpdir(), "fsts-rb-"));
      const o = (dir: string, n: number) => options(dir, n, { ...extra, scheduler: { ...extra.scheduler }, lr: [...extra.lr] });
      expect((await train(task, o(a, 8))).numUpdates).toBe(8);
      await train(task, o(b, 3));
      expect((await train(task, o(b, 8))).numUpdates).toBe(8);
      const wa = await finalWeights(a);
      const wb = await finalWeights(b);
      for (const [k, v] of wa) expect(Buffer.from(wb.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
    },
    240_000,
  );
});
