import { describe, expect, it } from "vitest";
import { DenoisingDataset, DenoisingError, TorchGenerator, wholeWordMask, type DenoisingOptions } from "../src/index.js";

// Three small documents over a 40-symbol vocabulary (<mask> = 39). For the whole-word cases ids 5..38 that are odd
// continue the previous word. Expected sources: fairseq v0.10.2's denoising_dataset.py run with Debian's PyTorch
// 1.13.1 and numpy 1.24.2 (the reference's build): torch.manual_seed(seed) once, DenoisingDataset(..., seed=seed),
// set_epoch(2), then ds[0], ds[1], ds[2] in order (numpy draws per item from numpy_seed(seed, 2, index)).
const DOCS = [
  [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 2],
  [0, 21, 22, 2, 23, 24, 25, 2, 26, 27, 2, 28, 29, 30, 31, 2],
  [0, 32, 33, 34, 35, 36, 37, 38, 5, 6, 7, 2],
];
const V = 40;
const MASK = 39;
const SYMBOLS = Array.from({ length: V }, (_, i) => (i < 4 ? ["<s>", "<pad>", "</s>", "<unk>"][i]! : `w${i}`));
const vocab = { length: V, bos: () => 0, eos: () => 2, pad: () => 1, index: () => 3 };
const docs = { length: DOCS.length, sizes: Int32Array.from(DOCS, (d) => d.length), get: (i: number) => Int32Array.from(DOCS[i]!) };
const BASE: DenoisingOptions = {
  mask: 0,
  maskRandom: 0,
  insert: 0,
  rotate: 0,
  permuteSentences: 0,
  replaceLength: 1,
  maskLength: "span-poisson",
  poissonLambda: 3.0,
};

function build(flags: Partial<DenoisingOptions>, wholeWords: boolean, seed: number): DenoisingDataset {
  const ww = wholeWords ? wholeWordMask(SYMBOLS, 4, (t) => Number(t.slice(1)) % 2 === 0) : null;
  const ds = new DenoisingDataset(docs, docs.sizes, vocab, MASK, ww, false, seed, { ...BASE, ...flags }, new TorchGenerator(seed));
  ds.setEpoch(2);
  return ds;
}

const CASES: { name: string; flags: Partial<DenoisingOptions>; wholeWords: boolean; seed: number; want: number[][] }[] = [
  {
    name: "insert",
    flags: { insert: 0.2, maskRandom: 0.5 },
    wholeWords: false,
    seed: 7,
    want: [
      [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 39, 14, 15, 39, 16, 17, 25, 18, 7, 19, 20, 2],
      [0, 21, 22, 2, 23, 12, 24, 25, 2, 26, 39, 3, 27, 2, 28, 29, 30, 39, 31, 2],
      [0, 32, 33, 34, 35, 36, 37, 7, 38, 5, 6, 36, 7, 39, 2],
    ],
  },
  {
    name: "rotate",
    flags: { rotate: 1.0 },
    wholeWords: false,
    seed: 5,
    want: [
      [0, 14, 15, 16, 17, 18, 19, 20, 5, 6, 7, 8, 9, 10, 11, 12, 13, 2],
      [0, 26, 27, 2, 28, 29, 30, 31, 21, 22, 2, 23, 24, 25, 2, 2],
      [0, 32, 33, 34, 35, 36, 37, 38, 5, 6, 7, 2],
    ],
  },
  {
    name: "permute_sentences",
    flags: { permuteSentences: 1.0 },
    wholeWords: false,
    seed: 3,
    want: [
      [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 2],
      [0, 26, 27, 2, 28, 29, 30, 31, 21, 22, 2, 23, 24, 25, 2, 2],
      [0, 32, 33, 34, 35, 36, 37, 38, 5, 6, 7, 2],
    ],
  },
  {
    name: "replace0",
    flags: { mask: 0.4, replaceLength: 0 },
    wholeWords: false,
    seed: 11,
    want: [
      [0, 12, 13, 14, 15, 16, 17, 18, 19, 20, 2],
      [0, 21, 26, 27, 2, 28, 29, 30, 31, 2],
      [0, 32, 33, 35, 36, 37, 7, 2],
    ],
  },
  {
    name: "replace-1",
    flags: { mask: 0.4, maskRandom: 0.3, replaceLength: -1 },
    wholeWords: false,
    seed: 11,
    want: [
      [0, 39, 39, 39, 39, 39, 39, 7, 12, 13, 14, 15, 16, 17, 18, 19, 20, 2],
      [0, 39, 39, 39, 39, 24, 39, 39, 26, 27, 2, 28, 29, 30, 31, 2],
      [0, 32, 33, 34, 35, 36, 39, 38, 5, 6, 39, 2],
    ],
  },
  {
    name: "word",
    flags: { mask: 0.5, maskLength: "word", replaceLength: -1, maskRandom: 0.2 },
    wholeWords: true,
    seed: 2,
    want: [
      [0, 5, 5, 23, 8, 9, 39, 39, 12, 13, 39, 39, 16, 17, 18, 19, 15, 2],
      [0, 21, 39, 2, 23, 39, 39, 39, 26, 27, 39, 28, 29, 30, 31, 2],
      [0, 39, 39, 36, 28, 15, 39, 38, 5, 6, 7, 2],
    ],
  },
  {
    name: "word_span",
    flags: { mask: 0.5, maskLength: "span-poisson", replaceLength: 1, poissonLambda: 2.0 },
    wholeWords: true,
    seed: 4,
    want: [
      [0, 5, 6, 7, 39, 14, 15, 16, 17, 18, 19, 20, 2],
      [0, 21, 22, 2, 23, 24, 25, 2, 39, 30, 31, 2],
      [0, 32, 33, 34, 35, 39, 2],
    ],
  },
  {
    name: "subword",
    flags: { mask: 0.3, maskLength: "subword", replaceLength: 1, maskRandom: 0.5 },
    wholeWords: false,
    seed: 9,
    want: [
      [0, 39, 7, 7, 39, 9, 10, 7, 12, 13, 14, 15, 16, 17, 18, 14, 20, 2],
      [0, 21, 22, 2, 23, 24, 25, 39, 26, 24, 2, 20, 39, 30, 39, 2],
      [0, 32, 33, 39, 35, 36, 39, 38, 5, 6, 39, 2],
    ],
  },
  {
    name: "zero_spans",
    flags: { mask: 0.3, poissonLambda: 0.4, maskRandom: 0.5 },
    wholeWords: false,
    seed: 6,
    want: [
      [0, 38, 5, 39, 11, 23, 7, 8, 39, 10, 12, 26, 39, 2, 39, 14, 15, 16, 17, 18, 19, 20, 2],
      [0, 21, 22, 2, 39, 39, 39, 9, 39, 16, 2, 26, 27, 2, 16, 39, 30, 31, 39, 2],
      [0, 2, 32, 39, 34, 39, 35, 39, 37, 38, 5, 6, 17, 2],
    ],
  },
  {
    name: "all",
    flags: { mask: 0.3, maskRandom: 0.1, insert: 0.1, rotate: 0.5, permuteSentences: 0.5, poissonLambda: 3.5 },
    wholeWords: false,
    seed: 1,
    want: [
      [0, 39, 39, 6, 7, 8, 9, 39, 10, 11, 12, 13, 14, 39, 17, 33, 18, 2],
      [0, 21, 39, 31, 26, 27, 2, 39, 23, 7, 24, 25, 2, 2],
      [0, 39, 35, 36, 37, 38, 25, 5, 6, 7, 2],
    ],
  },
];

