import { describe, expect, it } from "vitest";
import { BleuScorer } from "../src/index.js";

describe("BleuScorer counts n-grams as fairseq's libbleu does (by its hash)", () => {
  it("libbleu's hash reads bytes as signed chars: [9, 6] and [241, 254] collide, and the collision is a bigram match", () => {
    // the collision, worked out with 64-bit FNV-1a over sign-extended bytes (libbleu.cpp's bleu_hash)
    const M = 2n ** 64n;
    const hash = (ids: number[]) => {
      let h = 14695981039346656037n;
      for (const id of ids)
        for (let k = 0; k < 4; k++) {
          const b = (id >>> (8 * k)) & 0xff;
          h = ((h ^ (BigInt(b >= 128 ? b - 256 : b) & (M - 1n))) * 0x100000001b3n) % M;
        }
      return h;
    };
    expect(hash([9, 6])).toBe(hash([241, 254]));
    expect(hash([9, 6])).not.toBe(hash([9, 7]));
    const s = new BleuScorer(1, 2, 3);
    s.add(Int32Array.of(241, 254, 2), Int32Array.of(9, 6, 2));
    // unigrams differ (no match); the bigram matches through the collision, as in fairseq's BLEU lines
    expect(s.stat.match).toEqual([0, 1, 0, 0]);
    expect(s.stat.count).toEqual([2, 1, 0, 0]);
  });

  it("equal n-grams match (with clipping); an unknown word in the reference never matches", () => {
    const s = new BleuScorer(1, 2, 3);
    s.add(Int32Array.of(4, 5, 4, 5, 2), Int32Array.of(4, 5, 4, 5, 4, 5, 2));
    expect(s.stat.match).toEqual([4, 3, 2, 1]);
    expect(s.stat.count).toEqual([6, 5, 4, 3]);
    const u = new BleuScorer(1, 2, 3);
    u.add(Int32Array.of(3, 5, 2), Int32Array.of(3, 5, 2));
    expect(u.stat.match).toEqual([1, 0, 0, 0]);
    // ids of every byte size hash consistently: a long n-gram of large ids matches itself
    const big = new BleuScorer(1, 2, 3);
    big.add(Int32Array.of(70000, 300, 128, 255, 2), Int32Array.of(70000, 300, 128, 255, 2));
    expect(big.stat.match).toEqual([4, 3, 2, 1]);
  });
});
