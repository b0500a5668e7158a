import * as tf from "@tensorflow/tfjs-core";
import { existsSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { buildCriterion } from "@fairseq-ts/criterions";
import { resolveMaxPositions, type EpochBatchIterator, type EpochBatchIteratorState, type Sample } from "@fairseq-ts/data";
import { Metrics, ProgressBar, StopwatchMeter, formatFixed, lineSink, pyFloatRepr, type LogFormat, type LogSink } from "@fairseq-ts/logging";
import type { ModelArgs } from "@fairseq-ts/models";
import { buildLrScheduler, buildOptimizer, type LrSchedulerOptions, type OptimizerOptions } from "@fairseq-ts/optim";
import type { Task } from "@fairseq-ts/tasks";
import { decideSave, checkpointsToRemove, defaultCheckpointPolicy, type CheckpointPolicyOptions } from "./checkpoint-policy.js";
import { encodeCheckpoint, loadModelWeights, readCheckpointFile, writeCheckpointFiles } from "./checkpoint.js";
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
 * fairseq-train's main loop: epochs of `--update-freq` groups, validation and checkpointing on
 * fairseq's schedule, early stopping, exact resume from checkpoint_last.
 */
export async function train(task: Task, o: TrainOptions): Promise<TrainResult> {
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
  const optimizer = buildOptimizer(o.optimizer, { ...definedValues(o.optimizerOptions ?? {}), ...definedValues({ adamBetas: o.adamBetas, adamEps: o.adamEps, weightDecay: o.weightDecay, momentum: o.momentum }), lr: o.lr[0]! });
  const lrScheduler = buildLrScheduler(o.lrScheduler, optimizer, {
    maximizeBestCheckpointMetric: policy.maximizeBestCheckpointMetric,
    ...definedValues(o.scheduler ?? {}),
    lr: o.lr,
    maxUpdate: o.maxUpdate,
  });
  const trainer = new Trainer(model, criterion, optimizer, lrScheduler, metrics, { seed, clipNorm: o.clipNorm ?? 0, microBatchTokens: o.microBatchTokens ?? 0, padIdx: pad, balanceAcrossRanks: splitBatches }, pg);
  info(`task: ${task.name}, model: ${o.model.arch}, criterion: ${criterion.name}, num. model params: ${model.numParameters()} (num. trained: ${model.numParameters()})`);
  info(`max tokens per GPU = ${o.maxTokens ?? "None"} and max sentences per GPU = ${o.batchSize ?? "None"}`);

  // Restore (fairseq's checkpoint_utils.load_checkpoint).
  if (master) {
    mkdirSync(saveDir, { recursive: true });
    // Temp files of a save that was killed (never mistaken for checkpoints: hidden, .tmp) are removed.
    for (const f of readdirSync(saveDir)) if (f.startsWith(".") && f.endsWith(".tmp")) unlinkSync(join(saveDir, f));
  }
  const restorePath = resolveCheckpointPath(saveDir, o.restoreFile ?? "checkpoint_last.pt", policy.extension);
  let iteratorState: EpochBatchIteratorState | null = null;
  let best: number | undefined;
  if (existsSync(restorePath)) {
    const ck = await readCheckpointFile(restorePath);
    loadModelWeights(model, ck.model, restorePath);
    if (!o.resetOptimizer && ck.optimizer) optimizer.loadStateDict(ck.optimizer, model.namedParameters());
    if (!o.resetLrScheduler && ck.meta.lrScheduler) lrScheduler.loadStateDict(ck.meta.lrScheduler);
    if (!o.resetMeters && ck.meta.extraState.metrics) metrics.loadStateDict(ck.meta.extraState.metrics as never);
    if (!o.resetDataloader && ck.meta.extraState.train_iterator) iteratorState = ck.meta.extraState.train_iterator as EpochBatchIteratorState;
    best = ck.meta.extraState.best as number | undefined;
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

  // fairseq's trainer: the task's limits (--max-source-positions / --max-target-positions) and the model's, the
  // smaller of each; the train iterator skips longer examples with a warning, validation raises unless told to skip
  const maxPositions = resolveMaxPositions(task.maxPositions(), model.maxPositions());
  const warn = (msg: string) => sink("fairseq.tasks.fairseq_task", msg);
  const trainSet = task.loadDataset("train");
  const epochItr: EpochBatchIterator<unknown, Sample> = task.getBatchIterator(trainSet, {
    maxTokens: o.maxTokens,
    maxSentences: o.batchSize,
    maxPositions,
    ignoreInvalidInputs: true,
    warn,
    requiredBatchSizeMultiple: o.requiredBatchSizeMultiple ?? 8,
    seed,
    numShards: worldSize,
    shardId: rank,
    epoch: 1,
    shareBatchGroups: splitBatches,
  });
  if (iteratorState) epochItr.loadStateDict(iteratorState);
  lrScheduler.step(epochItr.epoch);

  // Replicas start from rank 0's weights (a user model's initialisation need not be seeded), then
  // must stay identical: a checksum mismatch means a rank diverged, and training stops.
  const checkReplicas = async (when: string) => {
    if (!pg) return;
    const sums = await pg.allGather(Float64Array.from([weightsChecksum([...model.namedParameters().values()].map((p) => p.dataSync() as Float32Array))]));
    if (sums.some((x) => x[0] !== sums[0]![0])) {
      throw new Error(`replicas diverged ${when}: weight checksums by rank ${sums.map((x, r) => `${r}=${x[0]!.toString(16)}`).join(", ")}`);
    }
  };
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
    await checkReplicas("at start");
    info(`distributed training on ${worldSize} workers (node cluster), rank ${rank} logs and saves`);
  }

  const maxEpoch = o.maxEpoch && o.maxEpoch > 0 ? o.maxEpoch : Infinity;
  const maxUpdate = o.maxUpdate && o.maxUpdate > 0 ? o.maxUpdate : Infinity;
  const patience = o.patience ?? -1;
  let earlyBest: number | null = null;
  let runsWithoutImprovement = 0;
  const isBetterStrict = (a: number, b: number) => (policy.maximizeBestCheckpointMetric ? a > b : a < b);
  const shouldStopEarly = (v: number | null) => {
    if (v === null || patience <= 0) return false;
    if (earlyBest === null || isBetterStrict(v, earlyBest)) {
      earlyBest = v;
      runsWithoutImprovement = 0;
      return false;
    }
    runsWithoutImprovement++;
    if (runsWithoutImprovement >= patience) {
      info(`early stop since valid performance hasn't improved for last ${patience} runs`);
      return true;
    }
    return false;
  };

  const trainMeter = new StopwatchMeter();
  trainMeter.start();
  const validLosses: number[] = [];
  let stoppedBy: TrainResult["stoppedBy"] = "max-epoch";

  const validate = async (epoch: number): Promise<number | null> => {
    let first: number | null = null;
    for (const [subset, ds] of validSets) {
      info(`begin validation on "${subset}" subset`);
      const it = task.getBatchIterator(ds, {
        maxTokens: o.maxTokensValid ?? o.maxTokens,
        maxSentences: o.batchSizeValid ?? o.batchSize,
        maxPositions,
        ignoreInvalidInputs: o.skipInvalidSizeInputsValidTest ?? false,
        warn,
        requiredBatchSizeMultiple: o.requiredBatchSizeMultiple ?? 8,
        seed,
        numShards: worldSize,
        shardId: rank,
      });
      const stats = await metrics.aggregate(
        `valid_${subset}`,
        async (agg) => {
          agg.reset();
          for (const s of it.nextEpochItr({ shuffle: false })) {
            if (!pg) {
              trainer.validStep(s);
              continue;
            }
            // fairseq's distributed valid_step: each rank scores its shard's batch, the logged values
            // are summed across ranks, and the step is logged once with the sums.
            const out = trainer.validOutput(s);
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
      if (best !== undefined && metric !== null) {
        stats.set(`best_${policy.bestCheckpointMetric}`, policy.maximizeBestCheckpointMetric ? Math.max(best, metric) : Math.min(best, metric));
      }
      new ProgressBar({ format: logFormat === "tqdm" ? "simple" : logFormat, size: 1, epoch, prefix: `valid on '${subset}' subset`, sink }).print(stats, subset);
      tb?.log(subset, stats, trainer.numUpdates);
      if (first === null) first = metric;
    }
    if (first !== null) validLosses.push(first);
    return first;
  };

  const save = async (epoch: number, endOfEpoch: boolean, valLoss: number | null) => {
    const decision = decideSave(policy, { epoch, updates: trainer.numUpdates, endOfEpoch, valLoss, prevBest: best });
    best = decision.best;
    if (o.noSave || !master) return;
    info("begin save checkpoint");
    const timer = new StopwatchMeter();
    timer.start();
    const bytes = encodeCheckpoint(model, optimizer, {
      args: { ...o.model },
      numUpdates: trainer.numUpdates,
      lrScheduler: lrScheduler.stateDict(),
      extraState: { train_iterator: epochItr.stateDict(), val_loss: valLoss, best, metrics: metrics.stateDict() },
    });
    const paths = decision.files.map((f) => join(saveDir, f));
    await writeCheckpointFiles(paths, bytes);
    timer.stop();
    if (paths.length > 0) {
      info(`saved checkpoint ${paths[0]} (epoch ${epoch} @ ${trainer.numUpdates} updates, score ${valLoss === null ? "None" : pyFloatRepr(valLoss)}) (writing took ${formatFixed(timer.sum, 6)} seconds)`);
    }
    for (const f of checkpointsToRemove(policy, readdirSync(saveDir), endOfEpoch)) {
      try {
        unlinkSync(join(saveDir, f));
      } catch {
        /* already gone */
      }
    }
  };

  let lr = trainer.getLr();
  const minLr = o.minLr ?? -1;
  outer: while (lr > minLr && epochItr.nextEpochIdx <= maxEpoch) {
    const itr = epochItr.nextEpochPieces({ shuffle: true });
    const epoch = epochItr.epoch;
    const freqs = o.updateFreq ?? [1];
    const updateFreq = freqs[Math.min(epoch - 1, freqs.length - 1)]!;
    const groups = Math.ceil((itr.total - itr.n) / updateFreq);
    const bar = new ProgressBar({ format: logFormat, size: Math.ceil(itr.total / updateFreq), epoch, logInterval: o.logInterval ?? 100, sink, stream: process.stderr, createBar: cliProgressBar });
    info(`begin training epoch ${epoch}`);
    let i = Math.ceil(itr.n / updateFreq);
    let valLoss: number | null = null;
    let shouldStop = false;
    void groups;
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
      valLoss = doValidate ? await validate(epoch) : null;
      if (pg && (endOfEpoch || n % (o.logInterval ?? 100) === 0)) await checkReplicas(`at update ${n}`);
      const stopTime = (o.stopTimeHours ?? 0) > 0 && trainMeter.elapsedTime / 3600 > o.stopTimeHours!;
      // In a distributed run the stop flag arrives with a collective: every rank sees it here together.
      const signal = (o.stopSignal?.stop ?? false) || (pg?.stopRequested ?? false);
      shouldStop = shouldStopEarly(valLoss) || n >= maxUpdate || stopTime || signal;
      if (doSave || shouldStop) await save(epoch, endOfEpoch, valLoss);
      if (shouldStop) {
        stoppedBy = signal ? "signal" : n >= maxUpdate ? "max-update" : stopTime ? "stop-time" : "patience";
        bar.close();
        info(`end of epoch ${epoch} (average epoch stats below)`);
        printEpoch(metrics, bar, sink, tb, trainer.numUpdates);
        break outer;
      }
    }
    bar.close();
    info(`end of epoch ${epoch} (average epoch stats below)`);
    printEpoch(metrics, bar, sink, tb, trainer.numUpdates);
    lr = lrScheduler.step(epoch, valLoss);
  }
  if (lr <= minLr) stoppedBy = "min-lr";
  trainMeter.stop();
  info(`done training in ${formatFixed(trainMeter.sum, 1)} seconds`);
  if (pg) {
    const c = pg.stats();
    info(`distributed: ${c.collectives} collectives, ${formatFixed(c.bytesSent / 1e6, 1)} MB sent by rank 0, ${formatFixed(c.waitMs / Math.max(1, trainer.numUpdates), 1)} ms in communication per update`);
  }
  const result = { numUpdates: trainer.numUpdates, epoch: epochItr.epoch, validLosses, stoppedBy };
  model.dispose();
  optimizer.dispose();
  return result;
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
