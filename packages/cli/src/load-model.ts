import { readFileSync } from "node:fs";
import { loadModelCheckpointBytes, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { TranslationTask, type DatasetImpl, type Task, type TranslationOptions } from "@fairseq-ts/tasks";
import { importUserDir } from "./user-dir.js";

/**
 * Load a model for inference from `--path`: a fairseq `.pt` checkpoint (read without executing
 * anything) or a fairseq-ts `.safetensors` checkpoint. The file's first bytes decide, not its name.
 */
export function loadModelForTask(path: string, task: Task): { model: EncoderDecoderModel | LanguageModel; args: Record<string, unknown> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`--path ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const translation = task.name === "translation";
  return loadModelCheckpointBytes(
    bytes,
    {
      srcVocabSize: translation ? task.sourceDictionary.length : undefined,
      tgtVocabSize: translation ? task.targetDictionary.length : undefined,
      vocabSize: translation ? undefined : task.targetDictionary.length,
      padIdx: task.targetDictionary.pad(),
    },
    `--path ${path}`,
  );
}

/** What generate and interactive need to open the task and the model, from their typed options. */
export interface TranslationSetup {
  backend: string | null;
  userDir: string | null;
  path: string;
  task: TranslationOptions;
  datasetImpl: DatasetImpl | null;
}

/**
 * What generate and interactive do first: choose the backend, import `--user-dir`, open the
 * translation task for DATA and load `--path` for it.
 */
export async function setupTranslation(data: string, o: TranslationSetup, command: string): Promise<{ task: TranslationTask; model: EncoderDecoderModel }> {
  await initBackend({ backend: o.backend === null ? undefined : parseBackendName(o.backend), log: (l) => process.stderr.write(`${l}\n`) });
  await importUserDir(o.userDir ?? undefined);
  const task = await TranslationTask.setup({ data, ...o.task, datasetImpl: o.datasetImpl });
  const { model } = loadModelForTask(o.path, task);
  if (model.kind !== "encoder-decoder") {
    model.dispose();
    throw new Error(`--path ${o.path}: ${command} needs an encoder-decoder model`);
  }
  return { task, model };
}
