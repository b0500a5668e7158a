import type { KernelBackend, TensorInfo, TypedArray } from "@tensorflow/tfjs-core";

/** The parts of tfjs's wasm backend that a kernel working inside its heap uses. */
export interface WasmHeapBackend extends KernelBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: TypedArray): TensorInfo;
}

export function isWasmHeapBackend(be: unknown): be is WasmHeapBackend {
  const b = be as Partial<WasmHeapBackend> | null;
  return !!b && !!b.wasm && !!b.dataIdMap && typeof b.makeOutput === "function";
}

/**
 * Where a tensor starts in the heap, in 4-byte words. Take it, and any view of the heap, after the
 * kernel's last allocation: `makeOutput` may grow the heap (a new ArrayBuffer). Byte offsets reach
 * 4 GiB, so this divides (`>> 2` would turn offsets past 2 GiB negative).
 */
export function heapWord(be: WasmHeapBackend, t: TensorInfo): number {
  return be.dataIdMap.get(t.dataId)!.memoryOffset / 4;
}
