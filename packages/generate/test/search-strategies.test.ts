/**
 * --diversity-rate (fairseq's DiverseSiblingsSearch) and --constraints (LexicallyConstrainedBeamSearch), one
 * step and whole searches worked out by hand on small log-prob tables.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { SequenceGenerator, type ConstraintState, type Hypothesis } from "../src/index.js";
import { siblingsStep, stripeCandidates, type Candidate } from "../src/search.js";
import { fixedModel } from "./fake-model.js";

const specials = { pad: 1, eos: 2, unk: 3 };
const L6 = Math.log(0.6);
const L3 = Math.log(0.3);
const L1 = Math.log(0.1);
/** Over 6 tokens (0 bos, 1 pad, 2 eos, 3 unk, 4, 5): p(4) = 0.6, p(5) = 0.3, p(eos) = 0.1 at every step. */
const model = () => fixedModel([-Infinity, -Infinity, L1, -Infinity, L6, L3]);
const src = () => tf.tensor2d([[4, 2]], [1, 2], "int32");
const lens = () => tf.tensor1d([2], "int32");
const view = (hs: Hypothesis[]) => hs.map((h) => ({ tokens: Array.from(h.tokens), score: h.score, pos: Array.from(h.positionalScores) }));

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

describe("--diversity-rate: DiverseSiblingsSearch", () => {
  // two hypotheses over 6 tokens; beam 2, so k = min(2·2, 2·6 - 1) = 4 siblings per hypothesis
  const lp = () =>
    tf.tensor2d([
      [-0.8, -5, -0.6, -6, -0.5, -0.7], // hypothesis 0 (cumulative -0.5): 4, 2, 5, 0 -> -1.0, -1.1, -1.2, -1.3
      [-5, -6, -4, -7, -2.0, -2.1], // hypothesis 1 (cumulative -1.0): 4, 5, 2, 0 -> -3.0, -3.1, -5.0, -6.0
    ]);
  const scores = [[-0.5], [-1.0]];

  it("one step by hand: each sibling loses rate x its rank, then the beam-wide top k", () => {
    const x = lp();
    const r = siblingsStep(x, 1, 1, 2, 1.0, scores);
    // rate 1: hypothesis 0 -> 4: -2.0, 2: -3.1, 5: -4.2, 0: -5.3; hypothesis 1 -> 4: -4.0, 5: -5.1, 2: -8.0, 0: -10.0
    expect(r.k).toBe(4);
    expect(Array.from(r.ci)).toEqual([0 * 6 + 4, 0 * 6 + 2, 1 * 6 + 4, 0 * 6 + 5]);
    [-2.0, -3.1, -4.0, -4.2].forEach((s, i) => expect(r.cs[i]).toBeCloseTo(s, 5));
    // rate 0: beam search's top 4, all continuations of hypothesis 0
    const r0 = siblingsStep(x, 1, 1, 2, 0, scores);
    expect(Array.from(r0.ci)).toEqual([4, 2, 5, 0]);
    [-1.0, -1.1, -1.2, -1.3].forEach((s, i) => expect(r0.cs[i]).toBeCloseTo(s, 5));
    x.dispose();
  });

  it("a whole search by hand: no penalty at step 0, the penalty stays in the scores", () => {
    const before = tf.memory().numTensors;
    const [s, l] = [src(), lens()];
    const out = new SequenceGenerator(model(), specials, 6, { beam: 2, nbest: 2, minLen: 2, maxLenB: 2, diversityRate: 0.5 }).generate(s, l);
    tf.dispose([s, l]);
    expect(tf.memory().numTensors).toBe(before);
    // step 0 (plain beam step, eos banned): 4 (L6), 5 (L3).
    // step 1 (eos banned): from 4: 4 4 = 2·L6 - .5, 4 5 = L6+L3 - 1; from 5: 5 4 = L3+L6 - .5, 5 5 = 2·L3 - 1
    //   -> 4 4 (-1.522) and 5 4 (-2.215); beam search would have a tie between 4 5 and 5 4 here.
    // step 2 = max length, only eos, the first sibling of each: -0.5 each.
    const R = 0.5;
    expect(view(out[0]!)).toEqual([
      { tokens: [4, 4, 2], score: expect.closeTo((2 * L6 + L1 - 2 * R) / 3, 5), pos: [L6, L6 - R, L1 - R].map((v) => expect.closeTo(v, 5)) },
      { tokens: [5, 4, 2], score: expect.closeTo((L3 + L6 + L1 - 2 * R) / 3, 5), pos: [L3, L6 - R, L1 - R].map((v) => expect.closeTo(v, 5)) },
    ]);
  });

  it("rate 0 is beam search; it chooses the strategy above -1 and excludes the others only above 0 (fairseq's build_generator)", () => {
    const [s, l] = [src(), lens()];
    const plain = new SequenceGenerator(model(), specials, 6, { beam: 2, nbest: 2, maxLenB: 4 }).generate(s, l);
    const zero = new SequenceGenerator(model(), specials, 6, { beam: 2, nbest: 2, maxLenB: 4, diversityRate: 0 }).generate(s, l);
    tf.dispose([s, l]);
    expect(view(zero[0]!)).toEqual(view(plain[0]!));
    expect(new SequenceGenerator(model(), specials, 6, { beam: 2, diversityRate: -0.5 }).strategy).toBe("siblings");
    expect(new SequenceGenerator(model(), specials, 6, { beam: 2, diversityRate: -1 }).strategy).toBe("beam");
    expect(new SequenceGenerator(model(), specials, 6, { diversityRate: 0, sampling: true }).strategy).toBe("sampling");
    expect(() => new SequenceGenerator(model(), specials, 6, { diversityRate: 0.5, sampling: true })).toThrow(
      /mutually exclusive: --sampling, --diversity-rate/,
    );
    expect(() => new SequenceGenerator(model(), specials, 6, { beam: 4, diversityRate: 0.5 })).toThrow(/beam 4 needs 8 symbols, the vocabulary has 6/);
  });
});

