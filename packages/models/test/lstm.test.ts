import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import {
  buildModel,
  decodeSafetensors,
  disposeIncrementalState,
  encodeSafetensors,
  evalBool,
  f32,
  loadModelCheckpointBytes,
  toFloat32,
  type EncoderDecoderModel,
  type IncrementalState,
} from "../src/index.js";

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
      "encoder.lstm.weight_ih_l0": [4 * H, 3],
      "encoder.lstm.weight_hh_l0": [4 * H, H],
      "encoder.lstm.bias_ih_l0": [4 * H],
      "encoder.lstm.bias_hh_l0": [4 * H],
      "encoder.lstm.weight_ih_l0_reverse": [4 * H, 3],
      "encoder.lstm.weight_hh_l0_reverse": [4 * H, H],
      "encoder.lstm.bias_ih_l0_reverse": [4 * H],
      "encoder.lstm.bias_hh_l0_reverse": [4 * H],
      "encoder.lstm.weight_ih_l1": [4 * H, 2 * H],
      "encoder.lstm.weight_hh_l1": [4 * H, H],
      "encoder.lstm.bias_ih_l1": [4 * H],
      "encoder.lstm.bias_hh_l1": [4 * H],
      "encoder.lstm.weight_ih_l1_reverse": [4 * H, 2 * H],
      "encoder.lstm.weight_hh_l1_reverse": [4 * H, H],
      "encoder.lstm.bias_ih_l1_reverse": [4 * H],
      "encoder.lstm.bias_hh_l1_reverse": [4 * H],
      "decoder.embed_tokens.weight": [10, 3],
      // bidirectional encoder output (4) = decoder hidden (4): no encoder_hidden_proj / encoder_cell_proj
      "decoder.layers.0.weight_ih": [16, 4 + 3],
      "decoder.layers.0.weight_hh": [16, 4],
      "decoder.layers.0.bias_ih": [16],
      "decoder.layers.0.bias_hh": [16],
      "decoder.layers.1.weight_ih": [16, 4],
      "decoder.layers.1.weight_hh": [16, 4],
      "decoder.layers.1.bias_ih": [16],
      "decoder.layers.1.bias_hh": [16],
      "decoder.attention.input_proj.weight": [4, 4],
      "decoder.attention.output_proj.weight": [4, 8],
      "decoder.additional_fc.weight": [3, 4],
      "decoder.additional_fc.bias": [3],
      "decoder.fc_out.weight": [10, 3],
      "decoder.fc_out.bias": [10],
    };
    expect(shapes).toEqual(want);
    const proj = build({ encoder_bidirectional: false, decoder_hidden_size: 5 });
    expect([...proj.namedParameters().keys()].filter((k) => k.includes("proj") && !k.includes("attention"))).toEqual([
      "decoder.encoder_hidden_proj.weight",
      "decoder.encoder_hidden_proj.bias",
      "decoder.encoder_cell_proj.weight",
      "decoder.encoder_cell_proj.bias",
    ]);
    // weights survive a safetensors round trip bit for bit
    const st = new Map([...m.namedParameters()].map(([k, v]) => [k, f32(v.shape, v.dataSync() as Float32Array)]));
    const back = decodeSafetensors(encodeSafetensors(st, {}));
    const m2 = build({ encoder_layers: 2, decoder_layers: 2 }, 99);
    m2.loadStateDict(new Map([...back.tensors].map(([k, t]) => [k, tf.tensor(toFloat32(t), t.shape)])));
    for (const [k, v] of m.namedParameters()) expect(Array.from(m2.namedParameters().get(k)!.dataSync())).toEqual(Array.from(v.dataSync()));
    [m, m2, proj].forEach((x) => x.dispose());
  });

  it("the (bi)LSTM encoder equals PyTorch's equations on each unpadded sentence; left padding changes nothing", () => {
    const m = build();
    const p = (k: string) => m.namedParameters().get(k)!;
    const emb = arr2(p("encoder.embed_tokens.weight"));
    const src = [
      [PAD, PAD, 4, 5, EOS],
      [3, 6, 7, 8, EOS],
    ];
    const lens = [3, 5];
    const enc = m.encoder.forward(tf.tensor2d(src, [2, 5], "int32"), tf.tensor1d(lens, "int32"));
    const out = enc.encoderOut.arraySync() as number[][][];
    const finalH = enc.extra!.finalHiddens!.arraySync() as number[][][];
    src.forEach((row, b) => {
      const toks = row.slice(5 - lens[b]!);
      const xs = toks.map((t) => emb[t]!);
      const fwd = lstmRef(
        xs,
        arr2(p("encoder.lstm.weight_ih_l0")),
        arr2(p("encoder.lstm.weight_hh_l0")),
        Array.from(p("encoder.lstm.bias_ih_l0").dataSync()),
        Array.from(p("encoder.lstm.bias_hh_l0").dataSync()),
        2,
      );
      const bwd = lstmRef(
        [...xs].reverse(),
        arr2(p("encoder.lstm.weight_ih_l0_reverse")),
        arr2(p("encoder.lstm.weight_hh_l0_reverse")),
        Array.from(p("encoder.lstm.bias_ih_l0_reverse").dataSync()),
        Array.from(p("encoder.lstm.bias_hh_l0_reverse").dataSync()),
        2,
      );
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
    const src = tf.tensor2d(
      [
        [PAD, 4, 5, EOS],
        [3, 6, 7, EOS],
        [8, 8, 4, EOS],
      ],
      [3, 4],
      "int32",
    );
    const lens = tf.tensor1d([3, 4, 4], "int32");
    const prev = [
      [EOS, 5, 6, 7],
      [EOS, 9, 3, 4],
      [EOS, 4, 4, 4],
    ];
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
        const [logits] = m.decoder.forward(
          tf.tensor2d(
            prev.map((r) => r.slice(0, t + 1)),
            [3, t + 1],
            "int32",
          ),
          enc,
          state,
        );
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
    const direct = tf.tidy(
      () =>
        tf
          .logSoftmax(m.forward(tf.gather(src, order) as tf.Tensor2D, tf.gather(lens, order) as tf.Tensor1D, tf.tensor2d(swapped, [3, 5], "int32"))[0], -1)
          .arraySync() as number[][][],
    );
    step.forEach((row, b) => row[0]!.forEach((v, k) => expect(v).toBeCloseTo(direct[b]![4]![k]!, 5)));
    disposeIncrementalState(state);
    m.dispose();
  });

  it("learns: gradients reach every parameter and a few Adam steps (tfjs' own optimizer) learn a copy task", () => {
    const m = build(
      {
        decoder_layers: 1,
        encoder_bidirectional: false,
        decoder_hidden_size: 8,
        encoder_hidden_size: 8,
        decoder_out_embed_dim: 8,
        encoder_embed_dim: 8,
        decoder_embed_dim: 8,
      },
      3,
    );
    m.train();
    const src = tf.tensor2d(
      [
        [4, 5, 6, EOS],
        [7, 8, 4, EOS],
        [PAD, 6, 7, EOS],
      ],
      [3, 4],
      "int32",
    );
    const lens = tf.tensor1d([4, 4, 3], "int32");
    const prev = tf.tensor2d(
      [
        [EOS, 4, 5, 6],
        [EOS, 7, 8, 4],
        [EOS, 6, 7, PAD],
      ],
      [3, 4],
      "int32",
    );
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

const buildV = (extra: Record<string, unknown>, vocab: { src: number; tgt: number }, seed = 7) =>
  buildModel(lstmArgs(extra), { srcVocabSize: vocab.src, tgtVocabSize: vocab.tgt, padIdx: PAD }, { seed }) as EncoderDecoderModel;
const paramNames = (m: EncoderDecoderModel) => [...m.namedParameters().keys()];

describe("lstm build_model rules (fairseq's LSTMModel.build_model)", () => {
  it("--encoder-layers must equal --decoder-layers, in both directions", () => {
    // fairseq raises ValueError('--encoder-layers must match --decoder-layers'), also for a shallower decoder
    expect(() => build({ encoder_layers: 2, decoder_layers: 1 })).toThrow(
      /--encoder-layers must match --decoder-layers \(got --encoder-layers 2, --decoder-layers 1\)/,
    );
    expect(() => build({ encoder_layers: 1, decoder_layers: 3 })).toThrow(
      /--encoder-layers must match --decoder-layers \(got --encoder-layers 1, --decoder-layers 3\)/,
    );
    build({ encoder_layers: 3, decoder_layers: 3 }).dispose();
  });

  it("--share-all-embeddings also ties the output projection (no decoder.fc_out), as fairseq sets share_decoder_input_output_embed", () => {
    const args = lstmArgs({ share_all_embeddings: true, decoder_hidden_size: 3 });
    const m = buildModel(args, { srcVocabSize: 9, tgtVocabSize: 9, padIdx: PAD }, { seed: 3 }) as EncoderDecoderModel;
    expect((args as Record<string, unknown>).share_decoder_input_output_embed).toBe(true);
    // exactly the keys of a fairseq state_dict of this configuration (fc_out absent, decoder embedding tied)
    expect([...m.stateDict().keys()].sort()).toEqual(
      [
        "encoder.embed_tokens.weight",
        "decoder.embed_tokens.weight",
        ...["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].flatMap((k) => [`encoder.lstm.${k}`, `encoder.lstm.${k}_reverse`]),
        "decoder.encoder_hidden_proj.weight",
        "decoder.encoder_hidden_proj.bias",
        "decoder.encoder_cell_proj.weight",
        "decoder.encoder_cell_proj.bias",
        "decoder.layers.0.weight_ih",
        "decoder.layers.0.weight_hh",
        "decoder.layers.0.bias_ih",
        "decoder.layers.0.bias_hh",
        "decoder.attention.input_proj.weight",
        "decoder.attention.output_proj.weight",
      ].sort(),
    );
    expect(m.stateDict().get("decoder.embed_tokens.weight")).toBe(m.namedParameters().get("encoder.embed_tokens.weight"));
    m.dispose();
    // the tied output projection needs --decoder-out-embed-dim = --decoder-embed-dim, checked after the implication
    expect(() => buildV({ share_all_embeddings: true, decoder_out_embed_dim: 2 }, { src: 9, tgt: 9 })).toThrow(
      /--share-decoder-input-output-embed requires --decoder-embed-dim \(3\) to match --decoder-out-embed-dim \(2\)/,
    );
    expect(() => buildV({ share_all_embeddings: true }, { src: 9, tgt: 10 })).toThrow(/--share-all-embeddings requires a joint dictionary/);
    expect(() => buildV({ share_all_embeddings: true, decoder_embed_dim: 4, decoder_out_embed_dim: 4 }, { src: 9, tgt: 9 })).toThrow(
      /--share-all-embeddings requires --encoder-embed-dim \(3\) to match --decoder-embed-dim \(4\)/,
    );
  });

  it("--decoder-attention is read like fairseq's eval_bool (a Python literal)", () => {
    const hasAttention = (v: unknown) => {
      const m = build({ decoder_attention: v });
      const yes = paramNames(m).some((k) => k.startsWith("decoder.attention."));
      m.dispose();
      return yes;
    };
    expect(["1", "True", "2", "1.0", " True ", true, 1].map(hasAttention)).toEqual([true, true, true, true, true, true, true]);
    expect(["0", "False", "None", "0.0", "''", false, 0].map(hasAttention)).toEqual([false, false, false, false, false, false, false]);
    // Python: eval("true") is a NameError in fairseq; here an error naming the flag
    expect(() => build({ decoder_attention: "true" })).toThrow(/--decoder-attention: cannot read 'true' as a boolean/);
    expect(() => evalBool("yes", "--x")).toThrow(/--x: cannot read 'yes'/);
    expect(evalBool(undefined, "--x")).toBe(false);
  });

  it("max positions: 1024 by default (fairseq's translation task supplies --max-source/target-positions), else the flags", () => {
    const m = build();
    expect(m.maxPositions()).toEqual([1024, 1024]);
    m.dispose();
    const m2 = build({ max_source_positions: 50, max_target_positions: 60 });
    expect(m2.maxPositions()).toEqual([50, 60]);
    m2.dispose();
  });

  it("refuses --criterion adaptive_loss (adaptive softmax); --adaptive-softmax-cutoff alone is ignored, as in fairseq", () => {
    expect(() => build({ criterion: "adaptive_loss", adaptive_softmax_cutoff: "5,8" })).toThrow(
      /--criterion adaptive_loss .*--adaptive-softmax-cutoff 5,8.* not supported/,
    );
    const m = build({ criterion: "cross_entropy", adaptive_softmax_cutoff: "5,8" });
    expect(paramNames(m)).toContain("decoder.fc_out.weight");
    m.dispose();
  });
});

// ---- an independent float64 forward of the whole model, in plain arrays ----

/** Deterministic values in [-0.8, 0.8): larger than the U(-0.1, 0.1) init, so every path moves the output. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 1.6 - 0.8;
  };
}
function setFixedWeights(m: EncoderDecoderModel, seed: number) {
  const rnd = lcg(seed);
  const values = new Map<string, tf.Tensor>();
  for (const [k, v] of m.namedParameters()) values.set(k, tf.tensor(Array.from({ length: v.size }, rnd), v.shape));
  m.loadStateDict(values);
  tf.dispose([...values.values()]);
}

type Vec = number[];
const mv = (w: number[][], x: Vec): Vec => w.map((row) => row.reduce((a, wj, j) => a + wj * x[j]!, 0));
const addv = (a: Vec, b: Vec): Vec => a.map((v, i) => v + b[i]!);
function cellRef(x: Vec, h: Vec, c: Vec, w: { ih: number[][]; hh: number[][]; bih: Vec; bhh: Vec }) {
  const g = addv(addv(mv(w.ih, x), w.bih), addv(mv(w.hh, h), w.bhh));
  const H = h.length;
  const c2 = c.map((cv, k) => sigmoid(g[H + k]!) * cv + sigmoid(g[k]!) * Math.tanh(g[2 * H + k]!));
  return { h: c2.map((cv, k) => sigmoid(g[3 * H + k]!) * Math.tanh(cv)), c: c2 };
}

/**
 * fairseq's LSTMModel.forward for one sentence, written from lstm.py: unpadded source, (bi)LSTM layers,
 * final states per layer [fwd; bwd] (optionally projected), input feeding, attention on the last layer,
 * additional_fc, fc_out or the tied embedding. Eval mode (no dropout).
 */
function lstmModelRef(m: EncoderDecoderModel, a: Record<string, unknown>, srcToks: number[], prevToks: number[]) {
  const P = m.stateDict();
  const has = (k: string) => P.has(k);
  const M = (k: string) => P.get(k)!.arraySync() as number[][];
  const V = (k: string) => Array.from(P.get(k)!.dataSync());
  const w = (pre: string, suf: string) => ({
    ih: M(`${pre}weight_ih${suf}`),
    hh: M(`${pre}weight_hh${suf}`),
    bih: V(`${pre}bias_ih${suf}`),
    bhh: V(`${pre}bias_hh${suf}`),
  });
  const layers = a.encoder_layers as number;
  const He = a.encoder_hidden_size as number;
  const run = (xs: Vec[], wt: ReturnType<typeof w>) => {
    let h: Vec = new Array(He).fill(0);
    let c: Vec = new Array(He).fill(0);
    const outs: Vec[] = [];
    for (const x of xs) {
      ({ h, c } = cellRef(x, h, c, wt));
      outs.push(h);
    }
    return { outs, h, c };
  };
  const encEmb = M("encoder.embed_tokens.weight");
  let xs = srcToks.map((t) => encEmb[t]!);
  const finals: { h: Vec; c: Vec }[] = [];
  for (let l = 0; l < layers; l++) {
    const f = run(xs, w("encoder.lstm.", `_l${l}`));
    if (a.encoder_bidirectional) {
      const b = run([...xs].reverse(), w("encoder.lstm.", `_l${l}_reverse`));
      xs = xs.map((_, t) => [...f.outs[t]!, ...b.outs[xs.length - 1 - t]!]);
      finals.push({ h: [...f.h, ...b.h], c: [...f.c, ...b.c] });
    } else {
      xs = f.outs;
      finals.push({ h: f.h, c: f.c });
    }
  }
  const encOuts = xs;
  const proj = (name: string, x: Vec) => (has(`decoder.${name}.weight`) ? addv(mv(M(`decoder.${name}.weight`), x), V(`decoder.${name}.bias`)) : x);
  const hs = finals.map((f) => proj("encoder_hidden_proj", f.h));
  const cs = finals.map((f) => proj("encoder_cell_proj", f.c));
  const decEmb = M("decoder.embed_tokens.weight");
  let feed: Vec = new Array(a.decoder_hidden_size as number).fill(0);
  const logits: Vec[] = [];
  const attn: Vec[] = [];
  for (const tok of prevToks) {
    let input = [...decEmb[tok]!, ...feed];
    hs.forEach((_, l) => {
      const s = cellRef(input, hs[l]!, cs[l]!, w(`decoder.layers.${l}.`, ""));
      hs[l] = s.h;
      cs[l] = s.c;
      input = s.h;
    });
    let out = hs[hs.length - 1]!;
    if (has("decoder.attention.input_proj.weight")) {
      const q = mv(M("decoder.attention.input_proj.weight"), out);
      const scores = encOuts.map((s) => s.reduce((acc, v, k) => acc + v * q[k]!, 0));
      const mx = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - mx));
      const p = e.map((v) => v / e.reduce((x, y) => x + y, 0));
      const ctxv = encOuts[0]!.map((_, k) => encOuts.reduce((acc, s, t) => acc + p[t]! * s[k]!, 0));
      out = mv(M("decoder.attention.output_proj.weight"), [...ctxv, ...out]).map(Math.tanh);
      attn.push(p);
    }
    feed = out;
    const y = proj("additional_fc", out);
    logits.push(has("decoder.fc_out.weight") ? addv(mv(M("decoder.fc_out.weight"), y), V("decoder.fc_out.bias")) : mv(decEmb, y));
  }
  return { logits, attn };
}

describe("the whole lstm model against an independent float64 forward", () => {
  const src = [
    [PAD, PAD, 4, 5, EOS],
    [3, 6, 7, 8, EOS],
    [PAD, 7, 3, 3, EOS],
  ];
  const lens = [3, 5, 4];
  const prev = [
    [EOS, 5, 6, 7],
    [EOS, 8, 3, 4],
    [EOS, 4, PAD, 4],
  ];
  const configs: [string, Record<string, unknown>, number][] = [
    // 2+2 layers, biLSTM (6 units) -> encoder_hidden/cell_proj into 4, attention, additional_fc 4 -> 3, fc_out
    [
      "2 layers, bidirectional, projections, attention",
      {
        encoder_layers: 2,
        decoder_layers: 2,
        encoder_embed_dim: 4,
        encoder_hidden_size: 3,
        decoder_embed_dim: 5,
        decoder_hidden_size: 4,
        decoder_out_embed_dim: 3,
      },
      10,
    ],
    // tied embeddings everywhere, no attention (input feeding still on), unidirectional encoder
    [
      "--share-all-embeddings, --decoder-attention False",
      {
        share_all_embeddings: true,
        decoder_attention: "False",
        encoder_bidirectional: false,
        encoder_embed_dim: 4,
        decoder_embed_dim: 4,
        decoder_out_embed_dim: 4,
        encoder_hidden_size: 4,
        decoder_hidden_size: 5,
      },
      9,
    ],
  ];
  it.each(configs)("%s", (_, extra, tgtVocab) => {
    const args = lstmArgs(extra);
    const m = buildModel(args, { srcVocabSize: 9, tgtVocabSize: tgtVocab, padIdx: PAD }, { seed: 5 }) as EncoderDecoderModel;
    setFixedWeights(m, 123);
    m.eval();
    let logits: number[][][] = [];
    let attn: number[][][] | null = null;
    tf.tidy(() => {
      const [l, x] = m.forward(tf.tensor2d(src, [3, 5], "int32"), tf.tensor1d(lens, "int32"), tf.tensor2d(prev, [3, 4], "int32"));
      logits = l.arraySync() as number[][][];
      attn = x.attn ? (x.attn.arraySync() as number[][][]) : null;
    });
    let maxDiff = 0;
    let maxAbs = 0;
    src.forEach((row, b) => {
      const pads = 5 - lens[b]!;
      const ref = lstmModelRef(m, args, row.slice(pads), prev[b]!);
      ref.logits.forEach((r, t) =>
        r.forEach((v, k) => ((maxDiff = Math.max(maxDiff, Math.abs(v - logits[b]![t]![k]!))), (maxAbs = Math.max(maxAbs, Math.abs(v))))),
      );
      if (extra.decoder_attention === "False") expect(attn).toBeNull();
      else {
        ref.attn.forEach((p, t) => {
          // source positions keep the input's left-padded layout; padding gets exactly 0
          for (let s = 0; s < pads; s++) expect(attn![b]![t]![s]).toBe(0);
          p.forEach((v, s) => (maxDiff = Math.max(maxDiff, Math.abs(v - attn![b]![t]![pads + s]!))));
        });
      }
    });
    expect(maxAbs).toBeGreaterThan(0.5); // the check is not vacuous
    expect(maxDiff).toBeLessThan(2e-5);
    m.dispose();
  });
});

describe("lstm gradients", () => {
  it("every parameter's gradient equals a central difference of the float64 reference forward", async () => {
    const extra = {
      encoder_layers: 2,
      decoder_layers: 2,
      encoder_embed_dim: 4,
      encoder_hidden_size: 3,
      decoder_embed_dim: 5,
      decoder_hidden_size: 4,
      decoder_out_embed_dim: 3,
    };
    const args = lstmArgs(extra);
    const m = buildModel(args, { srcVocabSize: 9, tgtVocabSize: 10, padIdx: PAD }, { seed: 5 }) as EncoderDecoderModel;
    setFixedWeights(m, 321);
    m.eval();
    const src = [
      [PAD, PAD, 4, 5, EOS],
      [3, 6, 7, 8, EOS],
      [PAD, 7, 3, 3, EOS],
    ];
    const lens = [3, 5, 4];
    const prev = [
      [EOS, 5, 6, 7],
      [EOS, 8, 3, 4],
      [EOS, 4, PAD, 4],
    ];
    const rnd = lcg(99);
    const coef = src.map(() => prev[0]!.map(() => Array.from({ length: 10 }, rnd)));
    // loss = sum of logits weighted by fixed coefficients: every logit's gradient path counts
    const refLoss = () =>
      src.reduce((acc, row, b) => {
        const { logits } = lstmModelRef(m, args, row.slice(5 - lens[b]!), prev[b]!);
        return acc + logits.reduce((a2, r, t) => a2 + r.reduce((a3, v, k) => a3 + v * coef[b]![t]![k]!, 0), 0);
      }, 0);
    const params = m.namedParameters();
    const { grads } = tf.variableGrads(
      () =>
        tf.sum(
          tf.mul(m.forward(tf.tensor2d(src, [3, 5], "int32"), tf.tensor1d(lens, "int32"), tf.tensor2d(prev, [3, 4], "int32"))[0], tf.tensor3d(coef)),
        ) as tf.Scalar,
      [...params.values()],
    );
    let worst = 0;
    for (const [name, v] of params) {
      const g = grads[v.name]!.dataSync() as Float32Array;
      // the largest entry and one more spot of every parameter
      const spots = [g.reduce((bi, x, i) => (Math.abs(x) > Math.abs(g[bi]!) ? i : bi), 0), Math.floor(v.size / 2)];
      for (const idx of spots) {
        const base = Float32Array.from(v.dataSync());
        const at = (delta: number) => {
          const w = Float32Array.from(base);
          w[idx] = base[idx]! + delta;
          v.assign(tf.tensor(w, v.shape));
          return [refLoss(), w[idx]!] as const;
        };
        const [lp, wp] = at(1e-3);
        const [lm, wm] = at(-1e-3);
        v.assign(tf.tensor(base, v.shape));
        const fd = (lp - lm) / (wp - wm);
        const err = Math.abs(fd - g[idx]!) / Math.max(1, Math.abs(fd));
        worst = Math.max(worst, err);
        expect(err, `${name}[${idx}]: autodiff ${g[idx]}, central difference ${fd}`).toBeLessThan(2e-3);
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(worst).toBeGreaterThan(0); // compared real numbers
    tf.dispose(Object.values(grads));
    m.dispose();
  });
});

describe("lstm checkpoints and memory", () => {
  it("a fairseq-ts checkpoint (safetensors + args) round trip reproduces the outputs bit for bit, tied weights included", () => {
    const args = lstmArgs({ share_all_embeddings: true, encoder_layers: 2, decoder_layers: 2, decoder_hidden_size: 5 });
    const m = buildModel(args, { srcVocabSize: 9, tgtVocabSize: 9, padIdx: PAD }, { seed: 11 }) as EncoderDecoderModel;
    setFixedWeights(m, 77);
    const tensors = new Map([...m.stateDict()].map(([k, v]) => [`model.${k}`, f32(v.shape, v.dataSync() as Float32Array)]));
    const bytes = encodeSafetensors(tensors, { fairseq_ts: JSON.stringify({ args }) });
    const { model: m2 } = loadModelCheckpointBytes(bytes, { srcVocabSize: 9, tgtVocabSize: 9, padIdx: PAD }) as { model: EncoderDecoderModel };
    expect(paramNames(m2)).toEqual(paramNames(m));
    const run = (x: EncoderDecoderModel) =>
      tf.tidy(() => {
        x.eval();
        const src = tf.tensor2d(
          [
            [PAD, 4, 5, EOS],
            [3, 6, 7, EOS],
          ],
          [2, 4],
          "int32",
        );
        return Array.from(
          x
            .forward(
              src,
              tf.tensor1d([3, 4], "int32"),
              tf.tensor2d(
                [
                  [EOS, 4, 5],
                  [EOS, 6, 8],
                ],
                [2, 3],
                "int32",
              ),
            )[0]
            .dataSync(),
        );
      });
    expect(run(m2)).toEqual(run(m));
    // a changed weight in the file changes the model (the load is not a no-op)
    const enc = tensors.get("model.encoder.embed_tokens.weight")!;
    const altered = new Map(tensors);
    altered.set(
      "model.encoder.embed_tokens.weight",
      f32(
        enc.shape,
        toFloat32(enc).map((v) => v * 2),
      ),
    );
    altered.set("model.decoder.embed_tokens.weight", altered.get("model.encoder.embed_tokens.weight")!);
    const { model: m3 } = loadModelCheckpointBytes(encodeSafetensors(altered, { fairseq_ts: JSON.stringify({ args }) }), {
      srcVocabSize: 9,
      tgtVocabSize: 9,
      padIdx: PAD,
    }) as { model: EncoderDecoderModel };
    expect(run(m3)).not.toEqual(run(m));
    [m, m2, m3].forEach((x) => x.dispose());
  });

  it("repeated training forward/backward (all dropouts on) leaves no tensor behind", async () => {
    const m = build({ encoder_layers: 2, decoder_layers: 2, dropout: 0.3, encoder_dropout_in: 0.2, decoder_dropout_in: 0.2, decoder_out_embed_dim: 5 }, 4);
    m.train();
    const params = [...m.namedParameters().values()];
    const src = tf.tensor2d(
      [
        [PAD, 4, 5, EOS],
        [3, 6, 7, EOS],
      ],
      [2, 4],
      "int32",
    );
    const lens = tf.tensor1d([3, 4], "int32");
    const prev = tf.tensor2d(
      [
        [EOS, 4, 5],
        [EOS, 6, 8],
      ],
      [2, 3],
      "int32",
    );
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.logSoftmax(m.forward(src, lens, prev)[0], -1)) as tf.Scalar, params);
      expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
      expect(Object.keys(grads).length).toBe(params.length);
      tf.dispose([value, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
      await new Promise((r) => setImmediate(r));
    }
    expect(new Set(counts).size).toBe(1);
    tf.dispose([src, lens, prev]);
    m.dispose();
  });

  it("backward memory does not grow with the number of steps times the recurrent weights (lstm_luong_wmt_en_de's out-of-bounds)", async () => {
    // 256-wide decoder layers: each step's weight gradients would be ~4.6 MB, kept to the end of the backward pass
    const dims = { encoder_embed_dim: 128, encoder_hidden_size: 128, decoder_embed_dim: 128, decoder_hidden_size: 256, decoder_out_embed_dim: 128 };
    const m = build({ encoder_layers: 2, decoder_layers: 2, dropout: 0, ...dims }, 3);
    m.train();
    const named = m.namedParameters();
    const params = [...named.values()];
    const recurrentBytes = [...named].filter(([k]) => /weight_hh|weight_ih|attention\.(input|output)_proj/.test(k)).reduce((a, [, p]) => a + p.size * 4, 0);
    const update = (steps: number) => {
      const src = tf.tensor2d([Array.from({ length: steps }, (_, i) => 3 + (i % 5))], [1, steps], "int32");
      const lens = tf.tensor1d([steps], "int32");
      const prev = tf.tensor2d([[EOS, ...Array.from({ length: steps - 1 }, (_, i) => 3 + (i % 6))]], [1, steps], "int32");
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.logSoftmax(m.forward(src, lens, prev)[0], -1)) as tf.Scalar, params);
      expect(Object.keys(grads).length).toBe(params.length);
      tf.dispose([value, ...Object.values(grads), src, lens, prev]);
    };
    // every kernel output shaped like a recurrent weight is a weight gradient (or its sum): count them per update.
    // tfjs keeps each until its backward pass ends, so their number must not grow with the steps. (Identity is
    // tfjs's clone of a tensor saved for the backward pass: it shares the memory, on cpu and on wasm alike.)
    const weightShapes = new Set([...named].filter(([k]) => /weight_hh|weight_ih|attention\.(input|output)_proj/.test(k)).map(([, p]) => p.shape.join("x")));
    const weightSized = async (steps: number) =>
      (await tf.profile(() => update(steps))).kernels.filter((k) => k.name !== "Identity" && k.outputShapes.some((s) => s && weightShapes.has(s.join("x"))))
        .length;
    const before = tf.memory().numTensors;
    const w8 = await weightSized(8);
    const w32 = await weightSized(32);
    expect(tf.memory().numTensors).toBe(before);
    expect(recurrentBytes).toBeGreaterThan(3e6);
    expect(w8).toBeGreaterThan(0);
    // before the fix: one per step and weight (+24 steps x 4 weights)
    expect(w32).toBe(w8);
    m.dispose();
  });
});
