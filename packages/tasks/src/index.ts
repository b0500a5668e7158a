export {
  LanguageModelingTask,
  TaskError,
  TranslationTask,
  type BatchIteratorOptions,
  type DatasetImpl,
  type LanguageModelingTaskOptions,
  type Task,
  type TaskDataset,
  type TranslationTaskOptions,
} from "./task.js";
export {
  denoisingOptions,
  languageModelingOptions,
  translationOptions,
  type DenoisingTaskFlags,
  type LanguageModelingOptions,
  type TranslationOptions,
} from "./options.js";
export { DenoisingTask, type DenoisingTaskOptions } from "./denoising.js";
export { registerTask, tasks, type TaskEntry, type TaskSetupContext } from "./registry.js";
