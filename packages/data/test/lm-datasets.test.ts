import { describe, expect, it } from "vitest";
import { Dictionary } from "@fairseq-ts/dictionary";
import { MonolingualDataset, RandomState, TokenBlockDataset, sliceIndices } from "../src/index.js";

// Three sentences, eos = 2: [10 11 2] [12 2] [13 14 15 2]; the stream is 10 11 2 12 2 13 14 15 2.
const sents = [[10, 11, 2], [12, 2], [13, 14, 15, 2]].map((s) => Int32Array.from(s));
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
    expect(sliceIndices([3, 2, 4], "complete", 5)).toEqual([[0, 5], [5, 9]]);
    expect(sliceIndices([3, 2, 4], "complete", 2)).toEqual([[0, 3], [3, 5], [5, 9]]); // an oversize sentence is a block of its own
    // documents separated by an empty line (a sentence of just eos, length 1)
    expect(sliceIndices([3, 1, 2, 2], "complete_doc", 10)).toEqual([[0, 3], [4, 8]]);
    expect(sliceIndices([3, 2, 4], "eos", 0)).toEqual([[0, 3], [3, 5], [5, 9]]);
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
