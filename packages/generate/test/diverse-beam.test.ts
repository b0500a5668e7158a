import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { SequenceGenerator } from "../src/index.js";
import { fixedModel } from "./fake-model.js";

/** Over 6 tokens (0 bos, 1 pad, 2 eos, 3 unk, 4, 5): p(4) = 0.6, p(5) = 0.3, p(eos) = 0.1 at every step. */
const model = () => fixedModel([-Infinity, -Infinity, Math.log(0.1), -Infinity, Math.log(0.6), Math.log(0.3)]);

const specials = { pad: 1, eos: 2, unk: 3 };
const L6 = Math.log(0.6);
const L1 = Math.log(0.1);

describe("diverse beam search (fairseq's DiverseBeamSearch, Hamming penalty)", () => {
  it("hand-computed: beam 2 in 2 groups, strength 0.5, two steps then forced eos", async () => {
    await initBackend({ backend: "cpu", log: null });
    const src = tf.tensor2d([[4, 2]], [1, 2], "int32");
    const lens = tf.tensor1d([2], "int32");
    const before = tf.memory().numTensors;
    const out = new SequenceGenerator(model(), specials, 6, {
      beam: 2,
      nbest: 2,
      minLen: 2,
      maxLenB: 2,
      diverseBeamGroups: 2,
      diverseBeamStrength: 0.5,
    }).generate(src, lens);
    expect(tf.memory().numTensors).toBe(before);
    // step 0 (eos banned by min-len 2): group 0 (beam 0) takes 4 (L6) and 5 (L3); group 1 (beam 1) pays 0.5
    // for each: 4 (L6 - .5), 5 (L3 - .5). Interleaved: [4 g0, 4 g1, 5 g0, 5 g1] -> beams: 4 (L6), 4 (L6 - .5).
    // step 1 (eos banned): group 0 from beam 0: 4,4 (2·L6), 4,5 (L6+L3); group 1 from beam 1 pays 0.5 for
    // 4 and for 5: 4,4 (2·L6 - 1), 4,5 (L6+L3 - 1) -> beams 4 4 (2·L6) and 4 4 (2·L6 - 1).
    // step 2 = max length: only eos: finals 4 4 eos with 2·L6+L1 (group 0), and group 1: 2·L6-1+L1 -0 (eos
    // chosen by group 0 once: penalty 0.5) -> 2·L6 - 1.5 + L1. Scores are normalised by length 3.
    const hyps = out[0]!;
    expect(hyps.map((h) => Array.from(h.tokens))).toEqual([
      [4, 4, 2],
      [4, 4, 2],
    ]);
    expect(hyps[0]!.score).toBeCloseTo((2 * L6 + L1) / 3, 5);
    expect(hyps[1]!.score).toBeCloseTo((2 * L6 - 1.5 + L1) / 3, 5);
    expect(Array.from(hyps[1]!.positionalScores).map((x) => Number(x.toFixed(5)))).toEqual([L6 - 0.5, L6 - 0.5, L1 - 0.5].map((x) => Number(x.toFixed(5))));
    tf.dispose([src, lens]);
  });

  it("groups must divide the beam (fairseq's error); 1 group is plain beam search", async () => {
    await initBackend({ backend: "cpu", log: null });
    expect(() => new SequenceGenerator(model(), specials, 6, { beam: 3, diverseBeamGroups: 2 })).toThrow(/--diverse-beam-groups 2.*divisible/);
    const src = tf.tensor2d([[4, 2]], [1, 2], "int32");
    const lens = tf.tensor1d([2], "int32");
    const a = new SequenceGenerator(model(), specials, 6, { beam: 4, nbest: 4, maxLenB: 3, diverseBeamGroups: 1 }).generate(src, lens);
    const b = new SequenceGenerator(model(), specials, 6, { beam: 4, nbest: 4, maxLenB: 3 }).generate(src, lens);
    expect(a[0]!.map((h) => [Array.from(h.tokens), h.score])).toEqual(b[0]!.map((h) => [Array.from(h.tokens), h.score]));
    tf.dispose([src, lens]);
  });
});
