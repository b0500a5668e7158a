export {
  Adam,
  AdamW,
  BufferedOptimizer,
  NonFiniteGradientError,
  Sgd,
  clipGradNorm,
  multiplyGrads,
  parseBetas,
  parseFloatTuple,
  type AdamOptions,
  type AdamWOptions,
  type Grads,
  type Optimizer,
  type OptimizerState,
  type SgdOptions,
} from "./optimizer.js";
export {
  CosineSchedule,
  FixedSchedule,
  InverseSquareRootSchedule,
  PolynomialDecaySchedule,
  ReduceLROnPlateauSchedule,
  StepSchedule,
  TriStageSchedule,
  buildLrScheduler,
  registerLrScheduler,
  lrSchedulerOptionsOf,
  type LrScheduler,
  type LrSchedulerOptions,
} from "./lr-scheduler.js";
export { Adafactor, type AdafactorOptions } from "./adafactor.js";
export { Adagrad, type AdagradOptions } from "./adagrad.js";
export { Nag, type NagOptions } from "./nag.js";
export { buildOptimizer, optimizerOptionsOf, registerOptimizer, type OptimizerOptions } from "./registry.js";
export {
  adafactorOptions,
  adagradOptions,
  adamOptions,
  adamwOptions,
  cosineScheduleOptions,
  fixedScheduleOptions,
  inverseSqrtScheduleOptions,
  nagOptions,
  polynomialDecayScheduleOptions,
  reduceLrOnPlateauScheduleOptions,
  sgdOptions,
  stepScheduleOptions,
  triStageScheduleOptions,
} from "./options.js";
