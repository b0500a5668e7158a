import { formatFixed } from "@fairseq-ts/logging";

/**
 * Which checkpoint files to write and which old ones to delete, exactly as fairseq's
 * `checkpoint_utils.save_checkpoint` decides. Pure functions: no I/O.
 */

export interface CheckpointPolicyOptions {
  /** `--save-interval` (epochs), default 1. */
  saveInterval: number;
  /** `--save-interval-updates`, default 0 (off). */
  saveIntervalUpdates: number;
  /** `--keep-interval-updates`, default -1 (keep all). */
  keepIntervalUpdates: number;
  /** `--keep-last-epochs`, default -1. */
  keepLastEpochs: number;
  /** `--keep-best-checkpoints`, default -1. */
  keepBestCheckpoints: number;
  noEpochCheckpoints: boolean;
  noLastCheckpoints: boolean;
  /** `--best-checkpoint-metric`, default "loss". */
  bestCheckpointMetric: string;
  maximizeBestCheckpointMetric: boolean;
  /** `--checkpoint-suffix`, default "". */
  checkpointSuffix: string;
  /** File extension of fairseq-ts checkpoints. */
  extension: string;
}

export const defaultCheckpointPolicy: CheckpointPolicyOptions = {
  saveInterval: 1,
  saveIntervalUpdates: 0,
  keepIntervalUpdates: -1,
  keepLastEpochs: -1,
  keepBestCheckpoints: -1,
  noEpochCheckpoints: false,
  noLastCheckpoints: false,
  bestCheckpointMetric: "loss",
  maximizeBestCheckpointMetric: false,
  checkpointSuffix: "",
  extension: ".safetensors",
};

export interface SaveDecisionInput {
  epoch: number;
  updates: number;
  endOfEpoch: boolean;
  /** The validation metric of this save point, or null when no validation ran. */
  valLoss: number | null;
  /** The best metric so far (fairseq's `save_checkpoint.best`), undefined before the first. */
  prevBest: number | undefined;
}

export interface SaveDecision {
  /** File names to write, the first one written and the others copied from it (fairseq's order). */
  files: string[];
  /** The best metric after this save point. */
  best: number | undefined;
}

/** `a` is at least as good as `b` under the metric's direction. */
export function isBetter(options: Pick<CheckpointPolicyOptions, "maximizeBestCheckpointMetric">, a: number, b: number): boolean {
  return options.maximizeBestCheckpointMetric ? a >= b : a <= b;
}

export function decideSave(options: CheckpointPolicyOptions, input: SaveDecisionInput): SaveDecision {
  const { epoch, updates, endOfEpoch, valLoss, prevBest } = input;
  const sfx = options.checkpointSuffix;
  const ext = options.extension;
  let best = prevBest;
  if (valLoss !== null) {
    const prev = prevBest ?? valLoss;
    best = options.maximizeBestCheckpointMetric ? Math.max(valLoss, prev) : Math.min(valLoss, prev);
  }
  const conds: [string, boolean][] = [
    [`checkpoint${epoch}${sfx}${ext}`, endOfEpoch && !options.noEpochCheckpoints && epoch % options.saveInterval === 0],
    [`checkpoint_${epoch}_${updates}${sfx}${ext}`, !endOfEpoch && options.saveIntervalUpdates > 0 && updates % options.saveIntervalUpdates === 0],
    // fairseq compares against the already-updated best: true when this is (one of) the best so far.
    [`checkpoint_best${sfx}${ext}`, valLoss !== null && (best === undefined || isBetter(options, valLoss, best))],
  ];
  if (valLoss !== null && options.keepBestCheckpoints > 0) {
    conds.push([`checkpoint.best_${options.bestCheckpointMetric}_${formatFixed(valLoss, 2)}${ext}`, best === undefined || isBetter(options, valLoss, best)]);
  }
  conds.push([`checkpoint_last${sfx}${ext}`, !options.noLastCheckpoints]);
  return { files: conds.filter(([, c]) => c).map(([f]) => f), best };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** fairseq's `checkpoint_paths`: files matching `pattern` (one numeric group), sorted by it descending. */
export function matchCheckpoints(files: readonly string[], pattern: RegExp): string[] {
  const entries: [number, string][] = [];
  for (const f of files) {
    const m = pattern.exec(f);
    if (m && m[0] === f) entries.push([Number(m[1]), f]);
  }
  entries.sort((a, b) => b[0] - a[0] || (b[1] < a[1] ? -1 : b[1] > a[1] ? 1 : 0));
  return entries.map((e) => e[1]);
}

/** Old checkpoints to delete after a save, given the files now in the save dir. */
export function checkpointsToRemove(options: CheckpointPolicyOptions, files: readonly string[], endOfEpoch: boolean): string[] {
  const ext = escapeRe(options.extension);
  const remove: string[] = [];
  if (!endOfEpoch && options.keepIntervalUpdates > 0) {
    remove.push(...matchCheckpoints(files, new RegExp(`^checkpoint_\\d+_(\\d+)${ext}$`)).slice(options.keepIntervalUpdates));
  }
  if (options.keepLastEpochs > 0) {
    remove.push(...matchCheckpoints(files, new RegExp(`^checkpoint(\\d+)${ext}$`)).slice(options.keepLastEpochs));
  }
  if (options.keepBestCheckpoints > 0) {
    let best = matchCheckpoints(files, new RegExp(`^checkpoint\\.best_${escapeRe(options.bestCheckpointMetric)}_(\\d+\\.?\\d*)${ext}$`));
    if (!options.maximizeBestCheckpointMetric) best = best.reverse();
    remove.push(...best.slice(options.keepBestCheckpoints));
  }
  return remove;
}
