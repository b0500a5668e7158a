import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { logSoftmax } from "../src/index.js";
import { KernelNames } from "@fairseq-ts/runtime";
import { LayerNorm, ParamStore, SeededRandom, dropout, linear, type ModuleContext } from "../src/modules.js";

function seeded(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 16 - 8);
}

/** Value and gradient of sum(w · f(x)) for x [3, 4, 50]. */
function valueAndGrad(f: (x: tf.Tensor) => tf.Tensor): { y: Float32Array; dx: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor3d(seeded(600, 1), [3, 4, 50]);
    const w = tf.tensor3d(seeded(600, 2), [3, 4, 50]);
    const y = f(x).dataSync() as Float32Array;
    const dx = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(w, f(t))))(x)
      .dataSync() as Float32Array;
    return { y: y.slice(), dx: dx.slice() };
  });
}

/** The float64 formula, row by row. */
function reference(): Float64Array {
  const x = seeded(600, 1);
  const out = new Float64Array(600);
  for (let r = 0; r < 12; r++) {
    const row = Array.from(x.subarray(r * 50, r * 50 + 50));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    row.forEach((v, j) => (out[r * 50 + j] = v - lse));
  }
  return out;
}

describe("logSoftmax (fused kernel when registered, tfjs's composite otherwise)", () => {
  it("falls back to tf.logSoftmax without a LogSoftmax kernel (cpu)", async () => {
    await initBackend({ backend: "cpu", native: false, log: null });
    expect(tf.getKernel("LogSoftmax", "cpu")).toBeUndefined();
    const a = valueAndGrad((x) => logSoftmax(x));
    const b = valueAndGrad((x) => tf.logSoftmax(x));
    expect(Array.from(a.y)).toEqual(Array.from(b.y));
    expect(Array.from(a.dx)).toEqual(Array.from(b.dx));
  });

  it("calls a registered LogSoftmax kernel, with tfjs's gradient", async () => {
    await initBackend({ backend: "cpu", native: false, log: null });
    let calls = 0;
    // a float64 kernel written here, independent of tfjs's composite
    tf.registerKernel({
      kernelName: "LogSoftmax",
      backendName: "cpu",
      kernelFunc: ({ inputs, backend }) => {
        calls++;
        const x = inputs.logits!;
        const be = backend as unknown as { readSync(id: object): Float32Array; makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo };
        const v = be.readSync(x.dataId);
        const cols = x.shape[x.shape.length - 1]!;
        const out = new Float32Array(v.length);
        for (let r = 0; r < v.length / cols; r++) {
          const row = Array.from(v.subarray(r * cols, (r + 1) * cols));
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((s, t) => s + Math.exp(t - m), 0));
          row.forEach((t, j) => (out[r * cols + j] = t - lse));
        }
        return be.makeTensorInfo(x.shape, "float32", out);
      },
    });
    try {
      const a = valueAndGrad((x) => logSoftmax(x));
      expect(calls).toBeGreaterThanOrEqual(2);
      const b = valueAndGrad((x) => tf.logSoftmax(x));
      const want = reference();
      for (let i = 0; i < 600; i++) {
        expect(Math.abs(a.y[i]! - want[i]!)).toBeLessThan(1e-6);
        expect(Math.abs(a.dx[i]! - b.dx[i]!)).toBeLessThan(1e-5);
      }
    } finally {
      tf.unregisterKernel("LogSoftmax", "cpu");
    }
  });

  it("on wasm with the native kernels (built in CI): values and gradients equal the composite", async () => {
    const info = await initBackend({ backend: "wasm", log: null });
    const native = (info.native.kernels as string[]).includes("LogSoftmax");
    expect(native || process.env.CI !== "true").toBe(true);
    const a = valueAndGrad((x) => logSoftmax(x));
    const b = valueAndGrad((x) => tf.logSoftmax(x));
    const want = reference();
    for (let i = 0; i < 600; i++) {
      expect(Math.abs(a.y[i]! - want[i]!)).toBeLessThan(2e-6);
      expect(Math.abs(a.dx[i]! - b.dx[i]!)).toBeLessThan(1e-5);
    }
    // rows that are all -inf, or hold NaN or +inf, come out NaN as with tf.logSoftmax
    const edge = tf.tensor2d([
      [-Infinity, -Infinity],
      [NaN, 1],
      [Infinity, 1],
      [0, -Infinity],
    ]);
    const got = Array.from(logSoftmax(edge).dataSync());
    expect(got.slice(0, 6).every(Number.isNaN)).toBe(true);
    expect(got.slice(6)).toEqual([0, -Infinity]);
    edge.dispose();
  });
});

