import type { TokenSequenceDataset } from "../indexed/mmap-indexed-dataset.js";

export type BreakMode = "none" | "complete" | "complete_doc" | "eos";

/** fairseq's `_get_slice_indices_fast`: [start, end) token offsets of each block in the concatenated stream. */
export function sliceIndices(sizes: ArrayLike<number>, breakMode: BreakMode, blockSize: number, documentSepLen = 1): [number, number][] {
  const out: [number, number][] = [];
  const n = sizes.length;
  if (breakMode === "none") {
    let total = 0;
    for (let i = 0; i < n; i++) total += sizes[i]!;
    const length = Math.ceil(total / blockSize);
    for (let i = 0; i < length; i++) out.push([i * blockSize, Math.min((i + 1) * blockSize, total)]);
  } else if (breakMode === "complete") {
    let tok = 0;
    let cur = 0;
    let i = 0;
    while (i < n) {
      if (sizes[i]! + cur <= blockSize || cur === 0) {
        cur += sizes[i]!;
        i++;
      } else {
        out.push([tok, tok + cur]);
        tok += cur;
        cur = 0;
      }
    }
    if (cur > 0) out.push([tok, tok + cur]);
  } else if (breakMode === "complete_doc") {
    let tok = 0;
    let cur = 0;
    let i = 0;
    while (i < n) {
      if ((sizes[i]! + cur <= blockSize || cur === 0) && sizes[i] !== documentSepLen) {
        cur += sizes[i]!;
        i++;
      } else {
        if (cur > 1) out.push([tok, tok + cur]);
        tok += cur;
        cur = 0;
        if (sizes[i] === documentSepLen) {
          tok += sizes[i]!;
          i++;
        }
      }
    }
    if (cur > 1) out.push([tok, tok + cur]);
  } else if (breakMode === "eos") {
    let c = 0;
    for (let i = 0; i < n; i++) {
      out.push([c, c + sizes[i]!]);
      c += sizes[i]!;
    }
  } else {
    throw new Error(`Invalid break_mode: ${breakMode as string}`);
  }
  return out;
}

/** fairseq's `_get_block_to_dataset_index_fast`: [first item, offset in it, last item] per block. */
export function blockToDatasetIndex(sizes: ArrayLike<number>, slices: readonly [number, number][]): [number, number, number][] {
  // DatasetSearcher: walks the concatenated stream item by item.
  let curOffset = 0;
  let curI = 0;
  let curIndex = 0;
  const reset = () => {
    curOffset = 0;
    curI = 0;
    curIndex = 0;
  };
  const step = (i: number): boolean => {
    if (i < curI) reset();
    if (i > curI) {
      const toConsume = i - curI;
      const remaining = sizes[curIndex]! - curOffset;
      if (remaining > toConsume) {
        curOffset += toConsume;
        curI += toConsume;
      } else {
        curI += remaining;
        curIndex += 1;
        curOffset = 0;
      }
      return true;
    }
    return false;
  };
  const seek = (i: number) => {
    while (step(i));
  };
  return slices.map(([s, e]) => {
    seek(s);
    const startIdx = curIndex;
    const startOffset = curOffset;
    let endIdx = startIdx;
    if (e > s) {
      seek(e - 1);
      endIdx = curIndex;
    }
    return [startIdx, startOffset, endIdx];
  });
}

/** A block with the language-model views fairseq builds with `include_targets`. */
export interface TokenBlock {
  /** Shifted right by one (eos first at a stream start): the model input. */
  source: Int32Array;
  /** The block itself: the next-token targets. */
  target: Int32Array;
  /** Shifted right by two (for right-to-left models). */
  pastTarget: Int32Array;
}

/**
 * fairseq's `TokenBlockDataset`: cut a stream of sentences into blocks of `blockSize` tokens
 * (`none`), whole sentences up to the size (`complete`), not crossing documents (`complete_doc`), or
 * one sentence per block (`eos`).
 */
export class TokenBlockDataset {
  readonly sizes: Int32Array;
  private readonly slices: [number, number][];
  private readonly blockIndex: [number, number, number][];

  constructor(
    private readonly dataset: TokenSequenceDataset,
    readonly blockSize: number,
    private readonly pad: number,
    private readonly eos: number,
    readonly breakMode: BreakMode = "none",
    readonly documentSepLen = 1,
  ) {
    if (dataset.length === 0) throw new Error("TokenBlockDataset: empty dataset");
    this.slices = sliceIndices(dataset.sizes, breakMode, breakMode === "eos" ? 0 : blockSize, documentSepLen);
    this.sizes = Int32Array.from(this.slices, ([s, e]) => e - s);
    this.blockIndex =
      breakMode === "eos"
        ? Array.from({ length: dataset.length }, (_, i) => [i, 0, i] as [number, number, number])
        : blockToDatasetIndex(dataset.sizes, this.slices);
  }

  get length(): number {
    return this.sizes.length;
  }

  /** The block's tokens and its shifted views (fairseq's `__getitem__` with include_targets). */
  get(index: number): TokenBlock {
    const [startIdx, startOffset, endIdx] = this.blockIndex[index]!;
    let total = 0;
    const parts: Int32Array[] = [];
    for (let i = startIdx; i <= endIdx; i++) {
      const p = this.dataset.get(i);
      parts.push(p);
      total += p.length;
    }
    const buffer = new Int32Array(total);
    let off = 0;
    for (const p of parts) {
      buffer.set(p, off);
      off += p.length;
    }
    const [ss, se] = this.slices[index]!;
    const s = startOffset;
    const e = startOffset + (se - ss);
    const item = buffer.slice(s, e);
    let source: Int32Array;
    let pastTarget: Int32Array;
    const cat = (head: number[], tail: Int32Array) => Int32Array.from([...head, ...tail]);
    if (s === 0) {
      source = cat([this.eos], buffer.slice(0, Math.max(0, e - 1)));
      pastTarget = cat([this.pad, this.eos], buffer.slice(0, Math.max(0, e - 2)));
    } else {
      source = buffer.slice(s - 1, e - 1);
      pastTarget = s === 1 ? cat([this.eos], buffer.slice(0, Math.max(0, e - 2))) : buffer.slice(s - 2, e - 2);
    }
    return { source, target: item, pastTarget };
  }
}
