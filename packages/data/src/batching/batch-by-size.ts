export interface BatchBySizeOptions {
  /** Token budget per batch (padded size: rows × longest); null/≤0 = unlimited. */
  maxTokens?: number | null;
  /** Sentences per batch; null/≤0 = unlimited. */
  maxSentences?: number | null;
  /** Batch sizes are rounded down to a multiple of this when possible (fairseq's bsz_mult). */
  requiredBatchSizeMultiple?: number;
}

export class BatchSizeError extends Error {
  override name = "BatchSizeError";
}

/**
 * fairseq's `batch_by_size_fast`: walk `indices` in order and cut a batch when adding the next example
 * would exceed `maxTokens` (counting padding: batch rows × longest example) or `maxSentences`; a cut
 * keeps a multiple of `requiredBatchSizeMultiple` examples and carries the rest over.
 */
export function batchBySize(indices: ArrayLike<number>, numTokens: (index: number) => number, options: BatchBySizeOptions = {}): Int32Array[] {
  const maxTokens = options.maxTokens ?? -1;
  const maxSentences = options.maxSentences ?? -1;
  const bszMult = options.requiredBatchSizeMultiple ?? 1;
  const batches: Int32Array[] = [];
  let batch: number[] = [];
  let sampleLens: number[] = [];
  let sampleLen = 0;
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i]!;
    const n = numTokens(idx);
    sampleLens.push(n);
    sampleLen = Math.max(sampleLen, n);
    if (maxTokens > 0 && sampleLen > maxTokens) {
      throw new BatchSizeError(`sentence at index ${idx} of size ${sampleLen} exceeds max_tokens limit of ${maxTokens}!`);
    }
    const tokens = (batch.length + 1) * sampleLen;
    const full = batch.length > 0 && ((maxSentences > 0 && batch.length === maxSentences) || (maxTokens > 0 && tokens > maxTokens));
    if (full) {
      const modLen = Math.max(bszMult * Math.floor(batch.length / bszMult), batch.length % bszMult);
      batches.push(Int32Array.from(batch.slice(0, modLen)));
      batch = batch.slice(modLen);
      sampleLens = sampleLens.slice(modLen);
      sampleLen = sampleLens.length > 0 ? Math.max(...sampleLens) : 0;
    }
    batch.push(idx);
  }
  if (batch.length > 0) batches.push(Int32Array.from(batch));
  return batches;
}
