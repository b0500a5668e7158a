import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { describe, expect, it } from "vitest";
import { loadNativeBinding, registerNativeKernels } from "../src/index.js";

// A plain float64 reference matmul, independent of tfjs and BLAS.
function refMatMul(a: Float32Array, b: Float32Array, batchA: number, batchB: number, m: number, n: number, k: number, ta: boolean, tb: boolean): Float64Array {
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * m * n);
  for (let s = 0; s < batch; s++) {
    const oa = (batchA === 1 ? 0 : s) * m * k;
    const ob = (batchB === 1 ? 0 : s) * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a[oa + (ta ? p * m + i : i * k + p)]! * b[ob + (tb ? j * k + p : p * n + j)]!;
        out[s * m * n + i * n + j] = acc;
      }
  }
  return out;
}

function seeded(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
}

describe("native kernels", () => {
  it("the addon was built here (CI installs libopenblas-dev) and loads", async () => {
    const r = await loadNativeBinding();
    expect(r.ok, r.ok ? "" : r.reason).toBe(true);
  });

  for (const backend of ["wasm", "cpu"] as const) {
    it(`BatchMatMul on ${backend}: all transpose flags and 1-vs-N broadcasts equal a float64 reference`, async () => {
      await tf.setBackend(backend);
      const info = await registerNativeKernels(backend, { threads: 1 });
      expect(info).toMatchObject({ active: true, kernels: ["BatchMatMul", "Exp", "TopK", "LogSoftmax", "FairseqLayerNorm", "FairseqLinear"] });
      const cases: [number, number, number, number, number][] = [
        [3, 3, 5, 7, 4],
        [1, 4, 6, 3, 9],
        [4, 1, 2, 8, 5],
        [2, 2, 64, 33, 17],
      ];
      for (const [ba, bb, m, n, k] of cases)
        for (const ta of [false, true])
          for (const tb of [false, true]) {
            const av = seeded(ba * m * k, ba * 7 + m);
            const bv = seeded(bb * k * n, bb * 13 + n);
            const a = tf.tensor3d(av, [ba, ta ? k : m, ta ? m : k]);
            const b = tf.tensor3d(bv, [bb, tb ? n : k, tb ? k : n]);
            const c = tf.matMul(a, b, ta, tb);
            expect(c.shape).toEqual([Math.max(ba, bb), m, n]);
            const got = await c.data();
            const want = refMatMul(av, bv, ba, bb, m, n, k, ta, tb);
            for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4);
            tf.dispose([a, b, c]);
          }
    });
  }

  /** Distance in float32 units in the last place between a and the float32 rounding of b (a float64). */
  function ulps(a: number, b: number): number {
    const f = new Float32Array([a, Math.fround(b)]);
    const i = new Int32Array(f.buffer);
    return Math.abs(i[0]! - i[1]!);
  }

  for (const backend of ["wasm", "cpu"] as const) {
    it(`Exp on ${backend}: within 1 ulp of Math.exp over the float32 range, exact at the edges`, async () => {
      await tf.setBackend(backend);
      await registerNativeKernels(backend);
      const xs = seeded(100_003, 5).map((v) => v * 100); // [-100, 100]: overflow, normals and denormals
      const got = await tf.tidy(() => tf.exp(tf.tensor1d(xs))).data();
      let worst = 0;
      for (let i = 0; i < xs.length; i++) {
        const want = Math.exp(xs[i]!);
        if (!Number.isFinite(Math.fround(want))) expect(got[i]).toBe(Infinity);
        else worst = Math.max(worst, ulps(got[i]!, want));
      }
      expect(worst).toBeLessThanOrEqual(1);
      const edges = [0, -0, 1, -1, 88.72283, 88.7229, 1000, -87.33, -103.9, -104, -1000, Infinity, -Infinity, NaN];
      const e = await tf.tidy(() => tf.exp(tf.tensor1d(edges))).data();
      edges.forEach((x, i) => {
        if (Number.isNaN(x)) expect(e[i]).toBeNaN();
        else expect(ulps(e[i]!, Math.exp(Math.fround(x)))).toBeLessThanOrEqual(1);
      });
      expect(e[0]).toBe(1);
      expect(e[11]).toBe(Infinity);
      expect(e[12]).toBe(0);
      // int32 goes to the backend's own kernel
      expect(Array.from(await tf.tidy(() => tf.exp(tf.tensor1d([0, 1], "int32"))).data())).toEqual([1, Math.fround(Math.E)]);
    });
  }

  for (const backend of ["wasm", "cpu"] as const) {
    it(`TopK on ${backend}: the k largest per row, descending, lower index first among ties`, async () => {
      await tf.setBackend(backend);
      await registerNativeKernels(backend);
      const rows = 7;
      const cols = 3001;
      // quantized values: many ties; some -inf (masked tokens)
      const xs = seeded(rows * cols, 3).map((v, i) => (i % 97 === 0 ? -Infinity : Math.round(v * 40) / 4));
      for (const k of [1, 10, 64, 65, cols]) {
        const { values, indices } = tf.topk(tf.tensor2d(xs, [rows, cols]), k);
        const gv = await values.data();
        const gi = await indices.data();
        for (let r = 0; r < rows; r++) {
          const order = Array.from({ length: cols }, (_, j) => j).sort((a, b) => xs[r * cols + b]! - xs[r * cols + a]! || a - b);
          const want = order.slice(0, k);
          expect(Array.from(gi.subarray(r * k, (r + 1) * k))).toEqual(want);
          expect(Array.from(gv.subarray(r * k, (r + 1) * k))).toEqual(want.map((j) => xs[r * cols + j]!));
        }
        tf.dispose([values, indices]);
      }
      // rank 3 input: rows are everything but the last axis
      const t3 = tf.topk(tf.tensor3d([3, 1, 2, 9, 9, 0], [2, 1, 3]), 2);
      expect(t3.values.shape).toEqual([2, 1, 2]);
      expect(Array.from(await t3.indices.data())).toEqual([0, 2, 0, 1]);
      tf.dispose([t3.values, t3.indices]);
    });
  }

  it("log-softmax over vocabulary rows (composite and fused kernel) equals the float64 formula", async () => {
    await tf.setBackend("wasm");
    await registerNativeKernels("wasm");
    const V = 6000;
    const logits = seeded(3 * V, 11).map((v) => v * 12);
    // tfjs's composite (Max, Sub, Exp through the native Exp, Sum, Log, Sub) and the fused LogSoftmax kernel
    const composite = await tf.tidy(() => tf.logSoftmax(tf.tensor2d(logits, [3, V]))).data();
    const fused = await tf.tidy(() => tf.engine().runKernel("LogSoftmax", { logits: tf.tensor2d(logits, [3, V]) }, { axis: 1 }) as tf.Tensor).data();
    for (const got of [composite, fused])
      for (let r = 0; r < 3; r++) {
        const row = Array.from(logits.subarray(r * V, (r + 1) * V));
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
        for (let j = 0; j < V; j++) expect(Math.abs(got[r * V + j]! - (row[j]! - lse))).toBeLessThan(2e-5);
      }
  });

  it("keeps working when the wasm heap grows between calls", async () => {
    await tf.setBackend("wasm");
    await registerNativeKernels("wasm");
    const a = tf.ones([64, 64]);
    const big = tf.zeros([64 * 1024 * 1024]); // 256 MB: forces heap growth (a new ArrayBuffer)
    const c = tf.matMul(a, a);
    expect((await c.data())[0]).toBe(64);
    tf.dispose([a, big, c]);
  });
});
