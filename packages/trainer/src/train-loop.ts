import * as tf from "@tensorflow/tfjs-core";
import { existsSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { buildCriterion } from "@fairseq-ts/criterions";
import { resolveMaxPositions, type EpochBatchIterator, type EpochBatchIteratorState, type MaxPositions, type Sample } from "@fairseq-ts/data";
import { Metrics, ProgressBar, StopwatchMeter, formatFixed, lineSink, pyFloatRepr, type LogFormat, type LogSink } from "@fairseq-ts/logging";
import { loadModelWeights, type EncoderDecoderModel, type LanguageModel, type ModelArgs } from "@fairseq-ts/models";
import { buildLrScheduler, buildOptimizer, type LrSchedulerOptions, type OptimizerOptions } from "@fairseq-ts/optim";
import type { Task, TaskDataset } from "@fairseq-ts/tasks";
import { decideSave, checkpointsToRemove, defaultCheckpointPolicy, type CheckpointPolicyOptions } from "./checkpoint-policy.js";
import { checkpointFile, readCheckpointFile, writeCheckpointFiles } from "./checkpoint.js";
import { weightsChecksum, type ProcessGroup } from "@fairseq-ts/distributed";
import type { LoggingOutput } from "@fairseq-ts/criterions";
import { REDUCED_LOGGING_KEYS, Trainer } from "./trainer.js";
import { TensorboardWriter } from "./tensorboard.js";
import { cliProgressBar } from "./terminal-bar.js";

/** fairseq-train's options (camelCase of its flags) that the loop uses, with fairseq's defaults. */
export interface TrainOptions extends Partial<CheckpointPolicyOptions> {
  /** Model args: `arch` plus any architecture overrides (snake_case, fairseq names). */
  model: ModelArgs;
  criterion: string;
  labelSmoothing?: number;
  reportAccuracy?: boolean;
  sentenceAvg?: boolean;
  optimizer: string;
  adamBetas?: string;
  adamEps?: number;
  weightDecay?: number;
  momentum?: number;
  /** Any other optimizer flags (amsgrad, adafactor's, …), camelCase of fairseq's names. */
  optimizerOptions?: Partial<OptimizerOptions>;
  lr: number[];
  lrScheduler: string;
  scheduler?: Partial<LrSchedulerOptions>;
  clipNorm?: number;
  /** Micro-batching: row chunks of at most this many padded tokens per forward/backward (0 = off). */
  microBatchTokens?: number;
  maxTokens?: number | null;
  batchSize?: number | null;
  maxTokensValid?: number | null;
  batchSizeValid?: number | null;
  requiredBatchSizeMultiple?: number;
  skipInvalidSizeInputsValidTest?: boolean;
  updateFreq?: number[];
  maxEpoch?: number;
  maxUpdate?: number;
  stopTimeHours?: number;
  minLr?: number;
  seed?: number;
  validSubset?: string;
  validateInterval?: number;
  validateIntervalUpdates?: number;
  validateAfterUpdates?: number;
  disableValidation?: boolean;
  patience?: number;
  saveDir?: string;
  restoreFile?: string;
  resetOptimizer?: boolean;
  resetLrScheduler?: boolean;
  resetMeters?: boolean;
  resetDataloader?: boolean;
  finetuneFromModel?: string | null;
  noSave?: boolean;
  logFormat?: LogFormat;
  logInterval?: number;
  /** `--tensorboard-logdir`: also write the logged stats as TensorBoard event files (rank 0). */
  tensorboardLogdir?: string | null;
  sink?: LogSink;
  /**
   * Data-parallel training: this worker's process group. Each rank trains on its shard of every
   * batch group, gradients and logged values are summed across ranks, validation is sharded, replicas
   * are checked to stay identical (weights checksum every `logInterval` updates and at epoch ends),
   * and only rank 0 logs and writes checkpoints.
   */
  distributed?: ProcessGroup;
  /**
   * `--distributed-split-batches`: every rank reads the update's whole group of batches and the
   * ranks divide its micro-batches between them, balanced in padded tokens (`balanceSamples`), so
   * no rank waits at the gradient all-reduce for one that drew a costlier batch. The same sentences
   * per update as fairseq's whole batch per rank.
   */
  distributedSplitBatches?: boolean;
  /** Called after every update (tests, progress hooks). */
  onUpdate?: (trainer: Trainer) => void;
  /** Set to request a clean stop (SIGINT/SIGTERM): the loop saves checkpoint_last and returns. */
  stopSignal?: { stop: boolean };
}

export interface TrainResult {
  numUpdates: number;
  epoch: number;
  /** Last validation loss per validation run (best metric). */
  validLosses: number[];
  stoppedBy: "max-epoch" | "max-update" | "patience" | "stop-time" | "min-lr" | "signal";
}

/** Map a fairseq `.pt` checkpoint name to the fairseq-ts file name in the save dir. */
export function resolveCheckpointPath(saveDir: string, name: string, extension: string): string {
  const base = name.endsWith(".pt") ? `${name.slice(0, -3)}${extension}` : name;
  return base.includes("/") ? base : join(saveDir, base);
}

/**
 * Everything a training run holds, built by `setupTraining` (task, model, criterion, optimizer, LR scheduler,
 * Trainer, logging) and completed by `restoreCheckpoint` (the train iterator, positioned). The parts below
 * (`restoreCheckpoint`, `trainEpoch`, `validate`, `saveCheckpoint`, `disposeTraining`) take it, so that a
 * library user can write their own loop with the same pieces `train()` uses.
 */
export interface TrainingSession {
  readonly task: Task;
  readonly options: TrainOptions;
  readonly policy: CheckpointPolicyOptions;
  readonly seed: number;
  /** The process group when training on more than one worker, else null. */
  readonly pg: ProcessGroup | null;
  readonly rank: number;
  readonly worldSize: number;
  /** --distributed-split-batches, decided once for both the iterator and the trainer. */
  readonly splitBatches: boolean;
  /** Rank 0: the worker that logs and saves. */
  readonly master: boolean;
  readonly sink: LogSink;
  readonly info: (message: string) => void;
  readonly saveDir: string;
  readonly logFormat: LogFormat;
  readonly metrics: Metrics;
  readonly tb: TensorboardWriter | null;
  readonly validSets: readonly (readonly [string, TaskDataset])[];
  readonly model: EncoderDecoderModel | LanguageModel;
  readonly criterion: ReturnType<typeof buildCriterion>;
  readonly optimizer: ReturnType<typeof buildOptimizer>;
  readonly lrScheduler: ReturnType<typeof buildLrScheduler>;
  readonly trainer: Trainer;
  /** fairseq's resolve_max_positions(task, model): the size limit of every iterator. */
  readonly maxPositions: MaxPositions | null;
  /** The train iterator; null until `restoreCheckpoint`. */
  epochItr: EpochBatchIterator<unknown, Sample> | null;
  /** The best value of the checkpoint metric so far (restored from the checkpoint). */
  best: number | undefined;
  /** The first valid subset's metric of every validation run. */
  readonly validLosses: number[];
  /** Early stopping (--patience): the best metric seen and the runs since it improved. */
  earlyBest: number | null;
  runsWithoutImprovement: number;
  readonly trainMeter: StopwatchMeter;
}

/** What one `trainEpoch` call ended with: the last validation's metric, and why training must stop (null: go on). */
export interface EpochResult {
  valLoss: number | null;
  stop: TrainResult["stoppedBy"] | null;
}

/**
 * fairseq-train's main loop: epochs of `--update-freq` groups, validation and checkpointing on
 * fairseq's schedule, early stopping, exact resume from checkpoint_last. The composition of
 * `setupTraining`, `restoreCheckpoint`, `trainEpoch` (which validates and saves on fairseq's schedule)
 * and `disposeTraining`.
 */
export async function train(task: Task, o: TrainOptions): Promise<TrainResult> {
  const session = setupTraining(task, o);
  try {
    const epochItr = await restoreCheckpoint(session);
    let stoppedBy: TrainResult["stoppedBy"] = "max-epoch";
    let lr = session.trainer.getLr();
    const minLr = o.minLr ?? -1;
    const maxEpoch = o.maxEpoch && o.maxEpoch > 0 ? o.maxEpoch : Infinity;
    while (lr > minLr && epochItr.nextEpochIdx <= maxEpoch) {
      const { valLoss, stop } = await trainEpoch(session);
      if (stop) {
        stoppedBy = stop;
        break;
      }
      lr = session.lrScheduler.step(epochItr.epoch, valLoss);
    }
    if (lr <= minLr) stoppedBy = "min-lr";
    return finishTraining(session, stoppedBy);
  } finally {
    disposeTraining(session);
  }
}

/**
 * Build a run: the valid datasets, the model (`--arch` + overrides, seeded), criterion, optimizer, LR
 * scheduler and Trainer, the metrics and log sink; logs fairseq's first two lines. Nothing is read from
 * the save dir yet (`restoreCheckpoint`). Free it with `disposeTraining`.
 */
export function setupTraining(task: Task, o: TrainOptions): TrainingSession {
  const policy: CheckpointPolicyOptions = { ...defaultCheckpointPolicy, ...definedOnly(o) };
  const seed = o.seed ?? 1;
  const pg = o.distributed && o.distributed.worldSize > 1 ? o.distributed : null;
  const rank = pg?.rank ?? 0;
  const worldSize = pg?.worldSize ?? 1;
  // --distributed-split-batches: the iterator gives every rank the whole batch group and the trainer
  // runs this rank's balanced share of its micro-batches (one decision, used by both)
  const splitBatches = worldSize > 1 && (o.distributedSplitBatches ?? false);
  const master = rank === 0;
  const sinkBase = o.sink ?? lineSink();
  const sink: LogSink = master ? sinkBase : () => {};
  const info = (msg: string) => sink("fairseq_cli.train", msg);
  const saveDir = o.saveDir ?? "checkpoints";
  const logFormat = o.logFormat ?? (process.stderr.isTTY ? "tqdm" : "simple");
  const metrics = new Metrics();
  const tb = o.tensorboardLogdir && master ? new TensorboardWriter(o.tensorboardLogdir) : null;
  metrics.logStartTime("wall", { priority: 790, round: 0 });

  const validSubsets = (o.validSubset ?? "valid").split(",");
  const validSets = o.disableValidation ? [] : validSubsets.map((s) => [s, task.loadDataset(s)] as const);
  const model = task.buildModel({ ...o.model }, seed);
  const pad = task.targetDictionary.pad();
  const criterion = buildCriterion(o.criterion, {
    paddingIdx: pad,
    labelSmoothing: o.labelSmoothing ?? 0,
    reportAccuracy: o.reportAccuracy ?? false,
    sentenceAvg: o.sentenceAvg ?? false,
  });
  const optimizer = buildOptimizer(o.optimizer, {
    ...definedValues(o.optimizerOptions ?? {}),
    ...definedValues({ adamBetas: o.adamBetas, adamEps: o.adamEps, weightDecay: o.weightDecay, momentum: o.momentum }),
    lr: o.lr[0]!,
  });
  const lrScheduler = buildLrScheduler(o.lrScheduler, optimizer, {
    maximizeBestCheckpointMetric: policy.maximizeBestCheckpointMetric,
    ...definedValues(o.scheduler ?? {}),
    lr: o.lr,
    maxUpdate: o.maxUpdate,
  });
  const trainer = new Trainer(
    model,
    criterion,
    optimizer,
    lrScheduler,
    metrics,
    { seed, clipNorm: o.clipNorm ?? 0, microBatchTokens: o.microBatchTokens ?? 0, padIdx: pad, balanceAcrossRanks: splitBatches },
    pg,
  );
  info(
    `task: ${task.name}, model: ${o.model.arch}, criterion: ${criterion.name}, num. model params: ${model.numParameters()} (num. trained: ${model.numParameters()})`,
  );
  info(`max tokens per GPU = ${o.maxTokens ?? "None"} and max sentences per GPU = ${o.batchSize ?? "None"}`);
  const trainMeter = new StopwatchMeter();
  return {
    task,
    options: o,
    policy,
    seed,
    pg,
    rank,
    worldSize,
    splitBatches,
    master,
    sink,
    info,
    saveDir,
    logFormat,
    metrics,
    tb,
    validSets,
    model,
    criterion,
    optimizer,
    lrScheduler,
    trainer,
    // fairseq's trainer: the task's limits (--max-source-positions / --max-target-positions) and the model's, the
    // smaller of each; the train iterator skips longer examples with a warning, validation raises unless told to skip
    maxPositions: resolveMaxPositions(task.maxPositions(), model.maxPositions()),
    epochItr: null,
    best: undefined,
    validLosses: [],
    earlyBest: null,
    runsWithoutImprovement: 0,
    trainMeter,
  };
}

/**
 * fairseq's checkpoint_utils.load_checkpoint: restore the model, optimizer, LR scheduler, meters and train
 * iterator from `--restore-file` (default checkpoint_last) if it exists (else `--finetune-from-model`'s weights),
 * build the train iterator at its saved position, and (distributed) start every replica from rank 0's weights.
 * Starts the training clock. Returns the train iterator (also `session.epochItr`).
 */
export async function restoreCheckpoint(s: TrainingSession): Promise<EpochBatchIterator<unknown, Sample>> {
  const { options: o, policy, model, optimizer, lrScheduler, metrics, trainer, info, saveDir, pg, rank, worldSize } = s;
  if (s.master) {
    mkdirSync(saveDir, { recursive: true });
    // Temp files of a save that was killed (never mistaken for checkpoints: hidden, .tmp) are removed.
    for (const f of readdirSync(saveDir)) if (f.startsWith(".") && f.endsWith(".tmp")) unlinkSync(join(saveDir, f));
  }
  const restorePath = resolveCheckpointPath(saveDir, o.restoreFile ?? "checkpoint_last.pt", policy.extension);
  let iteratorState: EpochBatchIteratorState | null = null;
  if (existsSync(restorePath)) {
    const ck = await readCheckpointFile(restorePath);
    loadModelWeights(model, ck.model, restorePath);
    if (!o.resetOptimizer && ck.optimizer) optimizer.loadStateDict(ck.optimizer, model.namedParameters());
    if (!o.resetLrScheduler && ck.meta.lrScheduler) lrScheduler.loadStateDict(ck.meta.lrScheduler);
    if (!o.resetMeters && ck.meta.extraState.metrics) metrics.loadStateDict(ck.meta.extraState.metrics as never);
    if (!o.resetDataloader && ck.meta.extraState.train_iterator) iteratorState = ck.meta.extraState.train_iterator as EpochBatchIteratorState;
    s.best = ck.meta.extraState.best as number | undefined;
    trainer.setNumUpdates(o.resetOptimizer || o.resetLrScheduler ? ck.meta.numUpdates : ck.meta.numUpdates);
    info(`loaded checkpoint ${restorePath} (epoch ${iteratorState?.epoch ?? "?"} @ ${ck.meta.numUpdates} updates)`);
  } else {
    if (o.finetuneFromModel) {
      const ck = await readCheckpointFile(o.finetuneFromModel);
      loadModelWeights(model, ck.model, o.finetuneFromModel);
      info(`loaded pretrained model from ${o.finetuneFromModel}`);
    }
    info(`no existing checkpoint found ${restorePath}`);
  }

  const trainSet = s.task.loadDataset("train");
  const epochItr: EpochBatchIterator<unknown, Sample> = s.task.getBatchIterator(trainSet, {
    maxTokens: o.maxTokens,
    maxSentences: o.batchSize,
    maxPositions: s.maxPositions,
    ignoreInvalidInputs: true,
    warn: (msg) => s.sink("fairseq.tasks.fairseq_task", msg),
    requiredBatchSizeMultiple: o.requiredBatchSizeMultiple ?? 8,
    seed: s.seed,
    numShards: worldSize,
    shardId: rank,
    epoch: 1,
    shareBatchGroups: s.splitBatches,
  });
  if (iteratorState) epochItr.loadStateDict(iteratorState);
  lrScheduler.step(epochItr.epoch);
  s.epochItr = epochItr;

  // Replicas start from rank 0's weights (a user model's initialisation need not be seeded), then
  // must stay identical: a checksum mismatch means a rank diverged, and training stops.
  if (pg) {
    const params = [...model.namedParameters().values()];
    const flat = new Float32Array(params.reduce((a, p) => a + p.size, 0));
    let off = 0;
    for (const p of params) {
      flat.set(p.dataSync() as Float32Array, off);
      off += p.size;
    }
    await pg.broadcast(flat, 0);
    off = 0;
    for (const p of params) {
      if (rank !== 0) p.assign(tf.tensor(flat.subarray(off, off + p.size), p.shape, "float32"));
      off += p.size;
    }
    await checkReplicas(s, "at start");
    info(`distributed training on ${worldSize} workers (${pg.transport ?? "node cluster"}), rank ${rank} logs and saves`);
  }
  s.trainMeter.start();
  return epochItr;
}

/** Distributed: every rank's weights must have the same checksum (else a rank diverged: stop). */
async function checkReplicas(s: TrainingSession, when: string): Promise<void> {
  const { pg, model } = s;
  if (!pg) return;
  const sums = await pg.allGather(Float64Array.from([weightsChecksum([...model.namedParameters().values()].map((p) => p.dataSync() as Float32Array))]));
  if (sums.some((x) => x[0] !== sums[0]![0])) {
    throw new Error(`replicas diverged ${when}: weight checksums by rank ${sums.map((x, r) => `${r}=${x[0]!.toString(16)}`).join(", ")}`);
  }
}

/** fairseq's should_stop_early (--patience): counts validation runs without improvement of the metric. */
function shouldStopEarly(s: TrainingSession, v: number | null): boolean {
  const patience = s.options.patience ?? -1;
  if (v === null || patience <= 0) return false;
  const better = s.policy.maximizeBestCheckpointMetric ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  if (s.earlyBest === null || better(v, s.earlyBest)) {
    s.earlyBest = v;
    s.runsWithoutImprovement = 0;
    return false;
  }
  s.runsWithoutImprovement++;
  if (s.runsWithoutImprovement >= patience) {
    s.info(`early stop since valid performance hasn't improved for last ${patience} runs`);
    return true;
  }
  return false;
}

/**
 * One epoch of fairseq's train loop (or the rest of it, after a restore): updates of `--update-freq` groups,
 * the train_inner log lines, validation and checkpoints on fairseq's schedule (`validate`, `saveCheckpoint`),
 * and the stop conditions (max update, patience, stop time, signal), then the epoch's summary line.
 * Does not step the LR scheduler at the epoch's end: the caller does (`lrScheduler.step(epoch, valLoss)`).
 */
export async function trainEpoch(s: TrainingSession): Promise<EpochResult> {
  const { options: o, policy, metrics, trainer, sink, tb, info, pg } = s;
  const epochItr = s.epochItr;
  if (!epochItr) throw new Error("trainEpoch: call restoreCheckpoint(session) first (it builds the train iterator)");
  const maxUpdate = o.maxUpdate && o.maxUpdate > 0 ? o.maxUpdate : Infinity;
  const itr = epochItr.nextEpochPieces({ shuffle: true });
  const epoch = epochItr.epoch;
  const freqs = o.updateFreq ?? [1];
  const updateFreq = freqs[Math.min(epoch - 1, freqs.length - 1)]!;
  const bar = new ProgressBar({
    format: s.logFormat,
    size: Math.ceil(itr.total / updateFreq),
    epoch,
    logInterval: o.logInterval ?? 100,
    sink,
    stream: process.stderr,
    createBar: cliProgressBar,
  });
  info(`begin training epoch ${epoch}`);
  let i = Math.ceil(itr.n / updateFreq);
  let valLoss: number | null = null;
  for (const group of itr.grouped(updateFreq)) {
    bar.tick(i);
    const ok = await metrics.aggregate("train", () => metrics.aggregate("train_inner", () => trainer.trainStep(group.flat())));
    i++;
    if (ok) {
      o.onUpdate?.(trainer);
      if (trainer.numUpdates % (o.logInterval ?? 100) === 0) {
        const stats = metrics.getSmoothedValues("train_inner");
        stats.set("wall", Math.round((metrics.getMeter("default", "wall") as StopwatchMeter).elapsedTime));
        bar.log(stats, "train_inner", trainer.numUpdates);
        tb?.log("train_inner", stats, trainer.numUpdates);
        metrics.resetMeters("train_inner");
      }
    }
    const endOfEpoch = !itr.hasNext();
    const n = trainer.numUpdates;
    const doSave =
      (endOfEpoch && epoch % policy.saveInterval === 0) ||
      n >= maxUpdate ||
      (policy.saveIntervalUpdates > 0 && n > 0 && n % policy.saveIntervalUpdates === 0 && n >= (o.validateAfterUpdates ?? 0));
    const doValidate =
      ((!endOfEpoch && doSave) ||
        (endOfEpoch && epoch % (o.validateInterval ?? 1) === 0) ||
        n >= maxUpdate ||
        ((o.validateIntervalUpdates ?? 0) > 0 && n > 0 && n % o.validateIntervalUpdates! === 0)) &&
      !o.disableValidation;
    valLoss = doValidate ? await validate(s, epoch) : null;
    if (pg && (endOfEpoch || n % (o.logInterval ?? 100) === 0)) await checkReplicas(s, `at update ${n}`);
    const stopTime = (o.stopTimeHours ?? 0) > 0 && s.trainMeter.elapsedTime / 3600 > o.stopTimeHours!;
    // In a distributed run the stop flag arrives with a collective: every rank sees it here together.
    const signal = (o.stopSignal?.stop ?? false) || (pg?.stopRequested ?? false);
    const shouldStop = shouldStopEarly(s, valLoss) || n >= maxUpdate || stopTime || signal;
    if (doSave || shouldStop) await saveCheckpoint(s, epoch, endOfEpoch, valLoss);
    if (shouldStop) {
      bar.close();
      info(`end of epoch ${epoch} (average epoch stats below)`);
      printEpoch(metrics, bar, sink, tb, trainer.numUpdates);
      return { valLoss, stop: signal ? "signal" : n >= maxUpdate ? "max-update" : stopTime ? "stop-time" : "patience" };
    }
  }
  bar.close();
  info(`end of epoch ${epoch} (average epoch stats below)`);
  printEpoch(metrics, bar, sink, tb, trainer.numUpdates);
  return { valLoss, stop: null };
}

/**
 * fairseq's validate: every `--valid-subset` (sharded across ranks), its valid line logged; returns the first
 * subset's `--best-checkpoint-metric` (also appended to `session.validLosses`), or null without validation sets.
 */
export async function validate(s: TrainingSession, epoch: number): Promise<number | null> {
  const { options: o, policy, metrics, trainer, pg, sink, tb, info } = s;
  let first: number | null = null;
  for (const [subset, ds] of s.validSets) {
    info(`begin validation on "${subset}" subset`);
    const it = s.task.getBatchIterator(ds, {
      maxTokens: o.maxTokensValid ?? o.maxTokens,
      maxSentences: o.batchSizeValid ?? o.batchSize,
      maxPositions: s.maxPositions,
      ignoreInvalidInputs: o.skipInvalidSizeInputsValidTest ?? false,
      warn: (msg) => sink("fairseq.tasks.fairseq_task", msg),
      requiredBatchSizeMultiple: o.requiredBatchSizeMultiple ?? 8,
      seed: s.seed,
      numShards: s.worldSize,
      shardId: s.rank,
    });
    const stats = await metrics.aggregate(
      `valid_${subset}`,
      async (agg) => {
        agg.reset();
        for (const b of it.nextEpochItr({ shuffle: false })) {
          if (!pg) {
            trainer.validStep(b);
            continue;
          }
          // fairseq's distributed valid_step: each rank scores its shard's batch, the logged values
          // are summed across ranks, and the step is logged once with the sums.
          const out = trainer.validOutput(b);
          const sums = Float64Array.from(REDUCED_LOGGING_KEYS, (k) => out?.[k] ?? 0);
          await pg.allReduce([sums]);
          const merged: LoggingOutput = {};
          REDUCED_LOGGING_KEYS.forEach((k, i) => (merged[k] = sums[i]!));
          metrics.aggregate(null, () => trainer.reduceMetrics([merged]));
        }
        return agg.smoothedValues();
      },
      { newRoot: true },
    );
    stats.set("num_updates", trainer.numUpdates);
    const metric = stats.get(policy.bestCheckpointMetric) ?? null;
    if (s.best !== undefined && metric !== null) {
      stats.set(`best_${policy.bestCheckpointMetric}`, policy.maximizeBestCheckpointMetric ? Math.max(s.best, metric) : Math.min(s.best, metric));
    }
    new ProgressBar({ format: s.logFormat === "tqdm" ? "simple" : s.logFormat, size: 1, epoch, prefix: `valid on '${subset}' subset`, sink }).print(
      stats,
      subset,
    );
    tb?.log(subset, stats, trainer.numUpdates);
    if (first === null) first = metric;
  }
  if (first !== null) s.validLosses.push(first);
  return first;
}

/**
 * fairseq's save_checkpoint: decides which files this point deserves (checkpoint_last, _best, epoch/update
 * files, per `--save-interval*`, `--keep-*`), updates the best metric, and (rank 0, unless --no-save) writes
 * them atomically with the model, optimizer, scheduler, meters and train iterator position, then prunes old ones.
 */
export async function saveCheckpoint(s: TrainingSession, epoch: number, endOfEpoch: boolean, valLoss: number | null): Promise<void> {
  const { options: o, policy, trainer, info, saveDir } = s;
  const decision = decideSave(policy, { epoch, updates: trainer.numUpdates, endOfEpoch, valLoss, prevBest: s.best });
  s.best = decision.best;
  if (o.noSave || !s.master) return;
  if (!s.epochItr) throw new Error("saveCheckpoint: call restoreCheckpoint(session) first (the checkpoint holds the train iterator's position)");
  info("begin save checkpoint");
  const timer = new StopwatchMeter();
  timer.start();
  // streamed: the header, then one weight/buffer at a time (a checkpoint over 2 GiB is never one buffer)
  const file = checkpointFile(s.model, s.optimizer, {
    args: { ...o.model },
    numUpdates: trainer.numUpdates,
    lrScheduler: s.lrScheduler.stateDict(),
    extraState: { train_iterator: s.epochItr.stateDict(), val_loss: valLoss, best: s.best, metrics: s.metrics.stateDict() },
  });
  const paths = decision.files.map((f) => join(saveDir, f));
  await writeCheckpointFiles(paths, file);
  timer.stop();
  if (paths.length > 0) {
    info(
      `saved checkpoint ${paths[0]} (epoch ${epoch} @ ${trainer.numUpdates} updates, score ${valLoss === null ? "None" : pyFloatRepr(valLoss)}) (writing took ${formatFixed(timer.sum, 6)} seconds)`,
    );
  }
  for (const f of checkpointsToRemove(policy, readdirSync(saveDir), endOfEpoch)) {
    try {
      unlinkSync(join(saveDir, f));
    } catch {
      /* already gone */
    }
  }
}

/** The end of a run: stops the clock, logs fairseq's closing lines and returns the result. */
function finishTraining(s: TrainingSession, stoppedBy: TrainResult["stoppedBy"]): TrainResult {
  s.trainMeter.stop();
  s.info(`done training in ${formatFixed(s.trainMeter.sum, 1)} seconds`);
  if (s.pg) {
    const c = s.pg.stats();
    s.info(
      `distributed: ${c.collectives} collectives, ${formatFixed(c.bytesSent / 1e6, 1)} MB sent by rank 0, ${formatFixed(c.waitMs / Math.max(1, s.trainer.numUpdates), 1)} ms in communication per update`,
    );
  }
  return { numUpdates: s.trainer.numUpdates, epoch: s.epochItr?.epoch ?? 1, validLosses: s.validLosses, stoppedBy };
}

/** Free the model's and the optimizer's tensors. */
export function disposeTraining(s: TrainingSession): void {
  s.model.dispose();
  s.optimizer.dispose();
}

function printEpoch(metrics: Metrics, bar: ProgressBar, sink: LogSink, tb: TensorboardWriter | null, step: number) {
  const stats = metrics.getSmoothedValues("train");
  tb?.log("train", stats, step);
  stats.set("wall", Math.round((metrics.getMeter("default", "wall") as StopwatchMeter).elapsedTime));
  const fmt = bar.format === "tqdm" ? "simple" : bar.format;
  new ProgressBar({ format: fmt, size: bar.size, epoch: bar.epoch, sink }).print(stats, "train");
  metrics.resetMeters("train");
}

/** The entries that are not undefined (so that a library default applies to a flag left unset). */
function definedValues<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function definedOnly(o: TrainOptions): Partial<CheckpointPolicyOptions> {
  const out: Partial<CheckpointPolicyOptions> = {};
  for (const k of Object.keys(defaultCheckpointPolicy) as (keyof CheckpointPolicyOptions)[]) {
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  }
  return out;
}
