import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { cpuValues, heapOffset, kernelMemory, type CpuBackendLike, type WasmBackendLike } from "./backend-memory.js";

/**
 * tfjs-core names a `LogSoftmax` kernel but its `tf.logSoftmax` op is a composite of seven kernels;
 * no backend registers one. This registers it (float32, last axis): models call it through
 * `@fairseq-ts/models`' `logSoftmax` when it is registered. One pass per row in cache instead of
 * seven over [rows, V] — the output layer of every decoding step and every training batch.
 */
export function nativeLogSoftmaxConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { logits } = args.inputs as { logits: TensorInfo };
    const { axis } = (args.attrs ?? {}) as { axis?: number };
    const rank = logits.shape.length;
    if (logits.dtype !== "float32" || rank === 0 || (axis !== undefined && axis !== -1 && axis !== rank - 1)) {
      throw new Error(`LogSoftmax (native): float32 over the last axis only (got ${logits.dtype}, axis ${axis}, rank ${rank})`);
    }
    const cols = logits.shape[rank - 1]!;
    const rows = cols === 0 ? 0 : util.sizeFromShape(logits.shape) / cols;
    if (backendName === "wasm") {
      const be = args.backend as WasmBackendLike;
      const out = be.makeOutput(logits.shape, "float32");
      if (rows * cols === 0) return out;
      const heap = be.wasm.HEAPU8.buffer as ArrayBuffer; // after allocating (the heap may grow)
      native.logSoftmax(heap, heapOffset(be, logits), heap, heapOffset(be, out), rows, cols);
      return out;
    }
    const be = args.backend as CpuBackendLike;
    const y = new Float32Array(rows * cols);
    if (rows * cols > 0) native.logSoftmax(cpuValues(be, logits), 0, y, 0, rows, cols);
    return be.makeTensorInfo(logits.shape, "float32", y);
  };
  return { kernelName: "LogSoftmax", backendName, kernelFunc };
}

/** Log-softmax's backward over the last axis (inputs dy, y = the forward's output): dx = dy − Σdy·exp(y), one pass per row. */
export function nativeLogSoftmaxGradConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
    if (dy.dtype !== "float32" || y.dtype !== "float32" || y.shape.length === 0 || !util.arraysEqual(dy.shape, y.shape)) {
      throw new Error(`${KernelNames.LogSoftmaxGrad}: float32 dy and y of one shape (got dy [${dy.shape}], y [${y.shape}])`);
    }
    const cols = y.shape[y.shape.length - 1]!;
    const rows = cols === 0 ? 0 : util.sizeFromShape(y.shape) / cols;
    const mem = kernelMemory(backendName, args.backend);
    const dx = mem.alloc(y.shape, "float32");
    if (rows * cols > 0) native.logSoftmaxGrad(...mem.at(dy), ...mem.at(y), ...mem.at(dx), rows, cols);
    return dx;
  };
  return { kernelName: KernelNames.LogSoftmaxGrad, backendName, kernelFunc };
}
