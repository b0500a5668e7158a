import { nodeBuiltin } from "./node-builtin.js";

/** The compiled addon's functions (see native/kernels.c). */
export interface NativeBinding {
  sgemmBatched(
    bufA: ArrayBuffer | Float32Array, offA: number, strideA: number,
    bufB: ArrayBuffer | Float32Array, offB: number, strideB: number,
    bufC: ArrayBuffer | Float32Array, offC: number,
    batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean,
  ): void;
  /** y[i] = exp(x[i]) for n float32 values at byte offsets (x and y may be the same memory). */
  vexp(bufX: ArrayBuffer | Float32Array, offX: number, bufY: ArrayBuffer | Float32Array, offY: number, n: number): void;
  /** The k largest values of each row (sorted; lower index first among equals) and their indices. */
  topk(
    bufX: ArrayBuffer | Float32Array, offX: number, rows: number, cols: number, k: number,
    bufVals: ArrayBuffer | Float32Array, offVals: number, bufIdx: ArrayBuffer, offIdx: number,
  ): void;
  /** Log-softmax over each row of a [rows, cols] float32 matrix (byte offsets). */
  logSoftmax(bufX: ArrayBuffer | Float32Array, offX: number, bufY: ArrayBuffer | Float32Array, offY: number, rows: number, cols: number): void;
  /** Layer normalisation of each row of a [rows, cols] float32 matrix with gamma/beta of length cols. */
  layerNorm(
    bufX: ArrayBuffer | Float32Array, offX: number, bufG: ArrayBuffer | Float32Array, offG: number,
    bufB: ArrayBuffer | Float32Array, offB: number, bufY: ArrayBuffer | Float32Array, offY: number,
    rows: number, cols: number, eps: number,
  ): void;
  /** Y[M, N] = X[M, K] · W[N, K]ᵀ + b[N]; offB < 0 for no bias (byte offsets). */
  linear(
    bufX: ArrayBuffer | Float32Array, offX: number, bufW: ArrayBuffer | Float32Array, offW: number,
    bufB: ArrayBuffer | Float32Array, offB: number, bufY: ArrayBuffer | Float32Array, offY: number,
    m: number, n: number, k: number,
  ): void;
  setThreads(n: number): void;
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
