import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { Metrics } from "@fairseq-ts/logging";
import {
  LabelSmoothedCrossEntropyCriterion,
  buildCriterion,
  labelSmoothedNllLoss,
  nllLoss,
  perplexity,
  type Criterion,
  type TensorSample,
} from "../src/index.js";
import { KernelNames } from "@fairseq-ts/runtime";

const tinyArgs = {
  encoder_layers: 1,
  decoder_layers: 1,
  encoder_embed_dim: 8,
  decoder_embed_dim: 8,
  encoder_ffn_embed_dim: 16,
  decoder_ffn_embed_dim: 16,
  encoder_attention_heads: 2,
  decoder_attention_heads: 2,
};

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

// Two positions over a vocabulary of 4 (id 1 = pad). Hand-computed log-softmax in float64.
const logits = [
  [1.0, 0.5, -0.5, 2.0],
  [0.1, 0.2, 0.3, 0.4],
  [3.0, -1.0, 0.0, 0.5],
];
const target = [3, 2, 1]; // the last one is padding
const logSoftmax = (r: number[]) => {
  const m = Math.max(...r);
  const z = Math.log(r.reduce((a, x) => a + Math.exp(x - m), 0)) + m;
  return r.map((x) => x - z);
};
const L = logits.map(logSoftmax);

describe("label_smoothed_nll_loss (fairseq's formula, worked by hand)", () => {
  // nll_i = -L[i][t_i]; smooth_i = -sum_v L[i][v]; pads contribute 0
  const nll = -L[0]![3]! - L[1]![2]!;
  const smooth = -L[0]!.reduce((a, x) => a + x) - L[1]!.reduce((a, x) => a + x);

  it("v0.10.2 split: (1-eps)·nll + eps/V·smooth", () => {
    const eps = 0.1;
    const { loss, nllLoss: n } = labelSmoothedNllLoss(tf.tensor2d(L), tf.tensor1d(target, "int32"), eps, 1);
    expect(n.dataSync()[0]).toBeCloseTo(nll, 5);
    expect(loss.dataSync()[0]).toBeCloseTo((1 - eps) * nll + (eps / 4) * smooth, 5);
  });

  it("v0.12 split: (1-eps-eps/(V-1))·nll + eps/(V-1)·smooth", () => {
    const eps = 0.2;
    const { loss } = labelSmoothedNllLoss(tf.tensor2d(L), tf.tensor1d(target, "int32"), eps, 1, "v0.12");
    const ei = eps / 3;
    expect(loss.dataSync()[0]).toBeCloseTo((1 - eps - ei) * nll + ei * smooth, 5);
  });

  it("eps = 0 is plain NLL; gradient w.r.t. logits matches finite differences", () => {
    expect(nllLoss(tf.tensor2d(L), tf.tensor1d(target, "int32"), 1).dataSync()[0]).toBeCloseTo(nll, 5);
    const f = (x: tf.Tensor2D) => labelSmoothedNllLoss(tf.logSoftmax(x) as tf.Tensor2D, tf.tensor1d(target, "int32"), 0.1, 1).loss;
    const x = tf.tensor2d(logits);
    const g = tf
      .grad((t: tf.Tensor) => f(t as tf.Tensor2D))(x)
      .arraySync() as number[][];
    const h = 1e-2;
    for (const [i, j] of [
      [0, 0],
      [0, 3],
      [1, 2],
      [2, 1],
    ] as const) {
      const plus = logits.map((r) => [...r]);
      const minus = logits.map((r) => [...r]);
      plus[i]![j]! += h;
      minus[i]![j]! -= h;
      const num = (f(tf.tensor2d(plus)).dataSync()[0]! - f(tf.tensor2d(minus)).dataSync()[0]!) / (2 * h);
      expect(g[i]![j]).toBeCloseTo(num, 3);
    }
    expect(g[2]).toEqual([0, 0, 0, 0]); // padding gets no gradient
  });

  it("gradient w.r.t. lprobs is -(eps_i + w·[v = target]) on kept rows, with the native backward kernel and without", () => {
    const eps = 0.2;
    const f = (lp: tf.Tensor) => labelSmoothedNllLoss(lp as tf.Tensor2D, tf.tensor1d(target, "int32"), eps, 1, "v0.12").loss;
    const kernel = tf.getKernel(KernelNames.SmoothedNllGrad, "cpu");
    expect(kernel, "native kernels are built in CI (libopenblas-dev)").toBeDefined();
    const withKernel = tf.grad(f)(tf.tensor2d(L)).arraySync() as number[][];
    tf.unregisterKernel(KernelNames.SmoothedNllGrad, "cpu");
    const composite = tf.grad(f)(tf.tensor2d(L)).arraySync() as number[][];
    tf.registerKernel(kernel!);
    const ei = eps / 3;
    const want = target.map((t) => (t === 1 ? [0, 0, 0, 0] : [0, 1, 2, 3].map((v) => -(ei + (v === t ? 1 - eps - ei : 0)))));
    for (const got of [withKernel, composite]) got.forEach((row, i) => row.forEach((g, v) => expect(g).toBeCloseTo(want[i]![v]!, 6)));
  });
});

