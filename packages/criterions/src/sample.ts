import type * as tf from "@tensorflow/tfjs-core";

/** A mini-batch as tensors (fairseq's `sample`): what criterions and the trainer consume. int32 tokens. */
export interface TensorSample {
  /** Dataset indices of the rows. */
  id: Int32Array;
  nsentences: number;
  /** Target tokens (or source tokens for LM data without targets). */
  ntokens: number;
  netInput: {
    srcTokens: tf.Tensor2D;
    srcLengths: tf.Tensor1D;
    /** Teacher-forcing decoder input (encoder-decoder models); null for language models. */
    prevOutputTokens: tf.Tensor2D | null;
  };
  target: tf.Tensor2D;
}
