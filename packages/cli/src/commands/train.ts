import cluster from "node:cluster";
import type { Command } from "commander";
import { isDistributedWorker, joinProcessGroup, runCoordinator, workerThreads, type ProcessGroup } from "@fairseq-ts/distributed";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { LanguageModelingTask, TranslationTask, type Task } from "@fairseq-ts/tasks";
import { train, type TrainOptions } from "@fairseq-ts/trainer";
import { bool, choice, float, int } from "../flags.js";
import { importUserDir } from "../user-dir.js";
import { addEncoderFlags } from "../encoders.js";

const floatList = (v: string) => v.split(",").map((x) => float(x));
const intList = (v: string) => v.split(",").map((x) => int(x));

/** Model flags: fairseq's names; passed to the architecture as snake_case args when given. */
const MODEL_FLAGS: [string, "int" | "float" | "bool" | "str"][] = [
  ["encoder-layers", "int"], ["decoder-layers", "int"], ["encoder-embed-dim", "int"], ["decoder-embed-dim", "int"],
  ["encoder-ffn-embed-dim", "int"], ["decoder-ffn-embed-dim", "int"], ["encoder-attention-heads", "int"],
  ["decoder-attention-heads", "int"], ["decoder-output-dim", "int"], ["decoder-input-dim", "int"],
  ["encoder-normalize-before", "bool"], ["decoder-normalize-before", "bool"], ["encoder-learned-pos", "bool"],
  ["decoder-learned-pos", "bool"], ["share-decoder-input-output-embed", "bool"], ["share-all-embeddings", "bool"],
  ["no-token-positional-embeddings", "bool"], ["no-scale-embedding", "bool"], ["layernorm-embedding", "bool"],
  ["no-decoder-final-norm", "bool"], ["dropout", "float"], ["attention-dropout", "float"], ["activation-dropout", "float"],
  ["activation-fn", "str"], ["max-source-positions", "int"], ["max-target-positions", "int"],
  // lstm
  ["encoder-hidden-size", "int"], ["encoder-bidirectional", "bool"], ["encoder-dropout-in", "float"], ["encoder-dropout-out", "float"],
  ["decoder-hidden-size", "int"], ["decoder-out-embed-dim", "int"], ["decoder-attention", "str"], ["decoder-dropout-in", "float"],
  ["decoder-dropout-out", "float"],
];

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** `fairseq-ts train DATA ...`: fairseq-train's flags, names and defaults. */
export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a model (fairseq-train)")
    .argument("<data>", "path to data directory (from preprocess)")
    .option("--task <TASK>", "translation or language_modeling", choice("translation", "language_modeling"), "translation")
    .option("-s, --source-lang <SRC>", "source language")
    .option("-t, --target-lang <TARGET>", "target language")
    .option("--left-pad-source <BOOL>", "pad the source on the left", bool, true)
    .option("--left-pad-target <BOOL>", "pad the target on the left", bool, false)
    .option("--tokens-per-sample <N>", "language modeling: block size", int, 1024)
    .option("--sample-break-mode <MODE>", "language modeling: none, complete, complete_doc, eos", choice("none", "complete", "complete_doc", "eos"), "none")
    .requiredOption("-a, --arch <ARCH>", "model architecture (e.g. transformer, transformer_iwslt_de_en, transformer_lm)")
    .option("--criterion <NAME>", "cross_entropy or label_smoothed_cross_entropy", "cross_entropy")
    .option("--label-smoothing <EPS>", "label smoothing epsilon", float, 0)
    .option("--report-accuracy", "report accuracy", false)
    .option("--sentence-avg", "normalize gradients by the number of sentences", false)
    .option("--optimizer <NAME>", "adam, adamw, sgd, nag, adagrad, adafactor")
    .option("--adam-betas <B>", "betas for Adam", "(0.9, 0.999)")
    .option("--adam-eps <EPS>", "epsilon for Adam", float, 1e-8)
    .option("--weight-decay <WD>", "weight decay", float, 0)
    .option("--momentum <M>", "momentum (sgd: 0, nag: 0.99)", float)
    .option("--amsgrad", "use the AMSGrad variant of Adam/AdamW")
    .option("--adafactor-eps <E>", "epsilons for Adafactor", "(1e-30, 1e-3)")
    .option("--clip-threshold <C>", "threshold for clipping update root mean square (adafactor)", float, 1.0)
    .option("--decay-rate <D>", "decay rate of the second moment estimator (adafactor)", float, -0.8)
    .option("--beta1 <B>", "beta for first moment estimator; default: none (adafactor)", float)
    .option("--scale-parameter", "scale learning rate by root mean square of parameter (adafactor)")
    .option("--relative-step", "set learning rate to inverse square root of timestep, ignoring --lr (adafactor)")
    .option("--warmup-init", "use relative step warm-up (adafactor)")
    .option("--lr <LR_1,LR_2,...>", "learning rate(s)", floatList, [0.25])
    .option("--lr-scheduler <NAME>", "fixed, inverse_sqrt, polynomial_decay, cosine, reduce_lr_on_plateau, tri_stage, step", "fixed")
    .option("--warmup-updates <N>", "warmup the learning rate linearly for the first N updates", int)
    .option("--warmup-init-lr <LR>", "initial learning rate during warmup", float, -1)
    .option("--force-anneal <N>", "force annealing at specified epoch", int)
    .option("--lr-shrink <LS>", "learning rate shrink factor", float, 0.1)
    .option("--max-lr <LR>", "max learning rate (cosine)", float)
    .option("--t-mult <T>", "period multiplier (cosine)", float, 1)
    .option("--lr-period-updates <N>", "initial period (cosine)", float, -1)
    .option("--end-learning-rate <LR>", "polynomial_decay end lr", float, 0)
    .option("--power <P>", "polynomial_decay power", float, 1)
    .option("--total-num-update <N>", "polynomial_decay total updates", int, 1000000)
    .option("--min-lr <LR>", "stop training when the learning rate reaches this minimum", float, -1)
    .option("--lr-threshold <T>", "threshold for measuring the new optimum (reduce_lr_on_plateau)", float, 1e-4)
    .option("--lr-patience <N>", "epochs with no improvement before the lr is reduced (reduce_lr_on_plateau)", int, 0)
    .option("--warmup-steps <N>", "warmup steps (tri_stage)", int, 4000)
    .option("--hold-steps <N>", "steps in hold stage (tri_stage)", int, 20000)
    .option("--decay-steps <N>", "steps in decay stage (tri_stage)", int, 60000)
    .option("--phase-ratio <R>", "warmup/hold/decay shares of --max-update, e.g. '(0.1, 0.4, 0.5)' (tri_stage)")
    .option("--init-lr-scale <S>", "initial lr = lr * scale (tri_stage)", float, 0.01)
    .option("--final-lr-scale <S>", "final lr = lr * scale (tri_stage)", float, 0.01)
    .option("--lr-deacy-period, --lr-decay-period <N>", "decay period in updates (step; fairseq spells it deacy)", int, 25000)
    .option("--lr-decay <F>", "decay factor (step)", float, 0.5)
    .option("--clip-norm <NORM>", "clip threshold of gradients", float, 0)
    .option("--micro-batch-tokens <N>", "run each batch as row chunks of at most N padded tokens and add their gradients (same update, less memory; 0 = off)", int, 2048)
    .option("--max-tokens <N>", "maximum number of tokens in a batch", int)
    .option("--batch-size <N>", "number of examples in a batch", int)
    .option("--max-sentences <N>", "alias of --batch-size", int)
    .option("--max-tokens-valid <N>", "maximum number of tokens in a validation batch", int)
    .option("--batch-size-valid <N>", "batch size of the validation batch", int)
    .option("--required-batch-size-multiple <N>", "batch size will be a multiple of this", int, 8)
    .option("--skip-invalid-size-inputs-valid-test", "ignore too long or too short lines in valid and test set", false)
    .option("--update-freq <N1,N2,...>", "update parameters every N_i batches, when in epoch i", intList, [1])
    .option("--max-epoch <N>", "force stop training at specified epoch", int, 0)
    .option("--max-update <N>", "force stop training at specified update", int, 0)
    .option("--stop-time-hours <H>", "force stop training after specified cumulative time", float, 0)
    .option("--seed <N>", "pseudo random number generator seed", int, 1)
    .option("--valid-subset <SPLIT>", "comma separated list of data subsets to use for validation", "valid")
    .option("--validate-interval <N>", "validate every N epochs", int, 1)
    .option("--validate-interval-updates <N>", "validate every N updates", int, 0)
    .option("--validate-after-updates <N>", "dont validate until reaching this many updates", int, 0)
    .option("--disable-validation", "disable validation", false)
    .option("--patience <N>", "early stop if valid performance doesn't improve for N consecutive validation runs", int, -1)
    .option("--save-dir <DIR>", "path to save checkpoints", "checkpoints")
    .option("--restore-file <FILE>", "filename from which to load checkpoint", "checkpoint_last.pt")
    .option("--finetune-from-model <FILE>", "finetune from a pretrained model")
    .option("--reset-dataloader", "if set, does not reload dataloader state from the checkpoint", false)
    .option("--reset-lr-scheduler", "if set, does not load lr scheduler state from the checkpoint", false)
    .option("--reset-meters", "if set, does not load meters from the checkpoint", false)
    .option("--reset-optimizer", "if set, does not load optimizer state from the checkpoint", false)
    .option("--save-interval <N>", "save a checkpoint every N epochs", int, 1)
    .option("--save-interval-updates <N>", "save a checkpoint (and validate) every N updates", int, 0)
    .option("--keep-interval-updates <N>", "keep the last N checkpoints saved with --save-interval-updates", int, -1)
    .option("--keep-last-epochs <N>", "keep last N epoch checkpoints", int, -1)
    .option("--keep-best-checkpoints <N>", "keep best N checkpoints based on scores", int, -1)
    .option("--no-save", "don't save models or checkpoints")
    .option("--no-epoch-checkpoints", "only store last and best checkpoints")
    .option("--no-last-checkpoints", "don't store last checkpoints")
    .option("--best-checkpoint-metric <METRIC>", 'metric to use for saving "best" checkpoints', "loss")
    .option("--maximize-best-checkpoint-metric", "select the largest metric value for saving best checkpoints", false)
    .option("--log-format <FORMAT>", "log format to use", choice("json", "simple", "tqdm", "none"))
    .option("--log-interval <N>", "log progress every N batches", int, 100)
    .option("--tensorboard-logdir <DIR>", "path to save logs for tensorboard")
    .option("--no-progress-bar", "disable progress bar")
    .option("--cpu", "use CPU instead of CUDA (accepted; fairseq-ts always runs on the CPU/wasm backends)")
    .option("--num-workers <N>", "accepted for compatibility", int, 1)
    .option("--backend <NAME>", "tensorflow.js backend: auto, tensorflow, wasm, cpu (env FAIRSEQ_TS_BACKEND)", (v) => parseBackendName(v))
    .option("--user-dir <DIR>", "a module that registers custom models/architectures/criterions")
    .option("--distributed-world-size <N>", "number of worker processes (node cluster) training together", int, 1)
    .option("--distributed-split-batches", "every worker reads the update's whole batch group and the workers divide its micro-batches, balanced in padded tokens (same sentences per update), instead of fairseq's whole batch per worker", false)
    .option("--heartbeat-timeout <SECONDS>", "stop a distributed run when a worker does not reach a collective in this time (-1: 30 min)", int, -1);
  // Accepted like fairseq-train (which uses them only for BLEU during validation): text encoders.
  addEncoderFlags(cmd);
  for (const [flag, kind] of MODEL_FLAGS) {
    if (kind === "bool") cmd.option(`--${flag}`, `model: ${flag}`);
    else {
      const parse: (v: string) => unknown = kind === "int" ? int : kind === "float" ? float : (v: string) => v;
      cmd.option(`--${flag} <V>`, `model: ${flag}`, parse as (v: string) => string);
    }
  }
  cmd.action(async (data: string, o: Record<string, unknown>) => {
    const worldSize = o.distributedWorldSize as number;
    if (worldSize < 1) throw new Error(`--distributed-world-size must be at least 1, got ${worldSize}`);
    if (worldSize > 1 && cluster.isPrimary) {
      // This process only coordinates: the workers run this same command line, each with a rank.
      const t = o.heartbeatTimeout as number;
      await runCoordinator({ worldSize, exec: process.argv[1], args: process.argv.slice(2), timeoutMs: t > 0 ? t * 1000 : undefined });
      return;
    }
    const pg: ProcessGroup | null = isDistributedWorker() ? joinProcessGroup() : null;
    try {
      await trainCommand(data, o, pg);
    } catch (e) {
      if (pg) await (pg as ReturnType<typeof joinProcessGroup>).reportFailure((e as Error).message);
      throw e;
    }
    await pg?.close();
  });
}

