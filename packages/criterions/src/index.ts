export type { TensorSample } from "./sample.js";
export {
  gatherTargets,
  hasLinearLabelSmoothedNllLoss,
  labelSmoothedNllLoss,
  linearLabelSmoothedNllLoss,
  nllLoss,
  type ProjectedSmoothedLoss,
  type SmoothedLoss,
} from "./losses.js";
export {
  AdaptiveLossCriterion,
  CrossEntropyCriterion,
  LabelSmoothedCrossEntropyCriterion,
  buildCriterion,
  listCriterions,
  criterionOptionsOf,
  perplexity,
  registerCriterion,
  type Criterion,
  type CriterionOutput,
  type CrossEntropyOptions,
  type LabelSmoothedOptions,
  type LoggingOutput,
} from "./criterion.js";
export { labelSmoothedCrossEntropyOptions } from "./options.js";
