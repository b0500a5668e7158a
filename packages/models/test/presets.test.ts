/**
 * fairseq v0.10.2's transformer, transformer_align and transformer_lm presets: their defaults (the values of
 * fairseq/models/transformer.py, transformer_align.py and transformer_lm.py, nested calls included), the names and
 * shapes of their parameters at full size (from `modelParameterShapes`, nothing allocated), held equal to the built
 * model's on scaled-down copies, and the parameter counts against formulas worked out here and the published figures.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { applyArchitecture, buildModel, listArchitectures, modelParameterShapes, type ModelArgs, type ModelVocab } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

const TRANSLATION = [
  "transformer",
  "transformer_iwslt_de_en",
  "transformer_wmt_en_de",
  "transformer_vaswani_wmt_en_de_big",
  "transformer_vaswani_wmt_en_fr_big",
  "transformer_wmt_en_de_big",
  "transformer_wmt_en_de_big_t2t",
  "transformer_align",
  "transformer_wmt_en_de_big_align",
];
const LMS = [
  "transformer_lm",
  "transformer_lm_big",
  "transformer_lm_baevski_wiki103",
  "transformer_lm_wiki103",
  "transformer_lm_baevski_gbw",
  "transformer_lm_gbw",
  "transformer_lm_gpt",
  "transformer_lm_gpt2_small",
  "transformer_lm_gpt2_medium",
  "transformer_lm_gpt2_big",
];

const preset = (arch: string, given: Record<string, unknown> = {}): ModelArgs => applyArchitecture({ arch, ...given }).args;
const count = (shapes: Map<string, number[]>) => [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

// what the presets set, read off fairseq v0.10.2's functions (each line: the call chain that sets it)
// [enc dim, enc ffn, enc heads, enc layers, dec dim, dec ffn, dec heads, dec layers, dropout, attn dropout, act dropout, enc pre-norm, dec pre-norm]
const TRANSLATION_DEFAULTS: Record<string, unknown[]> = {
  transformer: [512, 2048, 8, 6, 512, 2048, 8, 6, 0.1, 0, 0, false, false],
  transformer_iwslt_de_en: [512, 1024, 4, 6, 512, 1024, 4, 6, 0.1, 0, 0, false, false],
  transformer_wmt_en_de: [512, 2048, 8, 6, 512, 2048, 8, 6, 0.1, 0, 0, false, false],
  transformer_vaswani_wmt_en_de_big: [1024, 4096, 16, 6, 1024, 4096, 16, 6, 0.3, 0, 0, false, false],
  transformer_vaswani_wmt_en_fr_big: [1024, 4096, 16, 6, 1024, 4096, 16, 6, 0.1, 0, 0, false, false],
  transformer_wmt_en_de_big: [1024, 4096, 16, 6, 1024, 4096, 16, 6, 0.3, 0.1, 0, false, false],
  transformer_wmt_en_de_big_t2t: [1024, 4096, 16, 6, 1024, 4096, 16, 6, 0.3, 0.1, 0.1, true, true],
  transformer_align: [512, 2048, 8, 6, 512, 2048, 8, 6, 0.1, 0, 0, false, false],
  transformer_wmt_en_de_big_align: [1024, 4096, 16, 6, 1024, 4096, 16, 6, 0.3, 0.1, 0, false, false],
};
// [dim, ffn, heads, layers, dropout, attn dropout, act dropout, activation, final norm, adaptive input, tied, tie proj, input cutoff, softmax cutoff, softmax dropout]
const LM_DEFAULTS: Record<string, unknown[]> = {
  transformer_lm: [512, 2048, 8, 6, 0.1, 0, 0, "relu", false, false, false, false, null, null, 0],
  transformer_lm_big: [1024, 4096, 16, 12, 0.1, 0, 0, "relu", false, false, false, false, null, null, 0],
  transformer_lm_baevski_wiki103: [1024, 4096, 8, 16, 0.3, 0.1, 0.1, "relu", true, true, true, true, "20000,60000", "20000,60000", 0.2],
  transformer_lm_wiki103: [1024, 4096, 8, 16, 0.3, 0.1, 0.1, "relu", true, true, true, true, "20000,60000", "20000,60000", 0.2],
  transformer_lm_baevski_gbw: [512, 4096, 16, 12, 0.1, 0.1, 0, "relu", true, false, false, false, null, null, 0],
  transformer_lm_gbw: [512, 4096, 16, 12, 0.1, 0.1, 0, "relu", true, false, false, false, null, null, 0],
  transformer_lm_gpt: [768, 3072, 12, 12, 0.1, 0.1, 0, "gelu", false, false, false, false, null, null, 0],
  transformer_lm_gpt2_small: [1024, 4096, 16, 24, 0.1, 0.1, 0, "gelu", false, false, false, false, null, null, 0],
  transformer_lm_gpt2_medium: [1280, 5120, 20, 36, 0.1, 0.1, 0, "gelu", false, false, false, false, null, null, 0],
  transformer_lm_gpt2_big: [1600, 6400, 25, 48, 0.1, 0.1, 0, "gelu", false, false, false, false, null, null, 0],
};

describe("fairseq v0.10.2's presets", () => {
  it("every transformer, transformer_align and transformer_lm architecture v0.10.2 registers is registered", () => {
    expect(listArchitectures()).toEqual(expect.arrayContaining([...TRANSLATION, ...LMS]));
  });

  it("translation presets fill fairseq's values (nested calls included)", () => {
    for (const arch of TRANSLATION) {
      const a = preset(arch);
      const got = [
        ...["encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads", "encoder_layers"].map((k) => a[k]),
        ...["decoder_embed_dim", "decoder_ffn_embed_dim", "decoder_attention_heads", "decoder_layers"].map((k) => a[k]),
        ...["dropout", "attention_dropout", "activation_dropout", "encoder_normalize_before", "decoder_normalize_before"].map((k) => a[k]),
      ];
      expect(got, arch).toEqual(TRANSLATION_DEFAULTS[arch]);
      expect([a.adaptive_softmax_cutoff, a.adaptive_softmax_dropout, a.adaptive_input, a.tie_adaptive_weights, a.max_source_positions], arch).toEqual([
        null,
        0,
        false,
        false,
        1024,
      ]);
    }
    for (const arch of ["transformer_align", "transformer_wmt_en_de_big_align"]) {
      const a = preset(arch);
      expect([a.alignment_heads, a.alignment_layer, a.full_context_alignment], arch).toEqual([1, 4, false]);
    }
    // a given value wins over the preset's, at every level of the chain
    expect(preset("transformer_wmt_en_de_big", { dropout: 0.2, attention_dropout: 0 })).toMatchObject({ dropout: 0.2, attention_dropout: 0 });
  });

  it("language-model presets fill fairseq's values (decoder_normalize_before always on)", () => {
    for (const arch of LMS) {
      const a = preset(arch);
      const got = [
        ...["decoder_embed_dim", "decoder_ffn_embed_dim", "decoder_attention_heads", "decoder_layers"].map((k) => a[k]),
        ...["dropout", "attention_dropout", "activation_dropout", "activation_fn", "no_decoder_final_norm"].map((k) => a[k]),
        ...["adaptive_input", "tie_adaptive_weights", "tie_adaptive_proj", "adaptive_input_cutoff", "adaptive_softmax_cutoff", "adaptive_softmax_dropout"].map(
          (k) => a[k],
        ),
      ];
      expect(got, arch).toEqual(LM_DEFAULTS[arch]);
      expect([a.decoder_normalize_before, a.adaptive_input_factor, a.adaptive_softmax_factor, a.decoder_learned_pos], arch).toEqual([true, 4, 4, false]);
      expect(a.decoder_input_dim, arch).toBe(a.decoder_embed_dim);
    }
    // old adaptive checkpoints (fairseq's backward compatibility): --no-tie-adaptive-proj False means tied, and no final norm
    expect(preset("transformer_lm", { no_tie_adaptive_proj: false })).toMatchObject({ tie_adaptive_proj: true, no_decoder_final_norm: true });
  });
});

/** A preset shrunk for building (same switches, tiny widths and depths): what the equality of shapes is checked on. */
function scaledDown(arch: string): ModelArgs {
  const small: Record<string, unknown> = { decoder_embed_dim: 16, decoder_ffn_embed_dim: 24, decoder_layers: 2, decoder_attention_heads: 4 };
  if (TRANSLATION.includes(arch)) Object.assign(small, { encoder_embed_dim: 16, encoder_ffn_embed_dim: 20, encoder_layers: 2, encoder_attention_heads: 2 });
  const a = preset(arch, small);
  if (a.adaptive_input_cutoff) a.adaptive_input_cutoff = "8,20";
  if (a.adaptive_softmax_cutoff) a.adaptive_softmax_cutoff = "8,20";
  return a;
}