describe("LayerNorm (fused kernel when registered, tfjs's ops otherwise)", () => {
  /** Value and gradients (x, gamma, beta) of sum(w · LayerNorm(x)) for x [3, 5, 24]. */
  function run(): { y: Float32Array; dx: Float32Array; dg: Float32Array; db: Float32Array } {
    const store = new ParamStore();
    const ln = new LayerNorm({ store } as unknown as ModuleContext, "ln", 24);
    ln.weight.assign(tf.tensor1d(seeded(24, 7).map((v) => 1 + v / 8)));
    ln.bias.assign(tf.tensor1d(seeded(24, 8).map((v) => v / 8)));
    const out = tf.tidy(() => {
      const x = tf.tensor3d(seeded(360, 3), [3, 5, 24]);
      const w = tf.tensor3d(seeded(360, 4), [3, 5, 24]);
      const y = ln.apply(x).dataSync() as Float32Array;
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        // the layer's own variables, swapped for the inputs so their gradients come back too
        const saved = [ln.weight, ln.bias];
        Object.assign(ln, { weight: b, bias: c });
        try {
          return tf.sum(tf.mul(w, ln.apply(a)));
        } finally {
          Object.assign(ln, { weight: saved[0], bias: saved[1] });
        }
      })([x, ln.weight, ln.bias]);
      return {
        y: y.slice(),
        dx: g[0]!.dataSync().slice() as Float32Array,
        dg: g[1]!.dataSync().slice() as Float32Array,
        db: g[2]!.dataSync().slice() as Float32Array,
      };
    });
    ln.weight.dispose();
    ln.bias.dispose();
    return out;
  }

  /** float64 layer norm of x with the same gamma/beta. */
  function reference(): Float64Array {
    const x = seeded(360, 3);
    const g = seeded(24, 7).map((v) => 1 + v / 8);
    const b = seeded(24, 8).map((v) => v / 8);
    const out = new Float64Array(360);
    for (let r = 0; r < 15; r++) {
      const row = Array.from(x.subarray(r * 24, r * 24 + 24));
      const mean = row.reduce((s, v) => s + v, 0) / 24;
      const vr = row.reduce((s, v) => s + (v - mean) ** 2, 0) / 24;
      row.forEach((v, j) => (out[r * 24 + j] = ((v - mean) / Math.sqrt(vr + 1e-5)) * g[j]! + b[j]!));
    }
    return out;
  }

  it("on wasm with the native kernel (built in CI): values equal float64, gradients equal tfjs's ops", async () => {
    await initBackend({ backend: "wasm", native: false, log: null });
    const composite = run();
    const info = await initBackend({ backend: "wasm", log: null });
    expect((info.native.kernels as string[]).includes(KernelNames.LayerNorm) || process.env.CI !== "true").toBe(true);
    expect(!!tf.getKernel(KernelNames.LayerNorm, "wasm")).toBe((info.native.kernels as string[]).includes(KernelNames.LayerNorm));
    const fused = run();
    const want = reference();
    for (let i = 0; i < 360; i++) {
      expect(Math.abs(fused.y[i]! - want[i]!)).toBeLessThan(1e-5);
      expect(Math.abs(composite.y[i]! - want[i]!)).toBeLessThan(1e-5);
      expect(Math.abs(fused.dx[i]! - composite.dx[i]!)).toBeLessThan(1e-4);
    }
    for (let j = 0; j < 24; j++) {
      expect(Math.abs(fused.dg[j]! - composite.dg[j]!)).toBeLessThan(1e-4);
      expect(Math.abs(fused.db[j]! - composite.db[j]!)).toBeLessThan(1e-4);
    }
  });
});

