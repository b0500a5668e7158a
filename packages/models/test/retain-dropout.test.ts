/**
 * Dropout at inference (fairseq's FairseqDropout.make_generation_fast_(retain_dropout, retain_dropout_modules)):
 * off in eval mode unless retained; retained, it follows the model's seeded stream; a module list keeps it only
 * in the FairseqDropouts whose module_name (their module's class name) is listed.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, type EncoderDecoderModel, type LanguageModel } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

const tiny = (extra: Record<string, unknown> = {}) => ({
  arch: "transformer",
  encoder_layers: 2,
  decoder_layers: 2,
  encoder_embed_dim: 16,
  decoder_embed_dim: 16,
  encoder_ffn_embed_dim: 32,
  decoder_ffn_embed_dim: 32,
  encoder_attention_heads: 4,
  decoder_attention_heads: 4,
  dropout: 0.3,
  attention_dropout: 0,
  activation_dropout: 0,
  ...extra,
});
const VOCAB = { srcVocabSize: 20, tgtVocabSize: 24, padIdx: 1 };

/** The decoder's output for one fixed batch, as numbers. */
function logits(m: EncoderDecoderModel): number[] {
  return tf.tidy(() => {
    const src = tf.tensor2d([[5, 6, 7, 8, 2]], [1, 5], "int32");
    const prev = tf.tensor2d([[2, 9, 10, 11]], [1, 4], "int32");
    const [out, extra] = m.forward(src, tf.tensor1d([5], "int32"), prev);
    extra.attn?.dispose();
    return Array.from(out.dataSync());
  });
}

describe("--retain-dropout in the models", () => {
  it("off by default in eval mode; retained: seeded (same seed, same output; another seed, another), no tensor left behind", () => {
    const m = buildModel(tiny(), VOCAB, { seed: 3 }) as EncoderDecoderModel;
    try {
      m.eval();
      const plain = logits(m);
      expect(logits(m)).toEqual(plain);
      m.setRetainDropout!(true);
      m.setSeed(11);
      const a = logits(m);
      m.setSeed(11);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        m.setSeed(11);
        expect(logits(m)).toEqual(a);
      }
      expect(tf.memory().numTensors).toBe(before);
      m.setSeed(12);
      const b = logits(m);
      expect(a).not.toEqual(plain);
      expect(b).not.toEqual(a);
      // turned off again: the eval output, whatever the seed
      m.setRetainDropout!(false);
      expect(logits(m)).toEqual(plain);
      expect(m.training).toBe(false);
    } finally {
      m.dispose();
    }
  });

  it("a module list keeps dropout only in those modules (fairseq class names)", () => {
    // dropout 0.3 sits in the layers and after the embeddings; the attention's and the FFN's inner dropout are 0
    const m = buildModel(tiny(), VOCAB, { seed: 3 }) as EncoderDecoderModel;
    try {
      m.eval();
      const plain = logits(m);
      const run = (modules: string[] | null) => {
        m.setRetainDropout!(true, modules);
        m.setSeed(5);
        return logits(m);
      };
      // MultiheadAttention's dropout (attention_dropout) is 0: keeping it changes nothing
      expect(run(["MultiheadAttention"])).toEqual(plain);
      const encoderLayers = run(["TransformerEncoderLayer"]);
      const decoderOnly = run(["TransformerDecoder"]);
      const all = run(null);
      for (const x of [encoderLayers, decoderOnly, all]) expect(x).not.toEqual(plain);
      expect(encoderLayers).not.toEqual(decoderOnly);
      expect(run(["TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder"])).toEqual(all);
      expect(m.dropoutModules!()).toEqual([
        "TransformerEncoder",
        "TransformerEncoderLayer",
        "TransformerDecoder",
        "TransformerDecoderLayer",
        "MultiheadAttention",
      ]);
    } finally {
      m.dispose();
    }
  });

  it("with attention dropout, MultiheadAttention's own dropout applies; language models and LSTMs name theirs", () => {
    const m = buildModel(tiny({ dropout: 0, attention_dropout: 0.5 }), VOCAB, { seed: 3 }) as EncoderDecoderModel;
    try {
      m.eval();
      const plain = logits(m);
      m.setRetainDropout!(true, ["TransformerEncoderLayer", "TransformerDecoderLayer"]);
      expect(logits(m)).toEqual(plain); // their dropout is 0 here
      m.setRetainDropout!(true, ["MultiheadAttention"]);
      expect(logits(m)).not.toEqual(plain);
    } finally {
      m.dispose();
    }
    const lm = buildModel(
      { arch: "transformer_lm", decoder_layers: 1, decoder_embed_dim: 8, decoder_ffn_embed_dim: 16, decoder_attention_heads: 2 },
      { vocabSize: 12, padIdx: 1 },
    ) as LanguageModel;
    expect(lm.dropoutModules!()).toEqual(["TransformerDecoder", "TransformerDecoderLayer", "MultiheadAttention"]);
    lm.dispose();
    const lstm = buildModel(
      { arch: "lstm", encoder_embed_dim: 4, encoder_hidden_size: 4, decoder_embed_dim: 4, decoder_hidden_size: 4, decoder_out_embed_dim: 4 },
      VOCAB,
    ) as EncoderDecoderModel;
    expect(lstm.dropoutModules!()).toEqual(["LSTMEncoder", "LSTMDecoder"]);
    lstm.eval();
    const run = () =>
      tf.tidy(() => {
        const [out] = lstm.forward(tf.tensor2d([[5, 6, 2]], [1, 3], "int32"), tf.tensor1d([3], "int32"), tf.tensor2d([[2, 7]], [1, 2], "int32"));
        return Array.from(out.dataSync());
      });
    const plain = run();
    lstm.setRetainDropout!(true, ["LSTMDecoder"]);
    expect(run()).not.toEqual(plain);
    lstm.dispose();
  });
});
