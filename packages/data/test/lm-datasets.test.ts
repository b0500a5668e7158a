import { describe, expect, it } from "vitest";
import { Dictionary } from "@fairseq-ts/dictionary";
import { LMContextWindowDataset, MonolingualDataset, RandomState, TokenBlockDataset, sliceIndices } from "../src/index.js";

// Three sentences, eos = 2: [10 11 2] [12 2] [13 14 15 2]; the stream is 10 11 2 12 2 13 14 15 2.
const sents = [
  [10, 11, 2],
  [12, 2],
  [13, 14, 15, 2],
].map((s) => Int32Array.from(s));
const ds = { length: 3, sizes: Int32Array.from([3, 2, 4]), get: (i: number) => sents[i]! };
const arr = (x: Int32Array) => Array.from(x);

describe("TokenBlockDataset (fairseq's break modes, traced by hand)", () => {
  it("none: fixed-size blocks across sentences, source shifted right with eos at the stream start", () => {
    const b = new TokenBlockDataset(ds, 4, 1, 2, "none");
    expect(arr(b.sizes)).toEqual([4, 4, 1]);
    expect(arr(b.get(0).target)).toEqual([10, 11, 2, 12]);
    expect(arr(b.get(0).source)).toEqual([2, 10, 11, 2]);
    expect(arr(b.get(0).pastTarget)).toEqual([1, 2, 10, 11]);
    expect(arr(b.get(1).target)).toEqual([2, 13, 14, 15]);
    expect(arr(b.get(1).source)).toEqual([12, 2, 13, 14]);
    expect(arr(b.get(2).target)).toEqual([2]);
    expect(arr(b.get(2).source)).toEqual([15]);
  });

  it("complete, complete_doc and eos", () => {
    expect(sliceIndices([3, 2, 4], "complete", 5)).toEqual([
      [0, 5],
      [5, 9],
    ]);
    expect(sliceIndices([3, 2, 4], "complete", 2)).toEqual([
      [0, 3],
      [3, 5],
      [5, 9],
    ]); // an oversize sentence is a block of its own
    // documents separated by an empty line (a sentence of just eos, length 1)
    expect(sliceIndices([3, 1, 2, 2], "complete_doc", 10)).toEqual([
      [0, 3],
      [4, 8],
    ]);
    expect(sliceIndices([3, 2, 4], "eos", 0)).toEqual([
      [0, 3],
      [3, 5],
      [5, 9],
    ]);
    const c = new TokenBlockDataset(ds, 5, 1, 2, "complete");
    expect(arr(c.get(1).target)).toEqual([13, 14, 15, 2]);
    expect(arr(c.get(1).source)).toEqual([2, 13, 14, 15]);
  });
});

describe("MonolingualDataset", () => {
  it("collates source/target right-padded; ntokens counts source tokens; orders by size then random", () => {
    const d = new Dictionary();
    const m = new MonolingualDataset(new TokenBlockDataset(ds, 4, d.pad(), d.eos(), "none"), d);
    const s = m.collater([m.get(0), m.get(2)])!;
    expect(arr(s.netInput.srcTokens.data)).toEqual([2, 10, 11, 2, 15, 1, 1, 1]);
    expect(arr(s.target!.data)).toEqual([10, 11, 2, 12, 2, 1, 1, 1]);
    expect(s.ntokens).toBe(5);
    expect(arr(s.netInput.srcLengths)).toEqual([4, 1]);
    const order = m.orderedIndices(new RandomState(1));
    expect(order[0]).toBe(2); // the 1-token block first
  });
});

describe("LMContextWindowDataset (fairseq's eval-lm --context-window, traced by hand)", () => {
  // blocks of 4: targets [10 11 2 12] [2 13 14 15] [2]; sources [2 10 11 2] [12 2 13 14] [15]
  const d = new Dictionary();
  const blocks = () => new MonolingualDataset(new TokenBlockDataset(ds, 4, d.pad(), d.eos(), "none"), d, false);

  it("prefixes each row with the tokens before it, carried across batches; the prefix's targets are padding", () => {
    const w = new LMContextWindowDataset(blocks(), 4, 2, d.pad());
    expect(arr(w.orderedIndices())).toEqual([0, 1, 2]); // corpus order, whatever the sizes
    const a = w.collater([w.get(0)])!;
    // nothing came before the first block: 2 columns of padding at the end
    expect(arr(a.netInput.srcTokens.data)).toEqual([2, 10, 11, 2, 1, 1]);
    expect(arr(a.target!.data)).toEqual([10, 11, 2, 12, 1, 1]);
    expect(arr(a.netInput.srcLengths)).toEqual([4]);
    const b = w.collater([w.get(1), w.get(2)])!;
    expect(b.netInput.srcTokens).toMatchObject({ rows: 2, cols: 6 });
    // row 0: the last 2 tokens of block 0's input (11 2), then its own; row 1: the last 2 of row 0 (13 14)
    expect(arr(b.netInput.srcTokens.data)).toEqual([11, 2, 12, 2, 13, 14, 13, 14, 15, 1, 1, 1]);
    expect(arr(b.target!.data)).toEqual([1, 1, 2, 13, 14, 15, 1, 1, 2, 1, 1, 1]);
    expect(arr(b.netInput.srcLengths)).toEqual([6, 3]);
    // every target token is still there exactly once
    const scored = (s: typeof a) => arr(s.target!.data).filter((t) => t !== d.pad());
    expect([...scored(a), ...scored(b)]).toEqual([10, 11, 2, 12, 2, 13, 14, 15, 2]);
    expect(b.ntokens).toBe(5);
  });

  it("rejects a context window that is not a positive integer", () => {
    expect(() => new LMContextWindowDataset(blocks(), 4, 0, d.pad())).toThrow(/context window must be a positive integer, got 0/);
    expect(() => new LMContextWindowDataset(blocks(), 0, 2, d.pad())).toThrow(/tokens per sample must be a positive integer, got 0/);
  });
});
