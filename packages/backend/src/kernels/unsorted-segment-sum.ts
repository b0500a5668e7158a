import {
  UnsortedSegmentSum,
  util,
  type KernelBackend,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
  type TypedArray,
} from "@tensorflow/tfjs-core";
import { heapWord, isWasmHeapBackend } from "./wasm-heap.js";

/** What this kernel needs from a backend besides `readSync`: a way to make an output from values. */
type WritableBackend = KernelBackend & {
  makeTensorInfo?: (shape: number[], dtype: string, values: TypedArray) => TensorInfo;
  makeOutput?: (shape: number[], dtype: string, memoryOffset?: number, values?: TypedArray) => TensorInfo;
};

/**
 * O(N) UnsortedSegmentSum: out[seg[i], ...] += x[i, ...]. The gradient of `gather` (embeddings)
 * needs it; wasm has no such kernel and cpu's is O(segments × N). Ids outside
 * [0, numSegments) are dropped, as in TensorFlow. Accumulation is in index order (float32).
 */
function unsortedSegmentSum(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WritableBackend;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const segShape = segmentIds.shape;
  for (let k = 0; k < segShape.length; k++) {
    if (segShape[k] !== x.shape[k]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${segShape}] is not a prefix of x shape [${x.shape}]`);
    }
  }
  const outer = util.sizeFromShape(segShape);
  const innerShape = x.shape.slice(segShape.length);
  const inner = util.sizeFromShape(innerShape);
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const shape = [numSegments, ...innerShape];
  if (isWasmHeapBackend(backend)) {
    // wasm: sum inside the heap. Reading x out and writing the result in were two copies and two
    // large allocations per call, most of the kernel's time (the embedding gradients of a batch).
    const out = backend.makeOutput(shape, x.dtype);
    // after makeOutput (see heapWord)
    const heap = x.dtype === "int32" ? new Int32Array(backend.wasm.HEAPU8.buffer) : new Float32Array(backend.wasm.HEAPU8.buffer);
    const xOff = heapWord(backend, x);
    const outOff = heapWord(backend, out);
    heap.fill(0, outOff, outOff + numSegments * inner);
    segmentSum(heap, xOff, heap, outOff, ids, outer, inner, numSegments);
    return out;
  }
  const xs = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const out = x.dtype === "int32" ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  segmentSum(xs, 0, out, 0, ids, outer, inner, numSegments);
  if (backend.makeTensorInfo) return backend.makeTensorInfo(shape, x.dtype, out);
  if (backend.makeOutput) return backend.makeOutput(shape, x.dtype, undefined, out);
  throw new Error("UnsortedSegmentSum: backend cannot make an output from values");
}

function segmentSum(
  xs: Float32Array | Int32Array,
  xOff: number,
  out: Float32Array | Int32Array,
  outOff: number,
  ids: Int32Array,
  outer: number,
  inner: number,
  numSegments: number,
): void {
  for (let i = 0; i < outer; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = xOff + i * inner;
    const dst = outOff + s * inner;
    for (let j = 0; j < inner; j++) out[dst + j]! += xs[src + j]!;
  }
}

export function unsortedSegmentSumConfig(backendName: string): KernelConfig {
  return { kernelName: UnsortedSegmentSum, backendName, kernelFunc: unsortedSegmentSum as KernelConfig["kernelFunc"] };
}
