/**
 * The trainer's option groups, declared once: fairseq's `OptimizationConfig` and `CheckpointConfig` (the
 * dataset/batching options are the data package's `datasetOptions`).
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

/** fairseq's `optimization` group. */
export const optimizationOptions = defineOptions("optimization", {
  maxEpoch: opt.int(0, "force stop training at specified epoch", { metavar: "N" }),
  maxUpdate: opt.int(0, "force stop training at specified update", { metavar: "N" }),
  stopTimeHours: opt.float(0, "force stop training after specified cumulative time (if >0)", { metavar: "H" }),
  clipNorm: opt.float(0, "clip threshold of gradients", { metavar: "NORM" }),
  sentenceAvg: opt.flag("normalize gradients by the number of sentences in a batch (default is to normalize by number of tokens)"),
  updateFreq: opt.intList([1], "update parameters every N_i batches, when in epoch i", { metavar: "N1,N2,..." }),
  lr: opt.floatList([0.25], "learning rate for the first N epochs; all epochs >N using LR_N", { metavar: "LR_1,LR_2,..." }),
  minLr: opt.float(-1, "stop training when the learning rate reaches this minimum", { metavar: "LR" }),
  useBmuf: opt.refused("BMUF (block-wise model update filtering) is not implemented: data-parallel training sums gradients every update", "flag"),
  /** fairseq-ts only. */
  microBatchTokens: opt.int(
    2048,
    "fairseq-ts: run each batch as row chunks of at most N padded tokens and add their gradients (same update, less memory; 0 = off)",
    { metavar: "N" },
  ),
});
export type OptimizationOptions = OptionsOf<typeof optimizationOptions.declarations>;

/** fairseq's `checkpoint` group. */
export const checkpointOptions = defineOptions("checkpoint", {
  saveDir: opt.str("checkpoints", "path to save checkpoints", { metavar: "DIR" }),
  restoreFile: opt.str("checkpoint_last.pt", "filename from which to load checkpoint (default: <save-dir>/checkpoint_last.pt)", { metavar: "FILE" }),
  finetuneFromModel: opt.str(null, "finetune from a pretrained model; note that meters and lr scheduler will be reset", { metavar: "FILE" }),
  resetDataloader: opt.flag("if set, does not reload dataloader state from the checkpoint"),
  resetLrScheduler: opt.flag("if set, does not load lr scheduler state from the checkpoint"),
  resetMeters: opt.flag("if set, does not load meters from the checkpoint"),
  resetOptimizer: opt.flag("if set, does not load optimizer state from the checkpoint"),
  optimizerOverrides: opt.refused("overriding the saved optimizer's arguments is not implemented (use --reset-optimizer)"),
  saveInterval: opt.int(1, "save a checkpoint every N epochs", { metavar: "N" }),
  saveIntervalUpdates: opt.int(0, "save a checkpoint (and validate) every N updates", { metavar: "N" }),
  keepIntervalUpdates: opt.int(-1, "keep the last N checkpoints saved with --save-interval-updates", { metavar: "N" }),
  keepLastEpochs: opt.int(-1, "keep last N epoch checkpoints", { metavar: "N" }),
  keepBestCheckpoints: opt.int(-1, "keep best N checkpoints based on scores", { metavar: "N" }),
  noSave: opt.flag("don't save models or checkpoints"),
  noEpochCheckpoints: opt.flag("only store last and best checkpoints"),
  noLastCheckpoints: opt.flag("don't store last checkpoints"),
  noSaveOptimizerState: opt.refused("checkpoints always hold the optimizer state (exact resume)", "flag"),
  bestCheckpointMetric: opt.str("loss", 'metric to use for saving "best" checkpoints', { metavar: "METRIC" }),
  maximizeBestCheckpointMetric: opt.flag('select the largest metric value for saving "best" checkpoints'),
  patience: opt.int(-1, "early stop training if valid performance doesn't improve for N consecutive validation runs", { metavar: "N" }),
});
export type CheckpointOptions = OptionsOf<typeof checkpointOptions.declarations>;
