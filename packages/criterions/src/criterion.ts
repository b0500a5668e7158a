import * as tf from "@tensorflow/tfjs-core";
import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import { pyRound, type Metrics } from "@fairseq-ts/logging";
import { logSoftmax, type DecoderForwardOptions, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import {
  hasLinearLabelSmoothedNllLoss,
  labelSmoothedNllLoss,
  linearLabelSmoothedNllLoss,
  nllLoss,
  type ProjectedSmoothedLoss,
  type SmoothedLoss,
} from "./losses.js";
import type { TensorSample } from "./sample.js";
import { labelSmoothedCrossEntropyOptions } from "./options.js";

/** What one forward pass reports (fairseq's logging_output); tensors so no sync happens in the step. */
export interface CriterionOutput {
  /** Summed loss (natural log) to backpropagate. */
  loss: tf.Scalar;
  sampleSize: number;
  /** Per-key scalars to log, summed over the batch (loss, nll_loss, n_correct, total). */
  logging: Record<string, tf.Scalar | number>;
}

/** Logged values after they were read back: plain numbers. */
export type LoggingOutput = Record<string, number>;

export interface Criterion {
  readonly name: string;
  forward(model: EncoderDecoderModel | LanguageModel, sample: TensorSample): CriterionOutput;
  /** fairseq's `reduce_metrics`: log the aggregated values (loss/nll_loss in base 2, ppl, accuracy). */
  reduceMetrics(outputs: LoggingOutput[], metrics: Metrics): void;
}

export interface CrossEntropyOptions {
  /** Normalise by sentences instead of tokens (`--sentence-avg`). */
  sentenceAvg?: boolean;
  /** The target dictionary's padding id (ignored positions). */
  paddingIdx: number;
}

export interface LabelSmoothedOptions extends CrossEntropyOptions {
  /** `--label-smoothing` (epsilon), default 0. */
  labelSmoothing?: number;
  /** `--ignore-prefix-size`: skip this many target positions. */
  ignorePrefixSize?: number;
  /** `--report-accuracy`. */
  reportAccuracy?: boolean;
  /** Label smoothing's eps split: fairseq v0.10.2's eps/V (default) or v0.12's eps/(V-1). */
  epsSplit?: "v0.10" | "v0.12";
}

function netOutput(model: EncoderDecoderModel | LanguageModel, s: TensorSample, options?: DecoderForwardOptions) {
  return model.kind === "encoder-decoder"
    ? model.forward(s.netInput.srcTokens, s.netInput.srcLengths, s.netInput.prevOutputTokens!, options)
    : model.forward(s.netInput.srcTokens, undefined, options);
}

/**
 * The label-smoothed loss (ε = 0: fairseq's cross-entropy) computed from the output layer's input when
 * the decoder's output layer is a plain projection and the fused kernel is registered, so no [tokens,
 * V] logits are built; null otherwise (the caller takes the logits path). Gradients are computed only
 * in training mode.
 */
function projectedLoss(
  model: EncoderDecoderModel | LanguageModel,
  s: TensorSample,
  epsilon: number,
  paddingIdx: number,
  epsSplit: "v0.10" | "v0.12",
  skip: number,
): ProjectedSmoothedLoss | null {
  const weight = model.decoder.outputProjection;
  if (!weight || weight.dtype !== "float32" || !hasLinearLabelSmoothedNllLoss()) return null;
  let [features] = netOutput(model, s, { featuresOnly: true });
  let target: tf.Tensor = s.target;
  if (skip > 0) {
    features = tf.slice(features, [0, skip, 0], [-1, -1, -1]);
    target = tf.slice(target, [0, skip], [-1, -1]);
  }
  const c = features.shape[2];
  return linearLabelSmoothedNllLoss(
    tf.reshape(features, [-1, c]) as tf.Tensor2D,
    weight,
    tf.reshape(target, [-1]) as tf.Tensor1D,
    epsilon,
    paddingIdx,
    epsSplit,
    model.training,
  );
}

/** fairseq's `get_perplexity`: 2^loss rounded to 2 digits, inf on overflow. */
export function perplexity(loss: number | null, base = 2): number {
  if (loss === null) return 0;
  const p = base ** loss;
  return Number.isFinite(p) ? pyRound(p, 2) : Infinity;
}

const sum = (outs: LoggingOutput[], k: string) => outs.reduce((a, o) => a + (o[k] ?? 0), 0);
const avgOf = (m: unknown) => (m as { avg: number | null }).avg;

/** fairseq's `cross_entropy` criterion. */
export class CrossEntropyCriterion implements Criterion {
  readonly name = "cross_entropy";
  constructor(readonly options: CrossEntropyOptions) {}
  forward(model: EncoderDecoderModel | LanguageModel, s: TensorSample): CriterionOutput {
    const loss = projectedLoss(model, s, 0, this.options.paddingIdx, "v0.10", 0)?.loss ?? this.logitsLoss(model, s);
    const sampleSize = this.options.sentenceAvg ? s.target.shape[0] : s.ntokens;
    return { loss, sampleSize, logging: { loss, nll_loss: loss, ntokens: s.ntokens, nsentences: s.target.shape[0], sample_size: sampleSize } };
  }
  private logitsLoss(model: EncoderDecoderModel | LanguageModel, s: TensorSample): tf.Scalar {
    const lprobs = model.getNormalizedProbs(netOutput(model, s), true);
    const v = lprobs.shape[2];
    return nllLoss(tf.reshape(lprobs, [-1, v]) as tf.Tensor2D, tf.reshape(s.target, [-1]) as tf.Tensor1D, this.options.paddingIdx);
  }
  reduceMetrics(outs: LoggingOutput[], metrics: Metrics): void {
    const lossSum = sum(outs, "loss");
    const ntokens = sum(outs, "ntokens");
    const sampleSize = sum(outs, "sample_size");
    metrics.logScalar("loss", lossSum / sampleSize / Math.LN2, { weight: sampleSize, round: 3 });
    if (sampleSize !== ntokens) {
      metrics.logScalar("nll_loss", lossSum / ntokens / Math.LN2, { weight: ntokens, round: 3 });
      metrics.logDerived("ppl", (m) => perplexity(avgOf(m.get("nll_loss"))));
    } else {
      metrics.logDerived("ppl", (m) => perplexity(avgOf(m.get("loss"))));
    }
  }
}

/**
 * fairseq's `adaptive_loss`: the cross-entropy of an adaptive softmax (`--adaptive-softmax-cutoff`), summed over the
 * head (every token, a tail word counting as its cluster) and each tail (the tokens in its cluster), natural log.
 * As fairseq's, each term ignores the padding index: in a tail, the word at offset `pad` of the cluster (id
 * cutoff[i] + pad) contributes its head term only. Logged and reduced as `cross_entropy`.
 */
export class AdaptiveLossCriterion implements Criterion {
  readonly name = "adaptive_loss";
  constructor(readonly options: CrossEntropyOptions) {}
  forward(model: EncoderDecoderModel | LanguageModel, s: TensorSample): CriterionOutput {
    const softmax = model.decoder.adaptiveSoftmax;
    if (!softmax) throw new Error("--criterion adaptive_loss requires a model with an adaptive softmax (--adaptive-softmax-cutoff)");
    const pad = this.options.paddingIdx;
    const [features] = netOutput(model, s);
    const terms = softmax.forward(features, tf.reshape(s.target, [-1]));
    const ce = (logits: tf.Tensor2D, target: tf.Tensor1D) => nllLoss(logSoftmax(logits), target, pad);
    let loss = ce(terms.head, terms.headTarget);
    for (const t of terms.tails) if (t) loss = tf.add(loss, ce(t.logits, t.target));
    const sampleSize = this.options.sentenceAvg ? s.target.shape[0] : s.ntokens;
    return { loss, sampleSize, logging: { loss, ntokens: s.ntokens, nsentences: s.target.shape[0], sample_size: sampleSize } };
  }
  reduceMetrics(outs: LoggingOutput[], metrics: Metrics): void {
    new CrossEntropyCriterion(this.options).reduceMetrics(outs, metrics);
  }
}

/** fairseq's `label_smoothed_cross_entropy` criterion. */
export class LabelSmoothedCrossEntropyCriterion implements Criterion {
  readonly name = "label_smoothed_cross_entropy";
  constructor(readonly options: LabelSmoothedOptions) {}
  forward(model: EncoderDecoderModel | LanguageModel, s: TensorSample): CriterionOutput {
    const o = this.options;
    const sampleSize = o.sentenceAvg ? s.target.shape[0] : s.ntokens;
    const r = projectedLoss(model, s, o.labelSmoothing ?? 0, o.paddingIdx, o.epsSplit ?? "v0.10", o.ignorePrefixSize ?? 0) ?? this.logitsLoss(model, s);
    const logging: Record<string, tf.Scalar | number> = {
      loss: r.loss,
      nll_loss: r.nllLoss,
      ntokens: s.ntokens,
      nsentences: s.target.shape[0],
      sample_size: sampleSize,
    };
    if (o.reportAccuracy) Object.assign(logging, { n_correct: r.nCorrect, total: r.total });
    return { loss: r.loss, sampleSize, logging };
  }
  /** The loss through the model's log-probs over the vocabulary (argmax hits only with reportAccuracy). */
  private logitsLoss(model: EncoderDecoderModel | LanguageModel, s: TensorSample): SmoothedLoss & Partial<ProjectedSmoothedLoss> {
    const o = this.options;
    let lprobs = model.getNormalizedProbs(netOutput(model, s), true);
    let target: tf.Tensor = s.target;
    const skip = o.ignorePrefixSize ?? 0;
    if (skip > 0) {
      lprobs = tf.slice(lprobs, [0, skip, 0], [-1, -1, -1]);
      target = tf.slice(target, [0, skip], [-1, -1]);
    }
    const v = lprobs.shape[2];
    const flatL = tf.reshape(lprobs, [-1, v]) as tf.Tensor2D;
    const flatT = tf.reshape(target, [-1]) as tf.Tensor1D;
    const r = labelSmoothedNllLoss(flatL, flatT, o.labelSmoothing ?? 0, o.paddingIdx, o.epsSplit ?? "v0.10");
    if (!o.reportAccuracy) return r;
    const mask = tf.notEqual(flatT, tf.scalar(o.paddingIdx, "int32"));
    const pred = tf.argMax(flatL, -1);
    const nCorrect = tf.sum(tf.cast(tf.logicalAnd(tf.equal(pred, flatT), mask), "float32")) as tf.Scalar;
    return { ...r, nCorrect, total: tf.sum(tf.cast(mask, "float32")) as tf.Scalar };
  }
  reduceMetrics(outs: LoggingOutput[], metrics: Metrics): void {
    const lossSum = sum(outs, "loss");
    const nllSum = sum(outs, "nll_loss");
    const ntokens = sum(outs, "ntokens");
    const sampleSize = sum(outs, "sample_size");
    metrics.logScalar("loss", lossSum / sampleSize / Math.LN2, { weight: sampleSize, round: 3 });
    metrics.logScalar("nll_loss", nllSum / ntokens / Math.LN2, { weight: ntokens, round: 3 });
    metrics.logDerived("ppl", (m) => perplexity(avgOf(m.get("nll_loss"))));
    const total = sum(outs, "total");
    if (total > 0) {
      metrics.logScalar("total", total);
      metrics.logScalar("n_correct", sum(outs, "n_correct"));
      metrics.logDerived("accuracy", (m) => {
        const t = (m.get("total") as unknown as { sum: number }).sum;
        return t > 0 ? pyRound(((m.get("n_correct") as unknown as { sum: number }).sum * 100) / t, 3) : NaN;
      });
    }
  }
}

type CriterionFactory = (options: LabelSmoothedOptions & Record<string, unknown>) => Criterion;
// fairseq's CRITERION_REGISTRY; built-ins registered on first use
const registry = new Registry<{ build: CriterionFactory; options: AnyOptionGroup | null }>("criterion", (r) => {
  r.register("cross_entropy", { build: (o) => new CrossEntropyCriterion(o), options: null });
  r.register("adaptive_loss", { build: (o) => new AdaptiveLossCriterion(o), options: null });
  r.register("label_smoothed_cross_entropy", { build: (o) => new LabelSmoothedCrossEntropyCriterion(o), options: labelSmoothedCrossEntropyOptions });
});

function criterionEntry(name: string): { build: CriterionFactory; options: AnyOptionGroup | null } {
  if (!registry.has(name)) throw new Error(`--criterion: unknown criterion '${name}' (known: ${registry.names().join(", ")})`);
  return registry.get(name);
}

/** Add a criterion under a `--criterion` name (a user package can add its own), with the options it reads. */
export function registerCriterion(name: string, factory: CriterionFactory, options: AnyOptionGroup | null = null): void {
  if (registry.has(name)) throw new Error(`criterion ${name} is already registered`);
  registry.register(name, { build: factory, options });
}

export function buildCriterion(name: string, options: LabelSmoothedOptions & Record<string, unknown>): Criterion {
  return criterionEntry(name).build(options);
}

/** The options of the criterion called `name` (null: none declared); an unknown name is an Error naming --criterion. */
export function criterionOptionsOf(name: string): AnyOptionGroup | null {
  return criterionEntry(name).options;
}

export function listCriterions(): string[] {
  return registry.names();
}
