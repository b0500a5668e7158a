import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, type EncoderDecoderModel } from "@fairseq-ts/models";
import { mixPointerDistribution, register, scatterAddOverSource, type PointerGeneratorModel } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
  register();
});

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `index ${i}: ${got[i]} vs ${want[i]}`).toBeLessThan(tol);
};

describe("the pointer-generator output distribution", () => {
  it("p_gen · softmax(logits) over the vocabulary plus (1 - p_gen) · attention added at each source token id (hand-computed)", () => {
    // softmax of log(1..4) is [1, 2, 3, 4] / 10; the source [5, 2, 5] repeats marker 5, whose two weights add up
    const logits = tf.tensor3d([[[0, Math.log(2), Math.log(3), Math.log(4)]]]);
    const attn = tf.tensor3d([[[0.5, 0.3, 0.2]]]);
    const src = tf.tensor2d([[5, 2, 5]], [1, 3], "int32");
    const out = mixPointerDistribution(logits, attn, src, tf.tensor3d([[[0.25]]]), 6);
    // gen: 0.25 · [0.1 0.2 0.3 0.4 0 0]; pointer: 0.75 · 0.5 + 0.75 · 0.2 = 0.525 at 5, 0.75 · 0.3 = 0.225 at 2
    close(out.dataSync(), [0.025, 0.05, 0.075 + 0.225, 0.1, 0, 0.525]);
    tf.dispose([logits, attn, src, out]);
  });

  it("scatter-add's gradient gathers the upstream gradient at each source position's id", () => {
    const src = tf.tensor2d([[4, 1, 4]], [1, 3], "int32");
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(scatterAddOverSource(v as tf.Tensor3D, src, 5), tf.tensor3d([[[10, 11, 12, 13, 14]]]))));
    close(g(tf.tensor3d([[[0.2, 0.3, 0.5]]])).dataSync(), [14, 11, 14]);
    src.dispose();
  });
});

/** 4 specials + 3 words + 2 markers <unk-0> <unk-1> (ids 7, 8). */
const NUM_TYPES = 9;
const tinyArgs = (extra: Record<string, unknown> = {}) => ({
  arch: "transformer_pointer_generator",
  encoder_layers: 1,
  decoder_layers: 2,
  encoder_embed_dim: 8,
  decoder_embed_dim: 8,
  encoder_ffn_embed_dim: 16,
  decoder_ffn_embed_dim: 16,
  encoder_attention_heads: 2,
  decoder_attention_heads: 2,
  share_all_embeddings: true,
  source_position_markers: 2,
  dropout: 0,
  ...extra,
});
const build = (extra: Record<string, unknown> = {}) =>
  buildModel(tinyArgs(extra), { srcVocabSize: NUM_TYPES, tgtVocabSize: NUM_TYPES, padIdx: 1 }, { seed: 3 }) as PointerGeneratorModel;

