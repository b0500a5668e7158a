import type { KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";

/** The parts of tfjs's wasm backend the native kernels use: its heap and each tensor's offset in it. */
export interface WasmBackendLike extends KernelBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfo;
}

/** The parts of tfjs's cpu backend the native kernels use: each tensor's typed array. */
export interface CpuBackendLike extends KernelBackend {
  data: { get(id: object): { values: Float32Array } | undefined };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array | Int32Array): TensorInfo;
}

/** A tensor's byte offset in the wasm heap. Read it (and the heap) after every allocation: the heap may grow. */
export function heapOffset(be: WasmBackendLike, t: TensorInfo): number {
  return be.dataIdMap.get(t.dataId)!.memoryOffset;
}

/** A cpu tensor's values. */
export function cpuValues(be: CpuBackendLike, t: TensorInfo): Float32Array {
  return be.data.get(t.dataId)!.values;
}
