import { util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";
import type { NativeBinding } from "./binding.js";
import { kernelMemory } from "./backend-memory.js";

/** The attributes of one Adam step (numbers as the composite ops would round them to float32). */
export interface AdamAttrs {
  /** "adam": fairseq's (p − p·decay, denom sqrt(v)+eps); "adamw": PyTorch's (p·decay, denom sqrt(v)/sqrtBc2+eps). */
  mode: "adam" | "adamw";
  b1: number;
  /** 1 − b1, as the caller computes it. */
  c1: number;
  b2: number;
  /** 1 − b2. */
  c2: number;
  eps: number;
  step: number;
  decay: number;
  hasDecay: boolean;
  sqrtBc2: number;
}

/**
 * One Adam step (inputs p, g, m, v; outputs p', m', v'), float32, in one pass with the same float32
 * operations in the same order as the optimizer's composite (bitwise equal results), where the
 * composite runs twelve kernels per parameter tensor.
 */
export function nativeAdamConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { p, g, m, v } = args.inputs as { p: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
    const a = args.attrs as unknown as AdamAttrs;
    const n = util.sizeFromShape(p.shape);
    for (const t of [p, g, m, v]) {
      if (t.dtype !== "float32" || util.sizeFromShape(t.shape) !== n) {
        throw new Error(`${KernelNames.Adam}: float32 p, g, m, v of one size (got p [${p.shape}], g ${g.dtype} [${g.shape}], m [${m.shape}], v [${v.shape}])`);
      }
    }
    const mem = kernelMemory(backendName, args.backend);
    const outs = [mem.alloc(p.shape, "float32"), mem.alloc(p.shape, "float32"), mem.alloc(p.shape, "float32")];
    if (n > 0) {
      native.adamStep(
        ...mem.at(p),
        ...mem.at(g),
        ...mem.at(m),
        ...mem.at(v),
        ...mem.at(outs[0]!),
        ...mem.at(outs[1]!),
        ...mem.at(outs[2]!),
        n,
        a.b1,
        a.c1,
        a.b2,
        a.c2,
        a.eps,
        a.step,
        a.decay,
        a.sqrtBc2,
        a.mode === "adamw" ? 1 : 0,
        a.hasDecay,
      );
    }
    return outs;
  };
  return { kernelName: KernelNames.Adam, backendName, kernelFunc };
}
