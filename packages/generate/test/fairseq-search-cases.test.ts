/**
 * Whole searches against fairseq v0.10.2's own SequenceGenerator (fixtures/fairseq-search-cases.json, made by
 * fixtures/fairseq-search-cases.py): a model whose next-token logits are pseudo-random functions of the sentence's code
 * and the whole target prefix (no ties), decoded by fairseq with DiverseSiblingsSearch (rates 0, 0.5, 1.5, -0.5),
 * LexicallyConstrainedBeamSearch (ordered / unordered, beam 2 and 4; constraints with two parts, none, a repeated
 * token, a constraint given twice, overlapping ones; a sentence may end with fewer than beam hypotheses) and plain
 * beam search. Same hypotheses in the same order, scores within 1e-5.
 */
import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { DecoderOutput, EncoderDecoderModel, EncoderOut } from "@fairseq-ts/models";
import { SequenceGenerator, type GeneratorOptions } from "../src/index.js";

interface FairseqHyp {
  tokens: number[];
  score: number;
  pos: number[];
}
interface Case {
  name: string;
  options: GeneratorOptions;
  codes: number[];
  constraints?: number[][][];
  hyps: FairseqHyp[][];
}
const fixture = JSON.parse(readFileSync(new URL("./fixtures/fairseq-search-cases.json", import.meta.url), "utf8")) as {
  V: number;
  cases: Case[];
};

const P = 2147483647;

/** The fixture script's next_logits: from the code and the prefix (bos first), one hash per token; bos and pad -1e4, unk 2 lower. */
function nextLogits(code: number, prefix: ArrayLike<number>, V: number): number[] {
  let h = code + 1;
  for (let i = 0; i < prefix.length; i++) h = (h * 31 + prefix[i]!) % P;
  return Array.from({ length: V }, (_, v) => {
    let g = (h * 31 + v + 1) % P;
    for (let r = 0; r < 3; r++) g = (g * 48271) % P;
    return v === 0 || v === 1 ? -1e4 : (6 * g) / P - (v === 3 ? 2 : 0);
  });
}

/** The hash model: encoder output = the sentence's code; decoder logits = nextLogits(code, prefix), log-softmaxed as fairseq does. */
function hashModel(): EncoderDecoderModel {
  const { V } = fixture;
  const decoder = {
    forward: (prev: tf.Tensor2D, enc: EncoderOut): DecoderOutput => {
      const [rows, len] = prev.shape;
      const p = prev.dataSync();
      const codes = enc.encoderOut.dataSync();
      const out = new Float32Array(rows * V);
      for (let r = 0; r < rows; r++) out.set(nextLogits(codes[r]!, p.subarray(r * len, (r + 1) * len), V), r * V);
      return [tf.tensor3d(out, [rows, 1, V]), { attn: null }];
    },
    getNormalizedProbs: (out: DecoderOutput) => tf.logSoftmax(out[0]) as tf.Tensor3D,
    reorderIncrementalState: () => {},
    maxPositions: () => 1024,
  };
  const encoder = {
    forward: (src: tf.Tensor2D): EncoderOut => ({
      encoderOut: tf.sub(tf.slice(src, [0, 0], [-1, 1]), tf.scalar(4, "int32")) as unknown as tf.Tensor3D,
      encoderPaddingMask: null,
      extra: {},
    }),
    reorderEncoderOut: (e: EncoderOut, order: tf.Tensor1D): EncoderOut => ({ encoderOut: tf.gather(e.encoderOut, order), encoderPaddingMask: null, extra: {} }),
    maxPositions: () => 1024,
  };
  return { kind: "encoder-decoder", encoder, decoder, eval: () => {}, maxDecoderPositions: () => 1024 } as unknown as EncoderDecoderModel;
}

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

describe("search strategies against fairseq v0.10.2's SequenceGenerator on a hash model", () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const gen = new SequenceGenerator(hashModel(), { pad: 1, eos: 2, unk: 3 }, fixture.V, c.options);
    const src = tf.tensor2d(
      c.codes.map((code) => [code + 4, 2]),
      undefined,
      "int32",
    );
    const lens = tf.tensor1d(
      c.codes.map(() => 2),
      "int32",
    );
    const before = tf.memory().numTensors;
    const out = gen.generate(src, lens, null, c.constraints ?? null);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([src, lens]);
    expect(out.map((hs) => hs.map((h) => Array.from(h.tokens)))).toEqual(c.hyps.map((hs) => hs.map((h) => h.tokens)));
    out.forEach((hs, b) =>
      hs.forEach((h, j) => {
        const want = c.hyps[b]![j]!;
        expect(h.score).toBeCloseTo(want.score, 5);
        Array.from(h.positionalScores).forEach((p, t) => expect(p).toBeCloseTo(want.pos[t]!, 5));
      }),
    );
  });
});
