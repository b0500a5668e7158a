import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { cpuValues, heapOffset, kernelMemory, type CpuBackendLike, type WasmBackendLike } from "./backend-memory.js";

/**
 * Layer normalisation over the last axis (inputs x, gamma, beta; attr eps), float32: tfjs composes it
 * from ten kernels (moments, sub, add, rsqrt, two muls, add), six times per decoding step.
 */
export function nativeLayerNormConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { eps } = args.attrs as { eps: number };
    const rank = x.shape.length;
    const cols = x.shape[rank - 1] ?? 0;
    if (
      x.dtype !== "float32" ||
      gamma.dtype !== "float32" ||
      beta.dtype !== "float32" ||
      rank === 0 ||
      util.sizeFromShape(gamma.shape) !== cols ||
      util.sizeFromShape(beta.shape) !== cols
    ) {
      throw new Error(
        `${KernelNames.LayerNorm}: float32 x [..., C] with gamma and beta of C values (got x ${x.dtype} [${x.shape}], gamma [${gamma.shape}], beta [${beta.shape}])`,
      );
    }
    const rows = cols === 0 ? 0 : util.sizeFromShape(x.shape) / cols;
    if (backendName === "wasm") {
      const be = args.backend as WasmBackendLike;
      const out = be.makeOutput(x.shape, "float32");
      if (rows * cols === 0) return out;
      const heap = be.wasm.HEAPU8.buffer as ArrayBuffer; // after allocating (the heap may grow)
      const off = (t: TensorInfo) => heapOffset(be, t);
      native.layerNorm(heap, off(x), heap, off(gamma), heap, off(beta), heap, off(out), rows, cols, eps);
      return out;
    }
    const be = args.backend as CpuBackendLike;
    const y = new Float32Array(rows * cols);
    const v = (t: TensorInfo) => cpuValues(be, t);
    if (rows * cols > 0) native.layerNorm(v(x), 0, v(gamma), 0, v(beta), 0, y, 0, rows, cols, eps);
    return be.makeTensorInfo(x.shape, "float32", y);
  };
  return { kernelName: KernelNames.LayerNorm, backendName, kernelFunc };
}

/**
 * Layer norm's backward (inputs x, gamma, dy; attr eps; outputs dx, dgamma, dbeta), float32, in one
 * pass per row where tfjs composes about twenty kernels over [rows, C].
 */
export function nativeLayerNormGradConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, gamma, dy } = args.inputs as { x: TensorInfo; gamma: TensorInfo; dy: TensorInfo };
    const { eps } = args.attrs as { eps: number };
    const cols = x.shape[x.shape.length - 1] ?? 0;
    if (
      x.dtype !== "float32" ||
      gamma.dtype !== "float32" ||
      dy.dtype !== "float32" ||
      x.shape.length === 0 ||
      util.sizeFromShape(gamma.shape) !== cols ||
      !util.arraysEqual(x.shape, dy.shape)
    ) {
      throw new Error(
        `${KernelNames.LayerNormGrad}: float32 x and dy [..., C] with gamma of C values (got x [${x.shape}], dy [${dy.shape}], gamma [${gamma.shape}])`,
      );
    }
    const rows = cols === 0 ? 0 : util.sizeFromShape(x.shape) / cols;
    const mem = kernelMemory(backendName, args.backend);
    const outs = [mem.alloc(x.shape, "float32"), mem.alloc([cols], "float32"), mem.alloc([cols], "float32")] as const;
    if (cols > 0)
      native.layerNormGrad(...mem.at(x), ...mem.at(gamma), ...mem.at(dy), ...mem.at(outs[0]), ...mem.at(outs[1]), ...mem.at(outs[2]), rows, cols, eps);
    return [...outs];
  };
  return { kernelName: KernelNames.LayerNormGrad, backendName, kernelFunc };
}
