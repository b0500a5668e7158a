import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { Adafactor, Adagrad, AdamW, Nag, buildOptimizer, type Grads } from "../src/index.js";
import { expectClose, expectExactResume, jsonState, toGrads, toVariables, values, type RefParam } from "./helpers.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const P = (shape: number[], seed: number, scale = 1): RefParam => ({
  shape,
  data: values(
    shape.reduce((a, b) => a * b, 1),
    seed,
    scale,
  ),
});
const clone = (ps: Record<string, RefParam>): Record<string, RefParam> =>
  Object.fromEntries(Object.entries(ps).map(([k, p]) => [k, { shape: p.shape, data: [...p.data] }]));

describe("adamw (torch.optim.AdamW)", () => {
  /** float64 transcription of torch.optim.AdamW.step (PyTorch docs / torch/optim/adamw.py). */
  function reference(
    p0: Record<string, RefParam>,
    grads: Record<string, RefParam>[],
    lrs: number[],
    o: { b1: number; b2: number; eps: number; wd: number; amsgrad: boolean },
  ) {
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
      expectExactResume(
        opt,
        make,
        params,
        [0, 1].map((t) => toGrads({ "fc.weight": P([3, 4], 30 + t), "fc.bias": P([4], 40 + t) })),
      );
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

/** Run `steps` through `opt`, setting the lr first when `lrs[t]` is not null (what a scheduler does). */
function run(opt: ReturnType<typeof buildOptimizer>, params: Map<string, tf.Variable>, grads: Record<string, RefParam>[], lrs: (number | null)[]): void {
  grads.forEach((g, t) => {
    if (lrs[t] != null) opt.setLr(lrs[t]!);
    const gt: Grads = toGrads(g);
    opt.step(params, gt);
    tf.dispose([...gt.values()]);
  });
}

describe("nag (fairseq/optim/nag.py)", () => {
  /** float64 transcription of fairseq's NAG.step (lr_correct = lr / lr_old; later fairseq's guard for lr_old = 0). */
  function reference(p0: Record<string, RefParam>, grads: Record<string, RefParam>[], lr0: number, lrs: number[], mu: number, wd: number) {
    const ps = clone(p0);
    const bufs: Record<string, number[]> = {};
    let lrOld = lr0;
    grads.forEach((gs, t) => {
      const lr = lrs[t]!;
      const lrCorrect = lrOld > 0 ? lr / lrOld : lr;
      for (const [k, p] of Object.entries(ps)) {
        const g = gs[k]!.data;
        const buf = (bufs[k] ??= p.data.map(() => 0));
        for (let i = 0; i < p.data.length; i++) {
          if (wd !== 0) p.data[i]! *= 1 - lr * wd;
          p.data[i]! += mu * mu * lrCorrect * buf[i]!;
          p.data[i]! += -(1 + mu) * lr * g[i]!;
          buf[i] = buf[i]! * (mu * lrCorrect) + -lr * g[i]!;
        }
      }
      lrOld = lr;
    });
    return ps;
  }

  it("six steps with a changing lr (lr_correct != 1) and weight decay equal fairseq's formula; exact resume", () => {
    const p0 = { "emb.weight": P([5, 3], 3), "ln.bias": P([3], 4) };
    const grads = [0, 1, 2, 3, 4, 5].map((t) => ({ "emb.weight": P([5, 3], 50 + t), "ln.bias": P([3], 60 + t, 0.2) }));
    const lrs = [0.05, 0.1, 0.2, 0.15, 0.1, 0.12];
    const expected = reference(p0, grads, 0.25, lrs, 0.9, 0.01);
    const params = toVariables(p0);
    const make = () => buildOptimizer("nag", { lr: 0.25, momentum: 0.9, weightDecay: 0.01 });
    const opt = make();
    expect(opt).toBeInstanceOf(Nag);
    run(opt, params, grads, lrs);
    for (const [k, v] of params) expectClose(v, expected[k]!.data, 1e-5, 1e-6);
    // lr_old survives the round trip: the next steps use a new lr, so lr_correct = lr / lr_old matters
    expect(opt.stateDict().extra).toEqual({ lr_old: 0.12 });
    opt.setLr(0.3);
    expectExactResume(
      opt,
      make,
      params,
      [0, 1].map((t) => toGrads({ "emb.weight": P([5, 3], 70 + t), "ln.bias": P([3], 80 + t) })),
    );
  });

  it("starts from lr 0 (inverse_sqrt warmup) without dividing by zero, default momentum 0.99", () => {
    const p0 = { w: P([4], 5) };
    const grads = [0, 1, 2].map((t) => ({ w: P([4], 90 + t) }));
    const lrs = [0, 1e-3, 2e-3];
    const expected = reference(p0, grads, 5e-4, lrs, 0.99, 0);
    const params = toVariables(p0);
    const opt = buildOptimizer("nag", { lr: 5e-4 });
    expect((opt as Nag).momentum).toBe(0.99);
    run(opt, params, grads, lrs);
    expectClose(params.get("w")!, expected.w!.data, 1e-5, 1e-7);
    expect(() => buildOptimizer("nag", { lr: 1, momentum: -0.5 })).toThrow(/--momentum/);
  });
});

describe("adagrad (torch.optim.Adagrad via fairseq/optim/adagrad.py)", () => {
  function reference(
    p0: Record<string, RefParam>,
    grads: Record<string, RefParam>[],
    lrs: number[],
    o: { wd: number; lrDecay: number; eps: number; init: number },
  ) {
    const ps = clone(p0);
    const sums: Record<string, number[]> = {};
    grads.forEach((gs, t) => {
      const clr = lrs[t]! / (1 + t * o.lrDecay);
      for (const [k, p] of Object.entries(ps)) {
        const sum = (sums[k] ??= p.data.map(() => o.init));
        for (let i = 0; i < p.data.length; i++) {
          const g = gs[k]!.data[i]! + o.wd * p.data[i]!;
          sum[i]! += g * g;
          p.data[i]! -= (clr * g) / (Math.sqrt(sum[i]!) + o.eps);
        }
      }
    });
    return ps;
  }

  it("five steps with weight decay equal torch's algorithm (eps 1e-10, no lr decay); exact resume", () => {
    const p0 = { a: P([2, 3], 6), b: P([3], 7) };
    const grads = [0, 1, 2, 3, 4].map((t) => ({ a: P([2, 3], 100 + t), b: P([3], 110 + t, 0.01) }));
    const lrs = [0.1, 0.1, 0.05, 0.05, 0.02];
    const expected = reference(p0, grads, lrs, { wd: 0.05, lrDecay: 0, eps: 1e-10, init: 0 });
    const params = toVariables(p0);
    const make = () => buildOptimizer("adagrad", { lr: 0.1, weightDecay: 0.05 });
    const opt = make();
    expect(opt).toBeInstanceOf(Adagrad);
    run(opt, params, grads, lrs);
    for (const [k, v] of params) expectClose(v, expected[k]!.data);
    expectExactResume(
      opt,
      make,
      params,
      [0, 1].map((t) => toGrads({ a: P([2, 3], 120 + t), b: P([3], 130 + t) })),
    );
  });

  it("honours PyTorch's lr_decay and initial_accumulator_value", () => {
    const p0 = { a: P([6], 8) };
    const grads = [0, 1, 2].map((t) => ({ a: P([6], 140 + t) }));
    const expected = reference(p0, grads, [0.1, 0.1, 0.1], { wd: 0, lrDecay: 0.5, eps: 1e-10, init: 0.3 });
    const params = toVariables(p0);
    run(new Adagrad({ lr: 0.1, lrDecay: 0.5, initialAccumulatorValue: 0.3 }), params, grads, [null, null, null]);
    expectClose(params.get("a")!, expected.a!.data);
  });
});

describe("adafactor (fairseq/optim/adafactor.py)", () => {
  interface AfOpts {
    lr0: number | null;
    eps1: number;
    eps2: number;
    clip: number;
    decay: number;
    beta1: number | null;
    wd: number;
    scale: boolean;
    relative: boolean;
    warmupInit: boolean;
  }
  const defaults: AfOpts = { lr0: null, eps1: 1e-30, eps2: 1e-3, clip: 1, decay: -0.8, beta1: null, wd: 0, scale: false, relative: false, warmupInit: false };
  const rms = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + x * x, 0)) / Math.sqrt(xs.length);

  /** float64 transcription of fairseq's Adafactor.step (group lr written back per parameter, as fairseq). */
  function reference(p0: Record<string, RefParam>, grads: Partial<Record<string, RefParam>>[], lrs: (number | null)[], o: AfOpts) {
    const ps = clone(p0);
    const st: Record<string, { step: number; row: number[]; col: number[]; v: number[]; m: number[] }> = {};
    let groupLr = o.lr0 ?? 0;
    grads.forEach((gs, t) => {
      if (lrs[t] != null) groupLr = lrs[t]!;
      for (const [k, p] of Object.entries(ps)) {
        const gp = gs[k];
        if (!gp) continue;
        const g = gp.data;
        const n = p.data.length;
        const factored = p.shape.length >= 2;
        const C = p.shape.at(-1)!;
        const R = factored ? p.shape.at(-2)! : 1;
        const B = n / (R * C);
        const s = (st[k] ??= { step: 0, row: Array(B * R).fill(0), col: Array(B * C).fill(0), v: Array(n).fill(0), m: Array(n).fill(0) });
        s.step++;
        const rel = o.relative ? Math.min(o.warmupInit ? 1e-6 * s.step : 1e-2, 1 / Math.sqrt(s.step)) : groupLr;
        const scale = o.scale ? Math.max(o.eps2, rms(p.data)) : 1;
        groupLr = scale * rel;
        const beta2t = 1 - s.step ** o.decay;
        const sq = g.map((x) => x * x + o.eps1);
        let u: number[];
        if (factored) {
          for (let b = 0; b < B; b++) {
            for (let i = 0; i < R; i++) {
              let mean = 0;
              for (let j = 0; j < C; j++) mean += sq[(b * R + i) * C + j]! / C;
              s.row[b * R + i] = beta2t * s.row[b * R + i]! + (1 - beta2t) * mean;
            }
            for (let j = 0; j < C; j++) {
              let mean = 0;
              for (let i = 0; i < R; i++) mean += sq[(b * R + i) * C + j]! / R;
              s.col[b * C + j] = beta2t * s.col[b * C + j]! + (1 - beta2t) * mean;
            }
          }
          u = g.map((x, idx) => {
            const j = idx % C;
            const i = Math.floor(idx / C) % R;
            const b = Math.floor(idx / (R * C));
            let rowMean = 0;
            for (let ii = 0; ii < R; ii++) rowMean += s.row[b * R + ii]! / R;
            return (1 / Math.sqrt(s.row[b * R + i]! / rowMean)) * (1 / Math.sqrt(s.col[b * C + j]!)) * x;
          });
        } else {
          s.v = s.v.map((v, i) => beta2t * v + (1 - beta2t) * sq[i]!);
          u = g.map((x, i) => x / Math.sqrt(s.v[i]!));
        }
        const div = Math.max(rms(u) / o.clip, 1);
        u = u.map((x) => (x / div) * groupLr);
        if (o.beta1 !== null) {
          s.m = s.m.map((m, i) => o.beta1! * m + (1 - o.beta1!) * u[i]!);
          u = s.m;
        }
        p.data = p.data.map((x, i) => x - o.wd * groupLr * x - u[i]!);
      }
    });
    return { ps, lr: groupLr };
  }

  const make = (o: AfOpts) => () =>
    new Adafactor({
      lr: o.lr0,
      eps: `(${o.eps1}, ${o.eps2})`,
      clipThreshold: o.clip,
      decayRate: o.decay,
      beta1: o.beta1,
      weightDecay: o.wd,
      scaleParameter: o.scale,
      relativeStep: o.relative,
      warmupInit: o.warmupInit,
    });

  const shapes: Record<string, number[]> = { "proj.weight": [4, 6], "proj.bias": [6], "conv.weight": [2, 3, 5] };
  // [title, options, parameter scale]: the updates must be large against the parameters for the
  // comparison to see them (warmup_init's lr is 1e-6·t, so its parameters are small).
  const cases: [string, Partial<AfOpts>, number][] = [
    ["relative_step + scale_parameter (Adafactor's own schedule)", { relative: true, scale: true }, 1],
    ["relative_step without scale_parameter, warmup_init, first moment", { relative: true, warmupInit: true, beta1: 0.9 }, 1e-4],
    ["external lr, no scaling, first moment, weight decay, clipping at 0.5", { lr0: 0.01, beta1: 0.8, wd: 0.01, clip: 0.5 }, 1],
    ["external lr with scale_parameter (group lr carried from parameter to parameter, as fairseq)", { lr0: 0.05, scale: true }, 1],
  ];
  for (const [title, over, pScale] of cases) {
    it(`${title}: 1-D, 2-D and 3-D (factored) parameters over five steps; exact resume`, () => {
      const o = { ...defaults, ...over };
      const p0 = Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, P(sh, 200 + i, pScale)]));
      const grads: Partial<Record<string, RefParam>>[] = [0, 1, 2, 3, 4].map((t) =>
        Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, P(sh, 300 + 10 * t + i, 0.5 + i)])),
      );
      delete grads[2]!["proj.bias"]; // a parameter without a gradient does not step (per-parameter step counts)
      const lrs = o.lr0 === null ? [null, null, null, null, null] : [o.lr0, o.lr0, o.lr0 * 0.5, null, o.lr0];
      const { ps: expected, lr } = reference(p0, grads, lrs, o);
      const params = toVariables(p0);
      const opt = make(o)();
      grads.forEach((g, t) => {
        if (lrs[t] != null) opt.setLr(lrs[t]!);
        const gt = toGrads(g as Record<string, RefParam>);
        opt.step(params, gt);
        tf.dispose([...gt.values()]);
      });
      for (const [k, v] of params) {
        expectClose(v, expected[k]!.data, 1e-4, 1e-7 * pScale);
        // and the parameters did move by more than the tolerance
        const moved = Math.max(...expected[k]!.data.map((x, i) => Math.abs(x - p0[k]!.data[i]!) / Math.abs(p0[k]!.data[i]!)));
        expect(moved).toBeGreaterThan(1e-2);
      }
      expect(opt.getLr() / lr).toBeCloseTo(1, 5);
      const st = opt.stateDict();
      expect(Object.keys(st.buffers["proj.weight"]!).sort()).toEqual(
        o.beta1 === null ? ["exp_avg_sq_col", "exp_avg_sq_row"] : ["exp_avg", "exp_avg_sq_col", "exp_avg_sq_row"],
      );
      expect(st.buffers["conv.weight"]!.exp_avg_sq_row!.shape).toEqual([2, 3]);
      expect(st.buffers["conv.weight"]!.exp_avg_sq_col!.shape).toEqual([2, 5]);
      expect(Object.keys(st.buffers["proj.bias"]!)).toContain("exp_avg_sq");
      expect(st.extra).toEqual({ steps: { "proj.bias": 4 } });
      expectExactResume(
        opt,
        make(o),
        params,
        [0, 1].map((t) => toGrads(Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, P(sh, 400 + 10 * t + i)])))),
      );
    });
  }

  it("relative_step's lr turns into 1/sqrt(t) after 10,000 steps (1e-6·t capped by it with warmup_init)", () => {
    for (const warmupInit of [false, true]) {
      const params = toVariables({ w: P([3], 9) });
      const opt = new Adafactor({ relativeStep: true, warmupInit });
      const g = toGrads({ w: P([3], 10) });
      opt.step(params, g);
      expect(opt.getLr()).toBeCloseTo(warmupInit ? 1e-6 : 1e-2, 12);
      const st = { ...jsonState(opt), step: 19999 };
      const resumed = new Adafactor({ relativeStep: true, warmupInit });
      resumed.loadStateDict(st, params);
      resumed.step(params, g);
      expect(resumed.getLr()).toBeCloseTo(1 / Math.sqrt(20000), 12);
      tf.dispose([...g.values(), ...params.values()]);
      opt.dispose();
      resumed.dispose();
    }
  });

  it("registry defaults are fairseq's flags; --lr is ignored under --relative-step; bad flags are named", () => {
    const a = buildOptimizer("adafactor", { lr: 0.25 }) as Adafactor;
    expect([a.eps, a.clipThreshold, a.decayRate, a.beta1, a.scaleParameter, a.relativeStep, a.warmupInit]).toEqual([
      [1e-30, 1e-3],
      1,
      -0.8,
      null,
      false,
      false,
      false,
    ]);
    expect(a.getLr()).toBe(0.25);
    const r = buildOptimizer("adafactor", { lr: 0.25, relativeStep: true, scaleParameter: true }) as Adafactor;
    expect(r.relativeStep).toBe(true);
    expect(() => new Adafactor({ lr: 0.1, relativeStep: true })).toThrow(/--relative-step/);
    expect(() => buildOptimizer("adafactor", { lr: 0.1, warmupInit: true })).toThrow(/--warmup-init requires --relative-step/);
    expect(() => buildOptimizer("adafactor", { lr: 0.1, adafactorEps: "(1e-30)" })).toThrow(/--adafactor-eps/);
    expect(() => buildOptimizer("adafactor", { lr: 0.1, clipThreshold: 0 })).toThrow(/--clip-threshold/);
    expect(() => buildOptimizer("adafactor", { lr: 0.1, beta1: 1.5 })).toThrow(/--beta1/);
    const bad = { ...a.stateDict(), name: "adam" };
    expect(() => a.loadStateDict(bad, new Map())).toThrow(/optimizer state is for adam, not adafactor/);
  });
});

