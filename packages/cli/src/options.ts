/**
 * The command line's own option groups (fairseq's `CommonConfig` and `DistributedTrainingConfig`, the
 * component-selecting flags, and fairseq-ts' process flags): the parts of fairseq's surface that belong to the
 * program rather than to one library.
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

const FLOAT32 = "fairseq-ts computes in float32 on the CPU (no half precision, no loss scaling)";
const NO_GPU = "fairseq-ts runs on the CPU (TensorFlow.js wasm/cpu/tfjs-node backends), without CUDA or TPU";

/** fairseq's top-level options (`CommonConfig` and the registry choices), as every fairseq command parses them. */
export const commonOptions = defineOptions("common", {
  noProgressBar: opt.flag("disable progress bar"),
  logInterval: opt.int(100, "log progress every N batches (when progress bar is disabled)", { metavar: "N" }),
  logFormat: opt.choice(["json", "none", "simple", "tqdm"], null, "log format to use", { metavar: "FORMAT" }),
  tensorboardLogdir: opt.str(null, "path to save logs for tensorboard", { metavar: "DIR" }),
  seed: opt.int(1, "pseudo random number generator seed", { metavar: "N" }),
  cpu: opt.flag("use CPU instead of CUDA (fairseq-ts always computes on the CPU: the flag states what happens anyway)"),
  tpu: opt.refused(NO_GPU, "flag"),
  bf16: opt.refused(FLOAT32, "flag"),
  memoryEfficientBf16: opt.refused(FLOAT32, "flag"),
  fp16: opt.refused(FLOAT32, "flag"),
  memoryEfficientFp16: opt.refused(FLOAT32, "flag"),
  fp16NoFlattenGrads: opt.refused(FLOAT32, "flag"),
  fp16InitScale: opt.refused(FLOAT32),
  fp16ScaleWindow: opt.refused(FLOAT32),
  fp16ScaleTolerance: opt.refused(FLOAT32),
  minLossScale: opt.refused(FLOAT32),
  thresholdLossScale: opt.refused(FLOAT32),
  userDir: opt.str(null, "path to a module that registers custom models, architectures, criterions, optimizers, tasks, ...", { metavar: "DIR" }),
  emptyCacheFreq: opt.refused(`emptying the CUDA cache: ${NO_GPU}`),
  allGatherListSize: opt.refused("fairseq-ts gathers logging outputs through shared memory without a fixed-size buffer"),
  modelParallelSize: opt.refused("model parallelism (Megatron) is not implemented"),
  checkpointSuffix: opt.refused("checkpoint file names have no suffix in fairseq-ts"),
  checkpointShardCount: opt.refused("sharded (model-parallel) checkpoints are not implemented"),
  quantizationConfigPath: opt.refused("quantization is not implemented"),
  profile: opt.refused("the CUDA profiler (--profile) does not exist here; see packages/cli/bench for fairseq-ts' profiler", "flag"),
  criterion: opt.str("cross_entropy", "the training criterion (cross_entropy, label_smoothed_cross_entropy)", { metavar: "NAME" }),
  tokenizer: opt.str(null, "tokenizer applied to raw text (space, moses)", { metavar: "NAME" }),
  bpe: opt.str(null, "BPE applied after the tokenizer (subword_nmt, sentencepiece, gpt2)", { metavar: "NAME" }),
  optimizer: opt.str(null, "the optimizer (adam, adamw, sgd, nag, adagrad, adafactor)", { metavar: "NAME" }),
  lrScheduler: opt.str("fixed", "the learning rate scheduler (fixed, inverse_sqrt, polynomial_decay, cosine, reduce_lr_on_plateau, tri_stage, step)", {
    metavar: "NAME",
  }),
  scoring: opt.str("bleu", "the scorer of generate's hypotheses (bleu, sacrebleu, rouge)", { metavar: "NAME" }),
  task: opt.str("translation", "the task (translation, language_modeling)", { metavar: "TASK" }),
  /** fairseq-ts only. */
  backend: opt.choice(
    ["auto", "tensorflow", "wasm", "cpu", "node", "tfjs-node"],
    null,
    "fairseq-ts: TensorFlow.js backend (default: env FAIRSEQ_TS_BACKEND, else auto)",
    { metavar: "NAME" },
  ),
});
export type CommonOptions = OptionsOf<typeof commonOptions.declarations>;

const ONE_NODE =
  "fairseq-ts forks node cluster workers on one machine (--distributed-world-size N), or runs as the ranks mpirun/srun started (--distributed-backend mpi)";

