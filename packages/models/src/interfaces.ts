import type * as tf from "@tensorflow/tfjs-core";

/*
 * The contract between models and their users (trainer, criterions, generate, hub), in fairseq's shape.
 *
 * Tensor ownership: every method returns new tensors owned by the caller (dispose them, or call inside
 * tf.tidy), except the tensors held in an IncrementalState: the decoder keeps those (tf.keep), disposes
 * the ones it replaces, and the caller frees the rest with `disposeIncrementalState` when decoding ends.
 * Layout is batch-first everywhere (B x T x C), unlike fairseq's internal T x B x C.
 * Token tensors are int32.
 */

/** What an encoder hands to the decoder (fairseq's EncoderOut). */
export interface EncoderOut {
  /** B x S x C, the last layer's output. */
  encoderOut: tf.Tensor3D;
  /** B x S, true (bool) where the source is padding; null when nothing is padded. */
  encoderPaddingMask: tf.Tensor2D | null;
  /** Anything else a model needs to carry (e.g. LSTM final hidden/cell states); reordered on dim 0 of each tensor's batch axis by the model. */
  extra?: Record<string, tf.Tensor>;
}

/** Extra decoder outputs besides the logits. */
export interface DecoderExtra {
  /** B x T x S attention of the alignment layer, averaged over heads (fairseq's `attn[0]`), or null. */
  attn: tf.Tensor3D | null;
  /** Hidden states per layer when requested. */
  innerStates?: tf.Tensor3D[];
}

/** `[logits B x T x V, extra]`, fairseq's decoder output tuple (`[features B x T x C, extra]` with featuresOnly). */
export type DecoderOutput = [tf.Tensor3D, DecoderExtra];

export interface DecoderForwardOptions {
  /**
   * fairseq's `features_only`: return the hidden states the output layer would map to logits
   * (B x T x C) instead of the logits. Only decoders with an `outputProjection` honour it.
   */
  featuresOnly?: boolean;
  /** fairseq's `alignment_layer`: the decoder layer whose encoder attention `attn` holds (default: the last). */
  alignmentLayer?: number;
  /** fairseq's `alignment_heads`: average `attn` over the first this many heads only (default: all). */
  alignmentHeads?: number;
  /** fairseq's `full_context_alignment`: no future mask on self-attention (every target position sees all others). */
  fullContextAlignment?: boolean;
}

/**
 * What an adaptive softmax gives its loss (fairseq's `AdaptiveSoftmax.forward`): head logits N x (cutoff₀ + clusters)
 * with the head targets (a tail word's cluster entry), and per tail cluster the logits and targets of the rows whose
 * target falls in it (null: none does). N = B·T, the rows of the flattened batch.
 */
export interface AdaptiveSoftmaxTerms {
  head: tf.Tensor2D;
  headTarget: tf.Tensor1D;
  tails: ({ logits: tf.Tensor2D; target: tf.Tensor1D } | null)[];
}

/** The part of fairseq's AdaptiveSoftmax a criterion uses (`--criterion adaptive_loss`). */
export interface AdaptiveSoftmaxLayer {
  /** Head and tail logits for the features B x T x C and the targets B x T (dropout applied in training). */
  forward(features: tf.Tensor, target: tf.Tensor): AdaptiveSoftmaxTerms;
}

/**
 * Per-module caches for step-by-step decoding (fairseq's incremental_state), keyed by a module id.
 * Owned by the decoder while decoding; see `disposeIncrementalState`.
 */
export type IncrementalState = Map<string, Record<string, tf.Tensor>>;

/** Free every tensor held by an incremental state and empty it. */
export function disposeIncrementalState(state: IncrementalState): void {
  for (const entry of state.values()) for (const t of Object.values(entry)) t.dispose();
  state.clear();
}

export interface FairseqEncoder {
  /** srcTokens B x S (left-padded by default), srcLengths B. */
  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D): EncoderOut;
  /** Select/reorder the batch (beam search): rows `newOrder` (int32) of every batch-major tensor. */
  reorderEncoderOut(encoderOut: EncoderOut, newOrder: tf.Tensor1D): EncoderOut;
  maxPositions(): number;
}

