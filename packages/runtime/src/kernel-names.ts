/**
 * The names of the custom tfjs kernels (not tfjs's own). `@fairseq-ts/kernels-native` registers them;
 * models, criterions and optim run them through `tf.engine().runKernel` when registered and fall back to
 * tf ops otherwise. Both sides import the names from here, so a renamed kernel cannot silently stop
 * being called (the calling side would see "not registered" and take the slow path without an error).
 */
export const KernelNames = {
  /** y = x · Wᵀ + b (fairseq's Linear); `@fairseq-ts/models`' `linear` calls it. */
  Linear: "FairseqLinear",
  /** Layer normalisation over the last axis; models' LayerNorm calls it. */
  LayerNorm: "FairseqLayerNorm",
  /** LayerNorm's gradient (dx, dgamma, dbeta); LayerNorm's backward calls it. */
  LayerNormGrad: "FairseqLayerNormGrad",
  /** Log-softmax's gradient from the forward output; models' `logSoftmax` backward calls it. */
  LogSoftmaxGrad: "FairseqLogSoftmaxGrad",
  /** Dropout by a counter-based hash of (seed, index), its own backward; models' `dropout` calls it. */
  Dropout: "FairseqDropout",
  /** One Adam/AdamW step per parameter tensor; `@fairseq-ts/optim`'s Adam and AdamW call it. */
  Adam: "FairseqAdam",
  /** The label-smoothed NLL's gradient w.r.t. the log-probabilities; `@fairseq-ts/criterions`' losses call it. */
  SmoothedNllGrad: "FairseqSmoothedNllGrad",
  /** Output layer + label-smoothed NLL (loss terms and both gradients) a block of rows at a time; criterions' fused losses call it. */
  LinearSmoothedNll: "FairseqLinearSmoothedNll",
} as const;

/** One of {@link KernelNames}' values. */
export type KernelName = (typeof KernelNames)[keyof typeof KernelNames];
