import { readFileSync } from "node:fs";
import { loadModelCheckpointBytes, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import type { Task } from "@fairseq-ts/tasks";

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
  try {
    return loadModelCheckpointBytes(bytes, {
      srcVocabSize: translation ? task.sourceDictionary.length : undefined,
      tgtVocabSize: translation ? task.targetDictionary.length : undefined,
      vocabSize: translation ? undefined : task.targetDictionary.length,
      padIdx: task.targetDictionary.pad(),
    });
  } catch (err) {
    throw new Error(`--path ${path}: ${(err as Error).message}`);
  }
}
