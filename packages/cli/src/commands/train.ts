import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { isDistributedWorker, joinProcessGroup, runCoordinator, workerThreads, type ProcessGroup } from "@fairseq-ts/distributed";
import { MpiProcessGroup } from "@fairseq-ts/distributed-mpi";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { criterionOptionsOf } from "@fairseq-ts/criterions";
import { datasetOptions, type DatasetOptions } from "@fairseq-ts/data";
import { modelOptionsOf, modelSelectionOptions, type ModelArgs } from "@fairseq-ts/models";
import { lrSchedulerOptionsOf, optimizerOptionsOf } from "@fairseq-ts/optim";
import { tasks, type Task } from "@fairseq-ts/tasks";
import { checkpointOptions, optimizationOptions, train, type CheckpointOptions, type OptimizationOptions, type TrainOptions } from "@fairseq-ts/trainer";
import { importUserDir } from "../user-dir.js";
import { commonOptions, distributedOptions, type CommonOptions, type DistributedOptions } from "../options.js";
import type { CommandSpec, ParsedCommand } from "../spec.js";
import { encoderSelectors, scoringSelector, taskSelector } from "../command-groups.js";
import { checkMpiPlacement, distributedLaunch } from "../distributed-launch.js";

/** The typed options of one `train` command line, one object per option group. */
export interface TrainConfig {
  data: string;
  common: CommonOptions;
  dataset: DatasetOptions;
  distributed: DistributedOptions;
  optimization: OptimizationOptions;
  checkpoint: CheckpointOptions;
  /** The selected task's options (translation or language_modeling). */
  task: Record<string, unknown>;
  /** `arch` and the options of the model behind it (snake_case, null where the architecture preset decides). */
  model: Record<string, unknown> & { arch: string | null };
  optimizer: Record<string, unknown>;
  lrScheduler: Record<string, unknown>;
  criterion: Record<string, unknown>;
}

export function trainConfig(p: ParsedCommand): TrainConfig {
  const o = p.options;
  return {
    data: p.positional!,
    common: o.common as CommonOptions,
    dataset: o.dataset as DatasetOptions,
    distributed: o.distributed_training as DistributedOptions,
    optimization: o.optimization as OptimizationOptions,
    checkpoint: o.checkpoint as CheckpointOptions,
    task: o.task ?? {},
    model: (o.model ?? { arch: null }) as TrainConfig["model"],
    optimizer: o.optimizer ?? {},
    lrScheduler: o.lr_scheduler ?? {},
    criterion: o.criterion ?? {},
  };
}

const NO_TEXT = "train reads binarized data and decodes no text (fairseq uses it only for --eval-bleu, which is not implemented)";

/** `fairseq-ts train DATA ...`: fairseq-train's flags, names and defaults. */
export const trainSpec: CommandSpec = {
  name: "train",
  description: "train a model (fairseq-train)",
  positional: { name: "data", help: "path to data directory (from preprocess)" },
  groups: [
    { group: commonOptions, unused: [{ keys: ["tokenizer", "bpe", "scoring"], reason: NO_TEXT }] },
    {
      group: datasetOptions,
      unused: [
        { keys: ["genSubset", "numShards", "shardId"], reason: "a generation option: train does not generate (fairseq parses it here and ignores it)" },
        { keys: ["trainSubset"], reason: "the training split is always 'train' in fairseq-ts" },
      ],
    },
    { group: distributedOptions },
    { group: optimizationOptions },
    { group: checkpointOptions },
    { group: modelSelectionOptions, as: "model" },
  ],
  selectors: [
    taskSelector,
    { group: "model", key: "arch", as: "model", options: (name) => modelOptionsOf(name) },
    { group: "common", key: "optimizer", as: "optimizer", options: (name) => optimizerOptionsOf(name) },
    { group: "common", key: "lrScheduler", as: "lr_scheduler", options: (name) => lrSchedulerOptionsOf(name) },
    { group: "common", key: "criterion", as: "criterion", options: (name) => criterionOptionsOf(name) },
    ...encoderSelectors.map((s) => ({ ...s, unused: NO_TEXT })),
    { ...scoringSelector, unused: NO_TEXT },
  ],
  required: [{ group: "model", key: "arch" }],
  run: (p) => runTrain(trainConfig(p)),
};

