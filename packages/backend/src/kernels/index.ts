import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from "@tensorflow/tfjs-core";
import { batchMatMulWithExplicitTransposes } from "./batch-matmul-transposed.js";
import { gatherSlicesConfig } from "./gather-slices.js";
import { identitySharedConfig } from "./identity-shared.js";
import { unsortedSegmentSumConfig } from "./unsorted-segment-sum.js";

const patched = new Set<string>();

function replaceKernel(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

/**
 * Register fairseq-ts's kernel fixes for a backend (once). Returns what was registered, for the log.
 * - wasm: UnsortedSegmentSum (missing; needed by the embedding gradient), BatchMatMul with transposes,
 *   GatherV2 as slice copies (beam search's cache reordering), Identity sharing memory (gradient saves).
 * - cpu: an O(N) UnsortedSegmentSum (the stock one is O(segments × N)).
 */
export function registerKernelFixes(backendName: string): string[] {
  const done: string[] = [];
  if (patched.has(backendName)) return done;
  if (backendName === "wasm" || backendName === "cpu") {
    replaceKernel(unsortedSegmentSumConfig(backendName));
    done.push("UnsortedSegmentSum");
  }
  if (backendName === "wasm") {
    replaceKernel(batchMatMulWithExplicitTransposes(backendName));
    done.push("BatchMatMul(explicit transposes)");
    replaceKernel(gatherSlicesConfig(backendName));
    done.push("GatherV2(slice copies)");
    replaceKernel(identitySharedConfig(backendName));
    done.push("Identity(shared)");
  }
  patched.add(backendName);
  return done;
}
