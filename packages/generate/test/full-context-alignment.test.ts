/**
 * --print-alignment with transformer_align --full-context-alignment: fairseq's SequenceGeneratorWithAlignment takes
 * each hypothesis' attention from the model's forward_align (a teacher-forced pass without the future mask at the
 * alignment layer over the alignment heads); without full context, the attention gathered while decoding.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, type EncoderDecoderModel } from "@fairseq-ts/models";
import { SequenceGenerator } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

const args = (fullContext: boolean) => ({
  arch: "transformer_align",
  encoder_layers: 1,
  decoder_layers: 2,
  encoder_embed_dim: 16,
  decoder_embed_dim: 16,
  encoder_ffn_embed_dim: 16,
  decoder_ffn_embed_dim: 16,
  encoder_attention_heads: 2,
  decoder_attention_heads: 2,
  alignment_layer: 0,
  full_context_alignment: fullContext,
});

describe("transformer_align --full-context-alignment in generation", () => {
  it("each hypothesis' attention is the model's alignmentAttention of it; the hypotheses are those of plain decoding", () => {
    const vocab = { srcVocabSize: 20, tgtVocabSize: 20, padIdx: 1 };
    const full = buildModel(args(true), vocab, { seed: 3 }) as EncoderDecoderModel;
    const plain = buildModel(args(false), vocab) as EncoderDecoderModel;
    plain.loadStateDict(full.stateDict());
    const sp = { pad: 1, eos: 2, unk: 3 };
    const src = tf.tensor2d(
      [
        [1, 5, 6, 7, 2],
        [8, 9, 10, 11, 2],
      ],
      [2, 5],
      "int32",
    );
    const lens = tf.tensor1d([4, 5], "int32");
    const opts = { beam: 3, nbest: 2, maxLenB: 6, retainAttention: true };
    const got = new SequenceGenerator(full, sp, 20, opts).generate(src, lens);
    const base = new SequenceGenerator(plain, sp, 20, opts).generate(src, lens);
    let differs = false;
    for (let b = 0; b < 2; b++) {
      got[b]!.forEach((h, j) => {
        const p = base[b]![j]!;
        expect(Array.from(h.tokens)).toEqual(Array.from(p.tokens));
        const t = h.tokens.length;
        const want = tf.tidy(() =>
          full.alignmentAttention!(
            tf.slice(src, [b, 0], [1, -1]) as tf.Tensor2D,
            tf.slice(lens, [b], [1]) as tf.Tensor1D,
            tf.tensor2d([[2, ...Array.from(h.tokens.slice(0, t - 1))]], [1, t], "int32"),
          ).arraySync(),
        )[0]!;
        expect(h.attention!.length).toBe(t);
        h.attention!.forEach((row, i) => Array.from(row).forEach((v, k) => expect(v).toBeCloseTo(want[i]![k]!, 5)));
        if (h.attention!.some((row, i) => row.some((v, k) => Math.abs(v - p.attention![i]![k]!) > 1e-4))) differs = true;
      });
    }
    expect(differs).toBe(true); // layer 0, head 0, full context: not the last layer's causal attention
    tf.dispose([src, lens]);
    full.dispose();
    plain.dispose();
  });
});