describe("criterion forward and fairseq's logged metrics", () => {
  it("uses the model's log-probs, sample_size = ntokens, logs loss/nll_loss in base 2 and ppl", () => {
    const fake = {
      kind: "encoder-decoder" as const,
      forward: () => [tf.tensor3d([logits.slice(0, 2)]), { attn: null }],
      decoder: {}, // no outputProjection: the criterion goes through these logits
      getNormalizedProbs: (out: [tf.Tensor3D]) => tf.logSoftmax(out[0], -1),
    };
    const c = new LabelSmoothedCrossEntropyCriterion({ labelSmoothing: 0.1, paddingIdx: 1, reportAccuracy: true });
    const s = {
      id: Int32Array.from([0]),
      nsentences: 1,
      ntokens: 2,
      netInput: {
        srcTokens: tf.tensor2d([[4, 2]], [1, 2], "int32"),
        srcLengths: tf.tensor1d([2], "int32"),
        prevOutputTokens: tf.tensor2d([[2, 3]], [1, 2], "int32"),
      },
      target: tf.tensor2d([[3, 2]], [1, 2], "int32"),
    };
    const out = c.forward(fake as never, s);
    expect(out.sampleSize).toBe(2);
    const read = Object.fromEntries(Object.entries(out.logging).map(([k, v]) => [k, typeof v === "number" ? v : v.dataSync()[0]!]));
    expect(read.n_correct).toBe(1); // argmax of row 0 is 3 (correct), of row 1 is 3 (target 2)
    expect(read.total).toBe(2);
    const m = new Metrics();
    m.aggregate("train", () => c.reduceMetrics([read, read], m));
    const v = m.getSmoothedValues("train");
    const nll = -L[0]![3]! - L[1]![2]!;
    expect(v.get("nll_loss")).toBeCloseTo((2 * nll) / 4 / Math.LN2, 3);
    expect(v.get("ppl")).toBe(perplexity((m.getMeter("train", "nll_loss") as unknown as { avg: number }).avg));
    expect(v.get("accuracy")).toBe(50);
  });

  it("has a registry for --criterion", () => {
    expect(buildCriterion("cross_entropy", { paddingIdx: 1 }).name).toBe("cross_entropy");
    expect(() => buildCriterion("nope", { paddingIdx: 1 })).toThrow(/--criterion: unknown criterion 'nope'/);
  });
});

