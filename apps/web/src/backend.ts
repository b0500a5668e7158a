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
  /** WebGL's renderer (GPU name), null for the other backends. */
  renderer: string | null;
}

setWasmPaths({
  "tfjs-backend-wasm.wasm": wasmPlain,
  "tfjs-backend-wasm-simd.wasm": wasmSimd,
  "tfjs-backend-wasm-threaded-simd.wasm": wasmThreadedSimd,
});

/** The WebGL renderer tfjs's context runs on (e.g. "ANGLE (…SwiftShader…)"), or null when unknown. */
function webglRenderer(): string | null {
  const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
  if (!gl) return null;
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/** Software rasterisers: WebGL on them runs beam search ~50x slower than WASM (headless Chromium's SwiftShader). */
const SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|software/i;

/**
 * The fastest backend that initialises here: WebGL on a GPU, else WASM, else CPU (or only `forced`). A
 * backend counts only if it can run an op: WebGL can register and then fail on the first shader compile.
 */
export async function chooseBackend(forced?: WebBackend): Promise<BackendChoice> {
  const skipped: string[] = [];
  for (const name of forced ? [forced] : BACKEND_ORDER) {
    try {
      if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
      await tf.ready();
      const probe = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)).dataSync());
      if (probe[0] !== 2 || probe[1] !== 3) throw new Error(`a test op gave ${Array.from(probe).join(",")}`);
      const renderer = name === "webgl" ? webglRenderer() : null;
      if (!forced && renderer !== null && SOFTWARE_GL.test(renderer)) throw new Error(`software renderer (${renderer}), slower than WASM`);
      return { name, skipped, kernels: registerKernelFixes(name), renderer };
    } catch (err) {
      if (name === "webgl" && tf.findBackend("webgl")) tf.removeBackend("webgl"); // frees its GL context
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
