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
      expect(info).toMatchObject({ active: true, kernels: ["BatchMatMul"] });
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
