export { DistributedError, LocalProcessGroup, type CommStats, type FloatBuffer, type ProcessGroup } from "./process-group.js";
export { runCoordinator, type CoordinatorOptions } from "./coordinator.js";
export { isDistributedWorker, joinProcessGroup, workerThreads } from "./worker.js";
export { weightsChecksum } from "./checksum.js";
export { addInto } from "./sum.js";
export { expandSlurmNodeList, expandTasksPerNode, launcherPlacement, LauncherEnvError, type LauncherPlacement } from "./launcher-env.js";
