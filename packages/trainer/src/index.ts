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
