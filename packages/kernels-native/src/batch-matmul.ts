import { BatchMatMul, getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import type { NativeBinding } from "./binding.js";
import { cpuValues, heapOffset, type CpuBackendLike, type WasmBackendLike } from "./backend-memory.js";

interface Plan {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** Shapes as tfjs's BatchMatMul sees them; null when the broadcast is not a plain 1-vs-N one. */
function plan(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean): Plan | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(outerA);
  const batchB = util.sizeFromShape(outerB);
  let outer: number[];
  if (batchA === batchB && util.arraysEqual(outerA, outerB)) outer = outerA;
  else if (batchA === 1) outer = outerB.length >= outerA.length ? outerB : outerA;
  else if (batchB === 1) outer = outerA.length >= outerB.length ? outerA : outerB;
  else return null;
  const batch = Math.max(batchA, batchB);
  return {
    batch,
    m,
    n,
    k,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}

/**
 * BatchMatMul through the native BLAS, reading and writing the backend's own memory (the wasm heap,
 * or the cpu backend's typed arrays) without copies. Falls back to the backend's kernel for dtypes
 * and broadcasts it does not handle.
 */
export function nativeBatchMatMulConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const original = getKernel(BatchMatMul, backendName);
  if (!original) throw new Error(`BatchMatMul is not registered for ${backendName}`);
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const p = a.dtype === "float32" && b.dtype === "float32" ? plan(a, b, transposeA, transposeB) : null;
    if (!p) return original.kernelFunc(args);
    if (backendName === "wasm") {
      const be = args.backend as WasmBackendLike;
      const out = be.makeOutput(p.outShape, "float32");
      // Read offsets and the heap only after allocating: the heap may have grown (new ArrayBuffer).
      const heap = be.wasm.HEAPU8.buffer as ArrayBuffer;
      const offA = heapOffset(be, a);
      const offB = heapOffset(be, b);
      const offC = heapOffset(be, out);
      native.sgemmBatched(heap, offA, p.strideA, heap, offB, p.strideB, heap, offC, p.batch, p.m, p.n, p.k, transposeA, transposeB);
      return out;
    }
    const be = args.backend as CpuBackendLike;
    const av = cpuValues(be, a);
    const bv = cpuValues(be, b);
    const cv = new Float32Array(p.batch * p.m * p.n);
    native.sgemmBatched(av, 0, p.strideA, bv, 0, p.strideB, cv, 0, p.batch, p.m, p.n, p.k, transposeA, transposeB);
    return be.makeTensorInfo(p.outShape, "float32", cv);
  };
  return { kernelName: BatchMatMul, backendName, kernelFunc };
}
