import * as tf from "@tensorflow/tfjs-core";
import type { EncoderDecoderModel } from "@fairseq-ts/models";
import type { Hypothesis } from "./sequence-generator.js";

/**
 * fairseq's SequenceGeneratorWithAlignment for a model with full-context alignment (transformer_align
 * --full-context-alignment): each finished hypothesis' attention is replaced by the model's `alignmentAttention` of a
 * teacher-forced pass (prev = eos then the hypothesis without its eos), source row as in the batch. Other models keep
 * the attention gathered while decoding, as fairseq does. Mutates `hypos` (per sentence of the batch).
 */
export function realignFullContext(model: EncoderDecoderModel, srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, hypos: Hypothesis[][], eos: number): void {
  const align = model.alignmentAttention;
  if (!align) return;
  hypos.forEach((hyps, b) => {
    for (const h of hyps) {
      if (!h.attention) continue;
      const t = h.tokens.length;
      const rows = tf.tidy(() => {
        const src = tf.slice(srcTokens, [b, 0], [1, -1]);
        const len = tf.slice(srcLengths, [b], [1]);
        const prev = tf.tensor2d(Int32Array.from([eos, ...h.tokens.slice(0, t - 1)]), [1, t], "int32");
        return tf.reshape(align(src, len, prev), [t, -1]);
      });
      const data = rows.dataSync() as Float32Array;
      const s = rows.shape[1]!;
      rows.dispose();
      h.attention = Array.from({ length: t }, (_, i) => data.slice(i * s, (i + 1) * s));
    }
  });
}