/** fairseq's `distributed_training` group. */
export const distributedOptions = defineOptions("distributed_training", {
  distributedWorldSize: opt.int(
    1,
    "total number of worker processes (fairseq-ts: node cluster workers on this machine; under mpirun/srun the launcher's world, which a value other than 1 must equal)",
    { metavar: "N" },
  ),
  distributedRank: opt.int(0, "rank of the current worker (fairseq-ts: assigned by the coordinator or the MPI launcher; a value other than 0 must equal it)", {
    metavar: "N",
  }),
  distributedBackend: opt.str(
    "nccl",
    "distributed backend (fairseq-ts: 'mpi' = MPI across hosts, started by mpirun or srun --mpi=pmix; 'gloo' or 'cluster' = node cluster workers on one machine; 'nccl', fairseq's default and a GPU library, picks: mpi when mpirun/srun started this process as one of several ranks, else node cluster)",
    { metavar: "NAME" },
  ),
  distributedInitMethod: opt.str(
    null,
    "typically tcp://hostname:port (fairseq-ts: only env:// — the ranks come from the launcher's environment; MPI's launcher connects them, there is no rendezvous of fairseq-ts' own)",
    { metavar: "URL" },
  ),
  distributedPort: opt.int(-1, "port number (fairseq-ts: unused, MPI's launcher chooses its ports, e.g. mpirun --mca btl_tcp_port_min_v4 P)", {
    metavar: "PORT",
  }),
  deviceId: opt.int(
    0,
    "which GPU to use (fairseq-ts: accepted for fairseq command lines; the CPU has no devices, a rank's share of its host's cores comes from the launcher's local size)",
    {
      metavar: "N",
      aliases: ["--local_rank"],
    },
  ),
  distributedNoSpawn: opt.refused(`the workers are always forked by the coordinator: ${ONE_NODE}`, "flag"),
  ddpBackend: opt.refused("fairseq-ts sums gradients once per update in rank order (no DDP buckets)"),
  bucketCapMb: opt.refused("fairseq-ts sums gradients once per update in rank order (no DDP buckets)"),
  fixBatchesToGpus: opt.refused(NO_GPU, "flag"),
  findUnusedParameters: opt.refused("every parameter's gradient is summed (no DDP unused-parameter search)", "flag"),
  fastStatSync: opt.refused("logging outputs are always summed in one collective", "flag"),
  broadcastBuffers: opt.refused("fairseq-ts models have no buffers to broadcast", "flag"),
  distributedWrapper: opt.refused("SlowMo is not implemented (data parallel only)"),
  slowmoMomentum: opt.refused("SlowMo is not implemented"),
  slowmoAlgorithm: opt.refused("SlowMo is not implemented"),
  localsgdFrequency: opt.refused("SlowMo/LocalSGD is not implemented"),
  nprocsPerNode: opt.refused(`ranks per host are the launcher's (mpirun --map-by ppr:N:node, srun --ntasks-per-node N): ${ONE_NODE}`),
  pipelineModelParallel: opt.refused("pipeline model parallelism is not implemented", "flag"),
  pipelineBalance: opt.refused("pipeline model parallelism is not implemented"),
  pipelineDevices: opt.refused("pipeline model parallelism is not implemented"),
  pipelineChunks: opt.refused("pipeline model parallelism is not implemented"),
  pipelineEncoderBalance: opt.refused("pipeline model parallelism is not implemented"),
  pipelineEncoderDevices: opt.refused("pipeline model parallelism is not implemented"),
  pipelineDecoderBalance: opt.refused("pipeline model parallelism is not implemented"),
  pipelineDecoderDevices: opt.refused("pipeline model parallelism is not implemented"),
  pipelineCheckpoint: opt.refused("pipeline model parallelism is not implemented"),
  zeroSharding: opt.refused("ZeRO optimizer-state sharding is not implemented"),
  /** fairseq-ts only. */
  distributedSplitBatches: opt.flag(
    "fairseq-ts: every worker reads the update's whole batch group and the workers divide its micro-batches, balanced in padded tokens (same sentences per update), instead of fairseq's whole batch per worker",
  ),
  /** fairseq-ts only. */
  heartbeatTimeout: opt.int(-1, "fairseq-ts: stop a distributed run when a worker does not reach a collective in this time (-1: 30 min)", {
    metavar: "SECONDS",
  }),
});
export type DistributedOptions = OptionsOf<typeof distributedOptions.declarations>;

/**
 * The learning-rate-scheduler flags fairseq's generate/interactive/eval-lm parsers still define (from the
 * default `--lr-scheduler fixed`), which those commands never use.
 */
const SCHEDULE_ONLY = "a learning-rate schedule option: this command does not train (fairseq parses it here and ignores it)";
export const fixedSchedulerLeftovers = defineOptions("lr_scheduler", {
  forceAnneal: opt.refused(SCHEDULE_ONLY, "value", { aliases: ["--fa"] }),
  lrShrink: opt.refused(SCHEDULE_ONLY),
  warmupUpdates: opt.refused(SCHEDULE_ONLY),
});
