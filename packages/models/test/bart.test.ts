import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { type TorchTensor, readTorchCheckpoint } from "@fairseq-ts/torch-load";
import {
  BARTModel,
  applyArchitecture,
  buildModel,
  decodeCheckpoint,
  encodeCheckpoint,
  importFairseqCheckpoint,
  loadModelWeights,
  modelFromCheckpoint,
  modelOptionsOf,
  upgradeStateDict,
  type EncoderDecoderModel,
  type ModelArgs,
  type WeightValues,
} from "../src/index.js";
import { SHARED } from "./shared.js";

const BART_TINY = join(SHARED, "reference/fairseq/bart-tiny/model.pt");
/** bart-tiny's joined dictionary (COMMANDS.md: 13,648 types). */
const TINY_VOCAB = 13648;

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

interface Dims {
  vocab: number;
  encoderLayers: number;
  decoderLayers: number;
  dim: number;
  ffn: number;
  layernormEmbedding: boolean;
  maxPositions?: number;
}

/**
 * The state-dict names and shapes of fairseq v0.10.2's BARTModel, written out by hand from its source
 * (models/transformer.py TransformerEncoder/Decoder, modules/transformer_layer.py, multihead_attention.py,
 * learned_positional_embedding.py): shared embeddings (also stored as decoder.embed_tokens and
 * decoder.output_projection), learned positions with max_positions + padding_idx + 1 rows, layernorm_embedding when
 * set, post-norm layers (no encoder/decoder.layer_norm), and the `version` buffers.
 */
function fairseqBartStateDict(d: Dims): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const pos = (d.maxPositions ?? 1024) + 2;
  const attn = (p: string) => {
    for (const m of ["k_proj", "v_proj", "q_proj", "out_proj"]) {
      out.set(`${p}.${m}.weight`, [d.dim, d.dim]);
      out.set(`${p}.${m}.bias`, [d.dim]);
    }
  };
  const norm = (p: string) => {
    out.set(`${p}.weight`, [d.dim]);
    out.set(`${p}.bias`, [d.dim]);
  };
  const ffn = (p: string) => {
    out.set(`${p}.fc1.weight`, [d.ffn, d.dim]);
    out.set(`${p}.fc1.bias`, [d.ffn]);
    out.set(`${p}.fc2.weight`, [d.dim, d.ffn]);
    out.set(`${p}.fc2.bias`, [d.dim]);
  };
  for (const side of ["encoder", "decoder"] as const) {
    out.set(`${side}.version`, [1]);
    out.set(`${side}.embed_tokens.weight`, [d.vocab, d.dim]);
    out.set(`${side}.embed_positions.weight`, [pos, d.dim]);
    if (d.layernormEmbedding) norm(`${side}.layernorm_embedding`);
    const n = side === "encoder" ? d.encoderLayers : d.decoderLayers;
    for (let i = 0; i < n; i++) {
      const l = `${side}.layers.${i}`;
      attn(`${l}.self_attn`);
      norm(`${l}.self_attn_layer_norm`);
      if (side === "decoder") {
        attn(`${l}.encoder_attn`);
        norm(`${l}.encoder_attn_layer_norm`);
      }
      ffn(l);
      norm(`${l}.final_layer_norm`);
    }
  }
  out.set("decoder.output_projection.weight", [d.vocab, d.dim]);
  return out;
}

/** Parameters counted once (fairseq's sum over model.parameters(): tied embeddings once, no buffers). */
function parameterCount(sd: Map<string, number[]>): number {
  let n = 0;
  for (const [k, s] of sd) {
    if (k.endsWith(".version") || k === "decoder.embed_tokens.weight" || k === "decoder.output_projection.weight") continue;
    n += s.reduce((a, b) => a * b, 1);
  }
  return n;
}

/** Our model's state dict (aliases included, as fairseq stores them) as name -> shape, plus the version buffers. */
function ourStateDict(model: EncoderDecoderModel): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [k, v] of model.stateDict()) out.set(k, [...v.shape]);
  out.set("encoder.version", [1]);
  out.set("decoder.version", [1]);
  return out;
}

