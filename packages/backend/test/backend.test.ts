import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend, parseBackendName, registerKernelFixes } from "../src/index.js";

/** Run `f` on a backend and return the values of its result. */
async function on(name: "cpu" | "wasm", f: () => tf.Tensor): Promise<Float32Array> {
  await initBackend({ backend: name, log: null });
  expect(tf.getBackend()).toBe(name);
  return tf.tidy(f).data() as Promise<Float32Array>;
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", seed);
}

describe("backend", () => {
  it("parses backend names and rejects unknown ones naming the source", () => {
    expect(parseBackendName("WASM")).toBe("wasm");
    expect(parseBackendName("tfjs-node")).toBe("tensorflow");
    expect(() => parseBackendName("gpu", "--backend")).toThrow(/--backend: unknown backend 'gpu'/);
  });

  it("auto falls back from tfjs-node (not installed here) to wasm and says why", async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l) });
    expect(info.name).toBe("wasm");
    expect(info.skipped[0]).toMatch(/^tensorflow: not available/);
    expect(lines.join("\n")).toMatch(/backend: wasm .*tfjs-node not installed/);
  }, 180_000); // the first wasm start-up of the file: slow when CI runs many test files at once

  it("auto with avoidWasm (weights beyond wasm's 32-bit heap) takes the cpu backend and says why; a forced backend ignores it", async () => {
    const lines: string[] = [];
    const info = await initBackend({ avoidWasm: "4.46 GiB of weights", log: (l) => lines.push(l) });
    expect(info.name).toBe("cpu");
    expect(info.skipped).toContain("wasm: 4.46 GiB of weights");
    expect(lines.join("\n")).toMatch(/^backend: cpu.*; not wasm: 4\.46 GiB of weights/);
    const forced = await initBackend({ backend: "wasm", avoidWasm: "4.46 GiB of weights", log: null });
    expect(forced.name).toBe("wasm");
  }, 180_000);

  it("forcing tfjs-node when it is missing is an error that says how to enable it", async () => {
    await expect(initBackend({ backend: "tensorflow", log: null })).rejects.toThrow(/pnpm add @tensorflow\/tfjs-node/);
  });

  it("registers gradients (tfjs-core's Node build has none)", async () => {
    await initBackend({ backend: "cpu", log: null });
    const x = tf.variable(tf.tensor1d([1, 2, 3]));
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(x)) as tf.Scalar, [x]);
    // d/dx mean(x^2) = 2x/3
    expect(Array.from(await grads[x.name]!.data())).toEqual([2 / 3, 4 / 3, 2].map(Math.fround));
    tf.dispose([value, grads[x.name]!, x]);
  });

  it("UnsortedSegmentSum: exact sums on wasm and cpu, out-of-range ids dropped", async () => {
    const x = [
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ];
    const ids = [2, 0, 2, 5];
    const want = [3, 4, 0, 0, 6, 8]; // segment 0: row 1; segment 2: rows 0+2; id 5 dropped
    for (const name of ["wasm", "cpu"] as const) {
      const got = await on(name, () => tf.unsortedSegmentSum(tf.tensor2d(x), tf.tensor1d(ids, "int32"), 3));
      expect(Array.from(got)).toEqual(want);
    }
  });

  it("UnsortedSegmentSum: rows of 16, float32 and int32, bit for bit against index-order sums", async () => {
    const [B, T, C, S] = [7, 5, 16, 24];
    const xs = Array.from({ length: B * T * C }, (_, i) => Math.fround(Math.sin(i * 12.9898) * 4.5));
    const xi = xs.map((v) => Math.round(v * 1000));
    // ids repeat (rows add up), and some fall outside [0, S) (dropped)
    const ids = Array.from({ length: B * T }, (_, i) => ((i * 7) % (S + 3)) - 1);
    const want = (vals: number[], f: (v: number) => number) => {
      const out = new Array<number>(S * C).fill(0);
      ids.forEach((s, r) => {
        if (s >= 0 && s < S) for (let j = 0; j < C; j++) out[s * C + j] = f(out[s * C + j]! + vals[r * C + j]!);
      });
      return out;
    };
    for (const name of ["wasm", "cpu"] as const) {
      const segs = () => tf.tensor1d(ids, "int32");
      const gotF = await on(name, () => tf.unsortedSegmentSum(tf.tensor2d(xs, [B * T, C]), segs(), S));
      expect(Array.from(gotF)).toEqual(want(xs, Math.fround));
      const gotI = await on(name, () => tf.unsortedSegmentSum(tf.tensor2d(xi, [B * T, C], "int32"), segs(), S));
      expect(Array.from(gotI)).toEqual(want(xi, (v) => v));
    }
  });

  it("embedding gradient (gather) trains on wasm and matches cpu", async () => {
    const grad = () => {
      const e = tf.variable(rand([50, 8], 1));
      const idx = tf.tensor2d(
        [
          [1, 2, 2],
          [49, 0, 1],
        ],
        [2, 3],
        "int32",
      );
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(e, idx), rand([2, 3, 8], 2))) as tf.Scalar, [e]);
      value.dispose();
      e.dispose();
      return grads[e.name]!;
    };
    const w = await on("wasm", grad);
    const c = await on("cpu", grad);
    expect(w.length).toBe(400);
    for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(c[i]!, 5);
  });

  it("BatchMatMul with transpose flags on wasm equals cpu", async () => {
    for (const [ta, tb] of [
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const f = () => tf.matMul(rand([3, ta ? 7 : 5, ta ? 5 : 7], 3), rand([3, tb ? 4 : 7, tb ? 7 : 4], 4), ta, tb);
      const w = await on("wasm", f);
      const c = await on("cpu", f);
      expect(w.length).toBe(3 * 5 * 4);
      for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(c[i]!, 5);
    }
  });

  it("GatherV2 (slice copies) on wasm equals cpu's kernel on every axis, dtype and index shape", async () => {
    // hand-checked: rows 2, 0, 2 of a 3x2 matrix
    const small = await on("wasm", () =>
      tf.gather(
        tf.tensor2d([
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
        tf.tensor1d([2, 0, 2], "int32"),
      ),
    );
    expect(Array.from(small)).toEqual([5, 6, 1, 2, 5, 6]);
    const cases: [number[], number[], number, "float32" | "int32"][] = [
      [[7, 3, 20], [4], 0, "float32"], // inner 60 (copyWithin path)
      [[7, 3, 20], [2, 3], 1, "float32"], // 2-D indices, middle axis
      [[5, 9], [6], 1, "float32"], // inner 1 (element path)
      [[6, 4, 5, 17], [3], 2, "int32"],
      [[4, 33], [0], 0, "float32"], // no indices
    ];
    for (const [shape, ishape, axis, dtype] of cases) {
      const n = shape[axis]!;
      const size = ishape.reduce((a, b) => a * b, 1);
      const idx = Array.from({ length: size }, (_, i) => (i * 7 + 3) % n);
      const f = () => {
        const x = dtype === "int32" ? tf.cast(tf.mul(rand(shape, 8), 1000), "int32") : rand(shape, 8);
        return tf.gather(x, tf.tensor(idx, ishape, "int32"), axis);
      };
      const w = await on("wasm", f);
      const c = await on("cpu", f);
      expect(Array.from(w)).toEqual(Array.from(c));
      expect(tf.tidy(f).shape).toEqual([...shape.slice(0, axis), ...ishape, ...shape.slice(axis + 1)]);
    }
    await initBackend({ backend: "wasm", log: null });
    expect(() => tf.tidy(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([3], "int32")))).toThrow(/index value 3 is not in \[0, 2\]/);
  });

  it("GatherV2 (slice copies) on tensors placed past 2 GiB in the wasm heap", async () => {
    await initBackend({ backend: "wasm", log: null });
    // 2.06 GB: new tensors land beyond 2^31 bytes. Allocated without writing it (tf.zeros would fill 2 GB,
    // 5 s of one synchronous kernel on this machine, which a busy machine stretches past vitest's RPC timeout).
    const wasmBackend = tf.engine().backend as unknown as { makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo };
    const big = tf.engine().makeTensorFromTensorInfo(wasmBackend.makeOutput([(2 ** 31 + 2 ** 24) / 4], "float32"));
    const offsetOf = (t: tf.Tensor) =>
      (tf.engine().backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(t.dataId).memoryOffset;
    // earlier tests left free holes low in the heap: fill them until a tensor lands past 2 GiB
    const fillers: tf.Tensor[] = [];
    try {
      let x = tf.tensor2d(
        Array.from({ length: 12 }, (_, i) => i),
        [4, 3],
      );
      while (offsetOf(x) < 2 ** 31 && fillers.length < 100_000) {
        fillers.push(x);
        x = tf.tensor2d(
          Array.from({ length: 12 }, (_, i) => i),
          [4, 3],
        );
      }
      expect(offsetOf(x)).toBeGreaterThan(2 ** 31);
      const y = tf.gather(x, tf.tensor1d([3, 0], "int32"));
      expect(Array.from(await y.data())).toEqual([9, 10, 11, 0, 1, 2]);
      tf.dispose([x, y]);
    } finally {
      tf.dispose([big, ...fillers]);
    }
  }, 120_000);

  it("Identity (tf.clone, and every tensor saved for a gradient) shares memory on wasm and frees it with the last user", async () => {
    await initBackend({ backend: "wasm", log: null });
    const be = tf.engine().backend as unknown as { numDataIds(): number; dataIdMap: { get(id: object): { memoryOffset: number } } };
    const ids = be.numDataIds();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(be.numDataIds()).toBe(ids + 1); // no copy
    expect(be.dataIdMap.get(y.dataId).memoryOffset).toBe(be.dataIdMap.get(x.dataId).memoryOffset);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3]); // still valid after the original is gone
    y.dispose();
    expect(be.numDataIds()).toBe(ids);
    // gradients through kernels that save their inputs are unchanged (cpu as the reference)
    const f = () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.exp(a), tf.square(a))))(tf.tensor1d([0.5, -1, 2]));
    const w = await on("wasm", f);
    const c = await on("cpu", f);
    for (let i = 0; i < 3; i++) expect(w[i]).toBeCloseTo(c[i]!, 5);
  });

  it("kernel fixes do not leak tensors and register once", async () => {
    await initBackend({ backend: "wasm", log: null });
    expect(registerKernelFixes("wasm")).toEqual([]);
    const a = rand([4, 6], 5);
    const b = rand([4, 6], 6);
    const before = tf.memory().numTensors;
    const dataIds = tf.engine().backend.numDataIds();
    for (let i = 0; i < 5; i++) tf.matMul(a, b, false, true).dispose();
    expect(tf.memory().numTensors).toBe(before);
    // The transposed copies made inside the kernel are freed too.
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    tf.dispose([a, b]);
  });
});

