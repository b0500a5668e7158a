import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgl";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { registerKernelFixes } from "@fairseq-ts/backend";
// Vite copies the .wasm binaries into the build and gives their URLs: tfjs would otherwise look for them
// beside the script under names the bundle does not have.
import wasmPlain from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url";
import wasmSimd from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url";
import wasmThreadedSimd from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url";

export type WebBackend = "webgl" | "wasm" | "cpu";
export const BACKEND_ORDER: readonly WebBackend[] = ["webgl", "wasm", "cpu"];

export interface BackendChoice {
  name: WebBackend;
  /** Why each faster backend was not used. */
  skipped: string[];
  /** fairseq-ts kernel fixes registered for it (as `fairseq-ts` does in Node). */
  kernels: string[];
}

setWasmPaths({
  "tfjs-backend-wasm.wasm": wasmPlain,
  "tfjs-backend-wasm-simd.wasm": wasmSimd,
  "tfjs-backend-wasm-threaded-simd.wasm": wasmThreadedSimd,
});

/**
 * The fastest backend that initialises here: WebGL, else WASM, else CPU (or only `forced`). A backend
 * counts only if it can run an op: WebGL can register and then fail on the first shader compile.
 */
export async function chooseBackend(forced?: WebBackend): Promise<BackendChoice> {
  const skipped: string[] = [];
  for (const name of forced ? [forced] : BACKEND_ORDER) {
    try {
      if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
      await tf.ready();
      const probe = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)).dataSync());
      if (probe[0] !== 2 || probe[1] !== 3) throw new Error(`a test op gave ${Array.from(probe).join(",")}`);
      return { name, skipped, kernels: registerKernelFixes(name) };
    } catch (err) {
      skipped.push(`${name}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised:\n  ${skipped.join("\n  ")}`);
}

/** `?backend=wasm` forces one (for comparing backends); anything else is an error naming the parameter. */
export function parseBackendParam(value: string | null): WebBackend | undefined {
  if (value === null || value === "" || value === "auto") return undefined;
  if ((BACKEND_ORDER as readonly string[]).includes(value)) return value as WebBackend;
  throw new Error(`?backend=${value}: expected auto, webgl, wasm or cpu`);
}
