export {
  Adam,
  NonFiniteGradientError,
  Sgd,
  clipGradNorm,
  multiplyGrads,
  parseBetas,
  type AdamOptions,
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
  buildLrScheduler,
  registerLrScheduler,
  type LrScheduler,
  type LrSchedulerOptions,
} from "./lr-scheduler.js";
export { buildOptimizer, registerOptimizer } from "./registry.js";
