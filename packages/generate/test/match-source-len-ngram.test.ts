import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { SequenceGenerator } from "../src/index.js";
import { fakeModel, fixedModel } from "./fake-model.js";

// Vocabulary of the fake models: 0 bos, 1 pad, 2 eos, 3 unk, 4 and 5 (words).
const specials = { pad: 1, eos: 2, unk: 3 };
const V = 6;
const EOS = 2;

/** Log-probs over the 6 symbols from probabilities of 4, 5 and eos (bos and unk get -1e9; pad is masked anyway). */
function logp(p4: number, p5: number, pEos: number): number[] {
  return [-1e9, -1e9, Math.log(pEos), -1e9, Math.log(p4), Math.log(p5)];
}

/** A model whose distribution depends only on the step (the same for every row): call i of the decoder is step i. */
function perStepModel(steps: number[][]): ReturnType<typeof fakeModel> {
  let call = 0;
  return fakeModel((rows) => {
    const lp = steps[Math.min(call++, steps.length - 1)]!;
    return tf.tile(tf.reshape(tf.tensor1d(lp), [1, 1, V]), [rows, 1, 1]) as tf.Tensor3D;
  });
}

const f32 = (x: number) => Math.fround(x);
/** The cumulative score of a path as the generator adds it: float32 sums of float32 log-probs. */
const cum = (...ps: number[]) => ps.reduce((s, p) => f32(s + f32(Math.log(p))), 0);

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

