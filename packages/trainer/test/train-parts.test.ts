import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { makeReversalTask, reversalTrainOptions } from "./reversal-task.js";
import { initBackend } from "@fairseq-ts/backend";
import { TranslationTask } from "@fairseq-ts/tasks";
import {
  disposeTraining,
  readCheckpointFile,
  restoreCheckpoint,
  saveCheckpoint,
  setupTraining,
  train,
  trainEpoch,
  validate,
  type TrainOptions,
} from "../src/index.js";

let dataDir: string;

// A small synthetic copy-reversed task (as in train.test.ts): 200 training pairs, 20 valid.
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  const made = await makeReversalTask({
    seed: 5,
    vocab: 20,
    minWords: 3,
    wordSpread: 5,
    splits: [
      ["train", 200],
      ["valid", 20],
    ],
  });
  dataDir = made.dataDir;
});

const options = (saveDir: string, losses: number[]): TrainOptions =>
  reversalTrainOptions(saveDir, {
    maxTokens: 150,
    maxEpoch: 2,
    seed: 7,
    // the loss of every update (the Trainer's running meter: what train_inner logs)
    onUpdate: (t) => losses.push(t.metrics.getSmoothedValues("train_inner").get("loss") as number),
  });

async function weights(saveDir: string): Promise<Map<string, string>> {
  const ck = await readCheckpointFile(join(saveDir, "checkpoint_last.safetensors"));
  return new Map([...ck.model].map(([k, t]) => [k, Buffer.from(t.data).toString("base64")]));
}

describe("train() in parts: a custom loop from setupTraining / restoreCheckpoint / trainEpoch / validate / saveCheckpoint", () => {
  it("a hand-written loop over the parts gives train()'s losses, validation results and weights, bit for bit", async () => {
    const task = await TranslationTask.setup({ data: dataDir });
    const lossesA: number[] = [];
    const dirA = mkdtempSync(join(tmpdir(), "fsts-parts-a-"));
    const a = await train(task, options(dirA, lossesA));

    // The custom loop: the README's example.
    const lossesB: number[] = [];
    const dirB = mkdtempSync(join(tmpdir(), "fsts-parts-b-"));
    const before = tf.memory().numTensors;
    const session = setupTraining(task, options(dirB, lossesB));
    let epochs = 0;
    try {
      const itr = await restoreCheckpoint(session);
      while (itr.nextEpochIdx <= 2) {
        const { valLoss, stop } = await trainEpoch(session); // validates and saves at the epoch's end
        epochs++;
        if (stop) break;
        session.lrScheduler.step(itr.epoch, valLoss);
      }
      // the parts also run on their own: one more validation and an explicit save at this point
      const again = await validate(session, itr.epoch);
      expect(again).toBe(session.validLosses.at(-2));
      await saveCheckpoint(session, itr.epoch, true, again);
    } finally {
      disposeTraining(session);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(epochs).toBe(2);
    expect(a.epoch).toBe(2);
    expect(lossesB.length).toBe(a.numUpdates);
    expect(lossesB).toEqual(lossesA);
    expect(session.validLosses.slice(0, 2)).toEqual(a.validLosses);
    const [wa, wb] = [await weights(dirA), await weights(dirB)];
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    for (const [k, v] of wa) expect(wb.get(k), k).toBe(v);
  }, 300_000);
});
