import * as tf from "@tensorflow/tfjs-core";
import type { EncoderDecoderModel, LanguageModel, TensorSample } from "@fairseq-ts/models";
import { EnsembleModel } from "./ensemble.js";
import type { Hypothesis } from "./sequence-generator.js";

/** The log-probability (or probability) of each target token, `lprobs[b, t, target[b, t]]`, flattened row-major (B·T). */
export function gatherTargetLogProbs(lprobs: tf.Tensor3D, target: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [b, t, v] = lprobs.shape;
    const idx = tf.add(tf.mul(tf.range(0, b * t, 1, "int32"), tf.scalar(v, "int32")), tf.reshape(target, [-1]));
    return tf.gather(tf.reshape(lprobs, [-1]), idx) as tf.Tensor1D;
  });
}

/**
 * fairseq's SequenceScorer (`generate --score-reference`): teacher-forced log-probs of the given
 * targets; the score is their mean over the target tokens (eos included), computed in float32.
 * With several models (fairseq's ensemble), a token's log-prob is the log of the mean of the models'
 * probabilities of it.
 */
export class SequenceScorer {
  readonly ensemble: EnsembleModel;

  constructor(
    model: EncoderDecoderModel | readonly EncoderDecoderModel[] | EnsembleModel,
    readonly pad: number,
  ) {
    this.ensemble = model instanceof EnsembleModel ? model : new EnsembleModel(model);
  }

  /** targets B x T (right-padded, eos at the end), prevOutputTokens = targets shifted right with eos first. */
  score(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, target: tf.Tensor2D): Hypothesis[][] {
    const models = this.ensemble.models;
    this.ensemble.eval();
    const [b, t] = target.shape;
    let picked: tf.Tensor1D;
    if (models.length === 1) {
      const model = models[0]!;
      picked = tf.tidy(() => gatherTargetLogProbs(model.getNormalizedProbs(model.forward(srcTokens, srcLengths, prevOutputTokens), true), target));
    } else {
      // fairseq: each model's probabilities (not log) of the targets, summed in model order, divided by N, then log;
      // one model's B x T x V output at a time
      let sum: tf.Tensor1D | null = null;
      for (const model of models) {
        const p = tf.tidy(() => gatherTargetLogProbs(model.getNormalizedProbs(model.forward(srcTokens, srcLengths, prevOutputTokens), false), target));
        if (sum === null) sum = p;
        else {
          const next: tf.Tensor1D = tf.add(sum, p);
          tf.dispose([sum, p]);
          sum = next;
        }
      }
      const total = sum!;
      picked = tf.tidy(() => tf.log(tf.div(total, models.length)) as tf.Tensor1D);
      total.dispose();
    }
    const lp = picked.dataSync() as Float32Array;
    picked.dispose();
    const tg = target.dataSync();
    const out: Hypothesis[][] = [];
    for (let r = 0; r < b; r++) {
      const tokens: number[] = [];
      const pos: number[] = [];
      for (let c = 0; c < t; c++) {
        const tok = tg[r * t + c]!;
        if (tok === this.pad) continue;
        tokens.push(tok);
        pos.push(lp[r * t + c]!);
      }
      let sum = 0;
      for (const x of pos) sum = Math.fround(sum + x);
      out.push([{ tokens: Int32Array.from(tokens), score: Math.fround(sum / tokens.length), positionalScores: Float32Array.from(pos) }]);
    }
    return out;
  }
}

/** What a language model gives a batch of text: the summed natural-log probability of its scored tokens. */
export interface LanguageModelScore {
  /** Σ ln p(token | its left context), over the target's non-pad tokens (float32 sum). */
  logProbSum: number;
  /** How many tokens were scored. */
  tokens: number;
}

/**
 * What fairseq's SequenceScorer does for eval-lm: run a language model over the batch's input and
 * gather the log-probability of every target token that is not padding (a context window's prefix
 * has padding targets, so it is read but not scored). Loss and perplexity follow from the sums.
 * Several models (eval-lm --path a:b, fairseq's ensemble): a token's log-prob is the log of the mean of
 * the models' probabilities of it (summed in model order, divided by their number, then log), as
 * SequenceScorer's ensemble branch computes it.
 */
export class LanguageModelScorer {
  readonly models: readonly LanguageModel[];
  constructor(
    model: LanguageModel | readonly LanguageModel[],
    readonly pad: number,
  ) {
    this.models = Array.isArray(model) ? [...(model as readonly LanguageModel[])] : [model as LanguageModel];
    if (this.models.length === 0) throw new Error("LanguageModelScorer: no model");
  }

  /** The first (or only) model. */
  get model(): LanguageModel {
    return this.models[0]!;
  }

  score(sample: TensorSample): LanguageModelScore {
    for (const m of this.models) m.eval();
    const { logProbSum, tokens } = tf.tidy(() => {
      const target = sample.target;
      const src = sample.netInput.srcTokens;
      let picked: tf.Tensor1D;
      if (this.models.length === 1) {
        picked = gatherTargetLogProbs(this.model.getNormalizedProbs(this.model.forward(src), true), target);
      } else {
        // one model's B x T x V output at a time: only the targets' probabilities are kept
        let sum: tf.Tensor1D | null = null;
        for (const m of this.models) {
          const p = tf.tidy(() => gatherTargetLogProbs(m.getNormalizedProbs(m.forward(src), false), target));
          sum = sum === null ? p : (tf.add(sum, p) as tf.Tensor1D);
        }
        picked = tf.log(tf.div(sum!, this.models.length)) as tf.Tensor1D;
      }
      const mask = tf.cast(tf.notEqual(tf.reshape(target, [-1]), tf.scalar(this.pad, "int32")), "float32");
      return { logProbSum: tf.sum(tf.mul(picked, mask)), tokens: tf.sum(mask) };
    });
    try {
      return { logProbSum: logProbSum.dataSync()[0]!, tokens: tokens.dataSync()[0]! };
    } finally {
      tf.dispose([logProbSum, tokens]);
    }
  }
}