describe("the output layer fused into the loss (FairseqLinearSmoothedNll, native kernels)", () => {
  // A real transformer (shared and separate output projections, translation and LM): the criterion's
  // fused path must give what its logits path gives, values and gradients.
  const sample = (withSrc: boolean) => ({
    id: Int32Array.from([0, 1]),
    nsentences: 2,
    ntokens: 7,
    netInput: {
      srcTokens: tf.tensor2d(
        [
          [5, 6, 7, 2],
          [1, 8, 9, 2],
        ],
        [2, 4],
        "int32",
      ),
      srcLengths: tf.tensor1d([4, 3], "int32"),
      prevOutputTokens: withSrc
        ? tf.tensor2d(
            [
              [2, 10, 11, 12],
              [2, 13, 14, 1],
            ],
            [2, 4],
            "int32",
          )
        : undefined,
    },
    target: tf.tensor2d(
      [
        [10, 11, 12, 2],
        [13, 14, 2, 1],
      ],
      [2, 4],
      "int32",
    ),
  });
  const run = (model: EncoderDecoderModel | LanguageModel, c: Criterion, s: TensorSample, fused: boolean) => {
    const kernel = tf.getKernel(KernelNames.LinearSmoothedNll, "cpu");
    expect(kernel, "native kernels are built in CI (libopenblas-dev)").toBeDefined();
    if (!fused) tf.unregisterKernel(KernelNames.LinearSmoothedNll, "cpu");
    try {
      const params = [...model.namedParameters().values()];
      let logging: Record<string, number> = {};
      model.setSeed(7); // the same dropout masks in both runs
      const { value, grads } = tf.variableGrads(() => {
        const out = c.forward(model, s);
        logging = Object.fromEntries(Object.entries(out.logging).map(([k, v]) => [k, typeof v === "number" ? v : v.dataSync()[0]!]));
        return out.loss;
      }, params);
      value.dispose();
      model.eval();
      const evalLoss = tf.tidy(() => c.forward(model, s).loss.dataSync()[0]!);
      model.train();
      const g = Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.dataSync()]));
      tf.dispose(Object.values(grads));
      return { logging, evalLoss, g };
    } finally {
      if (!fused) tf.registerKernel(kernel!);
    }
  };
  const cases: [string, () => EncoderDecoderModel | LanguageModel, Criterion][] = [
    [
      "transformer, shared output embedding, label smoothing 0.1, accuracy",
      () =>
        buildModel(
          { arch: "transformer", ...tinyArgs, share_decoder_input_output_embed: true },
          { srcVocabSize: 20, tgtVocabSize: 20, padIdx: 1 },
          { seed: 3 },
        ),
      new LabelSmoothedCrossEntropyCriterion({ labelSmoothing: 0.1, paddingIdx: 1, reportAccuracy: true }),
    ],
    [
      "transformer, own output projection, v0.12 split, --ignore-prefix-size 1",
      () => buildModel({ arch: "transformer", ...tinyArgs }, { srcVocabSize: 20, tgtVocabSize: 20, padIdx: 1 }, { seed: 4 }),
      new LabelSmoothedCrossEntropyCriterion({ labelSmoothing: 0.2, paddingIdx: 1, epsSplit: "v0.12", ignorePrefixSize: 1 }),
    ],
    [
      "transformer_lm, cross_entropy",
      () =>
        buildModel(
          { arch: "transformer_lm", decoder_layers: 1, decoder_embed_dim: 8, decoder_ffn_embed_dim: 16, decoder_attention_heads: 2 },
          { vocabSize: 20, padIdx: 1 },
          { seed: 5 },
        ),
      buildCriterion("cross_entropy", { paddingIdx: 1 }),
    ],
  ];
  for (const [name, build, c] of cases) {
    it(`${name}: same loss, logged values and gradients as through the logits`, () => {
      const model = build();
      model.train(); // with dropout (0.1, fairseq's default): both runs reseed it
      const s = sample(model.kind === "encoder-decoder") as TensorSample;
      const fused = run(model, c, s, true);
      const logits = run(model, c, s, false);
      expect(Object.keys(fused.logging).sort()).toEqual(Object.keys(logits.logging).sort());
      for (const [k, v] of Object.entries(logits.logging)) expect(fused.logging[k], k).toBeCloseTo(v, 4);
      expect(fused.evalLoss).toBeCloseTo(logits.evalLoss, 4);
      expect(Object.keys(fused.g).sort()).toEqual(Object.keys(logits.g).sort());
      let worst = 0;
      let scale = 0;
      for (const [k, want] of Object.entries(logits.g)) {
        const got = fused.g[k]!;
        want.forEach((w, i) => {
          worst = Math.max(worst, Math.abs(got[i]! - w));
          scale = Math.max(scale, Math.abs(w));
        });
      }
      expect(scale).toBeGreaterThan(0);
      expect(worst / scale).toBeLessThan(1e-5);
      model.dispose();
    });
  }

  it("is what the criterion runs (when the kernel is registered) and leaves no tensor behind", () => {
    const model = cases[0]![1]();
    model.train();
    const s = sample(true) as TensorSample;
    const c = cases[0]![2];
    run(model, c, s, true); // the decoder's lazily built caches (future mask, positions) stay
    const project = vi.spyOn(model.decoder, "forward");
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run(model, c, s, true);
    expect(tf.memory().numTensors).toBe(before);
    expect(project.mock.calls).toHaveLength(6); // 3 runs, each a training and an eval forward
    expect(project.mock.calls.every((call) => call[3]?.featuresOnly === true)).toBe(true);
    model.dispose();
  });
});
