import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { AdamW, buildOptimizer } from "../src/index.js";
import { expectClose, expectExactResume, toGrads, toVariables, values, type RefParam } from "./helpers.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const P = (shape: number[], seed: number, scale = 1): RefParam => ({ shape, data: values(shape.reduce((a, b) => a * b, 1), seed, scale) });
const clone = (ps: Record<string, RefParam>): Record<string, RefParam> =>
  Object.fromEntries(Object.entries(ps).map(([k, p]) => [k, { shape: p.shape, data: [...p.data] }]));

describe("adamw (torch.optim.AdamW)", () => {
  /** float64 transcription of torch.optim.AdamW.step (PyTorch docs / torch/optim/adamw.py). */
  function reference(p0: Record<string, RefParam>, grads: Record<string, RefParam>[], lrs: number[], o: { b1: number; b2: number; eps: number; wd: number; amsgrad: boolean }) {
    const ps = clone(p0);
    const st: Record<string, { m: number[]; v: number[]; vmax: number[] }> = {};
    grads.forEach((gs, t) => {
      const step = t + 1;
      const lr = lrs[t]!;
      for (const [k, p] of Object.entries(ps)) {
        const g = gs[k]!.data;
        const s = (st[k] ??= { m: p.data.map(() => 0), v: p.data.map(() => 0), vmax: p.data.map(() => 0) });
        const bc1 = 1 - o.b1 ** step;
        const bc2 = 1 - o.b2 ** step;
        for (let i = 0; i < p.data.length; i++) {
          p.data[i]! *= 1 - lr * o.wd;
          s.m[i] = o.b1 * s.m[i]! + (1 - o.b1) * g[i]!;
          s.v[i] = o.b2 * s.v[i]! + (1 - o.b2) * g[i]! * g[i]!;
          s.vmax[i] = Math.max(s.vmax[i]!, s.v[i]!);
          const denom = Math.sqrt(o.amsgrad ? s.vmax[i]! : s.v[i]!) / Math.sqrt(bc2) + o.eps;
          p.data[i]! -= (lr / bc1) * (s.m[i]! / denom);
        }
      }
    });
    return ps;
  }

  for (const amsgrad of [false, true]) {
    it(`five steps with a changing lr equal the float64 formula (amsgrad ${amsgrad}); exact resume through JSON`, () => {
      const p0 = { "fc.weight": P([3, 4], 1), "fc.bias": P([4], 2) };
      const grads = [0, 1, 2, 3, 4].map((t) => ({ "fc.weight": P([3, 4], 10 + t, 0.5 / (t + 1)), "fc.bias": P([4], 20 + t, 0.3) }));
      const lrs = [1e-3, 2e-3, 3e-3, 2.5e-3, 2e-3];
      const o = { b1: 0.9, b2: 0.98, eps: 1e-3, wd: 0.1, amsgrad }; // eps large enough to tell torch's sqrt(v)/sqrt(bc2)+eps from fairseq adam's
      const expected = reference(p0, grads, lrs, o);
      const params = toVariables(p0);
      const make = () => buildOptimizer("adamw", { lr: 1e-3, adamBetas: "(0.9, 0.98)", adamEps: 1e-3, weightDecay: 0.1, amsgrad });
      const opt = make();
      expect(opt).toBeInstanceOf(AdamW);
      grads.forEach((g, t) => {
        opt.setLr(lrs[t]!);
        const gt = toGrads(g);
        opt.step(params, gt);
        tf.dispose([...gt.values()]);
      });
      for (const [k, v] of params) expectClose(v, expected[k]!.data);
      expectExactResume(opt, make, params, [0, 1].map((t) => toGrads({ "fc.weight": P([3, 4], 30 + t), "fc.bias": P([4], 40 + t) })));
      opt.dispose();
    });
  }

  it("defaults to PyTorch's weight decay 1e-2 and rejects bad flags by name", () => {
    expect(new AdamW({ lr: 1 }).weightDecay).toBe(0.01);
    expect(() => buildOptimizer("adamw", { lr: 1, adamBetas: "(0.9; 0.98)" })).toThrow(/--adam-betas/);
    expect(() => buildOptimizer("adamw", { lr: 1, weightDecay: -1 })).toThrow(/--weight-decay/);
    expect(() => buildOptimizer("adamw", { lr: Number.NaN })).toThrow(/--lr/);
  });
});
