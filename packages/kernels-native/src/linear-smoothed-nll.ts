import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { kernelMemory } from "./backend-memory.js";

/** Attributes of the `KernelNames.LinearSmoothedNll` kernel: loss = nllWeight·Σnll + smoothWeight·Σsmooth over the kept rows. */
export interface LinearSmoothedNllAttrs {
  nllWeight: number;
  smoothWeight: number;
  hasIgnore: boolean;
  ignoreIndex: number;
  /** Also return the loss's gradients w.r.t. x and weight. */
  withGrad: boolean;
}

/**
 * The output layer and label-smoothed cross-entropy in one kernel (inputs x [N, C], weight [V, C],
 * int32 target [N]): outputs stats [4] = (Σnll, Σsmooth, rows whose argmax is the target, rows
 * counted), and with `withGrad` the loss's gradients dx [N, C] and dweight [V, C]. The [N, V] logits
 * exist only a block of rows at a time (native/kernels.c).
 */
export function nativeLinearSmoothedNllConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, weight, target } = args.inputs as { x: TensorInfo; weight: TensorInfo; target: TensorInfo };
    const { nllWeight, smoothWeight, hasIgnore, ignoreIndex, withGrad } = args.attrs as unknown as LinearSmoothedNllAttrs;
    const [n, c] = x.shape as [number, number];
    const [v, cw] = weight.shape as [number, number];
    if (
      x.shape.length !== 2 ||
      weight.shape.length !== 2 ||
      c !== cw ||
      x.dtype !== "float32" ||
      weight.dtype !== "float32" ||
      target.dtype !== "int32" ||
      !util.arraysEqual(target.shape, [n])
    ) {
      throw new Error(
        `${KernelNames.LinearSmoothedNll}: float32 x [N, C], weight [V, C], int32 target [N] (got x ${x.dtype} [${x.shape}], weight ${weight.dtype} [${weight.shape}], target ${target.dtype} [${target.shape}])`,
      );
    }
    const mem = kernelMemory(backendName, args.backend);
    const stats = mem.alloc([4], "float32");
    const dx = withGrad ? mem.alloc([n, c], "float32") : null;
    const dw = withGrad ? mem.alloc([v, c], "float32") : null;
    const none: [Float32Array, number] = [new Float32Array(0), -1];
    native.linearSmoothedNll(
      ...mem.at(x),
      ...mem.at(weight),
      ...mem.at(target),
      ...mem.at(stats),
      ...(dx ? mem.at(dx) : none),
      ...(dw ? mem.at(dw) : none),
      n,
      v,
      c,
      nllWeight,
      smoothWeight,
      hasIgnore,
      ignoreIndex,
    );
    return dx && dw ? [stats, dx, dw] : [stats];
  };
  return { kernelName: KernelNames.LinearSmoothedNll, backendName, kernelFunc };
}
