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
