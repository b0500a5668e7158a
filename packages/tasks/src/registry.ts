/**
 * fairseq's task registry (`--task`): each entry carries its options, so the CLI offers a task's flags only when
 * that task is selected. Built-ins are registered on first use; nothing is registered at import.
 */
import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import { DenoisingTask } from "./denoising.js";
import {
  denoisingOptions,
  languageModelingOptions,
  translationOptions,
  type DenoisingTaskFlags,
  type LanguageModelingOptions,
  type TranslationOptions,
} from "./options.js";
import { LanguageModelingTask, TranslationTask, type DatasetImpl, type Task } from "./task.js";

/** What the task's setup gets besides its own options: the data directory and the dataset format. */
export interface TaskSetupContext {
  data: string;
  datasetImpl?: DatasetImpl | null;
  /** `--seed` (the denoising task seeds its noise with it). */
  seed?: number;
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
  r.register("denoising", {
    options: denoisingOptions,
    setup: (c, o) => {
      const flags = denoisingOptions.resolve(o as Partial<DenoisingTaskFlags>);
      return DenoisingTask.setup({ ...flags, ...c }, flags);
    },
  });
});

/** Register a task under `name` (an Error if the name is taken). */
export function registerTask(name: string, entry: TaskEntry): void {
  tasks.register(name, entry);
}
