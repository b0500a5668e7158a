/**
 * Adaptive input and adaptive softmax (fairseq/modules/adaptive_input.py, adaptive_softmax.py) against values worked
 * out by hand here, and transformer_align (fairseq/models/transformer_align.py) against the plain transformer path.
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { readTorchCheckpoint, PyNamespace, TorchTensor } from "@fairseq-ts/torch-load";
import {
  AdaptiveInput,
  AdaptiveSoftmax,
  ParamStore,
  applyArchitecture,
  SeededRandom,
  buildModel,
  disposeIncrementalState,
  importFairseqCheckpoint,
  TransformerAlignModel,
  type EncoderDecoderModel,
  type IncrementalState,
  type LanguageModel,
} from "../src/index.js";
import { SHARED } from "./shared.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

const ctxOf = (store: ParamStore) => ({ store, rng: new SeededRandom(3), training: () => false });
const set = (store: ParamStore, name: string, rows: number[][]) => {
  const t = tf.tensor2d(rows);
  store.params.get(name)!.assign(t);
  t.dispose();
};
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const matVec = (w: number[][], x: number[]) => w.map((row) => dot(row, x));
const logSoftmaxJs = (z: number[]) => {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
};

describe("adaptive softmax (hand-computed)", () => {
  // vocabulary 7 split at [3, 5]: head = words 0..2 + 2 cluster entries; tail 0 = words 3, 4; tail 1 = words 5, 6
  const W_HEAD = [
    [0.5, -1],
    [1, 0.25],
    [-0.3, 0.8],
    [0.1, 0.1],
    [-0.6, 0.4],
  ];
  const X = [
    [1, -0.5],
    [0.2, 0.3],
  ];

  function build(): { sm: AdaptiveSoftmax; store: ParamStore } {
    const store = new ParamStore();
    const sm = new AdaptiveSoftmax(ctxOf(store), "s", 7, 2, [3, 5], 0, 1, null, false);
    set(store, "s.head.weight", W_HEAD);
    return { sm, store };
  }

  it("log p(w) = log p_head(w) in the head, log p_head(cluster) + log p_tail(w | cluster) in a tail, over the whole vocabulary", async () => {
    const store = new ParamStore();
    // factor 1: every tail projects to int(2 // 1) = 2 dims
    const sm = new AdaptiveSoftmax(ctxOf(store), "s", 7, 2, [3, 5], 0, 1, null, false);
    expect([...store.params.keys()].sort()).toEqual(["s.head.weight", "s.tail.0.0.weight", "s.tail.0.2.weight", "s.tail.1.0.weight", "s.tail.1.2.weight"]);
    const T0P = [
      [0.7, -0.2],
      [0.3, 0.3],
    ];
    const T0O = [
      [1.5, 0],
      [-0.5, 1],
    ];
    const T1P = [
      [-0.4, 0.9],
      [0.2, -0.1],
    ];
    const T1O = [
      [0.3, -0.7],
      [2, 0.5],
    ];
    set(store, "s.head.weight", W_HEAD);
    set(store, "s.tail.0.0.weight", T0P);
    set(store, "s.tail.0.2.weight", T0O);
    set(store, "s.tail.1.0.weight", T1P);
    set(store, "s.tail.1.2.weight", T1O);
    const lp = sm.getLogProb(tf.tensor3d([X]));
    const got = (await lp.array())[0]!;
    lp.dispose();
    for (const [r, x] of X.entries()) {
      const head = logSoftmaxJs(matVec(W_HEAD, x));
      const t0 = logSoftmaxJs(matVec(T0O, matVec(T0P, x))).map((v) => v + head[3]!);
      const t1 = logSoftmaxJs(matVec(T1O, matVec(T1P, x))).map((v) => v + head[4]!);
      const want = [...head.slice(0, 3), ...t0, ...t1];
      want.forEach((w, i) => expect(got[r]![i]).toBeCloseTo(w, 5));
      expect(want.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 6);
    }
    tf.dispose([...store.params.values()]);
  });

  it("forward: head targets map tail words to their cluster, tails see only their rows, offsets from the cluster start", async () => {
    const { sm, store } = build();
    const feats = tf.tensor3d([[X[0]!, X[1]!, X[0]!, X[1]!]]);
    const target = tf.tensor1d([0, 4, 6, 3], "int32");
    const terms = sm.forward(feats, target);
    expect(Array.from(await terms.headTarget.data())).toEqual([0, 3, 4, 3]);
    expect(terms.head.shape).toEqual([4, 5]);
    expect(Array.from(await terms.tails[0]!.target.data())).toEqual([1, 0]); // rows 1 (word 4) and 3 (word 3)
    expect(terms.tails[0]!.logits.shape).toEqual([2, 2]);
    expect(Array.from(await terms.tails[1]!.target.data())).toEqual([1]); // row 2, word 6
    // the head logits are W_HEAD · x for every row
    const head = await terms.head.array();
    expect(head[1]![0]).toBeCloseTo(dot(W_HEAD[0]!, X[1]!), 6);
    tf.dispose([feats, target, terms.head, terms.headTarget, ...terms.tails.flatMap((t) => (t ? [t.logits, t.target] : []))]);
    tf.dispose([...store.params.values()]);
  });

  it("cutoffs: the vocabulary is appended, a cutoff past it or a non-increasing list is an error naming the flag", () => {
    const store = new ParamStore();
    expect(() => new AdaptiveSoftmax(ctxOf(store), "a", 7, 2, [3, 9], 0, 1, null, false)).toThrow(
      /--adaptive-softmax-cutoff: cannot specify cutoff larger than vocab size/,
    );
    expect(() => new AdaptiveSoftmax(ctxOf(store), "b", 7, 2, [5, 3], 0, 1, null, false)).toThrow(/--adaptive-softmax-cutoff: cutoffs must be increasing/);
    const sm = new AdaptiveSoftmax(ctxOf(store), "c", 7, 2, [3, 7], 0, 1, null, false);
    expect(sm.cutoff).toEqual([3, 7]);
    tf.dispose([...store.params.values()]);
  });
});

describe("adaptive input (hand-computed)", () => {
  it("each token goes through its band's embedding and projection; band dims initial_dim // factor^i; padding rows zero", async () => {
    const store = new ParamStore();
    const ai = new AdaptiveInput(ctxOf(store), "e", 6, 1, 4, 2, 3, [2, 4]);
    expect([0, 1, 2].map((i) => store.params.get(`e.embeddings.${i}.0.weight`)!.shape)).toEqual([
      [2, 4],
      [2, 2],
      [2, 1],
    ]);
    for (let i = 0; i < 3; i++) {
      const padRow = Array.from(await tf.slice(store.params.get(`e.embeddings.${i}.0.weight`)!, [1, 0], [1, -1]).data());
      expect(padRow.every((v) => v === 0)).toBe(true);
    }
    const emb = await Promise.all([0, 1, 2].map(async (i) => (await store.params.get(`e.embeddings.${i}.0.weight`)!.array()) as number[][]));
    const proj = await Promise.all([0, 1, 2].map(async (i) => (await store.params.get(`e.embeddings.${i}.1.weight`)!.array()) as number[][]));
    const tokens = tf.tensor2d([[0, 3, 5, 2, 1]], [1, 5], "int32");
    const out = ai.apply(tokens);
    const got = (await out.array()) as number[][][];
    [0, 3, 5, 2, 1].forEach((tok, j) => {
      const band = tok < 2 ? 0 : tok < 4 ? 1 : 2;
      const row = emb[band]![tok - [0, 2, 4][band]!]!;
      matVec(proj[band]!, row).forEach((v, c) => expect(got[0]![j]![c]).toBeCloseTo(v, 5));
    });
    tf.dispose([tokens, out, ...store.params.values()]);
  });
});

const tinyAdaptiveLm = (extra: Record<string, unknown> = {}) => ({
  arch: "transformer_lm",
  decoder_layers: 2,
  decoder_embed_dim: 16,
  decoder_ffn_embed_dim: 32,
  decoder_attention_heads: 2,
  adaptive_input: true,
  adaptive_input_cutoff: "10,20",
  adaptive_softmax_cutoff: "10,20",
  tie_adaptive_weights: true,
  tie_adaptive_proj: true,
  adaptive_softmax_dropout: 0.1,
  ...extra,
});

describe("transformer_lm with adaptive input and softmax", () => {
  it("incremental decoding step by step gives the teacher-forced log-probs; every row is a distribution over the vocabulary", async () => {
    const m = buildModel(tinyAdaptiveLm(), { vocabSize: 30, padIdx: 1 }) as LanguageModel;
    m.eval();
    const toks = [2, 5, 17, 25, 11, 29];
    const full = tf.tidy(() => m.getNormalizedProbs(m.forward(tf.tensor2d([toks], [1, 6], "int32")), true));
    const fullArr = (await full.array())[0]!;
    for (const row of fullArr) expect(row.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 4);
    const state: IncrementalState = new Map();
    for (let t = 1; t <= toks.length; t++) {
      const step = tf.tidy(() => m.getNormalizedProbs(m.forward(tf.tensor2d([toks.slice(0, t)], [1, t], "int32"), state), true));
      const s = (await step.array())[0]![0]!;
      s.forEach((v, i) => expect(v).toBeCloseTo(fullArr[t - 1]![i]!, 4));
      step.dispose();
    }
    disposeIncrementalState(state);
    full.dispose();
    m.dispose();
  });

  it("training forward/backward reaches the adaptive weights and leaves no tensor behind", () => {
    const m = buildModel(tinyAdaptiveLm(), { vocabSize: 30, padIdx: 1 }) as LanguageModel;
    m.train();
    const params = [...m.namedParameters().values()];
    const tokens = tf.tensor2d([[2, 5, 17, 25, 11, 29]], [1, 6], "int32");
    const target = tf.tensor1d([5, 17, 25, 11, 29, 2], "int32");
    const softmax = m.decoder.adaptiveSoftmax!;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const terms = softmax.forward(m.forward(tokens)[0], target);
        let loss = tf.neg(tf.sum(tf.mul(tf.oneHot(terms.headTarget, terms.head.shape[1]), tf.logSoftmax(terms.head)))) as tf.Scalar;
        for (const t of terms.tails) if (t) loss = tf.add(loss, tf.neg(tf.sum(tf.mul(tf.oneHot(t.target, t.logits.shape[1]), tf.logSoftmax(t.logits)))));
        return loss;
      }, params);
      const names = Object.keys(grads).length;
      tf.dispose([value, ...Object.values(grads)]);
      return names;
    };
    // targets fall in the head and both tails: every parameter gets a gradient
    expect(step()).toBe(params.length);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([tokens, target]);
    m.dispose();
  });

  it("--tie-adaptive-weights checks fairseq's assertions, as errors naming the flags", () => {
    expect(() => buildModel(tinyAdaptiveLm({ adaptive_softmax_cutoff: "10" }), { vocabSize: 30, padIdx: 1 })).toThrow(
      /--tie-adaptive-weights requires --adaptive-softmax-cutoff \(10\) == --adaptive-input-cutoff \(10,20\)/,
    );
    expect(() => buildModel(tinyAdaptiveLm({ adaptive_input: false }), { vocabSize: 30, padIdx: 1 })).toThrow(
      /--tie-adaptive-weights requires --adaptive-input/,
    );
    expect(() => buildModel(tinyAdaptiveLm({ adaptive_input_cutoff: null }), { vocabSize: 30, padIdx: 1 })).toThrow(
      /--adaptive-input requires --adaptive-input-cutoff/,
    );
  });
});

const tinyAlign = (extra: Record<string, unknown> = {}) => ({
  arch: "transformer_align",
  encoder_layers: 2,
  decoder_layers: 3,
  encoder_embed_dim: 16,
  decoder_embed_dim: 16,
  encoder_ffn_embed_dim: 32,
  decoder_ffn_embed_dim: 32,
  encoder_attention_heads: 4,
  decoder_attention_heads: 4,
  alignment_layer: 1,
  alignment_heads: 2,
  ...extra,
});

describe("transformer_align", () => {
  const vocab = { srcVocabSize: 20, tgtVocabSize: 24, padIdx: 1 };
  const src = () => tf.tensor2d([[1, 5, 6, 7, 2]], [1, 5], "int32");
  const len = () => tf.tensor1d([4], "int32");
  const prev = () => tf.tensor2d([[2, 8, 9, 10]], [1, 4], "int32");

  it("forward's attn is layer alignment_layer's averaged over the first alignment_heads heads; the logits are the transformer's", async () => {
    const m = buildModel(tinyAlign(), vocab) as TransformerAlignModel;
    expect(m).toBeInstanceOf(TransformerAlignModel);
    m.eval();
    // the same weights as a plain transformer, and the same model cut after layer 1 (layers above do not change its attention)
    const plain = buildModel({ ...tinyAlign(), arch: "transformer" }, vocab) as EncoderDecoderModel;
    plain.loadStateDict(m.stateDict());
    const cut = buildModel({ ...tinyAlign(), arch: "transformer", decoder_layers: 2 }, vocab) as EncoderDecoderModel;
    cut.loadStateDict(new Map([...m.stateDict()].filter(([k]) => !k.startsWith("decoder.layers.2."))), { strict: false });
    const [logits, extra] = m.forward(src(), len(), prev());
    const [plainLogits, plainExtra] = plain.forward(src(), len(), prev());
    expect(await logits.array()).toEqual(await plainLogits.array());
    const attn = (await extra.attn!.array())[0]!;
    // every head's attention, one by one: cut's last layer with alignment heads 1..4
    const perHead: number[][][] = [];
    for (let h = 1; h <= 4; h++) {
      const sum = (await cut.decoder.forward(prev(), cut.encoder.forward(src(), len()), undefined, { alignmentHeads: h })[1].attn!.array())[0]!;
      const sumPrev =
        h === 1 ? null : (await cut.decoder.forward(prev(), cut.encoder.forward(src(), len()), undefined, { alignmentHeads: h - 1 })[1].attn!.array())[0]!;
      perHead.push(sum.map((row, i) => row.map((v, j) => v * h - (sumPrev ? sumPrev[i]![j]! * (h - 1) : 0))));
    }
    for (const head of perHead) for (const row of head) expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5); // each a distribution
    attn.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo((perHead[0]![i]![j]! + perHead[1]![i]![j]!) / 2, 5)));
    // the plain transformer's attn: the last layer, all heads
    const last = (await plainExtra.attn!.array())[0]!;
    expect(last).not.toEqual(attn);
    m.dispose();
    plain.dispose();
    cut.dispose();
  });

  it("--full-context-alignment: the alignment comes from a pass without the future mask (an earlier position sees later tokens)", async () => {
    const m = buildModel(tinyAlign({ full_context_alignment: true }), vocab) as TransformerAlignModel;
    m.eval();
    const causal = buildModel(tinyAlign(), vocab) as TransformerAlignModel;
    causal.loadStateDict(m.stateDict());
    const other = () => tf.tensor2d([[2, 8, 9, 13]], [1, 4], "int32");
    const full1 = (await m.alignmentAttention!(src(), len(), prev()).array())[0]!;
    const full2 = (await m.alignmentAttention!(src(), len(), other()).array())[0]!;
    const c1 = (await causal.forward(src(), len(), prev())[1].attn!.array())[0]!;
    const c2 = (await causal.forward(src(), len(), other())[1].attn!.array())[0]!;
    expect(c1[0]).toEqual(c2[0]); // causal: position 0 cannot see the last token
    expect(full1[0]).not.toEqual(full2[0]);
    expect(causal.alignmentAttention).toBeUndefined(); // beam search's own attention is used then, as in fairseq
    expect(() => buildModel(tinyAlign({ full_context_alignment: true, alignment_layer: 3 }), vocab) as TransformerAlignModel).not.toThrow();
    const bad = buildModel(tinyAlign({ full_context_alignment: true, alignment_layer: 3 }), vocab) as TransformerAlignModel;
    expect(() => bad.alignmentAttention!(src(), len(), prev())).toThrow(/--alignment-layer 3: the decoder has 3 layers/);
    bad.dispose();
    m.dispose();
    causal.dispose();
  });

  it("a fairseq .pt whose args say transformer_align loads (the transformer's parameter names) and computes the transformer's logits", async () => {
    const path = join(SHARED, "reference/fairseq/multi30k-de-en/model.pt");
    const asTransformer = importFairseqCheckpoint(await readTorchCheckpoint(path));
    const ckpt = await readTorchCheckpoint(path);
    const args = (ckpt.root as Map<string, unknown>).get("args") as PyNamespace & Record<string, unknown>;
    expect(args).toBeInstanceOf(PyNamespace);
    args.arch = "transformer_align";
    args.alignment_layer = 0;
    const asAlign = importFairseqCheckpoint(ckpt);
    expect(asAlign.model).toBeInstanceOf(TransformerAlignModel);
    const a = asAlign.model as EncoderDecoderModel;
    const t = asTransformer.model as EncoderDecoderModel;
    a.eval();
    t.eval();
    const s = tf.tensor2d([[10, 11, 12, 2]], [1, 4], "int32");
    const l = tf.tensor1d([4], "int32");
    const p = tf.tensor2d([[2, 20, 21]], [1, 3], "int32");
    expect(await a.forward(s, l, p)[0].array()).toEqual(await t.forward(s, l, p)[0].array());
    a.dispose();
    t.dispose();
  });
});

describe("a fairseq adaptive LM checkpoint (state dict in fairseq's layout: tied names repeated, buffers)", () => {
  it("imports: vocabulary from the adaptive input's bands, old args (--no-tie-adaptive-proj False) upgraded, same log-probs", () => {
    const args = { ...tinyAdaptiveLm(), tie_adaptive_proj: undefined, adaptive_softmax_dropout: 0, decoder_final_norm: false };
    const src = buildModel({ ...tinyAdaptiveLm(), no_decoder_final_norm: true }, { vocabSize: 30, padIdx: 1 }) as LanguageModel;
    src.eval();
    // what torch.save(model.state_dict()) holds: every name of a tied weight, fairseq's float buffers and an int64 version
    const tensors = new Map<string, { t: TorchTensor; data: Float32Array | BigInt64Array }>();
    const add = (name: string, data: Float32Array | BigInt64Array, shape: number[], dtype: "float32" | "int64") =>
      tensors.set(name, { t: new TorchTensor({ dtype, key: name, location: "cpu", numel: data.length }, 0, shape, [], false), data });
    for (const [name, v] of src.stateDict()) add(name, v.dataSync() as Float32Array, v.shape, "float32");
    add("decoder.embed_tokens._float_tensor", new Float32Array(1), [1], "float32");
    add("decoder.adaptive_softmax.version", BigInt64Array.from([1n]), [1], "int64");
    expect([...tensors.keys()]).toEqual(
      expect.arrayContaining([
        "decoder.adaptive_softmax.head.word_proj.weight",
        "decoder.adaptive_softmax.tail.1.2.weight",
        "decoder.adaptive_softmax.tail.0.0.weight",
      ]),
    );
    const ns = Object.assign(new PyNamespace(), { ...args, no_tie_adaptive_proj: false });
    delete (ns as Record<string, unknown>).tie_adaptive_proj;
    const ckpt = {
      root: new Map<string, unknown>([
        ["args", ns],
        ["model", new Map([...tensors].map(([k, v]) => [k, v.t]))],
      ]),
      tensorData: (t: TorchTensor) => tensors.get(t.storage.key)!.data,
    };
    const { model, args: loadedArgs } = importFairseqCheckpoint(ckpt);
    const lm = model as LanguageModel;
    lm.eval();
    expect(applyArchitecture({ ...loadedArgs }).args).toMatchObject({ tie_adaptive_proj: true, no_decoder_final_norm: true });
    const toks = tf.tensor2d([[2, 5, 17, 25, 11, 29]], [1, 6], "int32");
    const want = tf.tidy(() => src.getNormalizedProbs(src.forward(toks), true).arraySync());
    const got = tf.tidy(() => lm.getNormalizedProbs(lm.forward(toks), true).arraySync());
    expect(got).toEqual(want);
    tf.dispose(toks);
    src.dispose();
    lm.dispose();
  });
});