describe("transformer_pointer_generator", () => {
  it("has fairseq's parameter names and shapes (embeddings over len(dict) - markers rows, project_p_gens last)", () => {
    const m = build();
    const names = [...m.stateDict().keys()];
    expect(m.stateDict().get("encoder.embed_tokens.weight")!.shape).toEqual([7, 8]);
    expect(names).toContain("decoder.output_projection.weight");
    expect(names.slice(-2)).toEqual(["decoder.project_p_gens.weight", "decoder.project_p_gens.bias"]);
    expect(m.stateDict().get("decoder.project_p_gens.weight")!.shape).toEqual([1, 16]);
    expect(m.args.alignment_layer).toBe(1); // -1 from the top of 2 layers
    expect(m.args.alignment_heads).toBe(1);
    m.dispose();
  });

  it("mixes as transformer_pg.py: p_gen = σ(w · [embed(prev) · √d; features] + b), vocabulary softmax of features · Eᵀ, pointer = attention at source ids", () => {
    const m = build();
    // fixed p_gen weights: w = 0.1 · (1..16), b = -0.3
    const w = Array.from({ length: 16 }, (_, i) => 0.1 * (i + 1));
    (m.namedParameters().get("decoder.project_p_gens.weight") as tf.Variable).assign(tf.tensor2d([w]));
    (m.namedParameters().get("decoder.project_p_gens.bias") as tf.Variable).assign(tf.tensor1d([-0.3]));
    // source "w4 <unk-0> w5 <unk-0> </s>" = [4, 7, 5, 7, 2]; target prefix "</s> <unk-1>" = [2, 8] (a marker: embedded as <unk>)
    const src = tf.tensor2d([[4, 7, 5, 7, 2]], [1, 5], "int32");
    const prev = tf.tensor2d([[2, 8]], [1, 2], "int32");
    const lengths = tf.tensor1d([5], "int32");
    const [probs, extra] = m.forward(src, lengths, prev);
    const [features] = m.forward(src, lengths, prev, { featuresOnly: true });
    const E = m.stateDict().get("encoder.embed_tokens.weight")!.arraySync() as number[][];
    const x = (features.arraySync() as number[][][])[0]!;
    const attn = (extra.attn!.arraySync() as number[][][])[0]!;
    const got = (probs.arraySync() as number[][][])[0]!;
    const prevIds = [2, 3]; // <unk-1> (8) looks up <unk> (3)
    const srcIds = [4, 7, 5, 7, 2];
    for (let t = 0; t < 2; t++) {
      const predictors = [...E[prevIds[t]!]!.map((v) => v * Math.sqrt(8)), ...x[t]!];
      const pGen = 1 / (1 + Math.exp(-(predictors.reduce((s, v, i) => s + v * w[i]!, 0) - 0.3)));
      const logits = E.map((row) => row.reduce((s, v, i) => s + v * x[t]![i]!, 0));
      const z = logits.reduce((s, l) => s + Math.exp(l), 0);
      const want = [...logits.map((l) => (pGen * Math.exp(l)) / z), 0, 0];
      srcIds.forEach((id, s) => (want[id]! += (1 - pGen) * attn[t]![s]!));
      close(got[t]!, want, 1e-5);
      expect(
        got[t]!.reduce((a, b) => a + b, 0),
        "a distribution",
      ).toBeCloseTo(1, 5);
    }
    // log-probs: log of the clamped distribution (markers absent from the source get log 1e-10)
    const lp = m.getNormalizedProbs([probs, extra], true).arraySync() as number[][][];
    expect(lp[0]![0]![8]).toBeCloseTo(Math.log(1e-10), 4);
    expect(lp[0]![1]![7]).toBeCloseTo(Math.log(got[1]![7]!), 5);
    tf.dispose([src, prev, lengths, probs, features, extra.attn!]);
    m.dispose();
  });

  it("points with the attention of --alignment-layer averaged over its first --alignment-heads heads", () => {
    const src = tf.tensor2d([[4, 7, 5, 6, 2]], [1, 5], "int32");
    const prev = tf.tensor2d([[2, 4, 6]], [1, 3], "int32");
    const lengths = tf.tensor1d([5], "int32");
    const attnOf = (extra: Record<string, unknown>) => {
      const m = build(extra);
      const [probs, out] = m.forward(src, lengths, prev);
      const a = out.attn!.arraySync() as number[][][];
      tf.dispose([probs, out.attn!]);
      m.dispose();
      return a[0]!.flat();
    };
    const oneHead = attnOf({ alignment_layer: 0, alignment_heads: 1 });
    const twoHeads = attnOf({ alignment_layer: 0, alignment_heads: 2 });
    const top = attnOf({ alignment_layer: -1, alignment_heads: 2 });
    // same weights (same seed): the layers and head subsets differ
    expect(Math.max(...oneHead.map((v, i) => Math.abs(v - twoHeads[i]!)))).toBeGreaterThan(1e-4);
    expect(Math.max(...top.map((v, i) => Math.abs(v - twoHeads[i]!)))).toBeGreaterThan(1e-4);
    for (const a of [oneHead, twoHeads, top]) for (let t = 0; t < 3; t++) expect(a.slice(t * 5, t * 5 + 5).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    tf.dispose([src, prev, lengths]);
  });

  it("--force-generation P replaces p_gen (1: the transformer's softmax alone, 0: pure copying)", () => {
    const src = tf.tensor2d([[4, 7, 2]], [1, 3], "int32");
    const prev = tf.tensor2d([[2]], [1, 1], "int32");
    const lengths = tf.tensor1d([3], "int32");
    const gen = build({ force_generation: 1 });
    const [p1] = gen.forward(src, lengths, prev);
    expect(p1.dataSync()[7]).toBe(0);
    const copy = build({ force_generation: 0 });
    const [p0, extra] = copy.forward(src, lengths, prev);
    const a = extra.attn!.dataSync();
    close(p0.dataSync(), [0, 0, a[2]!, 0, a[0]!, 0, 0, a[1]!, 0]);
    tf.dispose([src, prev, lengths, p1, p0, extra.attn!]);
    gen.dispose();
    copy.dispose();
  });

  it("incremental decoding gives the teacher-forced distributions, and a step leaks no tensor", () => {
    const m = build() as EncoderDecoderModel;
    const src = tf.tensor2d([[4, 7, 5, 8, 2]], [1, 5], "int32");
    const lengths = tf.tensor1d([5], "int32");
    const prev = [2, 8, 4];
    const [full] = m.forward(src, lengths, tf.tensor2d([prev], [1, 3], "int32"));
    const want = (full.arraySync() as number[][][])[0]!;
    const enc = m.encoder.forward(src, lengths);
    const state = new Map();
    const counts: number[] = [];
    for (let t = 0; t < 3; t++) {
      const step = tf.tidy(() => {
        const [o] = m.decoder.forward(tf.tensor2d([prev.slice(0, t + 1)], [1, t + 1], "int32"), enc, state);
        return o;
      });
      close(step.dataSync(), want[t]!, 1e-5);
      step.dispose();
      counts.push(tf.memory().numTensors);
    }
    // the incremental state's caches are replaced, not added to: the count stays flat from the first step on
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    m.dispose();
  });

  it("refuses what fairseq refuses, naming the flag", () => {
    expect(() => buildModel(tinyArgs(), { srcVocabSize: 9, tgtVocabSize: 10, padIdx: 1 })).toThrow(/joined dictionary/);
    expect(() => build({ share_all_embeddings: false })).toThrow(/--share-decoder-input-output-embed or --share-all-embeddings/);
    expect(() => build({ source_position_markers: 6 })).toThrow(/--source-position-markers 6/);
    expect(() => build({ alignment_layer: 2 })).toThrow(/--alignment-layer/);
  });
});

describe("training steps", () => {
  it("the loss (-log p of the targets) falls over gradient steps and tf.memory().numTensors stays flat", () => {
    const m = build();
    m.train();
    const src = tf.tensor2d([[4, 7, 5, 2]], [1, 4], "int32");
    const lengths = tf.tensor1d([4], "int32");
    const prev = tf.tensor2d([[2, 7]], [1, 2], "int32");
    const target = tf.tensor2d([[7, 2]], [1, 2], "int32");
    const params = [...m.namedParameters().values()];
    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 6; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const lp = m.getNormalizedProbs(m.forward(src, lengths, prev), true);
        return tf.neg(tf.sum(tf.mul(lp, tf.oneHot(target, NUM_TYPES)))) as tf.Scalar;
      }, params);
      losses.push(value.dataSync()[0]!);
      tf.tidy(() => {
        for (const p of params) if (grads[p.name]) p.assign(tf.sub(p, tf.mul(grads[p.name]!, 0.05)));
      });
      tf.dispose([value, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(new Set(counts.slice(1)).size, `tensor counts ${counts}`).toBe(1);
    tf.dispose([src, lengths, prev, target]);
    m.dispose();
  });
});
