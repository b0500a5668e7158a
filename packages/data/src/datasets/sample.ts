import type { IntMatrix } from "./collate.js";

/**
 * A collated mini-batch in fairseq's layout (`sample` in fairseq), as plain arrays. Rows are sorted by
 * descending source length as fairseq's collater does; `id` gives each row's dataset index.
 */
export interface Sample {
  id: Int32Array;
  nsentences: number;
  /** Target tokens (eos included), or source tokens when there is no target. */
  ntokens: number;
  netInput: {
    srcTokens: IntMatrix;
    srcLengths: Int32Array;
    /** Target shifted right with eos first (teacher forcing input); null without a target. */
    prevOutputTokens: IntMatrix | null;
  };
  target: IntMatrix | null;
}

/** Rows [start, end) of a matrix, keeping only columns [c0, c1). */
function sliceMatrix(m: IntMatrix, start: number, end: number, c0: number, c1: number): IntMatrix {
  const cols = c1 - c0;
  const data = new Int32Array((end - start) * cols);
  for (let r = start; r < end; r++) data.set(m.data.subarray(r * m.cols + c0, r * m.cols + c1), (r - start) * cols);
  return { data, rows: end - start, cols };
}

/** Columns [c0, c1) of rows [start, end) that hold anything but padding. */
function usedColumns(m: IntMatrix, start: number, end: number, pad: number): [number, number] {
  let c0 = m.cols;
  let c1 = 0;
  for (let r = start; r < end; r++) {
    const row = m.data.subarray(r * m.cols, (r + 1) * m.cols);
    for (let c = 0; c < c0; c++)
      if (row[c] !== pad) {
        c0 = c;
        break;
      }
    for (let c = m.cols - 1; c >= c1; c--)
      if (row[c] !== pad) {
        c1 = c + 1;
        break;
      }
  }
  return c0 >= c1 ? [0, 0] : [c0, c1];
}

/**
 * Split a batch into consecutive row chunks whose padded source and target matrices each hold at most
 * `maxTokens` entries (micro-batching: the gradients of the chunks add up to the batch's, with a
 * fraction of its peak memory). Columns that are padding in every row of a chunk are dropped, which
 * changes nothing (padding is masked and positions are counted from the first real token).
 * `maxTokens <= 0` or a batch already within budget returns `[sample]`.
 */
export function splitSample(sample: Sample, maxTokens: number, padIdx: number): Sample[] {
  const { srcTokens, prevOutputTokens } = sample.netInput;
  const tgt = sample.target;
  const rows = srcTokens.rows;
  const width = Math.max(srcTokens.cols, prevOutputTokens?.cols ?? 0, tgt?.cols ?? 0);
  if (!(maxTokens > 0) || rows <= 1 || rows * width <= maxTokens) return [sample];
  const chunks = Math.min(rows, Math.ceil((rows * width) / maxTokens));
  const per = Math.ceil(rows / chunks);
  const out: Sample[] = [];
  for (let start = 0; start < rows; start += per) {
    const end = Math.min(rows, start + per);
    const [s0, s1] = usedColumns(srcTokens, start, end, padIdx);
    let target: IntMatrix | null = null;
    let prev: IntMatrix | null = null;
    let ntokens = 0;
    if (tgt && prevOutputTokens) {
      // right-padded target: keep from column 0 so prev_output_tokens and target stay aligned
      const c1 = Math.max(usedColumns(tgt, start, end, padIdx)[1], usedColumns(prevOutputTokens, start, end, padIdx)[1]);
      target = sliceMatrix(tgt, start, end, 0, c1);
      prev = sliceMatrix(prevOutputTokens, start, end, 0, c1);
    } else if (tgt) {
      // language modelling: the target is aligned with the input column by column
      target = sliceMatrix(tgt, start, end, s0, s1);
    }
    if (target) {
      for (const v of target.data) if (v !== padIdx) ntokens++;
    } else {
      for (let r = start; r < end; r++) ntokens += sample.netInput.srcLengths[r]!;
    }
    out.push({
      id: sample.id.slice(start, end),
      nsentences: end - start,
      ntokens,
      netInput: { srcTokens: sliceMatrix(srcTokens, start, end, s0, s1), srcLengths: sample.netInput.srcLengths.slice(start, end), prevOutputTokens: prev },
      target,
    });
  }
  return out;
}

/**
 * Divide samples (an update's micro-batches) among `numShards` workers so that their padded tokens
 * (source plus target matrix entries, the work of a forward/backward) are as even as possible: the
 * largest first, each to the least-loaded shard (longest-processing-time-first, ties to the lower
 * index). Returns each sample's shard. A pure function of the shapes, so every worker computes the
 * same assignment from the same samples.
 */
export function balanceSamples(samples: readonly Sample[], numShards: number): Int32Array {
  if (!Number.isInteger(numShards) || numShards < 1) throw new RangeError(`balanceSamples: numShards must be a positive integer, got ${numShards}`);
  const cost = samples.map((s) => s.netInput.srcTokens.rows * s.netInput.srcTokens.cols + (s.target ? s.target.rows * s.target.cols : 0));
  const order = samples.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b);
  const load = new Float64Array(numShards);
  const owner = new Int32Array(samples.length);
  for (const i of order) {
    let best = 0;
    for (let k = 1; k < numShards; k++) if (load[k]! < load[best]!) best = k;
    owner[i] = best;
    load[best]! += cost[i]!;
  }
  return owner;
}
