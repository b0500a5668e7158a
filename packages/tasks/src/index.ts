export {
  LanguageModelingTask,
  TaskError,
  TranslationTask,
  type BatchIteratorOptions,
  type LanguageModelingTaskOptions,
  type Task,
  type TaskDataset,
  type TranslationTaskOptions,
} from "./task.js";
