import * as tf from "@tensorflow/tfjs-core";
import type { IntMatrix, Sample } from "@fairseq-ts/data";

/** A mini-batch as tensors (fairseq's `sample`): what models, criterions and the trainer consume. int32 tokens. */
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

function matrix(m: IntMatrix): tf.Tensor2D {
  return tf.tensor2d(m.data, [m.rows, m.cols], "int32");
}

/**
 * A collated sample (the data package's plain arrays) as the int32 tensors a model's forward and a
 * criterion take; without a target the source is the target. The caller disposes them (`disposeTensorSample`).
 */
export function sampleToTensors(s: Sample): TensorSample {
  return {
    id: s.id,
    nsentences: s.nsentences,
    ntokens: s.ntokens,
    netInput: {
      srcTokens: matrix(s.netInput.srcTokens),
      srcLengths: tf.tensor1d(s.netInput.srcLengths, "int32"),
      prevOutputTokens: s.netInput.prevOutputTokens ? matrix(s.netInput.prevOutputTokens) : null,
    },
    target: matrix(s.target ?? s.netInput.srcTokens),
  };
}

/** Free every tensor of a TensorSample. */
export function disposeTensorSample(s: TensorSample): void {
  tf.dispose([s.netInput.srcTokens, s.netInput.srcLengths, s.target]);
  if (s.netInput.prevOutputTokens) s.netInput.prevOutputTokens.dispose();
}
