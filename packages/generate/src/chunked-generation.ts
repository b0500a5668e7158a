/**
 * Generation of a batch in row chunks (fairseq-ts's `--micro-batch-tokens` for generate): beam search holds the encoder
 * output and every decoder layer's encoder-attention keys and values for each of `beam` copies of each source, so a
 * batch of long sources (summarization: 16 × 1024 tokens) outgrows the wasm heap. Each sentence's search depends only
 * on its own row, and the chunks keep the batch's padded width (the maximum length `a·width + b` is the batch's), so
 * the hypotheses are those of the whole batch. Their scores can differ in the last float digits: the kernels' rounding
 * depends on the number of rows (fairseq's Multi30k model, test set, batches of 128 in chunks: the same 1000
 * hypotheses, scores within 7.2e-7).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Constraint } from "./constraints.js";
import type { Hypothesis, SequenceGenerator } from "./sequence-generator.js";

export interface ChunkOptions {
  /** Beam size (each source row becomes `beam` rows). */
  beam: number;
  /** At most this many padded source tokens × beam per chunk; 0 (or less) never splits. */
  maxTokens: number;
  /**
   * Whether the search of one sentence is independent of the rest of its batch. Not with sampling (the draws are made
   * for the whole batch at each step) nor with --match-source-len (the maximum length is the batch's longest source).
   */
  independentRows: boolean;
}

/** Rows per chunk for a batch of `rows` sources `width` tokens wide (`rows` when the batch is not split). */
export function rowsPerChunk(rows: number, width: number, o: ChunkOptions): number {
  if (!o.independentRows || !(o.maxTokens > 0)) return rows;
  return Math.max(1, Math.min(rows, Math.floor(o.maxTokens / Math.max(1, width * o.beam))));
}

/**
 * `generator.generate` on the batch, chunk by chunk when it holds more than `o.maxTokens` source tokens × beam (and has
 * no constraints).
 */
export function generateInChunks(
  generator: SequenceGenerator,
  srcTokens: tf.Tensor2D,
  srcLengths: tf.Tensor1D,
  prefixTokens: readonly Int32Array[] | null,
  o: ChunkOptions,
  constraints: readonly (readonly Constraint[])[] | null = null,
): Hypothesis[][] {
  const [rows, width] = srcTokens.shape;
  // constrained batches (interactive's short input lines) are left whole: their search is not checked row by row
  const per = constraints === null ? rowsPerChunk(rows, width, o) : rows;
  if (per >= rows) return generator.generate(srcTokens, srcLengths, prefixTokens, constraints);
  const out: Hypothesis[][] = [];
  for (let start = 0; start < rows; start += per) {
    const n = Math.min(per, rows - start);
    const src = tf.slice(srcTokens, [start, 0], [n, width]);
    const lengths = tf.slice(srcLengths, [start], [n]);
    try {
      const rowsOf = <T>(xs: readonly T[] | null) => (xs ? xs.slice(start, start + n) : null);
      out.push(...generator.generate(src, lengths, rowsOf(prefixTokens), rowsOf(constraints)));
    } finally {
      src.dispose();
      lengths.dispose();
    }
  }
  return out;
}
