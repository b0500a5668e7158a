export { MpiProcessGroup, type MpiProcessGroupOptions } from "./mpi-process-group.js";
export { loadMpiBinding, type MpiBinding, type MpiInfo, type MpiLoadResult } from "./binding.js";