/** A stand-in constraint state whose bank after a token is given by `banks` (3 distinct constraint tokens). */
function bankState(banks: Map<number, number>): ConstraintState {
  const s: ConstraintState = {
    bank: 0,
    finished: false,
    numCompleted: 0,
    isRoot: true,
    tokens: new Set([100, 101, 102]),
    nextTokens: () => new Set(),
    advance: (t) => ({ ...s, bank: banks.get(t)! }),
  };
  return s;
}

describe("--constraints: LexicallyConstrainedBeamSearch", () => {
  it("stripes across banks as fairseq's comment shows (banks 3 3 3 2 2 2 2 1 1 1 0 0 -> 3 2 1 0 3 2 1 0 3 2 1 2)", () => {
    const banks = [3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 0, 0];
    // token i has bank banks[i] and score -i/10 (already in (bank, score) order); given in reverse, plus a duplicate
    const cands: Candidate[] = banks.map((_, i) => ({ score: -i / 10, token: i, beam: 0 })).reverse();
    cands.push({ score: -0.5, token: 5, beam: 0 });
    const r = stripeCandidates(cands, [bankState(new Map(banks.map((b, i) => [i, b])))], 12);
    expect(r.candidates.map((c) => banks[c.token])).toEqual([3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 2]);
    expect(r.candidates.map((c) => c.token)).toEqual([0, 3, 7, 10, 1, 4, 8, 11, 2, 5, 9, 6]);
    expect(r.states.map((s) => s.bank)).toEqual([3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 2]);
    expect(stripeCandidates(cands, [bankState(new Map(banks.map((b, i) => [i, b])))], 5).candidates.map((c) => c.token)).toEqual([0, 3, 7, 10, 1]);
  });

  it("sorts by fairseq's key (distinct tokens - bank) x -100 + score: a score below -100 leaves its bank's block", () => {
    // 3 distinct tokens; keys: A (bank 3, -150) -150, B (bank 2, -10) -110, C (bank 2, -20) -120, D (bank 1, -1) -201
    const banks = new Map([
      [1, 3],
      [2, 2],
      [3, 2],
      [4, 1],
    ]);
    const cands: Candidate[] = [
      { score: -150, token: 1, beam: 0 },
      { score: -10, token: 2, beam: 0 },
      { score: -20, token: 3, beam: 0 },
      { score: -1, token: 4, beam: 0 },
    ];
    // sorted B C A D; stripes B 3-2 = 1, C 1 + 1·5 = 6, A 3-3 = 0, D 3-1 = 2 -> A B D C
    expect(stripeCandidates(cands, [bankState(banks)], 4).candidates.map((c) => c.token)).toEqual([1, 2, 4, 3]);
  });

  it("a whole search by hand: beam 1 must contain the unlikely token 5", () => {
    const before = tf.memory().numTensors;
    const [s, l] = [src(), lens()];
    const gen = new SequenceGenerator(model(), specials, 6, { beam: 1, maxLenB: 3, constraints: "unordered" });
    const out = gen.generate(s, l, null, [[[5]]]);
    const plain = new SequenceGenerator(model(), specials, 6, { beam: 1, maxLenB: 3 }).generate(s, l);
    tf.dispose([s, l]);
    expect(tf.memory().numTensors).toBe(before);
    // step 0: candidates 4 (L6, bank 0), 5 (L3, bank 1) and the constraint's 5 again: bank 1 first -> 5.
    // step 1: constraints met, eos allowed; 5 4 (L3+L6) and 5 5 beat 5 eos (L3+L1): 4. step 2: 4 again. step 3 = max: eos.
    expect(view(out[0]!)).toEqual([
      { tokens: [5, 4, 4, 2], score: expect.closeTo((L3 + 2 * L6 + L1) / 4, 5), pos: [L3, L6, L6, L1].map((v) => expect.closeTo(v, 5)) },
    ]);
    expect(view(plain[0]!)[0]!.tokens).toEqual([4, 4, 4, 2]);
  });

  it("refusals: constraints without the option, another strategy, a sentence that cannot meet them (no tensor left behind)", () => {
    const [s, l] = [src(), lens()];
    const before = tf.memory().numTensors;
    expect(() => new SequenceGenerator(model(), specials, 6, { beam: 1 }).generate(s, l, null, [[[5]]])).toThrow(/without the constraints option/);
    expect(() => new SequenceGenerator(model(), specials, 6, { constraints: "ordered", sampling: true })).toThrow(
      /--constraints: the search strategy that --sampling chooses does not support constraints/,
    );
    expect(() => new SequenceGenerator(model(), specials, 6, { constraints: "ordered", diversityRate: 0 })).toThrow(/--diversity-rate chooses/);
    const gen = new SequenceGenerator(model(), specials, 6, { beam: 1, maxLenB: 2, constraints: "ordered" });
    expect(() => gen.generate(s, l, null, [[[5, 5, 5]]])).toThrow(/no hypothesis of batch row 0 contains all its constraints within the maximum length 2/);
    expect(() => gen.generate(s, l, null, [[[5], []]])).toThrow(/constraints of batch row 0: constraint 2 is empty/);
    expect(() => gen.generate(s, l, null, [[], []])).toThrow(/2 rows for a batch of 1/);
    // prefix tokens for the wrong number of rows: refused before the encoder runs (its output used to be left behind)
    expect(() => new SequenceGenerator(model(), specials, 6, { beam: 1 }).generate(s, l, [new Int32Array([4]), new Int32Array([4])])).toThrow(
      /prefix tokens: 2 rows for a batch of 1/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([s, l]);
  });

  it("prefix tokens are forced (fairseq's --prefix-size), with no tensor left behind", () => {
    const [s, l] = [src(), lens()];
    const gen = new SequenceGenerator(model(), specials, 6, { beam: 2, maxLenB: 3 });
    gen.generate(s, l, [new Int32Array([5, 5])]); // warm-up: kernels may cache tensors on first use
    const before = tf.memory().numTensors;
    const out = gen.generate(s, l, [new Int32Array([5, 5])]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([s, l]);
    // the model prefers 4 (0.6) over 5 (0.3); the prefix forces 5 5, then 4 and the length limit's eos
    expect(Array.from(out[0]![0]!.tokens)).toEqual([5, 5, 4, 2]);
  });
});
