export { nodeBuiltin, nodeBuiltinSync } from "./node-builtin.js";
export { failpoint, writeFileAtomic } from "./atomic.js";
export { KernelNames, type KernelName } from "./kernel-names.js";
