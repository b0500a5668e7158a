/**
 * fairseq v0.10.2's size checks: `utils.resolve_max_positions`, `data_utils.filter_paired_dataset_indices_by_size`
 * (and FairseqDataset's filter for one size per example), and `FairseqTask.filter_indices_by_size`, which either
 * raises or warns about the examples it drops. Which commands raise and which warn is the caller's choice: fairseq's
 * train iterator always skips (warning), valid/test and interactive raise unless --skip-invalid-size-inputs-valid-test,
 * eval-lm always skips.
 */

/** A max-positions limit: one number, or (source, target) for pairs; null/undefined = no limit. */
export type MaxPositions = number | readonly [number, number];

/** The example that fairseq's size check refuses (`Size of sample #N is invalid ...`). */
export class InvalidSizeError extends Error {
  override name = "InvalidSizeError";
}

/**
 * fairseq's `resolve_max_positions`: the element-wise minimum of every limit given (the task's, then each
 * model's), skipping null; a number meeting a pair counts for both sides. Null when no limit is given.
 */
export function resolveMaxPositions(...limits: (MaxPositions | null | undefined)[]): MaxPositions | null {
  let out: MaxPositions | null = null;
  for (const l of limits) {
    if (l == null) continue;
    if (out == null) out = l;
    else if (typeof out === "number" && typeof l === "number") out = Math.min(out, l);
    else {
      const a: readonly [number, number] = typeof out === "number" ? [out, out] : out;
      const b: readonly [number, number] = typeof l === "number" ? [l, l] : l;
      out = [Math.min(a[0], b[0]), Math.min(a[1], b[1])];
    }
  }
  return out;
}

/** A limit or size as Python prints it: `1024`, `(1024, 1024)`. */
export function formatPositions(x: MaxPositions): string {
  return typeof x === "number" ? String(x) : `(${x[0]}, ${x[1]})`;
}

/**
 * fairseq's `filter_paired_dataset_indices_by_size` (and the one-size filter when `tgtSizes` is null and the
 * limit is a number): the indices (in their order) whose source and target fit, and those that do not.
 */
export function filterIndicesBySize(
  indices: Int32Array,
  srcSizes: Int32Array,
  tgtSizes: Int32Array | null,
  maxPositions: MaxPositions | null,
): { indices: Int32Array; ignored: number[] } {
  if (maxPositions == null) return { indices, ignored: [] };
  const [maxSrc, maxTgt] = typeof maxPositions === "number" ? [maxPositions, maxPositions] : maxPositions;
  const kept: number[] = [];
  const ignored: number[] = [];
  for (const i of indices) {
    const bad = srcSizes[i]! > maxSrc || (tgtSizes !== null && tgtSizes[i]! > maxTgt);
    (bad ? ignored : kept).push(i);
  }
  return { indices: ignored.length === 0 ? indices : Int32Array.from(kept), ignored };
}

export interface InvalidSizePolicy {
  /** Skip the examples that do not fit (with `warn`) instead of raising (fairseq's `ignore_invalid_inputs`). */
  ignoreInvalidInputs: boolean;
  /** Where the skip warning goes (fairseq's logger.warning); default: nowhere. */
  warn?: ((message: string) => void) | null;
}

/**
 * fairseq's `FairseqTask.filter_indices_by_size` after the filter: with ignored examples, raise
 * "Size of sample #N is invalid (=size) since max_positions=..., skip this example with
 * --skip-invalid-size-inputs-valid-test" unless skipping, else warn "K samples have invalid sizes and will be
 * skipped, max_positions=..., first few sample ids=[...]".
 */
export function reportInvalidSizes(
  ignored: readonly number[],
  size: (index: number) => MaxPositions,
  maxPositions: MaxPositions,
  policy: InvalidSizePolicy,
): void {
  if (ignored.length === 0) return;
  const limit = formatPositions(maxPositions);
  if (!policy.ignoreInvalidInputs) {
    const i = ignored[0]!;
    throw new InvalidSizeError(
      `Size of sample #${i} is invalid (=${formatPositions(size(i))}) since max_positions=${limit}, skip this example with --skip-invalid-size-inputs-valid-test`,
    );
  }
  policy.warn?.(
    `${ignored.length} samples have invalid sizes and will be skipped, max_positions=${limit}, first few sample ids=[${ignored.slice(0, 10).join(", ")}]`,
  );
}
