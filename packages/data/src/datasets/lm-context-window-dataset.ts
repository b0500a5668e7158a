import type { MonolingualDataset, MonolingualItem } from "./monolingual-dataset.js";
import type { Sample } from "./sample.js";

/**
 * fairseq's `LMContextWindowDataset` (eval-lm's `--context-window`): wraps a MonolingualDataset so that
 * each collated block is prefixed with up to `contextWindow` tokens that came before it. The prefix is
 * model input only: its targets are padding, so every token is still scored exactly once, now with
 * more context. The carried tokens are state, so blocks keep corpus order (no shuffling) and batches
 * must be collated in iteration order.
 */
export class LMContextWindowDataset {
  /** The last tokens collated so far (at most `contextWindow`), fairseq's `prev_tokens`. */
  private prevTokens = new Int32Array(0);

  constructor(
    readonly dataset: MonolingualDataset,
    readonly tokensPerSample: number,
    readonly contextWindow: number,
    readonly padIdx: number,
  ) {
    if (!Number.isInteger(contextWindow) || contextWindow <= 0)
      throw new RangeError(`LMContextWindowDataset: context window must be a positive integer, got ${contextWindow}`);
    if (!Number.isInteger(tokensPerSample) || tokensPerSample <= 0)
      throw new RangeError(`LMContextWindowDataset: tokens per sample must be a positive integer, got ${tokensPerSample}`);
  }

  get length(): number {
    return this.dataset.length;
  }

  get sizes(): Int32Array {
    return this.dataset.sizes;
  }

  get(index: number): MonolingualItem {
    return this.dataset.get(index);
  }

  numTokens(index: number): number {
    return this.dataset.numTokens(index);
  }

  /** Corpus order: the context of a block is the block before it. */
  orderedIndices(): Int32Array {
    return Int32Array.from({ length: this.length }, (_, i) => i);
  }

  /** The wrapped collater's sample, each row widened by `contextWindow` columns holding the carried context. */
  collater(items: readonly MonolingualItem[]): Sample | null {
    const sample = this.dataset.collater(items);
    if (!sample) return null;
    const pad = this.padIdx;
    const { rows, cols } = sample.netInput.srcTokens;
    const width = cols + this.contextWindow;
    const maxSampleLen = this.tokensPerSample + this.contextWindow;
    const tokens = new Int32Array(rows * width).fill(pad);
    const target = new Int32Array(rows * width).fill(pad);
    for (let i = 0; i < rows; i++) {
      const row = sample.netInput.srcTokens.data.subarray(i * cols, (i + 1) * cols);
      let sampleLen = 0;
      for (const t of row) if (t !== pad) sampleLen++;
      const extra = this.prevTokens.length + sampleLen - maxSampleLen;
      if (extra > 0) this.prevTokens = this.prevTokens.subarray(extra);
      const start = this.prevTokens.length;
      const out = tokens.subarray(i * width, (i + 1) * width);
      out.set(this.prevTokens);
      out.set(row, start);
      target.set(sample.target!.data.subarray(i * cols, (i + 1) * cols), i * width + start);
      sample.netInput.srcLengths[i] = sample.netInput.srcLengths[i]! + start;
      this.prevTokens = out.filter((t) => t !== pad).slice(-this.contextWindow);
    }
    sample.netInput.srcTokens = { data: tokens, rows, cols: width };
    sample.target = { data: target, rows, cols: width };
    return sample;
  }
}
