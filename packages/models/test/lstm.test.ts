import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, decodeSafetensors, disposeIncrementalState, encodeSafetensors, f32, toFloat32, type EncoderDecoderModel, type IncrementalState } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const PAD = 1;
const EOS = 2;
const lstmArgs = (extra: Record<string, unknown> = {}) => ({
  arch: "lstm",
  encoder_embed_dim: 3,
  encoder_hidden_size: 2,
  encoder_layers: 1,
  encoder_bidirectional: true,
  decoder_embed_dim: 3,
  decoder_hidden_size: 4,
  decoder_out_embed_dim: 3,
  decoder_layers: 1,
  dropout: 0,
  ...extra,
});
const build = (extra: Record<string, unknown> = {}, seed = 7) =>
  buildModel(lstmArgs(extra), { srcVocabSize: 9, tgtVocabSize: 10, padIdx: PAD }, { seed }) as EncoderDecoderModel;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** PyTorch's LSTM equations in float64 (gate order i, f, g, o), over an unpadded sequence. */
function lstmRef(xs: number[][], wih: number[][], whh: number[][], bih: number[], bhh: number[], H: number) {
  let h = new Array(H).fill(0);
  let c = new Array(H).fill(0);
  const outs: number[][] = [];
  for (const x of xs) {
    const g = wih.map((row, k) => row.reduce((a, w, j) => a + w * x[j]!, 0) + bih[k]! + whh[k]!.reduce((a, w, j) => a + w * h[j]!, 0) + bhh[k]!);
    const i = g.slice(0, H).map(sigmoid);
    const f = g.slice(H, 2 * H).map(sigmoid);
    const gg = g.slice(2 * H, 3 * H).map(Math.tanh);
    const o = g.slice(3 * H).map(sigmoid);
    c = c.map((cv, k) => f[k]! * cv + i[k]! * gg[k]!);
    h = c.map((cv, k) => o[k]! * Math.tanh(cv));
    outs.push(h);
  }
  return { outs, h, c };
}

const arr2 = (t: tf.Tensor) => t.arraySync() as number[][];

