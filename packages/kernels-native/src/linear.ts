import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { cpuValues, heapOffset, type CpuBackendLike, type WasmBackendLike } from "./backend-memory.js";

/**
 * fairseq's Linear, y = x · weightᵀ + bias (inputs x [M, K], weight [N, K], bias [N] optional), float32:
 * the product and the bias in one kernel, where tfjs runs BatchMatMul then a broadcasting Add.
 */
export function nativeLinearConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, weight, bias } = args.inputs as { x: TensorInfo; weight: TensorInfo; bias?: TensorInfo };
    const [m, k] = x.shape as [number, number];
    const [n, kw] = weight.shape as [number, number];
    if (
      x.shape.length !== 2 ||
      weight.shape.length !== 2 ||
      k !== kw ||
      x.dtype !== "float32" ||
      weight.dtype !== "float32" ||
      (bias && (bias.dtype !== "float32" || util.sizeFromShape(bias.shape) !== n))
    ) {
      throw new Error(
        `${KernelNames.Linear}: float32 x [M, K], weight [N, K], bias [N] (got x [${x.shape}], weight [${weight.shape}], bias [${bias?.shape ?? "none"}])`,
      );
    }
    if (backendName === "wasm") {
      const be = args.backend as WasmBackendLike;
      const out = be.makeOutput([m, n], "float32");
      if (m * n === 0) return out;
      const heap = be.wasm.HEAPU8.buffer as ArrayBuffer; // after allocating (the heap may grow)
      native.linear(heap, heapOffset(be, x), heap, heapOffset(be, weight), heap, bias ? heapOffset(be, bias) : -1, heap, heapOffset(be, out), m, n, k);
      return out;
    }
    const be = args.backend as CpuBackendLike;
    const y = new Float32Array(m * n);
    if (m * n > 0) native.linear(cpuValues(be, x), 0, cpuValues(be, weight), 0, bias ? cpuValues(be, bias) : y, bias ? 0 : -1, y, 0, m, n, k);
    return be.makeTensorInfo([m, n], "float32", y);
  };
  return { kernelName: KernelNames.Linear, backendName, kernelFunc };
}
