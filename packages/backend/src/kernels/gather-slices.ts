import { GatherV2, getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import { heapWord, type WasmHeapBackend } from "./wasm-heap.js";

/**
 * GatherV2 as contiguous slice copies inside the wasm heap. wasm's kernel computes every element's
 * address through generic strides (~35M floats/s here); beam search gathers every decoder layer's
 * key/value cache at each step, which made that one kernel 37% of generation time. Whole slices
 * moved with `copyWithin` run at memory speed. Same result bit for bit (it only moves 4-byte words);
 * batchDims > 0 and 1-byte dtypes (bool) go to the original kernel.
 */
export function gatherSlicesConfig(backendName: "wasm"): KernelConfig {
  const original = getKernel(GatherV2, backendName);
  if (!original) throw new Error(`GatherV2 is not registered for ${backendName}`);
  const kernelFunc: KernelFunc = (args) => {
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    if ((batchDims ?? 0) !== 0 || (x.dtype !== "float32" && x.dtype !== "int32")) return original.kernelFunc(args);
    const be = args.backend as WasmHeapBackend;
    const ax = util.parseAxisParam(axis, x.shape)[0]!;
    const idx = be.readSync(indices.dataId) as Int32Array;
    const dim = x.shape[ax]!;
    for (let i = 0; i < idx.length; i++) {
      const v = idx[i]!;
      // the same check and message as tfjs's own kernels
      if (!(v <= dim - 1 && v >= 0)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${dim - 1}]`);
    }
    const outer = util.sizeFromShape(x.shape.slice(0, ax));
    const inner = util.sizeFromShape(x.shape.slice(ax + 1));
    const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
    const out = be.makeOutput(outShape, x.dtype);
    const n = idx.length;
    if (outer * n * inner === 0) return out;
    // after makeOutput (see heapWord)
    const heap = new Int32Array(be.wasm.HEAPU8.buffer);
    const xOff = heapWord(be, x);
    const outOff = heapWord(be, out);
    let dst = outOff;
    for (let o = 0; o < outer; o++) {
      const base = xOff + o * dim * inner;
      if (inner >= 16) {
        for (let i = 0; i < n; i++, dst += inner) {
          const src = base + idx[i]! * inner;
          heap.copyWithin(dst, src, src + inner);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const src = base + idx[i]! * inner;
          for (let j = 0; j < inner; j++) heap[dst++] = heap[src + j]!;
        }
      }
    }
    return out;
  };
  return { kernelName: GatherV2, backendName, kernelFunc };
}