const sorted = (m: Map<string, number[]>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe("bart presets (fairseq's bart_large_architecture and the presets built on it)", () => {
  // the values fairseq v0.10.2's presets give, copied from fairseq/models/bart/model.py
  const large = {
    encoder_embed_dim: 1024,
    encoder_ffn_embed_dim: 4096,
    encoder_layers: 12,
    encoder_attention_heads: 16,
    decoder_embed_dim: 1024,
    decoder_ffn_embed_dim: 4096,
    decoder_layers: 12,
    decoder_attention_heads: 16,
    encoder_normalize_before: false,
    decoder_normalize_before: false,
    encoder_learned_pos: true,
    decoder_learned_pos: true,
    share_all_embeddings: true,
    share_decoder_input_output_embed: true,
    no_scale_embedding: true,
    layernorm_embedding: true,
    activation_fn: "gelu",
    pooler_activation_fn: "tanh",
    pooler_dropout: 0,
    dropout: 0.1,
    attention_dropout: 0,
    activation_dropout: 0,
    max_source_positions: 1024,
    max_target_positions: 1024,
  };
  const base = { ...large, encoder_embed_dim: 768, decoder_embed_dim: 768, encoder_ffn_embed_dim: 3072, decoder_ffn_embed_dim: 3072 };
  Object.assign(base, { encoder_layers: 6, decoder_layers: 6, encoder_attention_heads: 12, decoder_attention_heads: 12 });
  const expected: Record<string, Record<string, unknown>> = {
    bart_large: large,
    bart_base: base,
    mbart_large: { ...large, no_scale_embedding: false },
    mbart_base: { ...base, no_scale_embedding: false },
    mbart_base_wmt20: { ...base, no_scale_embedding: false, layernorm_embedding: false },
  };
  for (const [arch, want] of Object.entries(expected)) {
    it(`${arch} fills fairseq's values`, () => {
      const { model, args } = applyArchitecture({ arch });
      expect(model).toBe("bart");
      for (const [k, v] of Object.entries(want)) expect(args[k], `${arch}.${k}`).toBe(v);
    });
  }

  it("a flag given beats the preset (fairseq's getattr): --no-scale-embedding stays, --layernorm-embedding given false stays false", () => {
    const { args } = applyArchitecture({ arch: "mbart_large", layernorm_embedding: false, encoder_layers: 3 });
    expect([args.layernorm_embedding, args.no_scale_embedding, args.encoder_layers, args.decoder_layers]).toEqual([false, false, 3, 12]);
    // an older args' relu_dropout is the FFN dropout when activation_dropout is unset (fairseq's layers)
    expect(applyArchitecture({ arch: "bart_base", relu_dropout: 0.2 }).args.activation_dropout).toBe(0.2);
  });

  it("the hand-derived state dict at full size has the parameter counts published for bart.base and bart.large (vocab 50265)", () => {
    const sizes = (arch: string): Dims => {
      const a = applyArchitecture({ arch }).args;
      return {
        vocab: 50265,
        encoderLayers: a.encoder_layers as number,
        decoderLayers: a.decoder_layers as number,
        dim: a.encoder_embed_dim as number,
        ffn: a.encoder_ffn_embed_dim as number,
        layernormEmbedding: a.layernorm_embedding as boolean,
      };
    };
    // bart.base: 139,420,416 parameters; bart.large: 406,291,456 (the released checkpoints)
    expect(parameterCount(fairseqBartStateDict(sizes("bart_base")))).toBe(139_420_416);
    expect(parameterCount(fairseqBartStateDict(sizes("bart_large")))).toBe(406_291_456);
  });

  it("bart-tiny's model.pt holds exactly the hand-derived names and shapes", async () => {
    const ckpt = await readTorchCheckpoint(BART_TINY);
    const state = (ckpt.root as Map<string, unknown>).get("model") as Map<string, TorchTensor>;
    const theirs = new Map([...state].map(([k, t]) => [k, [...t.shape]] as [string, number[]]));
    const want = fairseqBartStateDict({ vocab: TINY_VOCAB, encoderLayers: 2, decoderLayers: 2, dim: 64, ffn: 128, layernormEmbedding: true });
    expect(sorted(theirs)).toEqual(sorted(want));
  });

  it("every preset, built (layers cut to 1, full widths for bart_base; tiny widths for the others), has fairseq's names and shapes", () => {
    const before = tf.memory().numTensors;
    const cases: [string, Partial<ModelArgs>, Dims][] = [
      ["bart_base", { encoder_layers: 1, decoder_layers: 1 }, { vocab: 16, encoderLayers: 1, decoderLayers: 1, dim: 768, ffn: 3072, layernormEmbedding: true }],
      ...(["bart_large", "mbart_large", "mbart_base", "mbart_base_wmt20"] as const).map((arch): [string, Partial<ModelArgs>, Dims] => [
        arch,
        {
          encoder_layers: 2,
          decoder_layers: 3,
          encoder_embed_dim: 32,
          decoder_embed_dim: 32,
          encoder_ffn_embed_dim: 48,
          decoder_ffn_embed_dim: 48,
          encoder_attention_heads: 4,
          decoder_attention_heads: 4,
        },
        { vocab: 21, encoderLayers: 2, decoderLayers: 3, dim: 32, ffn: 48, layernormEmbedding: arch !== "mbart_base_wmt20" },
      ]),
    ];
    for (const [arch, over, dims] of cases) {
      const model = buildModel({ arch, ...over }, { srcVocabSize: dims.vocab, tgtVocabSize: dims.vocab, padIdx: 1 }) as EncoderDecoderModel;
      expect(model).toBeInstanceOf(BARTModel);
      expect(sorted(ourStateDict(model)), arch).toEqual(sorted(fairseqBartStateDict(dims)));
      expect(model.numParameters()).toBe(parameterCount(fairseqBartStateDict(dims)));
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("BERT initialisation (init_bert_params): weights N(0, 0.02), biases 0, padding rows 0, layer norms 1/0", () => {
    const model = buildModel(
      {
        arch: "bart_base",
        encoder_layers: 1,
        decoder_layers: 1,
        encoder_embed_dim: 64,
        decoder_embed_dim: 64,
        encoder_ffn_embed_dim: 256,
        decoder_ffn_embed_dim: 256,
        encoder_attention_heads: 4,
        decoder_attention_heads: 4,
      },
      { srcVocabSize: 500, tgtVocabSize: 500, padIdx: 1 },
    );
    const p = model.namedParameters();
    const stats = (name: string) => {
      const v = p.get(name)!.dataSync();
      let s = 0;
      let s2 = 0;
      for (const x of v) {
        s += x;
        s2 += x * x;
      }
      return { mean: s / v.length, std: Math.sqrt(s2 / v.length - (s / v.length) ** 2) };
    };
    for (const name of [
      "encoder.embed_tokens.weight",
      "decoder.layers.0.fc1.weight",
      "encoder.layers.0.self_attn.q_proj.weight",
      "decoder.embed_positions.weight",
    ]) {
      const { mean, std } = stats(name);
      expect(Math.abs(mean), name).toBeLessThan(0.002);
      expect(std, name).toBeGreaterThan(0.0185);
      expect(std, name).toBeLessThan(0.0215);
    }
    const emb = p.get("encoder.embed_tokens.weight")!;
    expect(Array.from(tf.tidy(() => tf.slice(emb, [1, 0], [1, 64])).dataSync()).every((x) => x === 0)).toBe(true);
    expect(Array.from(p.get("decoder.layers.0.fc2.bias")!.dataSync()).every((x) => x === 0)).toBe(true);
    expect(Array.from(p.get("encoder.layernorm_embedding.weight")!.dataSync()).every((x) => x === 1)).toBe(true);
    model.dispose();
  });

  it("the bart model's options are the transformer's plus the pooler's; --spectral-norm-classification-head is refused by name", () => {
    const o = modelOptionsOf("bart_large")!;
    expect(Object.keys(o.declarations)).toEqual(
      expect.arrayContaining(["layernorm_embedding", "encoder_normalize_before", "pooler_dropout", "pooler_activation_fn"]),
    );
    expect(o.resolve({ pooler_dropout: 0.3, pooler_activation_fn: "relu" })).toMatchObject({ pooler_dropout: 0.3, pooler_activation_fn: "relu" });
    expect(() => o.resolve({ spectral_norm_classification_head: true })).toThrow(/spectral normalization of the classification head is not implemented/);
  });
});

describe("bart .pt import (fairseq's upgrade_state_dict_named)", () => {
  it("imports bart-tiny: every weight equal to the checkpoint's, tied embeddings one variable", async () => {
    const ckpt = await readTorchCheckpoint(BART_TINY);
    const { model, args } = importFairseqCheckpoint(ckpt, { srcVocabSize: TINY_VOCAB, tgtVocabSize: TINY_VOCAB });
    expect(args.arch).toBe("bart_base");
    expect(model).toBeInstanceOf(BARTModel);
    const state = (ckpt.root as Map<string, unknown>).get("model") as Map<string, TorchTensor>;
    const sd = model.stateDict();
    for (const name of [
      "encoder.embed_tokens.weight",
      "decoder.output_projection.weight",
      "decoder.layers.1.encoder_attn.v_proj.bias",
      "encoder.layernorm_embedding.bias",
    ]) {
      expect(Array.from(sd.get(name)!.dataSync())).toEqual(Array.from(ckpt.tensorData(state.get(name)!) as Float32Array));
    }
    expect(sd.get("decoder.output_projection.weight")).toBe(sd.get("encoder.embed_tokens.weight"));
    model.dispose();
  });

  it("a checkpoint one embedding row longer than the dictionary (pretraining's <mask>) loses that row, as fairseq does for translation", async () => {
    const ckpt = await readTorchCheckpoint(BART_TINY);
    const { model } = importFairseqCheckpoint(ckpt, { srcVocabSize: TINY_VOCAB - 1, tgtVocabSize: TINY_VOCAB - 1 });
    const state = (ckpt.root as Map<string, unknown>).get("model") as Map<string, TorchTensor>;
    const w = model.stateDict().get("encoder.embed_tokens.weight")!;
    expect(w.shape).toEqual([TINY_VOCAB - 1, 64]);
    expect(Array.from(w.dataSync())).toEqual(
      Array.from((ckpt.tensorData(state.get("encoder.embed_tokens.weight")!) as Float32Array).subarray(0, (TINY_VOCAB - 1) * 64)),
    );
    model.dispose();
    // two rows too many is not that case: the usual size error
    expect(() => importFairseqCheckpoint(ckpt, { srcVocabSize: TINY_VOCAB - 2, tgtVocabSize: TINY_VOCAB - 2 })).toThrow(/vocabulary size mismatch/);
  });

  it("classification heads in the state dict are built under fairseq's names (dense, out_proj) and round-trip through a fairseq-ts checkpoint", () => {
    const args: ModelArgs = {
      arch: "bart_base",
      encoder_layers: 1,
      decoder_layers: 1,
      encoder_embed_dim: 16,
      encoder_ffn_embed_dim: 32,
      encoder_attention_heads: 2,
    };
    args.decoder_attention_heads = 2;
    const vocab = { srcVocabSize: 12, tgtVocabSize: 12, padIdx: 1 };
    const donor = buildModel({ ...args }, vocab) as BARTModel;
    donor.registerClassificationHead("mnli", 3, 24);
    const names = [...donor.namedParameters().keys()].filter((k) => k.startsWith("classification_heads."));
    expect(names.sort()).toEqual([
      "classification_heads.mnli.dense.bias",
      "classification_heads.mnli.dense.weight",
      "classification_heads.mnli.out_proj.bias",
      "classification_heads.mnli.out_proj.weight",
    ]);
    expect(donor.namedParameters().get("classification_heads.mnli.dense.weight")!.shape).toEqual([24, 16]);
    expect(donor.namedParameters().get("classification_heads.mnli.out_proj.weight")!.shape).toEqual([3, 24]);
    // the heads come back from the weights alone (the args do not name them), as fairseq's hub loads them
    const decoded = decodeCheckpoint(encodeCheckpoint(donor, { args }));
    const { model, args: loadedArgs } = modelFromCheckpoint(decoded, vocab);
    expect(loadedArgs.classification_heads).toEqual({ mnli: { num_classes: 3, inner_dim: 24 } });
    const bart = model as BARTModel;
    expect(Array.from(bart.namedParameters().get("classification_heads.mnli.out_proj.weight")!.dataSync())).toEqual(
      Array.from(donor.namedParameters().get("classification_heads.mnli.out_proj.weight")!.dataSync()),
    );
    // fairseq's forward with classification_head_name: the decoder's features at the last source eos through the head
    const src = tf.tensor2d(
      [
        [5, 6, 7, 2],
        [1, 8, 9, 2],
      ],
      [2, 4],
      "int32",
    );
    const prev = tf.tensor2d(
      [
        [2, 5, 6, 7],
        [2, 1, 8, 9],
      ],
      [2, 4],
      "int32",
    );
    const lens = tf.tensor1d([4, 3], "int32");
    const logits = bart.classify(src, lens, prev, "mnli", 2);
    expect(logits.shape).toEqual([2, 3]);
    const want = tf.tidy(() => {
      const [f] = bart.forward(src, lens, prev, { featuresOnly: true });
      const last = tf.reshape(tf.slice(f, [0, 3, 0], [2, 1, 16]), [2, 16]);
      const h = bart.classificationHeads.get("mnli")!;
      return tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(last, h.dense.weight, false, true), h.dense.bias!)), h.outProj.weight, false, true), h.outProj.bias!);
    });
    Array.from(logits.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(want.dataSync()[i]!, 5));
    expect(() => bart.classify(src, lens, prev, "nope", 2)).toThrow(/no classification head 'nope' \(heads: mnli\)/);
    tf.dispose([src, prev, lens, logits, want]);
    donor.dispose();
    model.dispose();
  });

  it("loading into a built model (fine-tuning a pretrained BART): the <mask> row is cut, heads the model lacks are left out", () => {
    const args: ModelArgs = { arch: "bart_base", encoder_layers: 1, decoder_layers: 1, encoder_embed_dim: 16, encoder_ffn_embed_dim: 32 };
    Object.assign(args, { encoder_attention_heads: 2, decoder_attention_heads: 2 });
    const pretrained = buildModel({ ...args }, { srcVocabSize: 13, tgtVocabSize: 13, padIdx: 1 }) as BARTModel; // dictionary + <mask>
    pretrained.registerClassificationHead("mnli", 3);
    const ckpt = decodeCheckpoint(encodeCheckpoint(pretrained, { args }));
    const before = tf.memory().numTensors;
    const finetune = buildModel({ ...args }, { srcVocabSize: 12, tgtVocabSize: 12, padIdx: 1 }) as BARTModel;
    loadModelWeights(finetune, ckpt.weights, "pretrained.safetensors");
    const emb = (m: BARTModel) => m.namedParameters().get("encoder.embed_tokens.weight")!;
    expect(emb(finetune).shape).toEqual([12, 16]);
    expect(Array.from(emb(finetune).dataSync())).toEqual(Array.from(emb(pretrained).dataSync()).slice(0, 12 * 16));
    expect(finetune.classificationHeads.size).toBe(0);
    const w = "decoder.layers.0.fc1.weight";
    expect(Array.from(finetune.namedParameters().get(w)!.dataSync())).toEqual(Array.from(pretrained.namedParameters().get(w)!.dataSync()));
    finetune.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // two rows more is a shape error naming the weight and the file
    const other = buildModel({ ...args }, { srcVocabSize: 11, tgtVocabSize: 11, padIdx: 1 });
    expect(() => loadModelWeights(other, ckpt.weights, "pretrained.safetensors")).toThrow(
      /pretrained\.safetensors: .*encoder\.embed_tokens\.weight: shape \[13,16\]/s,
    );
    other.dispose();
    pretrained.dispose();
  });

  it("older checkpoints' names are upgraded: decoder.embed_out -> output_projection, layers.N.layer_norms.K -> the named norms", () => {
    const w = (shape: number[]): WeightValues => ({ shape, values: () => new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const state = new Map<string, WeightValues>([
      ["decoder.embed_out", w([10, 4])],
      ["encoder.layers.0.layer_norms.1.weight", w([4])],
      ["decoder.layers.2.layer_norms.1.bias", w([4])],
    ]);
    upgradeStateDict({ arch: "transformer", share_decoder_input_output_embed: false }, state);
    expect([...state.keys()].sort()).toEqual([
      "decoder.layers.2.encoder_attn_layer_norm.bias",
      "decoder.output_projection.weight",
      "encoder.layers.0.final_layer_norm.weight",
    ]);
    // shared: the output projection is the decoder's embedding (BART checkpoints before v0.10 lack the key)
    const shared = new Map<string, WeightValues>([["decoder.embed_tokens.weight", w([10, 4])]]);
    upgradeStateDict({ arch: "bart_base" }, shared);
    expect(shared.get("decoder.output_projection.weight")).toBe(shared.get("decoder.embed_tokens.weight"));
  });
});
