import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import {
  buildModel,
  disposeIncrementalState,
  listArchitectures,
  makePositions,
  registerArchitecture,
  sinusoidalTable,
  transformerBase,
  type EncoderDecoderModel,
  type IncrementalState,
  type LanguageModel,
  type TransformerDecoder,
} from "../src/index.js";

const tiny = () => ({
  arch: "transformer",
  encoder_layers: 2,
  decoder_layers: 2,
  encoder_embed_dim: 16,
  decoder_embed_dim: 16,
  encoder_ffn_embed_dim: 32,
  decoder_ffn_embed_dim: 32,
  encoder_attention_heads: 4,
  decoder_attention_heads: 4,
  share_decoder_input_output_embed: true,
});

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

describe("positions", () => {
  it("make_positions counts from padding_idx+1 and skips padding (left and right padding)", async () => {
    const t = tf.tensor2d(
      [
        [1, 1, 5, 6],
        [5, 6, 7, 1],
      ],
      [2, 4],
      "int32",
    );
    expect(await makePositions(t, 1).array()).toEqual([
      [1, 1, 2, 3],
      [2, 3, 4, 1],
    ]);
  });
  it("the sinusoidal table is fairseq's: sin then cos halves, frequencies exp(-k ln(10000)/(h-1))", () => {
    const dim = 8;
    const table = sinusoidalTable(5, dim, 1);
    const h = 4;
    for (let p = 0; p < 5; p++)
      for (let k = 0; k < h; k++) {
        const f = Math.exp((-k * Math.log(10000)) / (h - 1));
        const want = p === 1 ? [0, 0] : [Math.sin(p * f), Math.cos(p * f)];
        expect(table[p * dim + k]).toBeCloseTo(want[0]!, 5);
        expect(table[p * dim + h + k]).toBeCloseTo(want[1]!, 5);
      }
  });
});

