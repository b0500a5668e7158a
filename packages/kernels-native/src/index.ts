import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from "@tensorflow/tfjs-core";
import { nativeAdamConfig } from "./adam.js";
import { nativeBatchMatMulConfig } from "./batch-matmul.js";
import { loadNativeBinding } from "./binding.js";
import { nativeDropoutConfig } from "./dropout.js";
import { nativeExpConfig } from "./exp.js";
import { nativeLayerNormConfig, nativeLayerNormGradConfig } from "./layer-norm.js";
import { nativeLinearConfig } from "./linear.js";
import { nativeLinearSmoothedNllConfig } from "./linear-smoothed-nll.js";
import { nativeLogSoftmaxConfig, nativeLogSoftmaxGradConfig } from "./log-softmax.js";
import { nativeConcatConfig, nativeSplitVConfig, nativeSumConfig } from "./reduce-copy.js";
import { nativeSmoothedNllGradConfig } from "./smoothed-nll.js";
import { nativeTopKConfig } from "./topk.js";

export type { AdamAttrs } from "./adam.js";
export { loadNativeBinding, type LoadResult, type NativeBinding } from "./binding.js";
export type { LinearSmoothedNllAttrs } from "./linear-smoothed-nll.js";

export interface NativeKernelsInfo {
  /** Whether native kernels are registered. */
  active: boolean;
  /** Kernels replaced or added, e.g. ["BatchMatMul", "Exp", "TopK", "Sum", ..., "FairseqLinear", ...]. */
  kernels: string[];
  /** Threads in use: OpenBLAS's and the addon's own pool's. */
  threads: number;
  /** Why native kernels are not active. */
  reason?: string;
}

/**
 * Register native (OpenBLAS) kernels over a tfjs backend ("wasm" or "cpu"), replacing whatever kernel
 * is registered now (so call it after other fixes). `threads` is this process's share of the cores.
 * Returns what happened; never throws when the addon is missing.
 */
export async function registerNativeKernels(backendName: string, options: { threads?: number } = {}): Promise<NativeKernelsInfo> {
  if (backendName !== "wasm" && backendName !== "cpu") {
    return { active: false, kernels: [], threads: 0, reason: `no native kernels for backend ${backendName}` };
  }
  const loaded = await loadNativeBinding();
  if (!loaded.ok) return { active: false, kernels: [], threads: 0, reason: loaded.reason };
  const native = loaded.binding;
  if (options.threads && options.threads > 0) native.setThreads(options.threads);
  if (!replaced.has(backendName)) {
    const configs = [
      nativeBatchMatMulConfig(backendName, native),
      nativeExpConfig(backendName, native),
      nativeTopKConfig(backendName, native),
      nativeSumConfig(backendName, native),
      nativeSplitVConfig(backendName, native),
      nativeConcatConfig(backendName, native),
    ];
    const originals: KernelConfig[] = [];
    for (const config of configs) {
      originals.push(getKernel(config.kernelName, backendName)!);
      unregisterKernel(config.kernelName, backendName);
      registerKernel(config);
    }
    // kernels no backend has: nothing to restore, only to remove
    const added = [
      nativeLogSoftmaxConfig(backendName, native),
      nativeLayerNormConfig(backendName, native),
      nativeLinearConfig(backendName, native),
      nativeLayerNormGradConfig(backendName, native),
      nativeLogSoftmaxGradConfig(backendName, native),
      nativeSmoothedNllGradConfig(backendName, native),
      nativeLinearSmoothedNllConfig(backendName, native),
      nativeAdamConfig(backendName, native),
      nativeDropoutConfig(backendName, native),
    ];
    for (const config of added) {
      if (getKernel(config.kernelName, backendName)) unregisterKernel(config.kernelName, backendName);
      registerKernel(config);
    }
    replaced.set(backendName, { originals, added: added.map((c) => c.kernelName) });
  }
  const r = replaced.get(backendName)!;
  return { active: true, kernels: [...r.originals.map((k) => k.kernelName), ...r.added], threads: native.getThreads() };
}

/** Kernels replaced per backend, to restore them. */
const replaced = new Map<string, { originals: KernelConfig[]; added: string[] }>();

/** Put back the kernels that `registerNativeKernels` replaced on this backend. */
export function unregisterNativeKernels(backendName: string): void {
  const r = replaced.get(backendName);
  if (!r) return;
  for (const original of r.originals) {
    unregisterKernel(original.kernelName, backendName);
    registerKernel(original);
  }
  for (const name of r.added) unregisterKernel(name, backendName);
  replaced.delete(backendName);
}