describe("no tensor leaks", () => {
  const all: [string, Parameters<typeof buildOptimizer>[1]][] = [
    ["adam", { lr: 1e-3, weightDecay: 0.1, amsgrad: true }],
    ["adamw", { lr: 1e-3, amsgrad: true }],
    ["sgd", { lr: 0.1, momentum: 0.9, weightDecay: 0.1 }],
    ["nag", { lr: 0.1, weightDecay: 0.1 }],
    ["adagrad", { lr: 0.1, weightDecay: 0.1 }],
    ["adafactor", { lr: 0.1, beta1: 0.9, weightDecay: 0.1, scaleParameter: true }],
    ["adafactor", { lr: 0.1, relativeStep: true, scaleParameter: true }],
  ];
  for (const [name, o] of all) {
    it(`${name} ${JSON.stringify(o)}: steps, state reloads and dispose leave numTensors where they were`, () => {
      const start = tf.memory().numTensors;
      const params = toVariables({ w: P([3, 4], 1), b: P([4], 2) });
      const grads = toGrads({ w: P([3, 4], 3), b: P([4], 4) });
      const opt = buildOptimizer(name, o);
      opt.step(params, grads);
      const withBuffers = tf.memory().numTensors;
      expect(withBuffers).toBeGreaterThan(start + 4); // it did create buffers
      for (let i = 0; i < 3; i++) opt.step(params, grads);
      opt.loadStateDict(jsonState(opt), params);
      opt.loadStateDict(opt.stateDict(), params);
      expect(tf.memory().numTensors).toBe(withBuffers);
      opt.step(params, grads);
      expect(tf.memory().numTensors).toBe(withBuffers);
      opt.dispose();
      tf.dispose([...params.values(), ...grads.values()]);
      expect(tf.memory().numTensors).toBe(start);
    });
  }
});
