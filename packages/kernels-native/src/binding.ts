import type { NativeBuffer as Buf } from "./backend-memory.js";
import { nodeBuiltin } from "@fairseq-ts/runtime";

/** The compiled addon's functions (see native/kernels.c). */
export interface NativeBinding {
  sgemmBatched(
    bufA: Buf,
    offA: number,
    strideA: number,
    bufB: Buf,
    offB: number,
    strideB: number,
    bufC: Buf,
    offC: number,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): void;
  /** y[i] = exp(x[i]) for n float32 values at byte offsets (x and y may be the same memory). */
  vexp(bufX: Buf, offX: number, bufY: Buf, offY: number, n: number): void;
  /** The k largest values of each row (sorted; lower index first among equals) and their indices. */
  topk(bufX: Buf, offX: number, rows: number, cols: number, k: number, bufVals: Buf, offVals: number, bufIdx: ArrayBuffer, offIdx: number): void;
  /** Log-softmax over each row of a [rows, cols] float32 matrix (byte offsets). */
  logSoftmax(bufX: Buf, offX: number, bufY: Buf, offY: number, rows: number, cols: number): void;
  /** Layer normalisation of each row of a [rows, cols] float32 matrix with gamma/beta of length cols. */
  layerNorm(bufX: Buf, offX: number, bufG: Buf, offG: number, bufB: Buf, offB: number, bufY: Buf, offY: number, rows: number, cols: number, eps: number): void;
  /** Y[M, N] = X[M, K] · W[N, K]ᵀ + b[N]; offB < 0 for no bias (byte offsets). */
  linear(bufX: Buf, offX: number, bufW: Buf, offW: number, bufB: Buf, offB: number, bufY: Buf, offY: number, m: number, n: number, k: number): void;
  /** y[o, i] = Σ_m x[o, m, i] (float32, byte offsets). */
  sumAxis(bufX: Buf, offX: number, bufY: Buf, offY: number, outer: number, mid: number, inner: number): void;
  /** `count` blocks of `blockBytes`, the i-th from offSrc + i·srcStride to offDst + i·dstStride (bytes). */
  copyBlocks(bufSrc: Buf, offSrc: number, srcStride: number, bufDst: Buf, offDst: number, dstStride: number, blockBytes: number, count: number): void;
  /** Layer norm's gradient for [rows, cols] x and dy: dx, and dgamma / dbeta summed over rows. */
  layerNormGrad(
    bufX: Buf,
    offX: number,
    bufG: Buf,
    offG: number,
    bufDy: Buf,
    offDy: number,
    bufDx: Buf,
    offDx: number,
    bufDg: Buf,
    offDg: number,
    bufDb: Buf,
    offDb: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** Log-softmax's gradient per row: dx = dy - Σdy·exp(y), y the forward output. */
  logSoftmaxGrad(bufDy: Buf, offDy: number, bufY: Buf, offY: number, bufDx: Buf, offDx: number, rows: number, cols: number): void;
  /** Gradient of per-row (nll, smooth) (dy [rows, 2]) w.r.t. lprobs [rows, cols]; int32 targets. */
  smoothedNllGrad(
    bufDy: Buf,
    offDy: number,
    bufT: Buf,
    offT: number,
    bufDx: Buf,
    offDx: number,
    rows: number,
    cols: number,
    hasIgnore: boolean,
    ignoreIndex: number,
  ): void;
  /**
   * Output layer + label-smoothed cross-entropy (x [n, c], w [v, c], int32 t [n]) → stats [4] (Σnll,
   * Σsmooth, argmax hits, rows counted) and, when offDx ≥ 0, dx [n, c] and dw [v, c] of
   * a·Σnll + b·Σsmooth. Throws a RangeError naming the row whose target is outside [0, v).
   */
  linearSmoothedNll(
    bufX: Buf,
    offX: number,
    bufW: Buf,
    offW: number,
    bufT: Buf,
    offT: number,
    bufStats: Buf,
    offStats: number,
    bufDx: Buf,
    offDx: number,
    bufDw: Buf,
    offDw: number,
    n: number,
    v: number,
    c: number,
    a: number,
    b: number,
    hasIgnore: boolean,
    ignoreIndex: number,
  ): void;
  /** One Adam step over n float32 values (see native/kernels.c adam_loop); mode 0 fairseq adam, 1 AdamW. */
  adamStep(
    bufP: Buf,
    offP: number,
    bufG: Buf,
    offG: number,
    bufM: Buf,
    offM: number,
    bufV: Buf,
    offV: number,
    bufP2: Buf,
    offP2: number,
    bufM2: Buf,
    offM2: number,
    bufV2: Buf,
    offV2: number,
    n: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    eps: number,
    step: number,
    decay: number,
    sqrtBc2: number,
    mode: number,
    hasDecay: boolean,
  ): void;
  /** Dropout of n float32 values: kept with probability `keep` by a hash of (seed, index), scaled by 1/keep. */
  dropout(bufX: Buf, offX: number, bufY: Buf, offY: number, n: number, keep: number, seed: number): void;
  /**
   * Threads for the kernels (n > 0; others are ignored): OpenBLAS's in big products, and the addon's own
   * pool (n − 1 workers beside the caller) in row-wise, element-wise and batched small-product kernels.
   * Results do not depend on it except in products OpenBLAS itself threads (see the README).
   */
  setThreads(n: number): void;
  /** The threads set (default: OpenBLAS's default, i.e. the cores or OPENBLAS_NUM_THREADS). */
  getThreads(): number;
}

export type LoadResult = { ok: true; binding: NativeBinding; path: string } | { ok: false; reason: string };

let cached: LoadResult | undefined;

/** Load the addon built at install time (build/fairseq_ts_kernels.node). Never throws. */
export async function loadNativeBinding(): Promise<LoadResult> {
  if (cached) return cached;
  try {
    const { createRequire } = await nodeBuiltin<typeof import("node:module")>("node:module", "native kernels");
    const { fileURLToPath } = await nodeBuiltin<typeof import("node:url")>("node:url", "native kernels");
    // eslint-disable-next-line @typescript-eslint/unbound-method -- node:path's functions do not use `this`
    const { dirname, join } = await nodeBuiltin<typeof import("node:path")>("node:path", "native kernels");
    const { existsSync } = await nodeBuiltin<typeof import("node:fs")>("node:fs", "native kernels");
    const here = typeof __dirname === "string" ? __dirname : dirname(fileURLToPath(import.meta.url));
    const path = join(here, "..", "build", "fairseq_ts_kernels.node");
    if (!existsSync(path)) {
      cached = { ok: false, reason: `${path} was not built at install (no C compiler or OpenBLAS; see the install log)` };
      return cached;
    }
    const req = createRequire(join(here, "x.js"));
    cached = { ok: true, binding: req(path) as NativeBinding, path };
  } catch (err) {
    cached = { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  return cached;
}
