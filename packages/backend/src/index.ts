export { initBackend, parseBackendName, type BackendInfo, type BackendName, type InitBackendOptions } from "./init.js";
export { registerGradients } from "./gradients.js";
export { registerKernelFixes } from "./kernels/index.js";
