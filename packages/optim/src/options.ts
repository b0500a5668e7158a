/**
 * The optimizers' and learning-rate schedulers' own options (fairseq's `add_args` of each), declared once. Each
 * registry entry carries its group, so the CLI offers `--adam-betas` only with `--optimizer adam` and
 * `--warmup-updates` with the schedulers that read it.
 */
import { defineOptions, opt } from "@fairseq-ts/config";

const betas = (def: string) => opt.str(def, "betas for the Adam optimizer", { metavar: "B" });

export const adamOptions = defineOptions("optimizer", {
  adamBetas: betas("(0.9, 0.999)"),
  adamEps: opt.float(1e-8, "epsilon for the Adam optimizer", { metavar: "D" }),
  weightDecay: opt.float(0, "weight decay", { metavar: "WD" }),
  useOldAdam: opt.refused("fairseq's old Adam is its CUDA-era copy of torch.optim.Adam: fairseq-ts has one Adam (fairseq's FairseqAdam)", "flag"),
  /** fairseq-ts only. */
  amsgrad: opt.flag("fairseq-ts: use the AMSGrad variant of Adam"),
});

/** fairseq-ts only (PyTorch's AdamW: decoupled weight decay; --weight-decay keeps fairseq's 0 default on the command line). */
export const adamwOptions = defineOptions("optimizer", {
  adamBetas: betas("(0.9, 0.999)"),
  adamEps: opt.float(1e-8, "epsilon for the Adam optimizer", { metavar: "D" }),
  weightDecay: opt.float(0, "weight decay", { metavar: "WD" }),
  amsgrad: opt.flag("use the AMSGrad variant"),
});

export const sgdOptions = defineOptions("optimizer", {
  momentum: opt.float(0, "momentum factor", { metavar: "M" }),
  weightDecay: opt.float(0, "weight decay", { metavar: "WD" }),
});

export const nagOptions = defineOptions("optimizer", {
  momentum: opt.float(0.99, "momentum factor", { metavar: "M" }),
  weightDecay: opt.float(0, "weight decay", { metavar: "WD" }),
});

export const adagradOptions = defineOptions("optimizer", {
  weightDecay: opt.float(0, "weight decay", { metavar: "WD" }),
});

export const adafactorOptions = defineOptions("optimizer", {
  adafactorEps: opt.str("(1e-30, 1e-3)", "epsilons for Adafactor optimizer", { metavar: "E" }),
  clipThreshold: opt.float(1.0, "threshold for clipping update root mean square", { metavar: "C" }),
  decayRate: opt.float(-0.8, "decay rate of the second moment estimator", { metavar: "D" }),
  beta1: opt.float(null, "beta for first moment estimator. Optional", { metavar: "B" }),
  weightDecay: opt.float(0, "weight decay", { metavar: "WD" }),
  scaleParameter: opt.flag("scale learning rate by root mean square of parameter"),
  relativeStep: opt.flag("set learning rate to inverse square root of timestep, otherwise use external learning rate"),
  warmupInit: opt.flag("use relative step for warm-up learning rate schedule"),
});

const warmupUpdates = (def: number) => opt.int(def, "warmup the learning rate linearly for the first N updates", { metavar: "N" });
const warmupInitLr = opt.float(-1, "initial learning rate during warmup phase; default is args.lr", { metavar: "LR" });
const forceAnneal = opt.int(null, "force annealing at specified epoch", { aliases: ["--fa"], metavar: "N" });
const lrShrink = opt.float(0.1, "shrink factor for annealing, lr_new = (lr * lr_shrink)", { metavar: "LS" });

export const fixedScheduleOptions = defineOptions("lr_scheduler", { forceAnneal, lrShrink, warmupUpdates: warmupUpdates(0) });

export const inverseSqrtScheduleOptions = defineOptions("lr_scheduler", { warmupUpdates: warmupUpdates(4000), warmupInitLr });

export const polynomialDecayScheduleOptions = defineOptions("lr_scheduler", {
  warmupUpdates: warmupUpdates(0),
  forceAnneal,
  endLearningRate: opt.float(0, "learning rate to decay to", { metavar: "LR" }),
  power: opt.float(1, "decay exponent", { metavar: "P" }),
  totalNumUpdate: opt.int(1000000, "total number of updates over which to decay learning rate", { metavar: "N" }),
});

export const cosineScheduleOptions = defineOptions("lr_scheduler", {
  warmupUpdates: warmupUpdates(0),
  warmupInitLr,
  maxLr: opt.float(null, "max learning rate, must be more than args.lr", { metavar: "LR" }),
  tMult: opt.float(1, "factor to grow the length of each period", { metavar: "LR" }),
  lrPeriodUpdates: opt.float(-1, "initial number of updates per period", { metavar: "LR" }),
  lrShrink,
});

export const reduceLrOnPlateauScheduleOptions = defineOptions("lr_scheduler", {
  lrShrink,
  lrThreshold: opt.float(1e-4, "threshold for measuring the new optimum, to only focus on significant changes", { metavar: "LT" }),
  lrPatience: opt.int(0, "number of epochs with no improvement after which learning rate will be reduced", { metavar: "N" }),
  warmupUpdates: warmupUpdates(0),
  warmupInitLr,
});

export const triStageScheduleOptions = defineOptions("lr_scheduler", {
  warmupSteps: opt.int(4000, "warmup the learning rate linearly for the first N updates", { metavar: "N" }),
  holdSteps: opt.int(20000, "steps in hold stage", { metavar: "N" }),
  decaySteps: opt.int(60000, "steps in decay stages", { metavar: "N" }),
  phaseRatio: opt.str(null, "warmup/hold/decay shares of --max-update, e.g. '(0.1, 0.4, 0.5)'", { metavar: "R" }),
  initLrScale: opt.float(0.01, "initial learning rate scale during warmup phase", { metavar: "S" }),
  finalLrScale: opt.float(0.01, "final learning rate scale", { metavar: "S" }),
});

/** fairseq-ts only here (fairseq's later `step` scheduler, with its flag spelled `--lr-deacy-period`). */
export const stepScheduleOptions = defineOptions("lr_scheduler", {
  warmupUpdates: warmupUpdates(0),
  warmupInitLr,
  lrDeacyPeriod: opt.int(25000, "decay period in updates", { aliases: ["--lr-decay-period"], metavar: "N" }),
  lrDecay: opt.float(0.5, "decay factor", { metavar: "F" }),
});
