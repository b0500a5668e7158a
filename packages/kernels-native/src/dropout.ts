import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { kernelMemory } from "./backend-memory.js";

/**
 * Dropout (input x; attrs rate, seed — an integer below 2^53), float32: each element is kept with
 * probability 1 − rate by a counter-based hash of (seed, index) and scaled by 1/(1 − rate). The same
 * seed gives the same mask, so the backward is this kernel applied to dy. tfjs's dropout draws its
 * uniforms one by one in JavaScript.
 */
export function nativeDropoutConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { rate, seed } = args.attrs as { rate: number; seed: number };
    if (x.dtype !== "float32" || !(rate >= 0 && rate < 1) || !Number.isSafeInteger(seed)) {
      throw new Error(`${KernelNames.Dropout}: float32 x, rate in [0, 1), an integer seed (got ${x.dtype}, rate ${rate}, seed ${seed})`);
    }
    const n = util.sizeFromShape(x.shape);
    const mem = kernelMemory(backendName, args.backend);
    const y = mem.alloc(x.shape, "float32");
    if (n > 0) native.dropout(...mem.at(x), ...mem.at(y), n, 1 - rate, seed);
    return y;
  };
  return { kernelName: KernelNames.Dropout, backendName, kernelFunc };
}
