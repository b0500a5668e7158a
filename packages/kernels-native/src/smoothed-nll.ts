import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { kernelMemory } from "./backend-memory.js";

/**
 * The backward of per-row (nll, smooth) = (−lprobs[t], −Σ lprobs), zero at the ignored index (inputs
 * dy [N, 2], target int32 [N]; attrs vocab, hasIgnore, ignoreIndex) → dlprobs [N, vocab] in one write
 * pass, where tfjs scatters the gather's gradient, broadcasts the sum's and masks and adds them.
 */
export function nativeSmoothedNllGradConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { dy, target } = args.inputs as { dy: TensorInfo; target: TensorInfo };
    const { vocab, hasIgnore, ignoreIndex } = args.attrs as { vocab: number; hasIgnore: boolean; ignoreIndex: number };
    const n = target.shape[0] ?? 0;
    if (dy.dtype !== "float32" || target.dtype !== "int32" || target.shape.length !== 1 || !util.arraysEqual(dy.shape, [n, 2])) {
      throw new Error(
        `${KernelNames.SmoothedNllGrad}: float32 dy [N, 2] and int32 target [N] (got dy ${dy.dtype} [${dy.shape}], target ${target.dtype} [${target.shape}])`,
      );
    }
    const mem = kernelMemory(backendName, args.backend);
    const dx = mem.alloc([n, vocab], "float32");
    if (n * vocab > 0) native.smoothedNllGrad(...mem.at(dy), ...mem.at(target), ...mem.at(dx), n, vocab, hasIgnore, ignoreIndex);
    return dx;
  };
  return { kernelName: KernelNames.SmoothedNllGrad, backendName, kernelFunc };
}
