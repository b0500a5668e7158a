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
  const xs = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const out = x.dtype === "int32" ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < outer; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += xs[src + j]!;
  }
  const shape = [numSegments, ...innerShape];
  if (backend.makeTensorInfo) return backend.makeTensorInfo(shape, x.dtype, out);
  if (backend.makeOutput) return backend.makeOutput(shape, x.dtype, undefined, out);
  throw new Error("UnsortedSegmentSum: backend cannot make an output from values");
}

export function unsortedSegmentSumConfig(backendName: string): KernelConfig {
  return { kernelName: UnsortedSegmentSum, backendName, kernelFunc: unsortedSegmentSum as KernelConfig["kernelFunc"] };
}