export interface FairseqDecoder {
  /**
   * prevOutputTokens B x T (eos first). With an incremental state, only the last position is
   * computed and the logits are B x 1 x V.
   */
  forward(prevOutputTokens: tf.Tensor2D, encoderOut: EncoderOut | null, incrementalState?: IncrementalState, options?: DecoderForwardOptions): DecoderOutput;
  /**
   * The output layer's weight (V x C) when the output layer is exactly `features · weightᵀ` (fairseq's
   * output_projection, no bias, no adaptive softmax). A decoder that has it honours `featuresOnly`,
   * so a criterion can fuse the projection into its loss.
   */
  readonly outputProjection?: tf.Tensor2D;
  /**
   * The adaptive softmax (`--adaptive-softmax-cutoff`), or null/absent. A decoder that has one returns features
   * (B x T x C) from `forward`, as fairseq's does, and `getNormalizedProbs` maps them to the full vocabulary.
   */
  readonly adaptiveSoftmax?: AdaptiveSoftmaxLayer | null;
  /** Log-probabilities (or probabilities) over the vocabulary from a decoder output. */
  getNormalizedProbs(netOutput: DecoderOutput, logProbs: boolean): tf.Tensor3D;
  /**
   * Reorder cached states to follow beam search's `newOrder` (int32, length = new batch size). As in
   * fairseq, encoder-attention caches are only gathered when the batch size changes: reordering must
   * stay within each sentence's beams (whose encoder states are equal).
   */
  reorderIncrementalState(incrementalState: IncrementalState, newOrder: tf.Tensor1D): void;
  maxPositions(): number;
}

/** Common to every model: parameters with fairseq's state_dict names, train/eval mode. */
export interface FairseqModel {
  readonly kind: "encoder-decoder" | "language-model";
  /** Training mode turns dropout on. */
  readonly training: boolean;
  train(mode?: boolean): void;
  eval(): void;
  /** Reseed dropout; the trainer calls it every update with `seed + numUpdates`, as fairseq does. */
  setSeed(seed: number): void;
  /**
   * Monte Carlo dropout at inference (fairseq's --retain-dropout / --retain-dropout-modules): dropout stays on outside
   * training in the modules named by fairseq class name (all when null). Optional: a model without it refuses the flag.
   */
  setRetainDropout?(retain: boolean, modules?: readonly string[] | null): void;
  /** The fairseq class names of the modules whose dropout {@link setRetainDropout} can keep on. */
  dropoutModules?(): readonly string[];
  /** Number of trainable values. */
  numParameters(): number;
  /** Trainable parameters by fairseq name (`encoder.layers.0.self_attn.k_proj.weight`, …). */
  namedParameters(): Map<string, tf.Variable>;
  /** Every named tensor fairseq's state_dict would hold (parameters plus tied/buffer aliases). */
  stateDict(): Map<string, tf.Tensor>;
  /** Load values by fairseq name; `strict` (default) rejects missing/unexpected names and shape mismatches. */
  loadStateDict(state: Map<string, tf.Tensor>, options?: { strict?: boolean }): void;
  dispose(): void;
}

export interface EncoderDecoderModel extends FairseqModel {
  readonly kind: "encoder-decoder";
  readonly encoder: FairseqEncoder;
  readonly decoder: FairseqDecoder;
  /** Teacher-forced forward pass. */
  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, options?: DecoderForwardOptions): DecoderOutput;
  getNormalizedProbs(netOutput: DecoderOutput, logProbs: boolean): tf.Tensor3D;
  /**
   * fairseq's `forward_align` (TransformerAlignModel with --full-context-alignment): the attention B x T x S that
   * generate's --print-alignment reads, from a teacher-forced pass over finished hypotheses (prevOutputTokens = eos
   * then the hypothesis). Absent: the attention gathered while decoding is used, as in fairseq.
   */
  readonly alignmentAttention?: (srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D) => tf.Tensor3D;
  /** [max source positions, max target positions] */
  maxPositions(): [number, number];
  maxDecoderPositions(): number;
}

export interface LanguageModel extends FairseqModel {
  readonly kind: "language-model";
  readonly decoder: FairseqDecoder;
  forward(srcTokens: tf.Tensor2D, incrementalState?: IncrementalState, options?: DecoderForwardOptions): DecoderOutput;
  getNormalizedProbs(netOutput: DecoderOutput, logProbs: boolean): tf.Tensor3D;
  maxPositions(): number;
  maxDecoderPositions(): number;
}
