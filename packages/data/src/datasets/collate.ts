/** A dense 2-D int32 matrix, row-major (what becomes a tensor later). */
export interface IntMatrix {
  data: Int32Array;
  rows: number;
  cols: number;
}

/**
 * fairseq's `data_utils.collate_tokens`: pad sequences into a matrix (left- or right-aligned),
 * optionally moving eos to the front (`prev_output_tokens`), padding the width to a multiple.
 */
export function collateTokens(
  values: readonly Int32Array[],
  padIdx: number,
  options: { eosIdx?: number | null; leftPad?: boolean; moveEosToBeginning?: boolean; padToLength?: number | null; padToMultiple?: number } = {},
): IntMatrix {
  const { eosIdx = null, leftPad = false, moveEosToBeginning = false, padToLength = null, padToMultiple = 1 } = options;
  let size = 0;
  for (const v of values) size = Math.max(size, v.length);
  if (padToLength != null) size = Math.max(size, padToLength);
  if (padToMultiple !== 1 && size % padToMultiple !== 0) size = (Math.floor((size - 0.1) / padToMultiple) + 1) * padToMultiple;
  const rows = values.length;
  const data = new Int32Array(rows * size).fill(padIdx);
  for (let i = 0; i < rows; i++) {
    const v = values[i]!;
    const start = i * size + (leftPad ? size - v.length : 0);
    if (moveEosToBeginning) {
      if (v.length === 0) continue;
      data[start] = eosIdx ?? v[v.length - 1]!;
      data.set(v.subarray(0, v.length - 1), start + 1);
    } else {
      data.set(v, start);
    }
  }
  return { data, rows, cols: size };
}

/** Rows of a matrix in a new order. */
export function selectRows(m: IntMatrix, order: ArrayLike<number>): IntMatrix {
  const out = new Int32Array(order.length * m.cols);
  for (let i = 0; i < order.length; i++) out.set(m.data.subarray(order[i]! * m.cols, (order[i]! + 1) * m.cols), i * m.cols);
  return { data: out, rows: order.length, cols: m.cols };
}

/** Number of non-pad entries of a sequence. */
export function countNonPad(v: Int32Array, padIdx: number): number {
  let n = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== padIdx) n++;
  return n;
}

/**
 * Indices that sort `values` descending. Ties keep their original order (a stable sort; torch's CPU
 * sort gives the same order for these small 1-D inputs).
 */
export function argsortDescending(values: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((a, b) => values[b]! - values[a]! || a - b);
}

/** Indices that sort `values` ascending, stable (numpy's `argsort(kind="mergesort")`). */
export function argsortStable(values: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((a, b) => values[a]! - values[b]! || a - b);
}
