/**
 * fairseq's task registry (`--task`): each entry carries its options, so the CLI offers a task's flags only when
 * that task is selected. Built-ins are registered on first use; nothing is registered at import.
 */
import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import { languageModelingOptions, translationOptions, type LanguageModelingOptions, type TranslationOptions } from "./options.js";
import { LanguageModelingTask, TranslationTask, type DatasetImpl, type Task } from "./task.js";

/** What the task's setup gets besides its own options: the data directory and the dataset format. */
export interface TaskSetupContext {
  data: string;
  datasetImpl?: DatasetImpl | null;
}

export interface TaskEntry {
  /** The task's own options (fairseq's task dataclass). */
  readonly options: AnyOptionGroup;
  /** Load the dictionaries and return the task (fairseq's `setup_task`). */
  setup(context: TaskSetupContext, options: Record<string, unknown>): Promise<Task>;
}

export const tasks = new Registry<TaskEntry>("task", (r) => {
  r.register("translation", {
    options: translationOptions,
    setup: (c, o) => TranslationTask.setup({ ...translationOptions.resolve(o as Partial<TranslationOptions>), ...c }),
  });
  r.register("language_modeling", {
    options: languageModelingOptions,
    setup: (c, o) => LanguageModelingTask.setup({ ...languageModelingOptions.resolve(o as Partial<LanguageModelingOptions>), ...c }),
  });
});

/** Register a task under `name` (an Error if the name is taken). */
export function registerTask(name: string, entry: TaskEntry): void {
  tasks.register(name, entry);
}
