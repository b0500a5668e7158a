import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, type EncoderDecoderModel } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

/** A 3+3-layer model with dropout everywhere (the recomputation must replay the same masks) and padded batches. */
const args = (checkpoint: boolean) => ({
  arch: "bart_base",
  encoder_layers: 3,
  decoder_layers: 3,
  encoder_embed_dim: 16,
  decoder_embed_dim: 16,
  encoder_ffn_embed_dim: 32,
  decoder_ffn_embed_dim: 32,
  encoder_attention_heads: 4,
  decoder_attention_heads: 4,
  dropout: 0.2,
  attention_dropout: 0.1,
  activation_dropout: 0.1,
  checkpoint_activations: checkpoint,
});

/** Loss and every parameter's gradient of one training forward/backward (seeded dropout). */
function lossAndGrads(m: EncoderDecoderModel, seed: number) {
  const src = tf.tensor2d(
    [
      [1, 5, 6, 7, 8, 2],
      [9, 10, 11, 12, 13, 2],
    ],
    [2, 6],
    "int32",
  );
  const lens = tf.tensor1d([5, 6], "int32");
  const prev = tf.tensor2d(
    [
      [2, 4, 5, 6],
      [2, 7, 1, 1],
    ],
    [2, 4],
    "int32",
  );
  m.train();
  m.setSeed(seed);
  const params = new Map(m.namedParameters());
  let tapeNodes = 0;
  const { value, grads } = tf.variableGrads(() => {
    const loss = tf.neg(tf.mean(m.getNormalizedProbs(m.forward(src, lens, prev), true))) as tf.Scalar;
    // ops recorded for the backward pass: a checkpointed layer is one node
    tapeNodes = tf.engine().state.activeTape.length;
    return loss;
  }, [...params.values()]);
  const out = { tapeNodes, loss: value.dataSync()[0]!, grads: new Map([...params.keys()].map((k) => [k, grads[params.get(k)!.name]!.dataSync().slice()])) };
  value.dispose();
  tf.dispose(Object.values(grads));
  tf.dispose([src, lens, prev]);
  return out;
}

describe("--checkpoint-activations", () => {
  it("gives the loss and gradients of the plain model (same dropout masks), and holds no tensor after the step", () => {
    const vocab = { srcVocabSize: 20, tgtVocabSize: 20, padIdx: 1 };
    const plain = buildModel(args(false), vocab) as EncoderDecoderModel;
    const ckpt = buildModel(args(true), vocab) as EncoderDecoderModel;
    // same initial weights
    for (const [name, p] of ckpt.namedParameters()) p.assign(plain.namedParameters().get(name)!);
    const a = lossAndGrads(plain, 3);
    const b = lossAndGrads(ckpt, 3);
    // (after the first step: the model keeps its future mask from then on)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) lossAndGrads(ckpt, 4 + i);
    expect(tf.memory().numTensors).toBe(before);
    expect(b.loss).toBe(a.loss);
    // 3 encoder layers and 2 decoder layers (not the last: its attention weights are an output) became one node each
    expect(b.tapeNodes).toBeLessThan(a.tapeNodes / 2);
    expect(b.grads.size).toBe(a.grads.size);
    let maxDiff = 0;
    let nonzero = 0;
    for (const [name, g] of a.grads) {
      const h = b.grads.get(name)!;
      expect(h.length, name).toBe(g.length);
      g.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - h[i]!))));
      if (g.some((v) => v !== 0)) nonzero++;
    }
    // every layer's parameters get a gradient through the recomputation (none left at zero)
    expect(nonzero).toBe(a.grads.size);
    expect(maxDiff).toBeLessThan(1e-6);
    // a different seed gives different masks, hence a different loss: the replay really is seeded
    expect(lossAndGrads(ckpt, 9).loss).not.toBe(a.loss);
    plain.dispose();
    ckpt.dispose();
  });
});