describe("parameter names and shapes without building", () => {
  const vocabOf = (arch: string): ModelVocab => (TRANSLATION.includes(arch) ? { srcVocabSize: 30, tgtVocabSize: 34, padIdx: 1 } : { vocabSize: 34, padIdx: 1 });
  const variants: [string, Record<string, unknown>][] = [
    ...[...TRANSLATION, ...LMS].map((arch) => [arch, {}] as [string, Record<string, unknown>]),
    ["transformer", { share_all_embeddings: true, encoder_learned_pos: true, decoder_learned_pos: true, layernorm_embedding: true }],
    ["transformer", { decoder_output_dim: 32, adaptive_softmax_cutoff: "10,20", adaptive_softmax_dropout: 0.1 }],
    ["transformer_lm", { adaptive_input: true, adaptive_input_cutoff: "8,20", adaptive_softmax_cutoff: "8", adaptive_softmax_factor: 2 }],
    ["transformer_lm", { adaptive_input: true, adaptive_input_cutoff: "8,20", adaptive_softmax_cutoff: "8,20", tie_adaptive_weights: true }],
    ["transformer_lm", { decoder_input_dim: 8, decoder_output_dim: 12, share_decoder_input_output_embed: false }],
  ];
  for (const [arch, extra] of variants) {
    it(`${arch} ${JSON.stringify(extra)}: the listed shapes are the built model's`, () => {
      const vocab = vocabOf(arch);
      const a = { ...scaledDown(arch), ...extra };
      if (vocab.srcVocabSize && a.share_all_embeddings) vocab.srcVocabSize = vocab.tgtVocabSize;
      const listed = modelParameterShapes({ ...a }, vocab);
      const before = tf.memory().numTensors;
      const m = buildModel({ ...a }, vocab);
      const built = new Map([...m.namedParameters()].map(([k, v]) => [k, v.shape]));
      m.dispose();
      expect([...listed.entries()].sort()).toEqual([...built.entries()].sort());
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("adaptive input and softmax carry fairseq's names; tied weights are aliases of the adaptive input's", () => {
    const a = { ...scaledDown("transformer_lm_wiki103") };
    const m = buildModel(a, { vocabSize: 34, padIdx: 1 });
    const state = m.stateDict();
    const names = [...m.namedParameters().keys()];
    expect(names.filter((n) => n.startsWith("decoder.embed_tokens") || n.startsWith("decoder.adaptive_softmax")).sort()).toEqual(
      [
        "decoder.adaptive_softmax.head.class_proj.weight",
        ...[0, 1, 2].flatMap((i) => [`decoder.embed_tokens.embeddings.${i}.0.weight`, `decoder.embed_tokens.embeddings.${i}.1.weight`]),
      ].sort(),
    );
    // band sizes 8, 12, 14; band dims 16, 16/4, 16/16
    expect([0, 1, 2].map((i) => state.get(`decoder.embed_tokens.embeddings.${i}.0.weight`)!.shape)).toEqual([
      [8, 16],
      [12, 4],
      [14, 1],
    ]);
    expect(state.get("decoder.adaptive_softmax.head.word_proj.weight")).toBe(state.get("decoder.embed_tokens.embeddings.0.0.weight"));
    expect(state.get("decoder.adaptive_softmax.tail.0.2.weight")).toBe(state.get("decoder.embed_tokens.embeddings.1.0.weight"));
    expect(state.get("decoder.adaptive_softmax.tail.1.0.weight")).toBe(state.get("decoder.embed_tokens.embeddings.2.1.weight"));
    m.dispose();
  });
});

describe("parameter counts at full size (formulas worked out here; nothing allocated)", () => {
  /** One transformer layer: attention 4·(d² + d), each layer norm 2d, FFN d·f + f + f·d + d. */
  const attn = (d: number) => 4 * (d * d + d);
  const ffn = (d: number, f: number) => d * f + f + f * d + d;
  const encLayer = (d: number, f: number) => attn(d) + 2 * 2 * d + ffn(d, f);
  const decLayer = (d: number, f: number, cross = true) => (cross ? 2 : 1) * attn(d) + (cross ? 3 : 2) * 2 * d + ffn(d, f);

  it("transformer_wmt_en_de, 40k joint vocabulary, all embeddings shared: 64.6M (the paper's base model: 65M)", () => {
    const shapes = modelParameterShapes({ arch: "transformer_wmt_en_de", share_all_embeddings: true }, { srcVocabSize: 40000, tgtVocabSize: 40000, padIdx: 1 });
    const want = 40000 * 512 + 6 * encLayer(512, 2048) + 6 * decLayer(512, 2048);
    expect(want).toBe(64_618_496);
    expect(count(shapes)).toBe(want);
    expect(shapes.has("decoder.output_projection.weight")).toBe(false); // shared, as fairseq forces with --share-all-embeddings
  });

  it("transformer big (all four big presets), 32k shared vocabulary: 209.1M (Vaswani et al.'s big: 213M with a 37k vocabulary)", () => {
    const want = 32000 * 1024 + 6 * encLayer(1024, 4096) + 6 * decLayer(1024, 4096);
    expect(want).toBe(209_125_376);
    for (const arch of [
      "transformer_vaswani_wmt_en_de_big",
      "transformer_vaswani_wmt_en_fr_big",
      "transformer_wmt_en_de_big",
      "transformer_wmt_en_de_big_align",
    ]) {
      const shapes = modelParameterShapes({ arch, share_all_embeddings: true }, { srcVocabSize: 32000, tgtVocabSize: 32000, padIdx: 1 });
      expect(count(shapes), arch).toBe(want);
    }
    // t2t: pre-norm adds the encoder's and decoder's final layer norms
    const t2t = modelParameterShapes(
      { arch: "transformer_wmt_en_de_big_t2t", share_all_embeddings: true },
      { srcVocabSize: 32000, tgtVocabSize: 32000, padIdx: 1 },
    );
    expect(count(t2t)).toBe(want + 2 * 2 * 1024);
    // with the paper's 37k shared words: 214.2M (the paper rounds its big model to 213M)
    const v37 = count(
      modelParameterShapes({ arch: "transformer_wmt_en_de_big", share_all_embeddings: true }, { srcVocabSize: 37000, tgtVocabSize: 37000, padIdx: 1 }),
    );
    expect(Math.round(v37 / 1e6)).toBe(214);
  });

  it("transformer_lm_wiki103 on WikiText-103's 267,744 words: 246.9M (Baevski & Auli's adaptive-input model: 247M)", () => {
    const v = 267744;
    const shapes = modelParameterShapes({ arch: "transformer_lm_wiki103" }, { vocabSize: v, padIdx: 1 });
    // bands [0,20000) in 1024 dims, [20000,60000) in 256, [60000,V) in 64, each projected to 1024; the softmax ties
    // every band's embedding and projection, and adds only the 2 cluster rows of its head (no final layer norm)
    const bands = 20000 * 1024 + 1024 * 1024 + 40000 * 256 + 1024 * 256 + (v - 60000) * 64 + 1024 * 64;
    const want = bands + 2 * 1024 + 16 * decLayer(1024, 4096, false);
    expect(want).toBe(246_933_504);
    expect(count(shapes)).toBe(want);
  });

  it("GPT presets: transformer_lm_gpt with GPT-2's 50,257-word vocabulary and tied output = GPT-2 small (124.4M) less its 786k learned positions", () => {
    const v = 50257;
    const gpt = count(modelParameterShapes({ arch: "transformer_lm_gpt", share_decoder_input_output_embed: true }, { vocabSize: v, padIdx: 1 }));
    const want = v * 768 + 12 * decLayer(768, 3072, false) + 2 * 768;
    expect(gpt).toBe(want);
    expect(want + 1024 * 768).toBe(124_439_808); // GPT-2 small's published count
    for (const [arch, d, layers] of [
      ["transformer_lm_gpt2_small", 1024, 24],
      ["transformer_lm_gpt2_medium", 1280, 36],
      ["transformer_lm_gpt2_big", 1600, 48],
    ] as const) {
      const n = count(modelParameterShapes({ arch, share_decoder_input_output_embed: true }, { vocabSize: v, padIdx: 1 }));
      expect(n, arch).toBe(v * d + layers * decLayer(d, 4 * d, false) + 2 * d);
    }
    // gpt2_big is GPT-2 XL's shape (1.56B with its learned positions)
    const xl =
      count(modelParameterShapes({ arch: "transformer_lm_gpt2_big", share_decoder_input_output_embed: true }, { vocabSize: v, padIdx: 1 })) + 1024 * 1600;
    expect(Math.round(xl / 1e7) / 100).toBe(1.56);
  });
});
