import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dictionary } from "@fairseq-ts/dictionary";
import {
  MMapIndexedDataset,
  NoisingDataset,
  RandomState,
  UnsupervisedMTNoising,
  WordDropout,
  WordNoising,
  WordShuffle,
  fromNoisingBatch,
  toNoisingBatch,
  type NoisingVocab,
} from "../src/index.js";
import { REF_BIN, SHARED } from "./shared.js";

interface NoisingRef {
  seed: number;
  kwargs: { max_word_shuffle_distance: number; word_dropout_prob: number; word_blanking_prob: number };
  items: { id: number; input: number[]; noised: number[] }[];
}

describe("NoisingDataset + UnsupervisedMTNoising (fairseq's noising-public.json)", () => {
  it("reproduces all 60 noised items of Multi30k valid (de) id for id", async () => {
    const ref = JSON.parse(readFileSync(join(SHARED, "reference/fairseq/denoising/noising-public.json"), "utf8")) as NoisingRef;
    const dict = await Dictionary.load(join(REF_BIN, "dict.de.txt"));
    const src = MMapIndexedDataset.open(join(REF_BIN, "valid.de-en.de"));
    const ds = new NoisingDataset(src, dict, ref.seed, {
      maxWordShuffleDistance: ref.kwargs.max_word_shuffle_distance,
      wordDropoutProb: ref.kwargs.word_dropout_prob,
      wordBlankingProb: ref.kwargs.word_blanking_prob,
    });
    expect(ref.items.length).toBe(60);
    for (const item of ref.items) {
      expect(Array.from(src.get(item.id)), `input ${item.id}`).toEqual(item.input);
      expect(Array.from(ds.get(item.id)), `noised ${item.id}`).toEqual(item.noised);
    }
  });
});

// A toy vocabulary with BPE pieces ("fä@@ hrt" is one word, "hu@@ n@@ d" another).
const SYMBOLS = ["<s>", "<pad>", "</s>", "<unk>", "ein", "mann", "fä@@", "hrt", "rad", "hu@@", "n@@", "d", ".", "im", "park"];
const vocab: NoisingVocab = { symbols: SYMBOLS, eos: () => 2, pad: () => 1, unk: () => 3 };
const S1 = [4, 5, 6, 7, 8, 12, 2];
const S2 = [9, 10, 11, 13, 14, 12, 6, 7, 2];

describe("word noisers on a padded batch of two (expectations from fairseq v0.10.2's noising.py run with numpy 1.24 / torch 1.13)", () => {
  it("groups BPE pieces into words (fairseq's docstring example and the end-marker variant)", () => {
    const how = { symbols: ["how", "are", "y@@", "ou"], eos: () => 99, pad: () => 98, unk: () => 97 };
    const batch = toNoisingBatch([[0, 1, 2, 3]], 98);
    expect(Array.from(new WordNoising(how).wordIndex(batch)[0]!)).toEqual([0, 1, 2, 2]);
    const endMarked = { symbols: ["how</w>", "are</w>", "y", "ou</w>"], eos: () => 99, pad: () => 98, unk: () => 97 };
    expect(Array.from(new WordNoising(endMarked, { bpeContMarker: null, bpeEndMarker: "</w>" }).wordIndex(batch)[0]!)).toEqual([0, 1, 2, 2]);
    expect(Array.from(new WordNoising(how, { bpeContMarker: "" }).wordIndex(batch)[0]!)).toEqual([0, 1, 2, 3]);
  });

  it("UnsupervisedMTNoising: np.random.seed(5), (3, 0.25, 0.3)", () => {
    const out = new UnsupervisedMTNoising(vocab, { maxWordShuffleDistance: 3, wordDropoutProb: 0.25, wordBlankingProb: 0.3 }).noising(
      new RandomState(5),
      toNoisingBatch([S1, S2], 1),
    );
    expect(fromNoisingBatch(out).map((s) => Array.from(s))).toEqual([
      [3, 3, 6, 7, 12, 3, 2],
      [14, 3, 2],
    ]);
  });

  it("WordShuffle keeps BPE words together: np.random.seed(11), k = 3", () => {
    const out = new WordShuffle(vocab).noising(new RandomState(11), toNoisingBatch([S1, S2], 1), 3);
    expect(fromNoisingBatch(out).map((s) => Array.from(s))).toEqual([
      [4, 5, 8, 6, 7, 12, 2],
      [9, 10, 11, 13, 14, 12, 6, 7, 2],
    ]);
  });

  it("WordDropout drops, or blanks to <unk>, whole words: np.random.seed(0), p = 0.5", () => {
    const drop = new WordDropout(vocab).noising(new RandomState(0), toNoisingBatch([S1, S2], 1), 0.5);
    expect(fromNoisingBatch(drop).map((s) => Array.from(s))).toEqual([
      [4, 5, 6, 7, 8, 2],
      [9, 10, 11, 13, 12, 6, 7, 2],
    ]);
    const blank = new WordDropout(vocab).noising(new RandomState(0), toNoisingBatch([S1, S2], 1), 0.5, 3);
    expect(fromNoisingBatch(blank).map((s) => Array.from(s))).toEqual([
      [4, 5, 6, 7, 8, 3, 2],
      [9, 10, 11, 13, 3, 12, 6, 7, 2],
    ]);
  });

  it("WordDropout refills a sentence left with only </s> from a random input token (np.random.seed(3), p = 0.9)", () => {
    const out = new WordDropout(vocab).noising(new RandomState(3), toNoisingBatch([[4, 2]], 1), 0.9);
    expect(fromNoisingBatch(out).map((s) => Array.from(s))).toEqual([[2, 2]]);
  });

  it("rejects probabilities and distances fairseq asserts against", () => {
    const batch = toNoisingBatch([S1], 1);
    expect(() => new WordDropout(vocab).noising(new RandomState(0), batch, 1)).toThrow(/dropout probability/);
    expect(() => new WordShuffle(vocab).noising(new RandomState(0), batch, 1)).toThrow(/shuffle distance/);
    expect(new WordShuffle(vocab).noising(new RandomState(0), batch, 0)).toBe(batch);
  });
});