describe("DenoisingDataset on flags the reference does not cover (fairseq's own outputs)", () => {
  for (const c of CASES) {
    it(`${c.name}: ${JSON.stringify(c.flags)}, seed ${c.seed}`, () => {
      const ds = build(c.flags, c.wholeWords, c.seed);
      expect([0, 1, 2].map((i) => Array.from(ds.get(i).source))).toEqual(c.want);
      // the target is the document itself
      expect(Array.from(ds.get(1).target)).toEqual(DOCS[1]);
    });
  }
});

describe("DenoisingDataset by hand", () => {
  it("rotation moves the text between <s> and </s> by numpy's randint(1, len - 1 + 1): an offset in [1, len - 1]", () => {
    const ds = build({}, false, 1);
    // offset 3: <s> | w7 w8 ... w20 | w5 w6 | </s>
    const rs = { randint: (lo: number, hi: number) => (expect([lo, hi]).toEqual([1, 18]), 3) };
    expect(Array.from(ds.addRollingNoise(Int32Array.from(DOCS[0]!), rs as never))).toEqual([0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 5, 6, 2]);
  });

  it("whole-word masks: a BPE's word starts, specials and madeupword always begin words", () => {
    const m = wholeWordMask(["<s>", "<pad>", "</s>", "<unk>", "\u2581the", "re", "madeupword0000"], 4, (t) => t.startsWith("\u2581"));
    expect(Array.from(m)).toEqual([1, 1, 1, 1, 1, 0, 1]);
  });

  it("collates like fairseq's denoising collater: sorted by source length, </s> moved to the front of prev_output_tokens", () => {
    const ds = build({ mask: 0.4, replaceLength: 0 }, false, 11);
    const items = [0, 1, 2].map((i) => ds.get(i));
    const b = ds.collater(items)!;
    // sources of lengths 11, 10, 8 (replace0 above): already in descending order
    expect(Array.from(b.id)).toEqual([0, 1, 2]);
    expect(Array.from(b.netInput.srcLengths)).toEqual([11, 10, 8]);
    expect(b.ntokens).toBe(18 + 16 + 12);
    expect(b.nsentences).toBe(11); // fairseq reports samples[0]["source"].size(0)
    const prev = b.netInput.prevOutputTokens!;
    expect(Array.from(prev.data.subarray(prev.cols, prev.cols + 16))).toEqual([2, ...DOCS[1]!.slice(0, -1)]);
    expect(Array.from(b.target!.data.subarray(2 * b.target!.cols, 2 * b.target!.cols + 14))).toEqual([...DOCS[2]!, 1, 1, 1, 1, 1, 1].slice(0, 14));
    expect(ds.collater([])).toBeNull();
  });

  it("refuses fairseq's invalid combinations with the flag's name", () => {
    expect(() => build({ replaceLength: 2 }, false, 1)).toThrow(DenoisingError);
    expect(() => build({ maskLength: "subword", replaceLength: -1 }, false, 1)).toThrow(/--replace-length/);
    expect(() => build({ maskLength: "span-poisson", poissonLambda: -1 }, false, 1)).toThrow(/--poisson-lambda/);
  });
});
