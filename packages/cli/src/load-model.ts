import { readFileSync } from "node:fs";
import { loadModelCheckpointBytes, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { initBackend } from "@fairseq-ts/backend";
import { TranslationTask, type Task } from "@fairseq-ts/tasks";
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
    throw new Error(`--path ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
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

/**
 * What generate and interactive do first: choose the backend, import `--user-dir`, open the
 * translation task for DATA and load `--path` for it.
 */
export async function setupTranslation(
  data: string,
  o: Record<string, unknown>,
  command: string,
): Promise<{ task: TranslationTask; model: EncoderDecoderModel }> {
  await initBackend({ backend: o.backend as never, log: (l) => process.stderr.write(`${l}\n`) });
  await importUserDir(o.userDir as string | undefined);
  const task = await TranslationTask.setup({
    data,
    sourceLang: (o.sourceLang as string) ?? null,
    targetLang: (o.targetLang as string) ?? null,
    leftPadSource: (o.leftPadSource as boolean | undefined) ?? true,
  });
  const { model } = loadModelForTask(o.path as string, task);
  if (model.kind !== "encoder-decoder") {
    model.dispose();
    throw new Error(`--path ${o.path}: ${command} needs an encoder-decoder model`);
  }
  return { task, model };
}
