import { Exp, getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import type { NativeBinding } from "./binding.js";
import { cpuValues, heapOffset, type CpuBackendLike, type WasmBackendLike } from "./backend-memory.js";

/**
 * Exp through the addon's vectorized expf (≤ 1 ulp from the correctly rounded result, exact at
 * 0, ±inf, NaN, overflow and the denormal range): log-softmax over the vocabulary at every
 * beam-search step made wasm's scalar exp about a quarter of generation time. Other dtypes go to
 * the backend's own kernel.
 */
export function nativeExpConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const original = getKernel(Exp, backendName);
  if (!original) throw new Error(`Exp is not registered for ${backendName}`);
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== "float32") return original.kernelFunc(args);
    const n = util.sizeFromShape(x.shape);
    if (backendName === "wasm") {
      const be = args.backend as WasmBackendLike;
      const out = be.makeOutput(x.shape, "float32");
      if (n === 0) return out;
      // after allocating: the heap may have grown (a new ArrayBuffer)
      const heap = be.wasm.HEAPU8.buffer as ArrayBuffer;
      native.vexp(heap, heapOffset(be, x), heap, heapOffset(be, out), n);
      return out;
    }
    const be = args.backend as CpuBackendLike;
    const y = new Float32Array(n);
    native.vexp(cpuValues(be, x), 0, y, 0, n);
    return be.makeTensorInfo(x.shape, "float32", y);
  };
  return { kernelName: Exp, backendName, kernelFunc };
}
