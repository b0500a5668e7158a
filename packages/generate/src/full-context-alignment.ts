import * as tf from "@tensorflow/tfjs-core";
import type { EncoderDecoderModel } from "@fairseq-ts/models";
import type { Hypothesis } from "./sequence-generator.js";

/**
 * fairseq's SequenceGeneratorWithAlignment when a model has full-context alignment (transformer_align
 * --full-context-alignment): each finished hypothesis' attention is replaced by `forward_align`'s, a teacher-forced
 * pass (prev = eos then the hypothesis without its eos, source row as in the batch) through every model of the
 * ensemble, averaged: `alignmentAttention` where a model has it, else its forward's attention. Without such a model
 * the attention gathered while decoding stays, as in fairseq. Mutates `hypos` (per sentence of the batch).
 */
export function realignFullContext(
  models: readonly EncoderDecoderModel[],
  srcTokens: tf.Tensor2D,
  srcLengths: tf.Tensor1D,
  hypos: Hypothesis[][],
  eos: number,
): void {
  if (!models.some((m) => m.alignmentAttention)) return;
  hypos.forEach((hyps, b) => {
    for (const h of hyps) {
      if (!h.attention) continue;
      const t = h.tokens.length;
      const rows = tf.tidy(() => {
        const src = tf.slice(srcTokens, [b, 0], [1, -1]) as tf.Tensor2D;
        const len = tf.slice(srcLengths, [b], [1]) as tf.Tensor1D;
        const prev = tf.tensor2d(Int32Array.from([eos, ...h.tokens.slice(0, t - 1)]), [1, t], "int32");
        const each = models.map((m) => (m.alignmentAttention ? m.alignmentAttention(src, len, prev) : m.forward(src, len, prev)[1].attn!));
        return tf.reshape(tf.div(tf.addN(each), models.length), [t, -1]);
      });
      const data = rows.dataSync() as Float32Array;
      const s = rows.shape[1]!;
      rows.dispose();
      h.attention = Array.from({ length: t }, (_, i) => data.slice(i * s, (i + 1) * s));
    }
  });
}