describe("linear (fused kernel when registered, matMul + add otherwise)", () => {
  /** Value and gradients of sum(w · linear(x, W, b)) for x [2, 7, 12], W [9, 12], b [9] (or none). */
  function run(withBias: boolean): Float32Array[] {
    return tf.tidy(() => {
      const x = tf.tensor3d(seeded(168, 11), [2, 7, 12]);
      const W = tf.tensor2d(seeded(108, 12), [9, 12]);
      const b = tf.tensor1d(seeded(9, 13));
      const w = tf.tensor3d(seeded(126, 14), [2, 7, 9]);
      const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(w, linear(a, ww, withBias ? bb : null)));
      const y = linear(x, W, withBias ? b : null);
      expect(y.shape).toEqual([2, 7, 9]);
      const g = withBias ? tf.grads(f)([x, W, b]) : tf.grads((a: tf.Tensor, ww: tf.Tensor) => f(a, ww, b))([x, W]);
      return [y, ...g].map((t) => t.dataSync().slice() as Float32Array);
    });
  }

  it("on wasm with the native kernel (built in CI): values equal float64, gradients equal matMul + add", async () => {
    await initBackend({ backend: "wasm", native: false, log: null });
    const composite = [run(true), run(false)];
    const info = await initBackend({ backend: "wasm", log: null });
    expect((info.native.kernels as string[]).includes(KernelNames.Linear) || process.env.CI !== "true").toBe(true);
    const fused = [run(true), run(false)];
    const x = seeded(168, 11);
    const W = seeded(108, 12);
    const b = seeded(9, 13);
    for (const [bi, withBias] of [
      [0, true],
      [1, false],
    ] as const) {
      for (let r = 0; r < 14; r++)
        for (let n = 0; n < 9; n++) {
          let acc = withBias ? b[n]! : 0;
          let mag = Math.abs(acc);
          for (let k = 0; k < 12; k++) {
            acc += x[r * 12 + k]! * W[n * 12 + k]!;
            mag += Math.abs(x[r * 12 + k]! * W[n * 12 + k]!);
          }
          // float32 accumulation: a few ulps of the terms' magnitude
          expect(Math.abs(fused[bi]![0]![r * 9 + n]! - acc)).toBeLessThan(1e-6 * mag);
        }
      expect(fused[bi]!.length).toBe(withBias ? 4 : 3);
      for (let t = 1; t < fused[bi]!.length; t++) {
        const [f, c] = [fused[bi]![t]!, composite[bi]![t]!];
        expect(f.length).toBe(c.length);
        for (let i = 0; i < f.length; i++) expect(Math.abs(f[i]! - c[i]!)).toBeLessThan(1e-4);
      }
    }
  });
});

describe("dropout (native kernel when registered, tf.dropout otherwise)", () => {
  it("on wasm with the native kernel (built in CI): y = x·mask/(1 − p), the gradient is w·mask/(1 − p), a seed gives one mask", async () => {
    const info = await initBackend({ backend: "wasm", log: null });
    expect((info.native.kernels as string[]).includes(KernelNames.Dropout) || process.env.CI !== "true").toBe(true);
    let training = true;
    const ctx = (seed: number) => ({ rng: new SeededRandom(seed), training: () => training }) as unknown as ModuleContext;
    const p = 0.3;
    const xv = seeded(4000, 21).map((v) => v + 20); // no zeros
    const wv = seeded(4000, 22);
    const run = (seed: number) =>
      tf.tidy(() => {
        const x = tf.tensor2d(xv, [40, 100]);
        const w = tf.tensor2d(wv, [40, 100]);
        const y = dropout(ctx(seed), x, p).dataSync().slice();
        const dx = tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(w, dropout(ctx(seed), t, p))))(x)
          .dataSync()
          .slice();
        return { y, dx };
      });
    const before = tf.memory().numTensors;
    const a = run(5);
    expect(tf.memory().numTensors).toBe(before);
    const scale = Math.fround(1 / (1 - p));
    let kept = 0;
    for (let i = 0; i < 4000; i++) {
      if (a.y[i] === 0) expect(a.dx[i]).toBe(0);
      else {
        kept++;
        expect(a.y[i]).toBe(Math.fround(xv[i]! * scale));
        expect(a.dx[i]).toBe(Math.fround(wv[i]! * scale));
      }
    }
    expect(Math.abs(kept - 4000 * (1 - p))).toBeLessThan(5 * Math.sqrt(4000 * p * (1 - p)));
    expect(Array.from(run(5).y)).toEqual(Array.from(a.y));
    expect(Array.from(run(6).y)).not.toEqual(Array.from(a.y));
    training = false;
    expect(Array.from(run(5).y)).toEqual(Array.from(xv));
  });
});
