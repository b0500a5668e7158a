import { readFileSync } from "node:fs";
import { importFairseqCheckpointBytes, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import type { Task } from "@fairseq-ts/tasks";
import { decodeCheckpoint, loadModelWeights } from "@fairseq-ts/trainer";

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
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    const { model, args } = importFairseqCheckpointBytes(bytes, {
      srcVocabSize: task.name === "translation" ? task.sourceDictionary.length : undefined,
      tgtVocabSize: task.name === "translation" ? task.targetDictionary.length : undefined,
      vocabSize: task.name === "language_modeling" ? task.targetDictionary.length : undefined,
      padIdx: task.targetDictionary.pad(),
    });
    return { model, args };
  }
  const ck = decodeCheckpoint(bytes, path);
  const model = task.buildModel({ ...(ck.meta.args as { arch: string }) });
  try {
    loadModelWeights(model, ck.model, path);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, args: ck.meta.args };
}
