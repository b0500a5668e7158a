import type { KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";

/** The parts of tfjs's wasm backend the native kernels use: its heap and each tensor's offset in it. */
export interface WasmBackendLike extends KernelBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfo;
}

/** The parts of tfjs's cpu backend the native kernels use: each tensor's typed array. */
export interface CpuBackendLike extends KernelBackend {
  data: { get(id: object): { values: Float32Array | Int32Array | Uint8Array } | undefined };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array | Int32Array): TensorInfo;
}

/** A tensor's byte offset in the wasm heap. Read it (and the heap) after every allocation: the heap may grow. */
export function heapOffset(be: WasmBackendLike, t: TensorInfo): number {
  return be.dataIdMap.get(t.dataId)!.memoryOffset;
}

/** A cpu tensor's values (read-only: a copy when the backend stores another array type). */
export function cpuValues(be: CpuBackendLike, t: TensorInfo): Float32Array | Int32Array {
  const v = be.data.get(t.dataId)!.values;
  // the cpu backend's Cast from bool keeps the Uint8Array under the float32/int32 dtype
  if (t.dtype === "int32") return v instanceof Int32Array ? v : Int32Array.from(v);
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/** What the addon reads and writes: the wasm heap, or a cpu tensor's typed array. */
export type NativeBuffer = ArrayBuffer | Float32Array | Int32Array;

/** A kernel's view of its backend's memory (wasm heap or cpu typed arrays), for 4-byte dtypes. */
export interface KernelMemory {
  /** A new output tensor (float32 or int32). */
  alloc(shape: number[], dtype: "float32" | "int32"): TensorInfo;
  /** Buffer and byte offset of a tensor; on wasm call it after the last `alloc` (the heap may grow). */
  at(t: TensorInfo): [NativeBuffer, number];
}

export function kernelMemory(backendName: "wasm" | "cpu", backend: unknown): KernelMemory {
  if (backendName === "wasm") {
    const be = backend as WasmBackendLike;
    return {
      alloc: (shape, dtype) => be.makeOutput(shape, dtype),
      at: (t) => [be.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(be, t)],
    };
  }
  const be = backend as CpuBackendLike;
  return {
    // the cpu backend keeps the array it is given: filling it after makeTensorInfo is what the kernel returns
    alloc: (shape, dtype) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return be.makeTensorInfo(shape, dtype, dtype === "int32" ? new Int32Array(n) : new Float32Array(n));
    },
    at: (t) => [cpuValues(be, t), 0],
  };
}
