import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
// the gradients of tfjs's ops (for the autodiff reference of the backward kernels)
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { describe, expect, it } from "vitest";
import { KernelNames } from "@fairseq-ts/runtime";
import { loadNativeBinding, registerNativeKernels, unregisterNativeKernels } from "../src/index.js";

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
      expect(info).toMatchObject({
        active: true,
        kernels: [
          "BatchMatMul",
          "Exp",
          "TopK",
          "Sum",
          "SplitV",
          "Concat",
          "LogSoftmax",
          "FairseqLayerNorm",
          "FairseqLinear",
          KernelNames.LayerNormGrad,
          KernelNames.LogSoftmaxGrad,
          KernelNames.SmoothedNllGrad,
          KernelNames.LinearSmoothedNll,
          "FairseqAdam",
          KernelNames.Dropout,
        ],
      });
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

  for (const backend of ["wasm", "cpu"] as const) {
    it(`BatchMatMul on ${backend}: attention-sized products (plain C paths) are bit for bit the float32 sums in k order`, async () => {
      await tf.setBackend(backend);
      await registerNativeKernels(backend, { threads: 1 });
      // [batch, M, N, K]: packed widths 8..32 with N short of a multiple of 8, one row, and M < 4
      const cases: [number, number, number, number][] = [
        [6, 14, 14, 16],
        [3, 17, 23, 16],
        [2, 9, 32, 8],
        [5, 1, 13, 16],
        [4, 3, 40, 12],
      ];
      for (const [bs, m, n, k] of cases)
        for (const ta of [false, true])
          for (const tb of [false, true]) {
            const av = seeded(bs * m * k, m * 31 + k);
            const bv = seeded(bs * k * n, n * 17 + k);
            const got = await tf
              .tidy(() => tf.matMul(tf.tensor3d(av, [bs, ta ? k : m, ta ? m : k]), tf.tensor3d(bv, [bs, tb ? n : k, tb ? k : n]), ta, tb))
              .data();
            for (let s = 0; s < bs; s++)
              for (let i = 0; i < m; i++)
                for (let j = 0; j < n; j++) {
                  let acc = 0;
                  for (let p = 0; p < k; p++)
                    acc = Math.fround(acc + Math.fround(av[s * m * k + (ta ? p * m + i : i * k + p)]! * bv[s * k * n + (tb ? j * k + p : p * n + j)]!));
                  expect(got[(s * m + i) * n + j]).toBe(acc);
                }
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

  for (const backend of ["wasm", "cpu"] as const) {
    it(`Sum on ${backend}: runs of adjacent axes (keepDims or not) equal a float64 reference; other axis sets and int32 still work`, async () => {
      await tf.setBackend(backend);
      await registerNativeKernels(backend);
      const shape = [3, 5, 4, 7];
      const xv = seeded(3 * 5 * 4 * 7, 21);
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const strides = [140, 28, 7, 1];
      // float64 sum over `axes`, output in row-major order of the kept axes
      const ref = (axes: number[]) => {
        const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const out = new Float64Array(kept.reduce((a, b) => a * b, 1));
        for (let i = 0; i < xv.length; i++) {
          let o = 0;
          for (let d = 0; d < 4; d++) {
            const idx = Math.floor(i / strides[d]!) % shape[d]!;
            o = o * kept[d]! + (axes.includes(d) ? 0 : idx);
          }
          out[o]! += xv[i]!;
        }
        return out;
      };
      for (const axes of [[0], [0, 1], [0, 1, 2], [3], [2, 3], [1, 2], [1], [0, 1, 2, 3], [0, 2], [1, 3]])
        for (const keepDims of [false, true]) {
          const y = tf.sum(x, axes, keepDims);
          expect(y.shape).toEqual(keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i)));
          const got = await y.data();
          const want = ref(axes);
          expect(got.length).toBe(want.length);
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
          y.dispose();
        }
      // a float32 cast of a bool tensor (the cpu backend keeps its Uint8Array), as loss masks are
      const mask = tf.cast(tf.tensor2d([true, false, true, true], [2, 2], "bool"), "float32");
      expect(Array.from(await tf.sum(mask, 0).data())).toEqual([2, 1]);
      expect(Array.from(await tf.exp(mask).data()).map((v) => Math.fround(v))).toEqual([Math.E, 1, Math.E, Math.E].map(Math.fround));
      mask.dispose();
      const xi = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], "int32");
      const si = tf.sum(xi, 0);
      expect(si.dtype).toBe("int32");
      expect(Array.from(await si.data())).toEqual([9, 12]);
      tf.dispose([x, xi, si]);
    });

    it(`SplitV and Concat on ${backend}: any axis, -1 sizes, empty pieces and int32 copy exactly; concat undoes split`, async () => {
      await tf.setBackend(backend);
      await registerNativeKernels(backend);
      const shape: [number, number, number] = [4, 9, 5];
      const xv = seeded(4 * 9 * 5, 3);
      const x = tf.tensor3d(xv, shape);
      const at = (i: number, j: number, k: number) => xv[(i * 9 + j) * 5 + k]!;
      for (const [axis, sizes] of [
        [1, [2, -1, 3]],
        [2, [1, 0, 4]],
        [0, 2],
        [-1, [5]],
        [1, 3],
      ] as [number, number | number[]][]) {
        const parts = tf.split(x, sizes, axis);
        const ax = axis < 0 ? 3 + axis : axis;
        let start = 0;
        for (const p of parts) {
          const v = await p.data();
          const [a, b, c] = p.shape as [number, number, number];
          for (let i = 0; i < a; i++)
            for (let j = 0; j < b; j++)
              for (let k = 0; k < c; k++) {
                const idx = [i, j, k];
                idx[ax]! += start;
                expect(v[(i * b + j) * c + k]).toBe(at(idx[0]!, idx[1]!, idx[2]!));
              }
          start += p.shape[ax]!;
        }
        const back = tf.concat(parts, axis);
        expect(back.shape).toEqual(shape);
        expect(Array.from(await back.data())).toEqual(Array.from(xv));
        tf.dispose([...parts, back]);
      }
      const ints = tf.concat([tf.tensor2d([1, 2, 3, 4], [2, 2], "int32"), tf.tensor2d([5, 6], [2, 1], "int32")], 1);
      expect(ints.dtype).toBe("int32");
      expect(Array.from(await ints.data())).toEqual([1, 2, 5, 3, 4, 6]);
      const bools = tf.concat([tf.tensor1d([true], "bool"), tf.tensor1d([false, true], "bool")]); // the backend's own kernel
      expect(Array.from(await bools.data())).toEqual([1, 0, 1]);
      tf.dispose([x, ints, bools]);
    });

    // The three backward kernels against tfjs's automatic differentiation of the composite ops, computed
    // on the same backend with the native kernels removed (an independent derivation).
    it(`layer-norm, log-softmax and smoothed-NLL backward kernels on ${backend} equal tfjs's autodiff of the composite ops`, async () => {
      await tf.setBackend(backend);
      unregisterNativeKernels(backend);
      const [R, C, V] = [37, 48, 300];
      const x = tf.tensor2d(
        seeded(R * C, 5).map((v) => v * 3 + 0.5),
        [R, C],
      );
      const gamma = tf.tensor1d(seeded(C, 6).map((v) => 1 + v / 2));
      const beta = tf.tensor1d(seeded(C, 7));
      const dyLn = tf.tensor2d(seeded(R * C, 8), [R, C]);
      const layerNorm = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(a, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
      };
      const wantLn = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(a, g, b))([x, gamma, beta], dyLn);
      const logits = tf.tensor2d(
        seeded(R * V, 9).map((v) => v * 8),
        [R, V],
      );
      const y = tf.logSoftmax(logits);
      const dyLs = tf.tensor2d(seeded(R * V, 10), [R, V]);
      const wantLs = tf.grad((l: tf.Tensor) => tf.logSoftmax(l))(logits, dyLs);
      const pad = 1;
      const target = tf.tensor1d(
        Array.from({ length: R }, (_, i) => (i % 5 === 0 ? pad : (i * 37) % V)),
        "int32",
      );
      const dyNll = tf.tensor2d(seeded(R * 2, 11), [R, 2]);
      const rows = (lp: tf.Tensor) => {
        const keep = tf.cast(tf.notEqual(target, pad), "float32");
        const nll = tf.neg(tf.sum(tf.mul(lp, tf.oneHot(target, V)), -1));
        return tf.stack([tf.mul(nll, keep), tf.mul(tf.neg(tf.sum(lp, -1)), keep)], 1);
      };
      const wantNll = tf.grad(rows)(y, dyNll);

      await registerNativeKernels(backend);
      const gotLn = tf.engine().runKernel(KernelNames.LayerNormGrad, { x, gamma, dy: dyLn }, { eps: 1e-5 }) as tf.Tensor[];
      const gotLs = tf.engine().runKernel(KernelNames.LogSoftmaxGrad, { dy: dyLs, y }, {}) as tf.Tensor;
      const gotNll = tf.engine().runKernel(KernelNames.SmoothedNllGrad, { dy: dyNll, target }, { vocab: V, hasIgnore: true, ignoreIndex: pad }) as tf.Tensor;
      const pairs: [tf.Tensor, tf.Tensor, number][] = [
        [gotLn[0]!, wantLn[0]!, 1e-4],
        [gotLn[1]!, wantLn[1]!, 1e-4],
        [gotLn[2]!, wantLn[2]!, 1e-4],
        [gotLs, wantLs, 1e-5],
        [gotNll, wantNll, 0],
      ];
      for (const [got, want, tol] of pairs) {
        expect(got.shape).toEqual(want.shape);
        const [g, w] = [await got.data(), await want.data()];
        let worst = 0;
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!) / Math.max(1, Math.abs(w[i]!)));
        expect(worst).toBeLessThanOrEqual(tol);
      }
      // the layer norm kernel pair is what LayerNorm runs forward and backward; check the forward too
      const fwd = tf.engine().runKernel(KernelNames.LayerNorm, { x, gamma, beta }, { eps: 1e-5 }) as tf.Tensor;
      unregisterNativeKernels(backend);
      const ref = layerNorm(x, gamma, beta);
      expect(tf.max(tf.abs(tf.sub(fwd, ref))).dataSync()[0]).toBeLessThan(1e-5);
      tf.dispose([x, gamma, beta, dyLn, ...wantLn, logits, y, dyLs, wantLs, target, dyNll, wantNll, ...gotLn, gotLs, gotNll, fwd, ref]);
      await registerNativeKernels(backend);
    });
  }

  for (const backend of ["wasm", "cpu"] as const) {
    it(`FairseqLinearSmoothedNll on ${backend}: loss terms, argmax hits and both gradients match a float64 reference and autodiff through the [N, V] logits, over several row blocks`, async () => {
      await tf.setBackend(backend);
      // C = 24 puts 48 rows in a block (native/kernels.c), so 1,000 rows run 21 blocks, the last short
      const [N, C, V, pad] = [1000, 24, 5000, 1];
      const x = tf.tensor2d(seeded(N * C, 21), [N, C]);
      const w = tf.tensor2d(
        seeded(V * C, 22).map((v) => v * 2),
        [V, C],
      );
      // every 9th row is padding; some rows aim at their own argmax so that hits are counted
      const logits0 = tf.matMul(x, w, false, true);
      const argmax = await tf.argMax(logits0, -1).data();
      const tv = Int32Array.from({ length: N }, (_, i) => (i % 9 === 0 ? pad : i % 4 === 0 ? argmax[i]! : (i * 7919) % V));
      const target = tf.tensor1d(tv, "int32");
      const [eps, ei] = [0.2, 0.2 / (V - 1)];
      const [a, b] = [1 - eps - ei, ei];
      // reference: the composite ops autodiff differentiates, on tfjs's own kernels
      unregisterNativeKernels(backend);
      const terms = (xx: tf.Tensor, ww: tf.Tensor, tt: tf.Tensor) => {
        const lp = tf.logSoftmax(tf.matMul(xx, ww, false, true));
        const keep = tf.cast(tf.notEqual(tt, pad), "float32");
        const nll = tf.sum(tf.mul(tf.neg(tf.sum(tf.mul(lp, tf.oneHot(tt as tf.Tensor1D, V)), -1)), keep));
        const smooth = tf.sum(tf.mul(tf.neg(tf.sum(lp, -1)), keep));
        return [nll, smooth] as const;
      };
      // The loss is a sum over rows, so autodiff runs 200 rows at a time (dx: the pieces side by side; dw: their
      // sum), yielding between pieces: on tfjs's cpu kernels the whole [N, V] at once computes for 6 s without
      // yielding, which a busy machine stretches past vitest's RPC timeout.
      const piecesDx: tf.Tensor[] = [];
      const piecesDw: tf.Tensor[] = [];
      for (let r0 = 0; r0 < N; r0 += 200) {
        const rows = Math.min(200, N - r0);
        const [dxPiece, dwPiece] = tf.tidy(() => {
          const tt = tf.slice(target, [r0], [rows]);
          return tf.grads((xx: tf.Tensor, ww: tf.Tensor) => {
            const [nll, smooth] = terms(xx, ww, tt);
            return tf.add(tf.mul(nll, a), tf.mul(smooth, b));
          })([tf.slice(x, [r0, 0], [rows, C]), w]);
        });
        piecesDx.push(dxPiece!);
        piecesDw.push(dwPiece!);
        await new Promise(setImmediate);
      }
      const gradsTf = [tf.concat(piecesDx, 0), tf.addN(piecesDw)];
      tf.dispose([...piecesDx, ...piecesDw]);
      // and in float64, from the formula: d(loss)/d(logit_v) = (a + b·V)·p_v − b − a·[v = t]
      const [xv, wv] = [await x.data(), await w.data()];
      let [nllRef, smoothRef, hits, counted] = [0, 0, 0, 0];
      const dx64 = new Float64Array(N * C);
      const dw64 = new Float64Array(V * C);
      const row = new Float64Array(V);
      for (let i = 0; i < N; i++) {
        if (i % 200 === 0) await new Promise(setImmediate); // 1.4 s in all: let vitest's RPC through
        const t = tv[i]!;
        if (t === pad) continue;
        let m = -Infinity;
        let am = 0;
        for (let v = 0; v < V; v++) {
          let acc = 0;
          for (let k = 0; k < C; k++) acc += xv[i * C + k]! * wv[v * C + k]!;
          row[v] = acc;
          if (acc > m) [m, am] = [acc, v];
        }
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(row[v]! - m);
        const lse = m + Math.log(z);
        counted++;
        if (am === t) hits++;
        nllRef += lse - row[t]!;
        for (let v = 0; v < V; v++) {
          smoothRef += lse - row[v]!;
          const g = (a + b * V) * Math.exp(row[v]! - lse) - b - (v === t ? a : 0);
          for (let k = 0; k < C; k++) {
            dx64[i * C + k]! += g * wv[v * C + k]!;
            dw64[v * C + k]! += g * xv[i * C + k]!;
          }
        }
      }
      await registerNativeKernels(backend);
      const attrs = { nllWeight: a, smoothWeight: b, hasIgnore: true, ignoreIndex: pad };
      const [stats, dx, dw] = tf
        .engine()
        .runKernel(KernelNames.LinearSmoothedNll, { x, weight: w, target }, { ...attrs, withGrad: true } as never) as tf.Tensor[];
      const st = await stats!.data();
      expect(Math.abs(st[0]! - nllRef) / nllRef).toBeLessThan(1e-6);
      expect(Math.abs(st[1]! - smoothRef) / smoothRef).toBeLessThan(1e-6);
      expect([st[2], st[3]]).toEqual([hits, counted]);
      expect(hits).toBeGreaterThan(200); // the argmax targets really are counted
      // The gradients: within 1e-5 of the float64 values, relative to the largest (measured 1-2e-6;
      // float32 autodiff through the whole logits is 0.3e-6 off on cpu, 3.3e-5 on wasm), and so within
      // 1e-4 of that autodiff.
      for (const [got, tfWant, want] of [
        [dx!, gradsTf[0]!, dx64],
        [dw!, gradsTf[1]!, dw64],
      ] as const) {
        expect(got.shape).toEqual(tfWant.shape);
        const [g, r] = [await got.data(), await tfWant.data()];
        const scale = want.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0);
        let [worst, worstTf] = [0, 0];
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs(g[i]! - want[i]!));
          worstTf = Math.max(worstTf, Math.abs(g[i]! - r[i]!));
        }
        expect(worst / scale).toBeLessThan(1e-5);
        expect(worstTf / scale).toBeLessThan(1e-4);
      }
      // padding rows get no gradient
      expect(Array.from((await dx!.data()).slice(0, C))).toEqual(new Array(C).fill(0));
      // without gradients: the same statistics, one output
      const only = tf.engine().runKernel(KernelNames.LinearSmoothedNll, { x, weight: w, target }, { ...attrs, withGrad: false } as never) as tf.Tensor[];
      expect(only).toHaveLength(1);
      expect(Array.from(await only[0]!.data())).toEqual(Array.from(st));
      // a target outside the vocabulary is an error that names its row
      const bad = tf.tensor1d(
        Int32Array.from(tv, (t, i) => (i === 500 ? V : t)),
        "int32",
      );
      expect(() => tf.engine().runKernel(KernelNames.LinearSmoothedNll, { x, weight: w, target: bad }, { ...attrs, withGrad: false } as never)).toThrow(
        /target 5000 at row 500 is outside the vocabulary \[0, 5000\)/,
      );
      tf.dispose([x, w, logits0, target, ...gradsTf, stats!, dx!, dw!, ...only, bad]);
    });
  }

  for (const backend of ["wasm", "cpu"] as const) {
    it(`Dropout on ${backend}: keeps 1 − rate of the elements (binomial bounds), independently of the neighbour, scaled by 1/(1 − rate); a function of the seed`, async () => {
      await tf.setBackend(backend);
      await registerNativeKernels(backend);
      const n = 1 << 20;
      const x = tf.tensor1d(seeded(n, 17).map((v) => v + 2)); // no zeros: a zero output means dropped
      const xv = await x.data();
      const run = (rate: number, seed: number) => tf.engine().runKernel(KernelNames.Dropout, { x }, { rate, seed }) as tf.Tensor;
      for (const rate of [0.1, 0.5]) {
        const yv = await run(rate, 12345).data();
        const scale = Math.fround(1 / (1 - rate));
        let kept = 0;
        let pairs = 0;
        let wrong = 0; // kept values other than x·scale (counted, not expect()ed: a million calls stall vitest)
        for (let i = 0; i < n; i++) {
          if (yv[i] !== 0) {
            kept++;
            if (yv[i] !== Math.fround(xv[i]! * scale)) wrong++;
            if (i + 1 < n && yv[i + 1] !== 0) pairs++;
          }
        }
        expect(wrong).toBe(0);
        const keep = 1 - rate;
        // 5 standard deviations of a binomial count
        expect(Math.abs(kept - n * keep)).toBeLessThan(5 * Math.sqrt(n * keep * rate));
        expect(Math.abs(pairs - (n - 1) * keep * keep)).toBeLessThan(5 * Math.sqrt(n * keep * keep * (1 - keep * keep)));
        // same seed, same mask; another seed agrees only by chance (keep² + rate² of the elements)
        const again = await run(rate, 12345).data();
        expect(again.every((v, i) => v === yv[i])).toBe(true);
        const other = await run(rate, 12346).data();
        let same = 0;
        for (let i = 0; i < n; i++) if ((other[i] === 0) === (yv[i] === 0)) same++;
        const p = keep * keep + rate * rate;
        expect(Math.abs(same - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
      }
      const none = await run(0, 3).data();
      expect(none.every((v, i) => v === xv[i])).toBe(true);
      expect(() => run(1, 3)).toThrow(/rate in \[0, 1\)/);
      x.dispose();
    });
  }

  it("the addon's functions reject bad arguments with errors naming the function (one checking path for all)", async () => {
    const r = await loadNativeBinding();
    if (!r.ok) throw new Error(r.reason);
    const b = r.binding as unknown as Record<string, (...args: unknown[]) => void>;
    const F = (n: number) => new Float32Array(n);
    const fails = (fn: string, args: unknown[]) => {
      try {
        b[fn]!(...args);
      } catch (e) {
        return `${(e as Error).constructor.name}: ${(e as Error).message}`;
      }
      return "no error";
    };
    // the first kernels' wording (kept as it was)
    expect(fails("vexp", [F(4), 0, F(4), 0])).toBe("TypeError: vexp expects 5 arguments");
    expect(fails("vexp", [F(4), 0, "x", 0, 4])).toBe("TypeError: vexp: buffers must be ArrayBuffers or Float32Arrays");
    expect(fails("vexp", [F(4), 0, F(4), 0, -1])).toBe("RangeError: vexp: range outside its buffer or misaligned");
    expect(fails("vexp", [F(4), 2, F(4), 0, 1])).toBe("RangeError: vexp: range outside its buffer or misaligned");
    expect(fails("layerNorm", [F(6), 0, F(3), 0, F(2), 0, F(6), 0, 2, 3, 1e-5])).toBe("RangeError: layerNorm: range outside its buffer or misaligned");
    expect(fails("topk", [F(6), 0, 2, 3, 4, F(8), 0, new ArrayBuffer(32), 0])).toBe("RangeError: topk: range outside its buffer, misaligned, or k > cols");
    expect(fails("linear", [F(6), 0, F(6), 0, F(1), 0, F(4), 0, 2, 2, 3])).toBe("RangeError: linear: range outside its buffer or misaligned");
    const gemm = (strideA: number, offC: number, c: Float32Array) => [F(12), 0, strideA, F(12), 0, 6, c, offC, 2, 2, 2, 3, false, false];
    expect(fails("sgemmBatched", gemm(-6, 0, F(8)))).toBe("RangeError: sgemmBatched: negative or misaligned argument");
    expect(fails("sgemmBatched", gemm(6, 2, F(8)))).toBe("RangeError: sgemmBatched: negative or misaligned argument");
    expect(fails("sgemmBatched", gemm(6, 0, F(7)))).toBe("RangeError: sgemmBatched: matrix outside its buffer");
    // the later kernels' wording
    expect(fails("sumAxis", [F(6), 0, F(3), 0, 1, 2])).toBe("TypeError: sumAxis expects 7 arguments");
    expect(fails("sumAxis", [F(6), 0, new Uint8Array(12), 0, 1, 2, 3])).toBe("TypeError: sumAxis: buffers must be ArrayBuffers, Float32Arrays or Int32Arrays");
    expect(fails("sumAxis", [F(6), 0, F(3), 0, 1, -2, 3])).toBe("RangeError: sumAxis: negative size");
    expect(
      fails("adamStep", [...Array.from({ length: 7 }, (_, i) => [F(3), i === 6 ? 4 : 0]).flat(), 3, 0.9, 0.1, 0.98, 0.02, 1e-8, 1e-3, 0, 1, 0, false]),
    ).toBe("RangeError: adamStep: range outside its buffer or misaligned");
    expect(fails("dropout", [F(4), 0, F(4), 0, 4, 0, 7])).toBe("RangeError: dropout: keep probability must be in (0, 1] and n below 2^32");
    expect(fails("setThreads", [])).toBe("TypeError: setThreads expects 1 arguments");
    // a zero-length range may sit in an empty buffer (whose data pointer can be NULL): the kernel still runs
    const y = F(3).fill(7);
    expect(fails("sumAxis", [new Float32Array(0), 0, y, 0, 1, 0, 3])).toBe("no error");
    expect([...y]).toEqual([0, 0, 0]); // sums over an empty axis
    const dg = F(3).fill(7);
    const db = F(3).fill(7);
    expect(fails("layerNormGrad", [F(0), 0, F(3), 0, F(0), 0, F(0), 0, dg, 0, db, 0, 0, 3, 1e-5])).toBe("no error");
    expect([...dg, ...db]).toEqual([0, 0, 0, 0, 0, 0]); // dgamma, dbeta of no rows
    const out = F(4).fill(7);
    expect(fails("linear", [F(0), 0, F(0), 0, Float32Array.of(1, 2), 0, out, 0, 2, 2, 0])).toBe("no error");
    expect([...out]).toEqual([1, 2, 1, 2]); // K = 0: the bias alone
    const stats = F(4).fill(7);
    const dw = F(6).fill(7);
    expect(fails("linearSmoothedNll", [F(0), 0, F(6), 0, new Int32Array(0), 0, stats, 0, F(0), 0, dw, 0, 0, 3, 2, 0.9, 0.01, false, 0])).toBe("no error");
    expect([...stats, ...dw]).toEqual(new Array(10).fill(0)); // no rows: zero loss terms and weight gradient
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
