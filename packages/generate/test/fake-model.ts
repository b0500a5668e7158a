import * as tf from "@tensorflow/tfjs-core";
import type { DecoderOutput, EncoderDecoderModel, EncoderOut } from "@fairseq-ts/models";

/**
 * A fake encoder-decoder whose decoder output for a batch of `rows` prefixes is `logits(rows)`
 * ([rows, 1, V]); `normalize` turns it into log-probs (default: it already is). Tests of the search
 * logic use it with hand-set distributions, so expected hypotheses can be worked out by hand.
 */
export function fakeModel(logits: (rows: number) => tf.Tensor3D, normalize: (out: tf.Tensor3D) => tf.Tensor3D = (x) => x): EncoderDecoderModel {
  const enc = (b: number): EncoderOut => ({ encoderOut: tf.zeros([b, 1, 1]) as tf.Tensor3D, encoderPaddingMask: null, extra: {} });
  const decoder = {
    forward: (prev: tf.Tensor2D): DecoderOutput => [logits(prev.shape[0]), { attn: null }],
    getNormalizedProbs: (out: DecoderOutput) => normalize(out[0]),
    reorderIncrementalState: () => {},
    maxPositions: () => 1024,
  };
  const encoder = {
    forward: (src: tf.Tensor2D) => enc(src.shape[0]),
    reorderEncoderOut: (e: EncoderOut, order: tf.Tensor1D) => ({ encoderOut: tf.gather(e.encoderOut, order), encoderPaddingMask: null, extra: {} }),
    maxPositions: () => 1024,
  };
  return { kind: "encoder-decoder", encoder, decoder, eval: () => {}, maxDecoderPositions: () => 1024 } as unknown as EncoderDecoderModel;
}

/** The same log-probs for every row, every step. */
export function fixedModel(logp: number[], normalize?: (out: tf.Tensor3D) => tf.Tensor3D): EncoderDecoderModel {
  return fakeModel((rows) => tf.tile(tf.reshape(tf.tensor1d(logp), [1, 1, logp.length]), [rows, 1, 1]) as tf.Tensor3D, normalize);
}
