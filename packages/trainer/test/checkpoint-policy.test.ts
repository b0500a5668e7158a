import { describe, expect, it } from "vitest";
import { checkpointsToRemove, decideSave, defaultCheckpointPolicy as d, matchCheckpoints } from "../src/checkpoint-policy.js";

// Expected file lists follow fairseq v0.10.2 checkpoint_utils.save_checkpoint, traced by hand.
describe("checkpoint policy (fairseq's save_checkpoint)", () => {
  it("end of epoch with validation: epoch file, best when improved, last", () => {
    const first = decideSave(d, { epoch: 1, updates: 114, endOfEpoch: true, valLoss: 10.785, prevBest: undefined });
    expect(first).toEqual({ files: ["checkpoint1.safetensors", "checkpoint_best.safetensors", "checkpoint_last.safetensors"], best: 10.785 });
    const better = decideSave(d, { epoch: 2, updates: 228, endOfEpoch: true, valLoss: 8.73, prevBest: 10.785 });
    expect(better.files).toContain("checkpoint_best.safetensors");
    const worse = decideSave(d, { epoch: 3, updates: 342, endOfEpoch: true, valLoss: 9, prevBest: 8.73 });
    expect(worse).toEqual({ files: ["checkpoint3.safetensors", "checkpoint_last.safetensors"], best: 8.73 });
    const tie = decideSave(d, { epoch: 4, updates: 456, endOfEpoch: true, valLoss: 8.73, prevBest: 8.73 });
    expect(tie.files).toContain("checkpoint_best.safetensors");
  });

  it("the reference run's flags (--no-epoch-checkpoints) write best and last only", () => {
    const o = { ...d, noEpochCheckpoints: true };
    expect(decideSave(o, { epoch: 14, updates: 1500, endOfEpoch: false, valLoss: 5.285, prevBest: 5.31 }).files).toEqual([
      "checkpoint_best.safetensors",
      "checkpoint_last.safetensors",
    ]);
  });

  it("maximising a metric (bleu) flips the comparison", () => {
    const o = { ...d, bestCheckpointMetric: "bleu", maximizeBestCheckpointMetric: true };
    expect(decideSave(o, { epoch: 2, updates: 10, endOfEpoch: true, valLoss: 20, prevBest: 25 }).best).toBe(25);
    expect(decideSave(o, { epoch: 2, updates: 10, endOfEpoch: true, valLoss: 30, prevBest: 25 }).files).toContain("checkpoint_best.safetensors");
  });

  it("mid-epoch saves every --save-interval-updates; without validation no best", () => {
    const o = { ...d, saveIntervalUpdates: 50 };
    expect(decideSave(o, { epoch: 3, updates: 300, endOfEpoch: false, valLoss: null, prevBest: 7 })).toEqual({
      files: ["checkpoint_3_300.safetensors", "checkpoint_last.safetensors"],
      best: 7,
    });
    expect(decideSave(o, { epoch: 3, updates: 310, endOfEpoch: false, valLoss: null, prevBest: 7 }).files).toEqual(["checkpoint_last.safetensors"]);
    expect(decideSave({ ...d, saveInterval: 2 }, { epoch: 3, updates: 1, endOfEpoch: true, valLoss: null, prevBest: undefined }).files).toEqual([
      "checkpoint_last.safetensors",
    ]);
    expect(decideSave({ ...o, keepBestCheckpoints: 2 }, { epoch: 1, updates: 50, endOfEpoch: false, valLoss: 3.14159, prevBest: undefined }).files).toEqual([
      "checkpoint_1_50.safetensors",
      "checkpoint_best.safetensors",
      "checkpoint.best_loss_3.14.safetensors",
      "checkpoint_last.safetensors",
    ]);
  });

  it("removes the oldest interval/epoch checkpoints and the worst best-checkpoints", () => {
    const files = [
      "checkpoint_1_100.safetensors",
      "checkpoint_2_200.safetensors",
      "checkpoint_2_1000.safetensors",
      "checkpoint1.safetensors",
      "checkpoint10.safetensors",
      "checkpoint2.safetensors",
      "checkpoint.best_loss_5.30.safetensors",
      "checkpoint.best_loss_4.90.safetensors",
      "checkpoint.best_loss_6.10.safetensors",
      "checkpoint_last.safetensors",
      "notes.txt",
    ];
    // numeric, not lexical, ordering: 1000 > 200 > 100
    expect(matchCheckpoints(files, /^checkpoint_\d+_(\d+)\.safetensors$/)).toEqual([
      "checkpoint_2_1000.safetensors",
      "checkpoint_2_200.safetensors",
      "checkpoint_1_100.safetensors",
    ]);
    const o = { ...d, keepIntervalUpdates: 2, keepLastEpochs: 2, keepBestCheckpoints: 2 };
    expect(checkpointsToRemove(o, files, false).sort()).toEqual(
      ["checkpoint_1_100.safetensors", "checkpoint1.safetensors", "checkpoint.best_loss_6.10.safetensors"].sort(),
    );
    // interval checkpoints are only pruned mid-epoch, as in fairseq
    expect(checkpointsToRemove(o, files, true)).not.toContain("checkpoint_1_100.safetensors");
  });
});
