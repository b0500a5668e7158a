import { Concat, SplitV, Sum, getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import type { NativeBinding } from "./binding.js";
import { kernelMemory } from "./backend-memory.js";

const copyable = (dtype: string): dtype is "float32" | "int32" => dtype === "float32" || dtype === "int32";

function originalOf(kernelName: string, backendName: string): KernelConfig {
  const original = getKernel(kernelName, backendName);
  if (!original) throw new Error(`${kernelName} is not registered for ${backendName}`);
  return original;
}

/**
 * Sum (float32) over a run of adjacent axes, without moving data: the wasm backend transposes the
 * reduced axes to the end first, so every bias and layer-norm gradient (Σ over rows of [rows, C])
 * paid a full transpose. Other axis sets and dtypes go to the backend's own kernel.
 */
export function nativeSumConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const original = originalOf(Sum, backendName);
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const axes = [...new Set(util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
    if (x.dtype !== "float32" || axes.length === 0 || axes.some((a, i) => a !== axes[0]! + i)) return original.kernelFunc(args);
    const first = axes[0]!;
    const last = axes[axes.length - 1]!;
    const outer = util.sizeFromShape(x.shape.slice(0, first));
    const mid = util.sizeFromShape(x.shape.slice(first, last + 1));
    const inner = util.sizeFromShape(x.shape.slice(last + 1));
    const outShape = keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
    const mem = kernelMemory(backendName, args.backend);
    const out = mem.alloc(outShape, "float32");
    if (outer * inner === 0) return out;
    native.sumAxis(...mem.at(x), ...mem.at(out), outer, mid, inner);
    return out;
  };
  return { kernelName: Sum, backendName, kernelFunc };
}

/** Split sizes as tfjs's splitV gives them (a number: equal parts; one -1: the rest). */
function splitSizes(dim: number, numOrSizeSplits: number | number[]): number[] {
  if (typeof numOrSizeSplits === "number") return Array.from({ length: numOrSizeSplits }, () => dim / numOrSizeSplits);
  const known = numOrSizeSplits.reduce((s, v) => (v === -1 ? s : s + v), 0);
  return numOrSizeSplits.map((v) => (v === -1 ? dim - known : v));
}

/**
 * SplitV and Concat (float32, int32) along any axis as one block copy per piece and outer index: the
 * wasm backend slices and concatenates from JavaScript, row by row (attention splits its fused
 * q/k/v projection, [tokens, 3·C], at every layer; the backward concatenates the gradients).
 */
export function nativeSplitVConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const original = originalOf(SplitV, backendName);
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    if (!copyable(x.dtype)) return original.kernelFunc(args);
    const ax = util.parseAxisParam(axis, x.shape)[0]!;
    const dim = x.shape[ax]!;
    const sizes = splitSizes(dim, numOrSizeSplits);
    const outer = util.sizeFromShape(x.shape.slice(0, ax));
    const inner = util.sizeFromShape(x.shape.slice(ax + 1));
    const mem = kernelMemory(backendName, args.backend);
    const outs = sizes.map((s) =>
      mem.alloc(
        x.shape.map((d, i) => (i === ax ? s : d)),
        x.dtype as "float32" | "int32",
      ),
    );
    const [src, srcOff] = mem.at(x);
    let start = 0;
    sizes.forEach((s, i) => {
      if (s * outer * inner > 0) native.copyBlocks(src, srcOff + 4 * start * inner, 4 * dim * inner, ...mem.at(outs[i]!), 4 * s * inner, 4 * s * inner, outer);
      start += s;
    });
    return outs;
  };
  return { kernelName: SplitV, backendName, kernelFunc };
}

export function nativeConcatConfig(backendName: "wasm" | "cpu", native: NativeBinding): KernelConfig {
  const original = originalOf(Concat, backendName);
  const kernelFunc: KernelFunc = (args) => {
    const xs = Object.values(args.inputs) as TensorInfo[];
    const { axis } = args.attrs as { axis: number };
    const dtype = xs[0]?.dtype ?? "float32";
    if (!copyable(dtype) || xs.some((t) => t.dtype !== dtype)) return original.kernelFunc(args);
    const shape = xs[0]!.shape;
    const ax = util.parseAxisParam(axis, shape)[0]!;
    const dim = xs.reduce((s, t) => s + t.shape[ax]!, 0);
    const outer = util.sizeFromShape(shape.slice(0, ax));
    const inner = util.sizeFromShape(shape.slice(ax + 1));
    const mem = kernelMemory(backendName, args.backend);
    const out = mem.alloc(
      shape.map((d, i) => (i === ax ? dim : d)),
      dtype,
    );
    const [dst, dstOff] = mem.at(out);
    let start = 0;
    for (const t of xs) {
      const s = t.shape[ax]!;
      if (s * outer * inner > 0) native.copyBlocks(...mem.at(t), 4 * s * inner, dst, dstOff + 4 * start * inner, 4 * dim * inner, 4 * s * inner, outer);
      start += s;
    }
    return out;
  };
  return { kernelName: Concat, backendName, kernelFunc };
}
