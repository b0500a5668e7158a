import * as tf from "@tensorflow/tfjs-core";
import type { EncoderDecoderModel } from "@fairseq-ts/models";
import type { Hypothesis } from "./sequence-generator.js";

/**
 * fairseq's SequenceScorer (`generate --score-reference`): teacher-forced log-probs of the given
 * targets; the score is their mean over the target tokens (eos included), computed in float32.
 */
export class SequenceScorer {
  constructor(
    readonly model: EncoderDecoderModel,
    readonly pad: number,
  ) {}

  /** targets B x T (right-padded, eos at the end), prevOutputTokens = targets shifted right with eos first. */
  score(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, target: tf.Tensor2D): Hypothesis[][] {
    this.model.eval();
    const [b, t] = target.shape;
    const picked = tf.tidy(() => {
      const lprobs = this.model.getNormalizedProbs(this.model.forward(srcTokens, srcLengths, prevOutputTokens), true);
      const v = lprobs.shape[2];
      const idx = tf.add(tf.mul(tf.range(0, b * t, 1, "int32"), tf.scalar(v, "int32")), tf.reshape(target, [-1]));
      return tf.gather(tf.reshape(lprobs, [-1]), idx);
    });
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
