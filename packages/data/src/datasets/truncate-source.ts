import type { TokenSequenceDataset } from "../indexed/mmap-indexed-dataset.js";
import { stripTokenDataset } from "./denoising-dataset.js";

/**
 * fairseq's `--truncate-source` (translation task, `load_langpair_dataset`):
 * `AppendTokenDataset(TruncateDataset(StripTokenDataset(src, eos), maxSourcePositions - 1), eos)`. Each source keeps
 * its first `maxSourcePositions - 1` tokens and ends with `</s>`.
 *
 * The sizes are fairseq's, not the items' lengths: StripTokenDataset reports the sizes from before stripping, so a
 * source that was not cut is reported one token longer than it is (`min(size, L - 1) + 1`). Batching and size
 * filtering read these sizes, so they are kept to give fairseq's batches.
 */
export function truncateSourceDataset(dataset: TokenSequenceDataset, eos: number, maxSourcePositions: number): TokenSequenceDataset {
  if (!Number.isInteger(maxSourcePositions) || maxSourcePositions < 2) {
    throw new RangeError(`--truncate-source needs --max-source-positions >= 2, got ${maxSourcePositions}`);
  }
  const keep = maxSourcePositions - 1;
  const stripped = stripTokenDataset(dataset, eos);
  return {
    length: dataset.length,
    sizes: Int32Array.from(stripped.sizes, (s) => Math.min(s, keep) + 1),
    get(i: number): Int32Array {
      const item = stripped.get(i);
      const n = Math.min(item.length, keep);
      const out = new Int32Array(n + 1);
      out.set(item.subarray(0, n));
      out[n] = eos;
      return out;
    },
  };
}