describe("transformer", () => {
  it("has fairseq's parameter names, presets and tied weights", () => {
    expect(listArchitectures()).toEqual(
      expect.arrayContaining(["transformer", "transformer_iwslt_de_en", "transformer_wmt_en_de_big", "transformer_lm", "transformer_lm_big"]),
    );
    const m = buildModel(tiny(), { srcVocabSize: 20, tgtVocabSize: 24, padIdx: 1 }) as EncoderDecoderModel;
    const names = [...m.namedParameters().keys()];
    expect(names).toContain("encoder.layers.1.self_attn.k_proj.weight");
    expect(names).toContain("decoder.layers.0.encoder_attn.out_proj.bias");
    expect(names).toContain("decoder.layers.1.final_layer_norm.weight");
    expect(names).not.toContain("decoder.output_projection.weight"); // tied to decoder.embed_tokens
    expect(m.stateDict().get("decoder.output_projection.weight")).toBe(m.namedParameters().get("decoder.embed_tokens.weight"));
    const a = { arch: "transformer_iwslt_de_en" } as Record<string, unknown> & { arch: string };
    const big = buildModel(a, { srcVocabSize: 8, tgtVocabSize: 8, padIdx: 1 });
    expect([a.encoder_embed_dim, a.encoder_ffn_embed_dim, a.encoder_attention_heads, a.decoder_layers, a.dropout]).toEqual([512, 1024, 4, 6, 0.1]);
    big.dispose();
    m.dispose();
  });

  it("a user package can register its own architecture", () => {
    registerArchitecture("transformer", "my_tiny_transformer", (a) => {
      a.encoder_layers ??= 1;
      a.decoder_layers ??= 1;
      a.encoder_embed_dim ??= 8;
      a.encoder_ffn_embed_dim ??= 16;
      a.encoder_attention_heads ??= 2;
      a.decoder_attention_heads ??= 2;
      transformerBase(a);
    });
    const m = buildModel({ arch: "my_tiny_transformer" }, { srcVocabSize: 10, tgtVocabSize: 10, padIdx: 1 });
    expect(m.namedParameters().get("encoder.embed_tokens.weight")!.shape).toEqual([10, 8]);
    m.dispose();
    expect(() => buildModel({ arch: "nope" }, { padIdx: 1 })).toThrow(/--arch: unknown architecture 'nope'/);
  });

  it("step-by-step incremental decoding equals the teacher-forced pass; beam reordering follows rows", async () => {
    const m = buildModel(tiny(), { srcVocabSize: 20, tgtVocabSize: 24, padIdx: 1 }, { seed: 3 }) as EncoderDecoderModel;
    m.eval();
    const src = tf.tensor2d(
      [
        [1, 5, 6, 7, 2],
        [8, 9, 10, 11, 2],
      ],
      [2, 5],
      "int32",
    );
    const lens = tf.tensor1d([4, 5], "int32");
    const prev = tf.tensor2d(
      [
        [2, 4, 5, 6],
        [2, 7, 8, 9],
      ],
      [2, 4],
      "int32",
    );
    const full = tf.tidy(() => m.getNormalizedProbs(m.forward(src, lens, prev), true));
    const fullV = (await full.array()) as number[][][];
    const state: IncrementalState = new Map();
    const enc = m.encoder.forward(src, lens);
    for (let t = 1; t <= 4; t++) {
      const step = tf.tidy(() => m.getNormalizedProbs(m.decoder.forward(tf.slice(prev, [0, 0], [2, t]) as tf.Tensor2D, enc, state), true));
      const v = (await step.array()) as number[][][];
      for (let b = 0; b < 2; b++) for (let k = 0; k < 24; k++) expect(v[b]![0]![k]).toBeCloseTo(fullV[b]![t - 1]![k]!, 4);
      step.dispose();
    }
    // Beam search drops finished sentences: keep only row 1; the next step must equal row 1's full pass.
    // (Reordering within a sentence's beams leaves encoder-attention caches alone, as in fairseq.)
    const order = tf.tensor1d([1], "int32");
    m.decoder.reorderIncrementalState(state, order);
    const enc2 = m.encoder.reorderEncoderOut(enc, order);
    const prev5 = tf.tensor2d([[2, 7, 8, 9, 3]], [1, 5], "int32");
    const src2 = tf.gather(src, order);
    const full5 = tf.tidy(() => m.getNormalizedProbs(m.forward(src2 as tf.Tensor2D, tf.gather(lens, order) as tf.Tensor1D, prev5), true));
    const step5 = tf.tidy(() => m.getNormalizedProbs(m.decoder.forward(prev5, enc2, state), true));
    const a = (await full5.array()) as number[][][];
    const b = (await step5.array()) as number[][][];
    for (let k = 0; k < 24; k++) expect(b[0]![0]![k]).toBeCloseTo(a[0]![4]![k]!, 4);
    disposeIncrementalState(state);
    tf.dispose([
      src,
      lens,
      prev,
      full,
      order,
      prev5,
      src2,
      full5,
      step5,
      enc.encoderOut,
      enc.encoderPaddingMask!,
      ...Object.values(enc.extra ?? {}),
      enc2.encoderOut,
      ...Object.values(enc2.extra ?? {}),
    ]);
    m.dispose();
  });

  it("dropout only in training mode, reproducible with a seed; gradients reach every parameter; no leaks", () => {
    const m = buildModel({ ...tiny(), dropout: 0.3 }, { srcVocabSize: 20, tgtVocabSize: 24, padIdx: 1 }) as EncoderDecoderModel;
    const src = tf.tensor2d([[5, 6, 7, 2]], [1, 4], "int32");
    const lens = tf.tensor1d([4], "int32");
    const prev = tf.tensor2d([[2, 4, 5]], [1, 3], "int32");
    const run = () => tf.tidy(() => m.forward(src, lens, prev)[0].dataSync().slice());
    m.eval();
    expect(run()).toEqual(run());
    m.train();
    m.setSeed(7);
    const a = run();
    m.setSeed(7);
    expect(run()).toEqual(a);
    m.setSeed(8);
    expect(run()).not.toEqual(a);
    const before = tf.memory().numTensors;
    const params = [...m.namedParameters().values()];
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(m.getNormalizedProbs(m.forward(src, lens, prev), true))) as tf.Scalar, params);
    for (const [name, p] of m.namedParameters()) {
      const g = grads[p.name];
      expect(g, name).toBeDefined();
      expect(
        tf.tidy(() => tf.any(tf.notEqual(g!, 0)).dataSync()[0]),
        `${name} gets a gradient`,
      ).toBe(1);
    }
    value.dispose();
    tf.dispose(Object.values(grads));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([src, lens, prev]);
    m.dispose();
  });

  it("--share-all-embeddings also ties the output projection, as fairseq's build_model sets share_decoder_input_output_embed", () => {
    const args = { ...tiny(), share_decoder_input_output_embed: false, share_all_embeddings: true };
    const m = buildModel(args, { srcVocabSize: 12, tgtVocabSize: 12, padIdx: 1 }) as EncoderDecoderModel;
    expect(args.share_decoder_input_output_embed).toBe(true);
    const sd = m.stateDict();
    expect(sd.get("decoder.output_projection.weight")).toBe(sd.get("encoder.embed_tokens.weight"));
    expect(sd.get("decoder.embed_tokens.weight")).toBe(sd.get("encoder.embed_tokens.weight"));
    // one 12×16 matrix for all three
    const distinct = new Set([...sd.values()].filter((v) => v.shape[0] === 12 && v.shape[1] === 16));
    expect(distinct.size).toBe(1);
    m.dispose();
  });

  it("featuresOnly (fairseq's features_only) returns the output layer's input: features · outputProjectionᵀ are the logits", () => {
    for (const shared of [true, false]) {
      const m = buildModel({ ...tiny(), share_decoder_input_output_embed: shared }, { srcVocabSize: 12, tgtVocabSize: 14, padIdx: 1 }) as EncoderDecoderModel;
      m.eval();
      const src = tf.tensor2d([[4, 5, 2]], [1, 3], "int32");
      const prev = tf.tensor2d([[2, 6, 7, 8]], [1, 4], "int32");
      const [logits] = m.forward(src, tf.tensor1d([3], "int32"), prev);
      const [features] = m.forward(src, tf.tensor1d([3], "int32"), prev, { featuresOnly: true });
      const w = m.decoder.outputProjection!;
      expect(features.shape).toEqual([1, 4, 16]);
      expect(w.shape).toEqual([14, 16]);
      expect(w).toBe(m.stateDict().get("decoder.output_projection.weight"));
      const projected = tf.matMul(tf.reshape(features, [4, 16]), w, false, true);
      expect(tf.max(tf.abs(tf.sub(projected, tf.reshape(logits, [4, 14])))).dataSync()[0]).toBeLessThan(1e-5);
      m.dispose();
    }
  });

  it("extractFeatures' alignmentLayer/alignmentHeads (fairseq's alignment_layer/_heads): that layer's encoder attention, averaged over its first N heads", () => {
    const m = buildModel(tiny(), { srcVocabSize: 12, tgtVocabSize: 12, padIdx: 1 }) as EncoderDecoderModel;
    const decoder = m.decoder as TransformerDecoder;
    // head 0 of layer 0's encoder attention gets zero keys: its scores are all equal, so its weights are 1/S exactly
    const k = m.namedParameters().get("decoder.layers.0.encoder_attn.k_proj.weight")!;
    const kb = m.namedParameters().get("decoder.layers.0.encoder_attn.k_proj.bias")!;
    const headDim = 16 / 4;
    k.assign(tf.mul(k, tf.reshape(tf.concat([tf.zeros([headDim]), tf.ones([16 - headDim])]), [16, 1])));
    kb.assign(tf.mul(kb, tf.concat([tf.zeros([headDim]), tf.ones([16 - headDim])])));
    const src = tf.tensor2d([[4, 5, 6, 2]], [1, 4], "int32");
    const prev = tf.tensor2d([[2, 6, 7]], [1, 3], "int32");
    const enc = m.encoder.forward(src, tf.tensor1d([4], "int32"));
    const attn = (o: { alignmentLayer?: number; alignmentHeads?: number }) => decoder.extractFeatures(prev, enc, undefined, o)[1]!.arraySync().flat(2);
    for (const w of attn({ alignmentLayer: 0, alignmentHeads: 1 })) expect(w).toBeCloseTo(0.25, 6);
    const allHeads = attn({ alignmentLayer: 0 });
    expect(Math.max(...allHeads.map((w) => Math.abs(w - 0.25)))).toBeGreaterThan(1e-3);
    expect(attn({ alignmentLayer: 0, alignmentHeads: 4 })).toEqual(allHeads);
    expect(attn({ alignmentLayer: 0, alignmentHeads: 9 })).toEqual(allHeads);
    // by default the last layer and all its heads, as before
    expect(attn({})).toEqual(attn({ alignmentLayer: 1, alignmentHeads: 4 }));
    expect(attn({})).toEqual(
      m
        .forward(src, tf.tensor1d([4], "int32"), prev)[1]
        .attn!.arraySync()
        .flat(2),
    );
    m.dispose();
  });

  it("transformer_lm: pre-norm decoder without encoder attention, incremental = full", () => {
    const m = buildModel(
      { arch: "transformer_lm", decoder_layers: 2, decoder_embed_dim: 16, decoder_ffn_embed_dim: 32, decoder_attention_heads: 2 },
      { vocabSize: 30, padIdx: 1 },
    ) as LanguageModel;
    expect([...m.namedParameters().keys()]).toContain("decoder.layer_norm.weight");
    expect([...m.namedParameters().keys()].some((k) => k.includes("encoder_attn"))).toBe(false);
    m.eval();
    const x = tf.tensor2d([[2, 5, 6, 7]], [1, 4], "int32");
    const full = tf.tidy(() => m.forward(x)[0]);
    const state: IncrementalState = new Map();
    for (let t = 1; t <= 4; t++) {
      const s = tf.tidy(() => m.forward(tf.slice(x, [0, 0], [1, t]) as tf.Tensor2D, state)[0]);
      const sv = s.dataSync();
      const fv = tf.tidy(() => tf.slice(full, [0, t - 1, 0], [1, 1, -1]).dataSync());
      for (let k = 0; k < 30; k++) expect(sv[k]).toBeCloseTo(fv[k]!, 4);
      s.dispose();
    }
    disposeIncrementalState(state);
    tf.dispose([x, full]);
    m.dispose();
  });
});

describe("building and disposing a model leaves no tensor behind", () => {
  it.each(["transformer", "lstm", "transformer_lm"])("%s (found by the CLI fuzzer: initialisation intermediates outlived dispose())", (arch) => {
    const small = {
      encoder_layers: 1,
      decoder_layers: 1,
      encoder_embed_dim: 8,
      decoder_embed_dim: 8,
      encoder_ffn_embed_dim: 16,
      decoder_ffn_embed_dim: 16,
      encoder_attention_heads: 2,
      decoder_attention_heads: 2,
      encoder_hidden_size: 8,
      decoder_hidden_size: 8,
      decoder_out_embed_dim: 8,
    };
    const before = tf.memory().numTensors;
    const m = buildModel(
      { arch, ...small } as never,
      (arch === "transformer_lm" ? { vocabSize: 12, padIdx: 1 } : { srcVocabSize: 12, tgtVocabSize: 11, padIdx: 1 }) as never,
    );
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