describe("LSTM models (fairseq's lstm.py)", () => {
  it("has fairseq's parameter names and shapes; safetensors round trip", () => {
    const m = build({ encoder_layers: 2, decoder_layers: 2 });
    const shapes = Object.fromEntries([...m.namedParameters()].map(([k, v]) => [k, v.shape]));
    const H = 2;
    const want: Record<string, number[]> = {
      "encoder.embed_tokens.weight": [9, 3],
      "encoder.lstm.weight_ih_l0": [4 * H, 3], "encoder.lstm.weight_hh_l0": [4 * H, H], "encoder.lstm.bias_ih_l0": [4 * H], "encoder.lstm.bias_hh_l0": [4 * H],
      "encoder.lstm.weight_ih_l0_reverse": [4 * H, 3], "encoder.lstm.weight_hh_l0_reverse": [4 * H, H], "encoder.lstm.bias_ih_l0_reverse": [4 * H], "encoder.lstm.bias_hh_l0_reverse": [4 * H],
      "encoder.lstm.weight_ih_l1": [4 * H, 2 * H], "encoder.lstm.weight_hh_l1": [4 * H, H], "encoder.lstm.bias_ih_l1": [4 * H], "encoder.lstm.bias_hh_l1": [4 * H],
      "encoder.lstm.weight_ih_l1_reverse": [4 * H, 2 * H], "encoder.lstm.weight_hh_l1_reverse": [4 * H, H], "encoder.lstm.bias_ih_l1_reverse": [4 * H], "encoder.lstm.bias_hh_l1_reverse": [4 * H],
      "decoder.embed_tokens.weight": [10, 3],
      // bidirectional encoder output (4) = decoder hidden (4): no encoder_hidden_proj / encoder_cell_proj
      "decoder.layers.0.weight_ih": [16, 4 + 3], "decoder.layers.0.weight_hh": [16, 4], "decoder.layers.0.bias_ih": [16], "decoder.layers.0.bias_hh": [16],
      "decoder.layers.1.weight_ih": [16, 4], "decoder.layers.1.weight_hh": [16, 4], "decoder.layers.1.bias_ih": [16], "decoder.layers.1.bias_hh": [16],
      "decoder.attention.input_proj.weight": [4, 4], "decoder.attention.output_proj.weight": [4, 8],
      "decoder.additional_fc.weight": [3, 4], "decoder.additional_fc.bias": [3],
      "decoder.fc_out.weight": [10, 3], "decoder.fc_out.bias": [10],
    };
    expect(shapes).toEqual(want);
    const proj = build({ encoder_bidirectional: false, decoder_hidden_size: 5 });
    expect([...proj.namedParameters().keys()].filter((k) => k.includes("proj") && !k.includes("attention"))).toEqual([
      "decoder.encoder_hidden_proj.weight", "decoder.encoder_hidden_proj.bias", "decoder.encoder_cell_proj.weight", "decoder.encoder_cell_proj.bias",
    ]);
    // weights survive a safetensors round trip bit for bit
    const st = new Map([...m.namedParameters()].map(([k, v]) => [k, f32(v.shape, v.dataSync() as Float32Array)]));
    const back = decodeSafetensors(encodeSafetensors(st, {}));
    const m2 = build({ encoder_layers: 2, decoder_layers: 2 }, 99);
    m2.loadStateDict(new Map([...back.tensors].map(([k, t]) => [k, tf.tensor(toFloat32(t), t.shape)])));
    for (const [k, v] of m.namedParameters()) expect(Array.from(m2.namedParameters().get(k)!.dataSync())).toEqual(Array.from(v.dataSync()));
    [m, m2, proj].forEach((x) => x.dispose());
    expect(() => build({ encoder_layers: 1, decoder_layers: 2 })).toThrow(/--decoder-layers \(2\) cannot exceed --encoder-layers \(1\)/);
  });

  it("the (bi)LSTM encoder equals PyTorch's equations on each unpadded sentence; left padding changes nothing", () => {
    const m = build();
    const p = (k: string) => m.namedParameters().get(k)!;
    const emb = arr2(p("encoder.embed_tokens.weight"));
    const src = [[PAD, PAD, 4, 5, EOS], [3, 6, 7, 8, EOS]];
    const lens = [3, 5];
    const enc = m.encoder.forward(tf.tensor2d(src, [2, 5], "int32"), tf.tensor1d(lens, "int32"));
    const out = enc.encoderOut.arraySync() as number[][][];
    const finalH = enc.extra!.finalHiddens!.arraySync() as number[][][];
    src.forEach((row, b) => {
      const toks = row.slice(5 - lens[b]!);
      const xs = toks.map((t) => emb[t]!);
      const fwd = lstmRef(xs, arr2(p("encoder.lstm.weight_ih_l0")), arr2(p("encoder.lstm.weight_hh_l0")), Array.from(p("encoder.lstm.bias_ih_l0").dataSync()), Array.from(p("encoder.lstm.bias_hh_l0").dataSync()), 2);
      const bwd = lstmRef([...xs].reverse(), arr2(p("encoder.lstm.weight_ih_l0_reverse")), arr2(p("encoder.lstm.weight_hh_l0_reverse")), Array.from(p("encoder.lstm.bias_ih_l0_reverse").dataSync()), Array.from(p("encoder.lstm.bias_hh_l0_reverse").dataSync()), 2);
      toks.forEach((_, t) => {
        const want = [...fwd.outs[t]!, ...bwd.outs[toks.length - 1 - t]!];
        // outputs keep the input's (left-padded) layout: token t sits at column 5 - len + t
        out[b]![5 - lens[b]! + t]!.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
      });
      // final hidden: forward's last step, backward's first (fairseq's combine_bidir concatenation)
      [...fwd.h, ...bwd.h].forEach((v, k) => expect(finalH[b]![0]![k]!).toBeCloseTo(v, 5));
    });
    m.dispose();
  });

  it("incremental decoding step by step = the teacher-forced forward pass; reorderIncrementalState follows beams", () => {
    const m = build({ decoder_layers: 2, encoder_layers: 2 });
    m.eval();
    const src = tf.tensor2d([[PAD, 4, 5, EOS], [3, 6, 7, EOS], [8, 8, 4, EOS]], [3, 4], "int32");
    const lens = tf.tensor1d([3, 4, 4], "int32");
    const prev = [[EOS, 5, 6, 7], [EOS, 9, 3, 4], [EOS, 4, 4, 4]];
    const before = tf.memory().numTensors;
    const full = tf.tidy(() => {
      const [logits, extra] = m.forward(src, lens, tf.tensor2d(prev, [3, 4], "int32"));
      return [tf.logSoftmax(logits, -1).arraySync() as number[][][], extra.attn!.arraySync() as number[][][]] as const;
    });
    expect(tf.memory().numTensors).toBe(before); // no leak
    // the attention rows are distributions over the non-pad source positions
    expect(full[1][0]![0]![0]).toBe(0);
    full[1].forEach((rows) => rows.forEach((r) => expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)));
    const state: IncrementalState = new Map();
    const enc = m.encoder.forward(src, lens);
    let maxDiff = 0;
    for (let t = 0; t < 4; t++) {
      tf.tidy(() => {
        const [logits] = m.decoder.forward(tf.tensor2d(prev.map((r) => r.slice(0, t + 1)), [3, t + 1], "int32"), enc, state);
        const lp = tf.logSoftmax(logits, -1).arraySync() as number[][][];
        lp.forEach((row, b) => row[0]!.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - full[0][b]![t]![k]!)))));
      });
    }
    expect(maxDiff).toBeLessThan(1e-5);
    // reorder: swap sentences 0 and 2 in the cached state, then continue with their prefixes swapped
    const order = tf.tensor1d([2, 1, 0], "int32");
    const enc2 = m.encoder.reorderEncoderOut(enc, order);
    m.decoder.reorderIncrementalState(state, order);
    const swapped = [prev[2]!, prev[1]!, prev[0]!].map((r) => [...r, 5]);
    const step = tf.tidy(() => tf.logSoftmax(m.decoder.forward(tf.tensor2d(swapped, [3, 5], "int32"), enc2, state)[0], -1).arraySync() as number[][][]);
    const direct = tf.tidy(() => tf.logSoftmax(m.forward(tf.gather(src, order) as tf.Tensor2D, tf.gather(lens, order) as tf.Tensor1D, tf.tensor2d(swapped, [3, 5], "int32"))[0], -1).arraySync() as number[][][]);
    step.forEach((row, b) => row[0]!.forEach((v, k) => expect(v).toBeCloseTo(direct[b]![4]![k]!, 5)));
    disposeIncrementalState(state);
    m.dispose();
  });

  it("learns: gradients reach every parameter and a few Adam steps (tfjs' own optimizer) learn a copy task", () => {
    const m = build({ decoder_layers: 1, encoder_bidirectional: false, decoder_hidden_size: 8, encoder_hidden_size: 8, decoder_out_embed_dim: 8, encoder_embed_dim: 8, decoder_embed_dim: 8 }, 3);
    m.train();
    const src = tf.tensor2d([[4, 5, 6, EOS], [7, 8, 4, EOS], [PAD, 6, 7, EOS]], [3, 4], "int32");
    const lens = tf.tensor1d([4, 4, 3], "int32");
    const prev = tf.tensor2d([[EOS, 4, 5, 6], [EOS, 7, 8, 4], [EOS, 6, 7, PAD]], [3, 4], "int32");
    const tgt = tf.tensor1d([4, 5, 6, EOS, 7, 8, 4, EOS, 6, 7, EOS, PAD], "int32");
    const mask = tf.notEqual(tgt, PAD);
    const params = [...m.namedParameters().values()];
    const losses: number[] = [];
    const opt = tf.train.adam(0.05);
    for (let i = 0; i < 40; i++) {
      const { value, grads } = tf.variableGrads(() => {
        const lp = tf.reshape(tf.logSoftmax(m.forward(src, lens, prev)[0], -1), [12, 10]);
        const nll = tf.neg(tf.sum(tf.mul(lp, tf.oneHot(tgt, 10)), 1));
        return tf.div(tf.sum(tf.mul(nll, tf.cast(mask, "float32"))), 11) as tf.Scalar;
      }, params);
      losses.push(value.dataSync()[0]!);
      if (i === 0) for (const [k, g] of Object.entries(grads)) expect(tf.max(tf.abs(g)).dataSync()[0], k).toBeGreaterThan(0);
      opt.applyGradients(grads as unknown as Parameters<typeof opt.applyGradients>[0]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.4);
    opt.dispose();
    m.dispose();
  });
});
