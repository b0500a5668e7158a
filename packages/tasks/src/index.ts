export {
  LanguageModelingTask,
  TaskError,
  TranslationTask,
  disposeSample,
  toTensorSample,
  type BatchIteratorOptions,
  type LanguageModelingTaskOptions,
  type Task,
  type TaskDataset,
  type TranslationTaskOptions,
} from "./task.js";