describe("--match-source-len (fairseq v0.10.2: max_len = longest source, LengthConstrainedBeamSearch(1, 0, 1, 0))", () => {
  // Step distributions (p(4), p(5), p(eos)): step 0 (.5, .3, .2), step 1 (.6, .1, .3), step 2 (.9, .05, .05), step 3 (.7, .2, .1).
  const steps = [logp(0.5, 0.3, 0.2), logp(0.6, 0.1, 0.3), logp(0.9, 0.05, 0.05), logp(0.7, 0.2, 0.1)];
  // Two sentences in one batch (left-padded): A has 2 source tokens, B has 3; eos and pad do not count.
  // max_len = 3 (the longest source), so the batch runs steps 0..3.
  const src = () =>
    tf.tensor2d(
      [
        [1, 4, 4, 2],
        [4, 4, 4, 2],
      ],
      [2, 4],
      "int32",
    );
  const lens = () => tf.tensor1d([3, 4], "int32");

  it("bans eos before the source length, sets its log-prob to 0 at it, and scores longer hypotheses -inf (hand-worked, beam 2)", () => {
    const gen = new SequenceGenerator(perStepModel(steps), specials, V, { beam: 2, nbest: 2, matchSourceLen: true });
    const [a, b] = gen.generate(src(), lens());
    // Sentence A (source length 2):
    //  step 0: eos banned (0 < 2); row 0 only: [4] .5, [5] .3 continue.
    //  step 1: eos banned; [4 4] .30, [5 4] .18 beat [4 5] .05, [5 5] .03.
    //  step 2 = source length: eos's log-prob becomes 0 (not log .05), so candidates are
    //    [4 4 eos] .30, [4 4 4] .27, [5 4 eos] .18, [5 4 4] .162; of the top 2, [4 4 eos] finalizes (score ln .30 / 3,
    //    its eos's positional score 0) and [4 4 4] continues with [5 4 4] (the eos at rank 3 is not active).
    //  step 3 = max_len: only eos, log-prob 0: [4 4 4 eos] and [5 4 4 eos] finish, but step 3 > 2, so their score is
    //    -inf; only the first fits (A needs 2 hypotheses in all).
    expect(a!.map((h) => Array.from(h.tokens))).toEqual([
      [4, 4, EOS],
      [4, 4, 4, EOS],
    ]);
    expect(a![0]!.score).toBeCloseTo(cum(0.5, 0.6) / 3, 5);
    expect(a![1]!.score).toBe(-Infinity);
    expect(Array.from(a![0]!.positionalScores)).toEqual([f32(Math.log(0.5)), cum(0.5, 0.6) - f32(Math.log(0.5)), 0]);
    expect(a![1]!.positionalScores[3]).toBe(0);
    expect(a![1]!.positionalScores[2]).toBeCloseTo(Math.log(0.9), 5);
    // Sentence B (source length 3): eos is banned at steps 0-2 (its .3 at step 1 would otherwise have finished [4 eos]);
    //  step 2: [4 4 4] .27, [5 4 4] .162 continue; step 3: both end with eos at log-prob 0: scores ln .27 / 4, ln .162 / 4.
    expect(b!.map((h) => Array.from(h.tokens))).toEqual([
      [4, 4, 4, EOS],
      [5, 4, 4, EOS],
    ]);
    expect(b![0]!.score).toBeCloseTo(cum(0.5, 0.6, 0.9) / 4, 5);
    expect(b![1]!.score).toBeCloseTo(cum(0.3, 0.6, 0.9) / 4, 5);
    for (const h of b!) expect(h.positionalScores[3]).toBe(0);
  });

  it("with beam 1 every hypothesis has exactly the source length and its eos scores 0, whatever the model's eos probability", () => {
    // p(eos) = .9 at every step: without the flag, greedy search stops as soon as --min-len 1 lets it ([4 eos]).
    const model = () => fixedModel(logp(0.06, 0.04, 0.9));
    const plain = new SequenceGenerator(model(), specials, V, { beam: 1 }).generate(src(), lens());
    expect(plain.map((hs) => Array.from(hs[0]!.tokens))).toEqual([
      [4, EOS],
      [4, EOS],
    ]);
    const matched = new SequenceGenerator(model(), specials, V, { beam: 1, matchSourceLen: true }).generate(src(), lens());
    expect(matched.map((hs) => Array.from(hs[0]!.tokens))).toEqual([
      [4, 4, EOS],
      [4, 4, 4, EOS],
    ]);
    // score: (2 or 3) × ln .06 + 0, divided by the length with eos (lenpen 1)
    expect(matched[0]![0]!.score).toBeCloseTo(cum(0.06, 0.06) / 3, 5);
    expect(matched[1]![0]!.score).toBeCloseTo(cum(0.06, 0.06, 0.06) / 4, 5);
    expect(matched.map((hs) => hs[0]!.positionalScores.at(-1))).toEqual([0, 0]);
  });

  it("is one of fairseq's search strategies: refused together with sampling or diverse beam search", () => {
    const make = (o: ConstructorParameters<typeof SequenceGenerator>[3]) => () => new SequenceGenerator(fixedModel(logp(0.5, 0.3, 0.2)), specials, V, o);
    expect(make({ matchSourceLen: true, sampling: true })).toThrow("Provided Search parameters are mutually exclusive: --sampling, --match-source-len");
    expect(make({ beam: 2, matchSourceLen: true, diverseBeamGroups: 2 })).toThrow(
      "Provided Search parameters are mutually exclusive: --diverse-beam-groups, --match-source-len",
    );
    expect(make({ beam: 2, sampling: true, diverseBeamGroups: 2 })).toThrow(
      "Provided Search parameters are mutually exclusive: --sampling, --diverse-beam-groups",
    );
  });
});

