export { nodeBuiltin, nodeBuiltinSync } from "./node-builtin.js";
export { failpoint, writeFileAtomic, type StreamedFile } from "./atomic.js";
export { KernelNames, type KernelName } from "./kernel-names.js";
