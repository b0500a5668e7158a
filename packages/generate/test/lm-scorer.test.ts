import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { disposeTensorSample, sampleToTensors, type DecoderOutput, type LanguageModel } from "@fairseq-ts/models";
import { LanguageModelScorer, gatherTargetLogProbs } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const V = 5;
const PAD = 1;
/** A fake language model with hand-computable logits: a function of the input token, the position and the vocabulary entry. */
const logit = (token: number, t: number, v: number) => ((token * 3 + v * 7 + t) % 5) * 0.5;
function fakeLm(): LanguageModel & { evalCalls: number } {
  const lm = {
    kind: "language-model",
    evalCalls: 0,
    eval() {
      lm.evalCalls++;
    },
    forward(src: tf.Tensor2D): DecoderOutput {
      const [b, t] = src.shape;
      const x = src.arraySync();
      const out = x.map((row) => row.map((tok, pos) => Array.from({ length: V }, (_, v) => logit(tok, pos, v))));
      return [tf.tensor3d(out, [b, t, V]), { attn: null }];
    },
    getNormalizedProbs: (out: DecoderOutput) => tf.logSoftmax(out[0]),
  };
  return lm as unknown as LanguageModel & { evalCalls: number };
}
/** ln softmax(logits)[v], in float64. */
const logProb = (token: number, t: number, v: number) => {
  const z = Array.from({ length: V }, (_, u) => logit(token, t, u));
  return z[v]! - Math.log(z.reduce((s, x) => s + Math.exp(x), 0));
};

describe("LanguageModelScorer (eval-lm's scoring)", () => {
  it("sums the log-probabilities of the non-pad targets (a context prefix's pad targets are read, not scored)", () => {
    const src = [
      [2, 4, 0],
      [3, 0, PAD],
    ];
    const tgt = [
      [PAD, 3, 4],
      [2, 0, PAD],
    ]; // row 0 starts with one token of context
    const before = tf.memory().numTensors;
    const ts = sampleToTensors({
      id: Int32Array.from([0, 1]),
      nsentences: 2,
      ntokens: 4,
      netInput: { srcTokens: { data: Int32Array.from(src.flat()), rows: 2, cols: 3 }, srcLengths: Int32Array.from([3, 2]), prevOutputTokens: null },
      target: { data: Int32Array.from(tgt.flat()), rows: 2, cols: 3 },
    });
    const lm = fakeLm();
    const got = new LanguageModelScorer(lm, PAD).score(ts);
    let expected = 0;
    for (const [b, row] of tgt.entries()) for (const [t, v] of row.entries()) if (v !== PAD) expected += logProb(src[b]![t]!, t, v);
    expect(got.tokens).toBe(4);
    expect(got.logProbSum).toBeCloseTo(expected, 5);
    expect(lm.evalCalls).toBe(1); // dropout off
    // the per-token gather, row-major
    const picked = tf.tidy(() => gatherTargetLogProbs(lm.getNormalizedProbs(lm.forward(ts.netInput.srcTokens), true), ts.target));
    expect(picked.shape).toEqual([6]);
    Array.from(picked.dataSync()).forEach((p, i) => expect(p).toBeCloseTo(logProb(src.flat()[i]!, i % 3, tgt.flat()[i]!), 5));
    picked.dispose();
    disposeTensorSample(ts);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A fake language model whose logits are `f(token, position, v)`; getNormalizedProbs honours `logProbs`. */
function fakeLmOf(f: (token: number, t: number, v: number) => number): LanguageModel {
  return {
    kind: "language-model",
    eval() {},
    forward(src: tf.Tensor2D): DecoderOutput {
      const [b, t] = src.shape;
      const out = src.arraySync().map((row) => row.map((tok, pos) => Array.from({ length: V }, (_, v) => f(tok, pos, v))));
      return [tf.tensor3d(out, [b, t, V]), { attn: null }];
    },
    getNormalizedProbs: (out: DecoderOutput, logProbs: boolean) => (logProbs ? tf.logSoftmax(out[0]) : tf.softmax(out[0])),
  } as unknown as LanguageModel;
}

describe("LanguageModelScorer with several models (eval-lm --path a:b, fairseq's ensemble)", () => {
  it("each token's log-prob is ln of the mean of the models' probabilities (hand computation in float64)", () => {
    const fs = [
      logit,
      (token: number, t: number, v: number) => ((token + v * 3 + 2 * t) % 4) * 0.9 - v * 0.2,
      (_: number, t: number, v: number) => (v === t ? 1.5 : 0),
    ];
    const p = (f: (token: number, t: number, v: number) => number, token: number, t: number, v: number) => {
      const z = Array.from({ length: V }, (_, u) => f(token, t, u));
      return Math.exp(z[v]!) / z.reduce((s, x) => s + Math.exp(x), 0);
    };
    const src = [
      [2, 4, 0, 3],
      [3, 0, 4, PAD],
    ];
    const tgt = [
      [PAD, 3, 4, 0],
      [2, 0, 2, PAD],
    ];
    const ts = sampleToTensors({
      id: Int32Array.from([0, 1]),
      nsentences: 2,
      ntokens: 6,
      netInput: { srcTokens: { data: Int32Array.from(src.flat()), rows: 2, cols: 4 }, srcLengths: Int32Array.from([4, 3]), prevOutputTokens: null },
      target: { data: Int32Array.from(tgt.flat()), rows: 2, cols: 4 },
    });
    const before = tf.memory().numTensors;
    for (const models of [fs.slice(0, 2), fs]) {
      let expected = 0;
      for (const [b, row] of tgt.entries())
        for (const [t, v] of row.entries()) {
          if (v === PAD) continue;
          expected += Math.log(models.reduce((s, f) => s + p(f, src[b]![t]!, t, v), 0) / models.length);
        }
      const got = new LanguageModelScorer(models.map(fakeLmOf), PAD).score(ts);
      expect(got.tokens).toBe(6);
      expect(got.logProbSum).toBeCloseTo(expected, 5);
    }
    // one model twice is that model (ln((p + p) / 2) = ln p)
    const one = new LanguageModelScorer(fakeLmOf(fs[1]!), PAD).score(ts);
    const twice = new LanguageModelScorer([fakeLmOf(fs[1]!), fakeLmOf(fs[1]!)], PAD).score(ts);
    expect(twice.logProbSum).toBeCloseTo(one.logProbSum, 5);
    expect(tf.memory().numTensors).toBe(before);
    disposeTensorSample(ts);
    expect(() => new LanguageModelScorer([], PAD)).toThrow(/no model/);
  });
});