describe("--no-repeat-ngram-size (fairseq v0.10.2's _no_repeat_ngram)", () => {
  // p(4) = .6, p(5) = .3, p(eos) = .1 at every step; greedy (beam 1: 2 candidates per step, only the first may finish).
  const model = () => fixedModel(logp(0.6, 0.3, 0.1));
  const src = () => tf.tensor2d([[4, 2]], [1, 2], "int32");
  const lens = () => tf.tensor1d([2], "int32");

  it("without it, greedy search repeats 4 up to max length", () => {
    const h = new SequenceGenerator(model(), specials, V, { beam: 1, maxLenB: 5 }).generate(src(), lens())[0]![0]!;
    expect(Array.from(h.tokens)).toEqual([4, 4, 4, 4, 4, EOS]);
  });

  it("size 2: from step 0 on, bans what followed the last token earlier in the hypothesis (its history starts with bos = eos)", () => {
    // history [eos]: step 0, key (eos): no bigram yet -> 4. [eos 4]: step 1, key (4): only (eos,4) so far -> 4.
    // [eos 4 4]: step 2, key (4): (4,4) seen -> 4 banned; 5 (.108) beats eos (.036), and eos is not in the top 1.
    // [eos 4 4 5]: step 3, key (5): nothing -> 4. [eos 4 4 5 4]: step 4, key (4): (4,4) and (4,5) seen -> both banned,
    // eos (.6·.6·.3·.6·.1) is the best candidate and finishes: 4 4 5 4 eos, score ln(.00648) / 5.
    const h = new SequenceGenerator(model(), specials, V, { beam: 1, maxLenB: 5, noRepeatNgramSize: 2 }).generate(src(), lens())[0]![0]!;
    expect(Array.from(h.tokens)).toEqual([4, 4, 5, 4, EOS]);
    expect(h.score).toBeCloseTo(cum(0.6, 0.6, 0.3, 0.6, 0.1) / 5, 5);
    expect(h.positionalScores[4]).toBeCloseTo(Math.log(0.1), 5);
  });

  it("size 3: starts at step 1 and bans the token that completes an already seen trigram", () => {
    // steps 0-2: nothing banned ((eos,4,4) is the only trigram by step 2) -> 4 4 4; step 3, key (4,4): (4,4,4) seen ->
    // 4 banned, 5 (.0648) beats eos; step 4, key (4,5): new -> 4; step 5 = max length: eos. Score ln(.6^4·.3·.1) / 6.
    const h = new SequenceGenerator(model(), specials, V, { beam: 1, maxLenB: 5, noRepeatNgramSize: 3 }).generate(src(), lens())[0]![0]!;
    expect(Array.from(h.tokens)).toEqual([4, 4, 4, 5, 4, EOS]);
    expect(h.score).toBeCloseTo(cum(0.6, 0.6, 0.6, 0.3, 0.6, 0.1) / 6, 5);
  });

  it("bans per hypothesis: each beam row is blocked by its own history only", () => {
    // beam 2, size 2. step 0: [4] .6, [5] .3. step 1: [4 4] .36, [4 5] .18, [5 4] .18, [5 5] .09: nothing is banned yet
    // (the rows' only bigrams are (eos,4) / (eos,5)); the top 2 are [4 4] and [4 5] (the .18 tie goes to the lower
    // flat index, row 0's token 5, as topk orders equal values).
    // step 2: row [4 4] may not take 4 again (its bigram (4,4)) -> [4 4 5] .108, [4 4 eos] .036; row [4 5] is free to:
    // (5,4) is new -> [4 5 4] .108, [4 5 5] .054. The top 2 ([4 4 5], [4 5 4]) continue; step 3 = max length: eos, both
    // score ln(.0108) / 4 (the tie keeps the order in which they finished).
    const out = new SequenceGenerator(model(), specials, V, { beam: 2, nbest: 2, maxLenB: 3, noRepeatNgramSize: 2 }).generate(src(), lens())[0]!;
    for (const h of out) {
      const t = [EOS, ...Array.from(h.tokens)];
      const seen = new Set<string>();
      for (let i = 0; i + 1 < t.length; i++) {
        const bigram = `${t[i]},${t[i + 1]}`;
        expect(seen.has(bigram), `${t.join(" ")} repeats ${bigram}`).toBe(false);
        seen.add(bigram);
      }
    }
    expect(out.map((h) => Array.from(h.tokens))).toEqual([
      [4, 4, 5, EOS],
      [4, 5, 4, EOS],
    ]);
    expect(out[1]!.score).toBeCloseTo(cum(0.6, 0.3, 0.6, 0.1) / 4, 5);
    // without the ban, beam search's best is 4 4 4 eos
    const plain = new SequenceGenerator(model(), specials, V, { beam: 2, nbest: 2, maxLenB: 3 }).generate(src(), lens())[0]!;
    expect(Array.from(plain[0]!.tokens)).toEqual([4, 4, 4, EOS]);
    expect(out.map((h) => Array.from(h.tokens))).not.toContainEqual([4, 4, 4, EOS]);
  });

  it("refuses a negative or fractional size", () => {
    expect(() => new SequenceGenerator(model(), specials, V, { noRepeatNgramSize: -1 })).toThrow(
      "--no-repeat-ngram-size must be a non-negative integer, got -1",
    );
    expect(() => new SequenceGenerator(model(), specials, V, { noRepeatNgramSize: 1.5 })).toThrow(
      "--no-repeat-ngram-size must be a non-negative integer, got 1.5",
    );
  });
});