/** A process group that can stop the whole run naming this rank (the cluster coordinator, or MPI_Abort). */
type RankGroup = ProcessGroup & { reportFailure(message: string): Promise<unknown> };

async function runTrain(c: TrainConfig): Promise<void> {
  const launch = distributedLaunch(c.distributed, process.env);
  const t = c.distributed.heartbeatTimeout;
  const timeoutMs = t > 0 ? t * 1000 : undefined;
  if (launch.kind === "cluster" && cluster.isPrimary) {
    // This process only coordinates: the workers run this same command line, each with a rank.
    await runCoordinator({ worldSize: launch.worldSize, exec: process.argv[1], args: process.argv.slice(2), timeoutMs });
    return;
  }
  let pg: RankGroup | null = null;
  let threads = workerThreads();
  if (isDistributedWorker()) pg = joinProcessGroup();
  else if (launch.kind === "mpi") {
    const mpi = MpiProcessGroup.join({ timeoutMs });
    pg = mpi;
    try {
      checkMpiPlacement(c.distributed, launch.placement, mpi);
    } catch (e) {
      await mpi.reportFailure((e as Error).message);
    }
    // each rank's share of its host's cores (mpirun/srun say how many ranks share the host)
    const local = launch.placement?.localSize;
    if (threads === undefined && local) threads = Math.max(1, Math.floor(availableParallelism() / local));
  }
  try {
    await trainCommand(c, pg, threads);
  } catch (e) {
    if (pg) await pg.reportFailure((e as Error).message);
    throw e;
  }
  await pg?.close();
}

/**
 * The model args fairseq's Namespace would hold: the given model options (unset ones are left to the architecture
 * preset) and the task's positions, which fairseq's models read from the same Namespace.
 */
export function modelArgsOf(c: TrainConfig): ModelArgs {
  const args: ModelArgs = { arch: c.model.arch! };
  for (const [k, v] of Object.entries(c.model)) if (k !== "arch" && v !== null && v !== undefined) args[k] = v;
  // fairseq's decoder layers: relu_dropout stands in for activation_dropout when that is 0
  if ("relu_dropout" in args) {
    if (!args.activation_dropout) args.activation_dropout = args.relu_dropout;
    delete args.relu_dropout;
  }
  const t = c.task;
  if (c.common.task === "language_modeling") {
    args.tokens_per_sample = t.tokensPerSample;
    if (t.maxTargetPositions !== null && t.maxTargetPositions !== undefined) args.max_target_positions = t.maxTargetPositions;
  } else {
    args.max_source_positions = t.maxSourcePositions;
    args.max_target_positions = t.maxTargetPositions;
  }
  return args;
}

