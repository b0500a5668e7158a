import { Identity, getKernel, type KernelBackend, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";

/**
 * Identity that shares the input's memory (a reference count), as tfjs's cpu backend does, instead of
 * wasm's copy. tfjs clones every tensor a kernel saves for its gradient (Engine.clone -> Identity), so
 * with wasm each training update copied ~1000 tensors (7% of a small-config update). Tensors are
 * immutable and every kernel writes a new output, so sharing is safe; strings keep the original kernel.
 */
export function identitySharedConfig(backendName: "wasm"): KernelConfig {
  const original = getKernel(Identity, backendName);
  if (!original) throw new Error(`Identity is not registered for ${backendName}`);
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === "string") return original.kernelFunc(args);
    (args.backend as KernelBackend & { incRef(id: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
  return { kernelName: Identity, backendName, kernelFunc };
}
