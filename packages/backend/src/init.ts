import { nodeBuiltin } from "@fairseq-ts/runtime";
import * as tf from "@tensorflow/tfjs-core";
import { registerGradients } from "./gradients.js";
import { registerKernelFixes } from "./kernels/index.js";
import { registerNativeKernels, unregisterNativeKernels } from "@fairseq-ts/kernels-native";

/** tfjs backends fairseq-ts can run on, fastest first. `tensorflow` is tfjs-node's native backend. */
export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface InitBackendOptions {
  /** Force a backend (CLI `--backend`); default: env `FAIRSEQ_TS_BACKEND`, else `auto`. */
  backend?: BackendName | "auto";
  /**
   * This process's share of the cores: tfjs-node's intra-op threads, and the native kernels' threads (OpenBLAS's
   * and the addon's own pool; wasm itself is single-threaded in Node). Default: env `FAIRSEQ_TS_THREADS`, else
   * tfjs-node's / OpenBLAS's own default (all cores, or `OPENBLAS_NUM_THREADS`).
   */
  threads?: number;
  /**
   * Use the optional native (OpenBLAS) kernels over wasm/cpu when they were built at install.
   * Default: true unless env `FAIRSEQ_TS_NATIVE=0`.
   */
  native?: boolean;
  /**
   * Leave wasm out of `auto` (tfjs-node, else cpu), saying why in the log line: wasm's heap is 32-bit (at most
   * 4 GiB for every tensor together), so weights bigger than that (a transformer-big ensemble) must live
   * in the cpu backend's JS typed arrays. Ignored when a backend is forced.
   */
  avoidWasm?: string;
  /** Where to print the one-line choice; default `console.error`. Pass `null` for silence. */
  log?: ((line: string) => void) | null;
}

export interface BackendInfo {
  name: BackendName;
  /** Why faster backends were not used, one entry per backend tried. */
  skipped: string[];
  /** Kernel fixes registered for this backend. */
  kernels: string[];
  /** Native kernels in use (e.g. ["BatchMatMul", "Exp", ..., "FairseqLinear"]), with their BLAS threads; or why not. */
  native: { kernels: string[]; threads: number } | { kernels: []; reason: string };
}

const TFJS_NODE_HINT = "install it with `pnpm add @tensorflow/tfjs-node` where its libtensorflow download is reachable";

/** Parse a backend name from a flag or env var; throws naming the source on an unknown value. */
export function parseBackendName(value: string, source = "--backend"): BackendName | "auto" {
  const v = value.trim().toLowerCase();
  if (v === "auto" || v === "tensorflow" || v === "wasm" || v === "cpu") return v;
  if (v === "node" || v === "tfjs-node") return "tensorflow";
  throw new Error(`${source}: unknown backend '${value}' (expected auto, tensorflow, wasm or cpu)`);
}

/** `FAIRSEQ_TS_THREADS`: unset or empty = the default; otherwise a positive integer, else an error naming the variable. */
function parseThreads(value: string | undefined, source = "FAIRSEQ_TS_THREADS"): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${source}: expected a positive integer (threads of this process), got '${value}'`);
  return n;
}

/** A variable, not a literal: bundlers would try (and fail) to resolve this optional, Node-only package. */
const TFJS_NODE = "@tensorflow/tfjs-node";

async function loadTfjsNode(threads: number | undefined): Promise<void> {
  if (threads && !process.env.TF_NUM_INTRAOP_THREADS) process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  // tfjs-node is not a dependency (its install needs a download that is often unreachable): resolve it
  // from this package first, then from the application's working directory.
  try {
    await import(/* @vite-ignore */ /* webpackIgnore: true */ TFJS_NODE);
  } catch (first) {
    const { createRequire } = await nodeBuiltin<typeof import("node:module")>("node:module", "the tensorflow backend");
    const req = createRequire(`${process.cwd()}/`);
    try {
      req(TFJS_NODE);
    } catch {
      throw first;
    }
  }
}

async function trySet(name: BackendName, options: InitBackendOptions): Promise<void> {
  if (name === "tensorflow") await loadTfjsNode(options.threads);
  else if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  else await import("@tensorflow/tfjs-backend-cpu");
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

/**
 * Choose and initialise the tensor backend: tfjs-node when installed and loadable, else wasm
 * (SIMD), else cpu; or the forced one. Registers gradients and kernel fixes. Logs the choice once.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (options.threads === undefined) {
    const threads = parseThreads(typeof process === "undefined" ? undefined : process.env.FAIRSEQ_TS_THREADS);
    if (threads !== undefined) options = { ...options, threads };
  }
  const requested = options.backend ?? (process.env.FAIRSEQ_TS_BACKEND ? parseBackendName(process.env.FAIRSEQ_TS_BACKEND, "FAIRSEQ_TS_BACKEND") : "auto");
  const order: BackendName[] = requested !== "auto" ? [requested] : options.avoidWasm ? ["tensorflow", "cpu"] : ["tensorflow", "wasm", "cpu"];
  const skipped: string[] = requested === "auto" && options.avoidWasm ? [`wasm: ${options.avoidWasm}`] : [];
  let chosen: BackendName | undefined;
  for (const name of order) {
    try {
      await trySet(name, options);
      chosen = name;
      break;
    } catch (err) {
      const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
      skipped.push(name === "tensorflow" ? `tensorflow: not available (${why}); ${TFJS_NODE_HINT}` : `${name}: ${why}`);
    }
  }
  if (!chosen) throw new Error(`no tensorflow.js backend could be initialised:\n  ${skipped.join("\n  ")}`);
  await registerGradients();
  const kernels = registerKernelFixes(chosen);
  const useNative = options.native ?? process.env.FAIRSEQ_TS_NATIVE !== "0";
  let native: BackendInfo["native"] = { kernels: [], reason: "disabled (native: false / FAIRSEQ_TS_NATIVE=0)" };
  if (useNative && chosen !== "tensorflow") {
    const r = await registerNativeKernels(chosen, { threads: options.threads });
    native = r.active ? { kernels: r.kernels, threads: r.threads } : { kernels: [], reason: r.reason ?? "unavailable" };
  } else if (!useNative) {
    unregisterNativeKernels(chosen);
  } else if (chosen === "tensorflow") {
    native = { kernels: [], reason: "not needed with tfjs-node" };
  }
  // The cpu backend prints a banner suggesting tfjs-node on first use; the log line below says it once.
  const be = tf.backend() as unknown as { firstUse?: boolean };
  if ("firstUse" in be) be.firstUse = false;
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  if (log) {
    const tfNode = skipped.find((s) => s.startsWith("tensorflow:"));
    const nat =
      "threads" in native
        ? `; native OpenBLAS ${native.kernels.join(", ")} (${native.threads} thread${native.threads === 1 ? "" : "s"})`
        : chosen !== "tensorflow" && useNative
          ? `; native kernels unavailable (${native.reason})`
          : "";
    const noWasm = requested === "auto" && options.avoidWasm && chosen !== "wasm" ? `; not wasm: ${options.avoidWasm}` : "";
    log(
      `backend: ${chosen}${kernels.length ? ` (kernel fixes: ${kernels.join(", ")})` : ""}${nat}${noWasm}` +
        (tfNode && chosen !== "tensorflow" ? `; tfjs-node not installed (${TFJS_NODE_HINT})` : ""),
    );
  }
  return { name: chosen, skipped, kernels, native };
}
