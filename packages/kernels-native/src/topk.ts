import { TopK, getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import type { NativeBinding } from "./binding.js";
import { cpuValues, heapOffset, type CpuBackendLike, type WasmBackendLike } from "./backend-memory.js";

/** Above this k the one-pass insertion buffer loses to a sort: the backend's kernel runs. */
const MAX_K = 64;

/**
 * TopK (small k) in one pass per row: beam search takes the best 2·beam of beam·V candidates per
 * sentence at every step, and wasm's kernel spent ~4 ms per call on it. Same order as tf.topk
 * (descending, lower index first among equal values); NaN ranks highest, as in torch.topk.
 */
export function nativeTopKConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const original = getKernel(TopK, backendName);
  if (!original) throw new Error(`TopK is not registered for ${backendName}`);
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { k } = args.attrs as { k: number };
    const cols = x.shape[x.shape.length - 1] ?? 0;
    if (x.dtype !== "float32" || x.shape.length === 0 || k > MAX_K || k > cols) return original.kernelFunc(args);
    const rows = util.sizeFromShape(x.shape) / Math.max(cols, 1);
    const outShape = [...x.shape.slice(0, -1), k];
    if (backendName === "wasm") {
      const be = args.backend as WasmBackendLike;
      const vals = be.makeOutput(outShape, "float32");
      const idx = be.makeOutput(outShape, "int32");
      if (rows * k === 0) return [vals, idx];
      const heap = be.wasm.HEAPU8.buffer as ArrayBuffer; // after allocating (the heap may grow)
      const off = (t: TensorInfo) => heapOffset(be, t);
      native.topk(heap, off(x), rows, cols, k, heap, off(vals), heap, off(idx));
      return [vals, idx];
    }
    const be = args.backend as CpuBackendLike;
    const v = new Float32Array(rows * k);
    const i = new Int32Array(rows * k);
    if (rows * k > 0) native.topk(cpuValues(be, x), 0, rows, cols, k, v, 0, i.buffer, 0);
    return [be.makeTensorInfo(outShape, "float32", v), be.makeTensorInfo(outShape, "int32", i)];
  };
  return { kernelName: TopK, backendName, kernelFunc };
}
