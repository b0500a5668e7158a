import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { Metrics } from "@fairseq-ts/logging";
import { LabelSmoothedCrossEntropyCriterion, buildCriterion, labelSmoothedNllLoss, nllLoss, perplexity } from "../src/index.js";
import { SMOOTHED_NLL_GRAD_KERNEL } from "../src/losses.js";

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
    const g = tf.grad((t: tf.Tensor) => f(t as tf.Tensor2D))(x).arraySync() as number[][];
    const h = 1e-2;
    for (const [i, j] of [[0, 0], [0, 3], [1, 2], [2, 1]] as const) {
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
    const kernel = tf.getKernel(SMOOTHED_NLL_GRAD_KERNEL, "cpu");
    expect(kernel, "native kernels are built in CI (libopenblas-dev)").toBeDefined();
    const withKernel = tf.grad(f)(tf.tensor2d(L)).arraySync() as number[][];
    tf.unregisterKernel(SMOOTHED_NLL_GRAD_KERNEL, "cpu");
    const composite = tf.grad(f)(tf.tensor2d(L)).arraySync() as number[][];
    tf.registerKernel(kernel!);
    const ei = eps / 3;
    const want = target.map((t) => (t === 1 ? [0, 0, 0, 0] : [0, 1, 2, 3].map((v) => -(ei + (v === t ? 1 - eps - ei : 0)))));
    for (const got of [withKernel, composite])
      got.forEach((row, i) => row.forEach((g, v) => expect(g).toBeCloseTo(want[i]![v]!, 6)));
  });
});

describe("criterion forward and fairseq's logged metrics", () => {
  it("uses the model's log-probs, sample_size = ntokens, logs loss/nll_loss in base 2 and ppl", () => {
    const fake = {
      kind: "encoder-decoder" as const,
      forward: () => [tf.tensor3d([logits.slice(0, 2)]), { attn: null }],
      getNormalizedProbs: (out: [tf.Tensor3D]) => tf.logSoftmax(out[0], -1),
    };
    const c = new LabelSmoothedCrossEntropyCriterion({ labelSmoothing: 0.1, paddingIdx: 1, reportAccuracy: true });
    const s = {
      id: Int32Array.from([0]),
      nsentences: 1,
      ntokens: 2,
      netInput: { srcTokens: tf.tensor2d([[4, 2]], [1, 2], "int32"), srcLengths: tf.tensor1d([2], "int32"), prevOutputTokens: tf.tensor2d([[2, 3]], [1, 2], "int32") },
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
