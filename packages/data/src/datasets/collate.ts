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
 * Indices that sort `values` descending exactly as PyTorch's CPU `tensor.sort(descending=True)` does
 * (fairseq's collater uses it): not a stable sort but libstdc++'s `std::sort` (introsort: median-of-three
 * quicksort down to 16 elements, then insertion sort) over (value, index) pairs. Ties therefore come out
 * in the order fairseq gets, which fixes the order of generate's output lines.
 */
export function argsortDescending(values: ArrayLike<number>): Int32Array {
  const n = values.length;
  const v = Float64Array.from(values as ArrayLike<number>);
  const ix = Int32Array.from({ length: n }, (_, i) => i);
  // comp(a, b): a goes before b (KeyValueCompDesc: greater value first, NaN last)
  const comp = (a: number, b: number) => (!Number.isNaN(a) && Number.isNaN(b)) || a > b;
  const swap = (i: number, j: number) => {
    const tv = v[i]!;
    v[i] = v[j]!;
    v[j] = tv;
    const ti = ix[i]!;
    ix[i] = ix[j]!;
    ix[j] = ti;
  };
  const unguardedLinearInsert = (last: number) => {
    const val = v[last]!;
    const vi = ix[last]!;
    let next = last - 1;
    while (comp(val, v[next]!)) {
      v[last] = v[next]!;
      ix[last] = ix[next]!;
      last = next;
      next--;
    }
    v[last] = val;
    ix[last] = vi;
  };
  const insertionSort = (first: number, last: number) => {
    if (first === last) return;
    for (let i = first + 1; i < last; i++) {
      if (comp(v[i]!, v[first]!)) {
        const val = v[i]!;
        const vi = ix[i]!;
        for (let k = i; k > first; k--) {
          v[k] = v[k - 1]!;
          ix[k] = ix[k - 1]!;
        }
        v[first] = val;
        ix[first] = vi;
      } else unguardedLinearInsert(i);
    }
  };
  const moveMedianToFirst = (result: number, a: number, b: number, c: number) => {
    if (comp(v[a]!, v[b]!)) {
      if (comp(v[b]!, v[c]!)) swap(result, b);
      else if (comp(v[a]!, v[c]!)) swap(result, c);
      else swap(result, a);
    } else if (comp(v[a]!, v[c]!)) swap(result, a);
    else if (comp(v[b]!, v[c]!)) swap(result, c);
    else swap(result, b);
  };
  const unguardedPartition = (first: number, last: number, pivot: number) => {
    for (;;) {
      while (comp(v[first]!, v[pivot]!)) first++;
      last--;
      while (comp(v[pivot]!, v[last]!)) last--;
      if (!(first < last)) return first;
      swap(first, last);
      first++;
    }
  };
  const heapSort = (first: number, last: number) => {
    // std::partial_sort(first, last, last): make_heap + sort_heap, only reached on pathological inputs
    const idx = Array.from({ length: last - first }, (_, k) => first + k);
    const pairs = idx.map((k) => [v[k]!, ix[k]!] as const);
    pairs.sort((p, q) => (comp(p[0], q[0]) ? -1 : comp(q[0], p[0]) ? 1 : 0));
    pairs.forEach(([a, b], k) => {
      v[first + k] = a;
      ix[first + k] = b;
    });
  };
  const introsortLoop = (first: number, last: number, depth: number) => {
    while (last - first > 16) {
      if (depth === 0) {
        heapSort(first, last);
        return;
      }
      depth--;
      const mid = first + Math.floor((last - first) / 2);
      moveMedianToFirst(first, first + 1, mid, last - 1);
      const cut = unguardedPartition(first + 1, last, first);
      introsortLoop(cut, last, depth);
      last = cut;
    }
  };
  if (n > 1) {
    introsortLoop(0, n, 2 * Math.floor(Math.log2(n)));
    if (n > 16) {
      insertionSort(0, 16);
      for (let i = 16; i < n; i++) unguardedLinearInsert(i);
    } else insertionSort(0, n);
  }
  return ix;
}

/** Indices that sort `values` ascending, stable (numpy's `argsort(kind="mergesort")`). */
export function argsortStable(values: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((a, b) => values[a]! - values[b]! || a - b);
}
