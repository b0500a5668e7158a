import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { EncoderDecoderModel } from "@fairseq-ts/models";
import { SequenceGenerator } from "../src/index.js";
import { fakeModel } from "./fake-model.js";

/**
 * A fake model over 6 tokens (0 bos, 1 pad, 2 eos, 3 unk, 4, 5) whose log-probs hold a NaN for token 4
 * in the rows listed in `nanRows` (the model's log-probs, as a broken model would give them), and
 * otherwise p(4) = 0.6, p(5) = 0.3, p(eos) = 0.1.
 */
function nanModel(nanRows: Set<number>): EncoderDecoderModel {
  const logp = [-Infinity, -Infinity, Math.log(0.1), -Infinity, Math.log(0.6), Math.log(0.3)];
  return fakeModel((rows) => {
    const v = new Float32Array(rows * 6);
    for (let r = 0; r < rows; r++) {
      v.set(logp, r * 6);
      if (nanRows.has(r)) v[r * 6 + 4] = NaN;
    }
    return tf.tensor3d(v, [rows, 1, 6]);
  });
}

describe("NaN log-probs (fairseq: lprobs[lprobs != lprobs] = -inf)", () => {
  for (const backend of ["cpu", "wasm"] as const) {
    it(`on ${backend}: a NaN token is never chosen; rows without NaN are unaffected`, async () => {
      await initBackend({ backend, log: null });
      const specials = { pad: 1, eos: 2, unk: 3 };
      const src = tf.tensor2d(
        [
          [4, 2],
          [5, 2],
        ],
        [2, 2],
        "int32",
      );
      const lens = tf.tensor1d([2, 2], "int32");
      // beam 1: row 0 is sentence 0 (NaN at token 4), row 1 is sentence 1 (clean)
      const before = tf.memory().numTensors;
      const out = new SequenceGenerator(nanModel(new Set([0])), specials, 6, { beam: 1, minLen: 3, maxLenB: 3 }).generate(src, lens);
      expect(tf.memory().numTensors).toBe(before);
      // sentence 0: token 4 is -inf, so 5 (log 0.3) wins each step until max length forces eos
      expect(Array.from(out[0]![0]!.tokens)).toEqual([5, 5, 5, 2]);
      expect(out[0]![0]!.positionalScores[0]).toBeCloseTo(Math.log(0.3), 5);
      expect(Number.isNaN(out[0]![0]!.score)).toBe(false);
      // sentence 1: the most likely token, 4
      expect(Array.from(out[1]![0]!.tokens)).toEqual([4, 4, 4, 2]);
      tf.dispose([src, lens]);
    });
  }
});