async function trainCommand(data: string, o: Record<string, unknown>, pg: ProcessGroup | null): Promise<void> {
  await initBackend({ backend: o.backend as never, threads: workerThreads(), log: pg && pg.rank > 0 ? null : undefined });
  await importUserDir(o.userDir as string | undefined);
  const task: Task =
    o.task === "language_modeling"
      ? await LanguageModelingTask.setup({ data, tokensPerSample: o.tokensPerSample as number, sampleBreakMode: o.sampleBreakMode as never })
      : await TranslationTask.setup({
          data,
          sourceLang: (o.sourceLang as string) ?? null,
          targetLang: (o.targetLang as string) ?? null,
          leftPadSource: o.leftPadSource as boolean,
          leftPadTarget: o.leftPadTarget as boolean,
        });
  if (!o.optimizer) throw new Error("--optimizer is required (e.g. --optimizer adam)");
  const model: Record<string, unknown> & { arch: string } = { arch: o.arch as string };
  for (const [flag] of MODEL_FLAGS) {
    const v = o[camel(flag)];
    if (v !== undefined) model[flag.replace(/-/g, "_")] = v;
  }
  if (task.name === "language_modeling") model.tokens_per_sample = o.tokensPerSample;
  const stopSignal = { stop: false };
  const onSignal = (sig: string) => {
    if (stopSignal.stop) process.exit(130);
    process.stderr.write(`\nfairseq-ts train: ${sig}: finishing the current update and saving checkpoint_last\n`);
    stopSignal.stop = true;
  };
  const onSigint = () => onSignal("SIGINT");
  const onSigterm = () => onSignal("SIGTERM");
  if (!pg) {
    // (In a distributed run the coordinator turns Ctrl-C into a stop flag that all ranks see together.)
    process.once("SIGINT", onSigint);
    process.once("SIGTERM", onSigterm);
  }
  const opts: TrainOptions = {
    model,
    criterion: o.criterion as string,
    labelSmoothing: o.labelSmoothing as number,
    reportAccuracy: o.reportAccuracy as boolean,
    sentenceAvg: o.sentenceAvg as boolean,
    optimizer: o.optimizer as string,
    adamBetas: o.adamBetas as string,
    adamEps: o.adamEps as number,
    weightDecay: o.weightDecay as number,
    momentum: o.momentum as number | undefined,
    optimizerOptions: {
      amsgrad: o.amsgrad as boolean | undefined,
      adafactorEps: o.adafactorEps as string,
      clipThreshold: o.clipThreshold as number,
      decayRate: o.decayRate as number,
      beta1: (o.beta1 as number | undefined) ?? null,
      scaleParameter: o.scaleParameter as boolean | undefined,
      relativeStep: o.relativeStep as boolean | undefined,
      warmupInit: o.warmupInit as boolean | undefined,
    },
    lr: o.lr as number[],
    lrScheduler: o.lrScheduler as string,
    scheduler: {
      warmupUpdates: o.warmupUpdates as number | undefined,
      warmupInitLr: o.warmupInitLr as number,
      forceAnneal: (o.forceAnneal as number | undefined) ?? null,
      lrShrink: o.lrShrink as number,
      maxLr: o.maxLr as number | undefined,
      tMult: o.tMult as number,
      lrPeriodUpdates: o.lrPeriodUpdates as number,
      endLearningRate: o.endLearningRate as number,
      power: o.power as number,
      totalNumUpdate: o.totalNumUpdate as number,
      lrThreshold: o.lrThreshold as number,
      lrPatience: o.lrPatience as number,
      warmupSteps: o.warmupSteps as number,
      holdSteps: o.holdSteps as number,
      decaySteps: o.decaySteps as number,
      phaseRatio: (o.phaseRatio as string | undefined) ?? null,
      initLrScale: o.initLrScale as number,
      finalLrScale: o.finalLrScale as number,
      lrDeacyPeriod: (o.lrDeacyPeriod ?? o.lrDecayPeriod) as number,
      lrDecay: o.lrDecay as number,
    },
    minLr: o.minLr as number,
    clipNorm: o.clipNorm as number,
    microBatchTokens: o.microBatchTokens as number,
    maxTokens: (o.maxTokens as number | undefined) ?? null,
    batchSize: ((o.batchSize ?? o.maxSentences) as number | undefined) ?? null,
    maxTokensValid: (o.maxTokensValid as number | undefined) ?? null,
    batchSizeValid: (o.batchSizeValid as number | undefined) ?? null,
    requiredBatchSizeMultiple: o.requiredBatchSizeMultiple as number,
    skipInvalidSizeInputsValidTest: o.skipInvalidSizeInputsValidTest as boolean,
    updateFreq: o.updateFreq as number[],
    maxEpoch: o.maxEpoch as number,
    maxUpdate: o.maxUpdate as number,
    stopTimeHours: o.stopTimeHours as number,
    seed: o.seed as number,
    validSubset: o.validSubset as string,
    validateInterval: o.validateInterval as number,
    validateIntervalUpdates: o.validateIntervalUpdates as number,
    validateAfterUpdates: o.validateAfterUpdates as number,
    disableValidation: o.disableValidation as boolean,
    patience: o.patience as number,
    saveDir: o.saveDir as string,
    restoreFile: o.restoreFile as string,
    finetuneFromModel: (o.finetuneFromModel as string | undefined) ?? null,
    resetDataloader: o.resetDataloader as boolean,
    resetLrScheduler: o.resetLrScheduler as boolean,
    resetMeters: o.resetMeters as boolean,
    resetOptimizer: o.resetOptimizer as boolean,
    saveInterval: o.saveInterval as number,
    saveIntervalUpdates: o.saveIntervalUpdates as number,
    keepIntervalUpdates: o.keepIntervalUpdates as number,
    keepLastEpochs: o.keepLastEpochs as number,
    keepBestCheckpoints: o.keepBestCheckpoints as number,
    noSave: o.save === false,
    noEpochCheckpoints: o.epochCheckpoints === false,
    noLastCheckpoints: o.lastCheckpoints === false,
    bestCheckpointMetric: o.bestCheckpointMetric as string,
    maximizeBestCheckpointMetric: o.maximizeBestCheckpointMetric as boolean,
    logFormat: o.progressBar === false ? "simple" : (o.logFormat as never),
    logInterval: o.logInterval as number,
    tensorboardLogdir: (o.tensorboardLogdir as string | undefined) ?? null,
    stopSignal,
    distributed: pg ?? undefined,
    distributedSplitBatches: o.distributedSplitBatches as boolean,
  };
  try {
    await train(task, opts);
  } finally {
    // main() may run many times in one process (tests, embedding): leave no handlers behind
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
}