async function trainCommand(c: TrainConfig, pg: ProcessGroup | null, threads: number | undefined): Promise<void> {
  const { common, dataset: d, optimization: op, checkpoint: ck } = c;
  await initBackend({
    backend: common.backend === null ? undefined : parseBackendName(common.backend),
    threads,
    log: pg && pg.rank > 0 ? null : undefined,
  });
  await importUserDir(common.userDir ?? undefined);
  if (!tasks.has(common.task)) throw new Error(`--task: unknown task '${common.task}' (known: ${tasks.names().join(", ")})`);
  const task: Task = await tasks.get(common.task).setup({ data: c.data, datasetImpl: d.datasetImpl, seed: common.seed }, c.task);
  if (!common.optimizer) throw new Error("--optimizer is required (e.g. --optimizer adam)");
  const model = modelArgsOf(c);
  const stopSignal = { stop: false };
  const onSignal = (sig: string) => {
    if (stopSignal.stop) process.exit(130);
    process.stderr.write(`\nfairseq-ts train: ${sig}: finishing the current update and saving checkpoint_last\n`);
    stopSignal.stop = true;
  };
  const onSigint = () => onSignal("SIGINT");
  const onSigterm = () => onSignal("SIGTERM");
  if (!pg) {
    // (In a distributed run the coordinator, or MpiProcessGroup's handlers, turn Ctrl-C into a stop flag that
    // all ranks see together.)
    process.once("SIGINT", onSigint);
    process.once("SIGTERM", onSigterm);
  }
  const crit = c.criterion as { labelSmoothing?: number; reportAccuracy?: boolean };
  const optim = c.optimizer as { adamBetas?: string; adamEps?: number; weightDecay?: number; momentum?: number };
  const opts: TrainOptions = {
    model,
    criterion: common.criterion,
    labelSmoothing: crit.labelSmoothing,
    reportAccuracy: crit.reportAccuracy,
    sentenceAvg: op.sentenceAvg,
    optimizer: common.optimizer,
    adamBetas: optim.adamBetas,
    adamEps: optim.adamEps,
    weightDecay: optim.weightDecay,
    momentum: optim.momentum,
    // the selected optimizer's and scheduler's own options, as their registry entries declare them
    optimizerOptions: c.optimizer,
    lr: op.lr,
    lrScheduler: common.lrScheduler,
    scheduler: c.lrScheduler,
    minLr: op.minLr,
    clipNorm: op.clipNorm,
    microBatchTokens: op.microBatchTokens,
    maxTokens: d.maxTokens,
    batchSize: d.batchSize,
    maxTokensValid: d.maxTokensValid,
    batchSizeValid: d.batchSizeValid,
    requiredBatchSizeMultiple: d.requiredBatchSizeMultiple,
    skipInvalidSizeInputsValidTest: d.skipInvalidSizeInputsValidTest,
    updateFreq: op.updateFreq,
    maxEpoch: op.maxEpoch,
    maxUpdate: op.maxUpdate,
    stopTimeHours: op.stopTimeHours,
    seed: common.seed,
    validSubset: d.validSubset,
    validateInterval: d.validateInterval,
    validateIntervalUpdates: d.validateIntervalUpdates,
    validateAfterUpdates: d.validateAfterUpdates,
    disableValidation: d.disableValidation,
    patience: ck.patience,
    saveDir: ck.saveDir,
    restoreFile: ck.restoreFile,
    finetuneFromModel: ck.finetuneFromModel,
    resetDataloader: ck.resetDataloader,
    resetLrScheduler: ck.resetLrScheduler,
    resetMeters: ck.resetMeters,
    resetOptimizer: ck.resetOptimizer,
    saveInterval: ck.saveInterval,
    saveIntervalUpdates: ck.saveIntervalUpdates,
    keepIntervalUpdates: ck.keepIntervalUpdates,
    keepLastEpochs: ck.keepLastEpochs,
    keepBestCheckpoints: ck.keepBestCheckpoints,
    noSave: ck.noSave,
    noEpochCheckpoints: ck.noEpochCheckpoints,
    noLastCheckpoints: ck.noLastCheckpoints,
    bestCheckpointMetric: ck.bestCheckpointMetric,
    maximizeBestCheckpointMetric: ck.maximizeBestCheckpointMetric,
    logFormat: common.noProgressBar ? "simple" : (common.logFormat ?? undefined),
    logInterval: common.logInterval,
    tensorboardLogdir: common.tensorboardLogdir,
    stopSignal,
    distributed: pg ?? undefined,
    distributedSplitBatches: c.distributed.distributedSplitBatches,
  };
  try {
    await train(task, opts);
  } finally {
    // main() may run many times in one process (tests, embedding): leave no handlers behind
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
}
