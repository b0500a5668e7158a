export {
  checkpointsToRemove,
  decideSave,
  defaultCheckpointPolicy,
  isBetter,
  matchCheckpoints,
  type CheckpointPolicyOptions,
  type SaveDecision,
  type SaveDecisionInput,
} from "./checkpoint-policy.js";
export { REDUCED_LOGGING_KEYS, Trainer, type TrainerOptions } from "./trainer.js";
export {
  checkpointFile,
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpointFile,
  writeCheckpointFiles,
  type CheckpointMeta,
  type LoadedCheckpoint,
} from "./checkpoint.js";
export {
  disposeTraining,
  resolveCheckpointPath,
  restoreCheckpoint,
  saveCheckpoint,
  setupTraining,
  train,
  trainEpoch,
  validate,
  type EpochResult,
  type TrainOptions,
  type TrainResult,
  type TrainingSession,
} from "./train-loop.js";
export { TensorboardWriter, crc32c, encodeEvent, maskedCrc32c, tfRecord } from "./tensorboard.js";
export { checkpointOptions, optimizationOptions, type CheckpointOptions, type OptimizationOptions } from "./options.js";