describe("native kernels through initBackend", () => {
  // A float64 reference for the gradients of L = sum((XW)^2): dL/dX = 2 Y Wᵀ, dL/dW = 2 Xᵀ Y.
  function ref(x: number[][], w: number[][]) {
    const mm = (a: number[][], b: number[][]) => a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, p) => s + v * b[p]![j]!, 0)));
    const t = (a: number[][]) => a[0]!.map((_, j) => a.map((r) => r[j]!));
    const y2 = mm(x, w).map((r) => r.map((v) => 2 * v));
    return { dx: mm(y2, t(w)).flat(), dw: mm(t(x), y2).flat() };
  }

  for (const native of [true, false]) {
    it(`wasm ${native ? "with" : "without"} native BLAS: matMul gradients equal the float64 formulas`, async () => {
      const info = await initBackend({ backend: "wasm", native, log: null });
      if (native)
        expect(info.native.kernels).toEqual(expect.arrayContaining(["BatchMatMul", "Sum", "SplitV", "Concat", "FairseqLinear", "FairseqLayerNormGrad"]));
      else expect(info.native.kernels).toEqual([]);
      const xs = [
        [0.5, -1, 2],
        [1.5, 0.25, -0.75],
      ];
      const ws = [
        [1, 2],
        [-0.5, 0.5],
        [0.25, -1],
      ];
      const x = tf.variable(tf.tensor2d(xs));
      const w = tf.variable(tf.tensor2d(ws));
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar, [x, w]);
      const want = ref(xs, ws);
      const gx = Array.from(await grads[x.name]!.data());
      const gw = Array.from(await grads[w.name]!.data());
      gx.forEach((v, i) => expect(v).toBeCloseTo(want.dx[i]!, 5));
      gw.forEach((v, i) => expect(v).toBeCloseTo(want.dw[i]!, 5));
      tf.dispose([x, w, value, grads[x.name]!, grads[w.name]!]);
    });
  }

  it("FAIRSEQ_TS_THREADS sets the native kernels' threads (OpenBLAS and the pool) when no threads option is given; a bad value names the variable", async () => {
    const before = process.env.FAIRSEQ_TS_THREADS;
    try {
      process.env.FAIRSEQ_TS_THREADS = "3";
      expect((await initBackend({ backend: "wasm", log: null })).native).toMatchObject({ threads: 3 });
      expect((await initBackend({ backend: "wasm", threads: 1, log: null })).native).toMatchObject({ threads: 1 }); // the option wins
      process.env.FAIRSEQ_TS_THREADS = "two";
      await expect(initBackend({ backend: "wasm", log: null })).rejects.toThrow(
        "FAIRSEQ_TS_THREADS: expected a positive integer (threads of this process), got 'two'",
      );
      process.env.FAIRSEQ_TS_THREADS = "0";
      await expect(initBackend({ backend: "wasm", log: null })).rejects.toThrow(/FAIRSEQ_TS_THREADS: expected a positive integer/);
    } finally {
      if (before === undefined) delete process.env.FAIRSEQ_TS_THREADS;
      else process.env.FAIRSEQ_TS_THREADS = before;
      await initBackend({ backend: "wasm", threads: 2, log: null });
    }
  });

  it("logs which path runs", async () => {
    const lines: string[] = [];
    await initBackend({ backend: "wasm", log: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/native OpenBLAS BatchMatMul/);
  });
});
