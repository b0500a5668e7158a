import * as fs from "node:fs";
import { join } from "node:path";
import { OptionError } from "@fairseq-ts/config";
import { EnsembleModel, parseModelOverrides, retainDropoutAtInference, splitPaths, type RetainDropoutOptions } from "@fairseq-ts/generate";
import { checkpointWeightBytes, loadModelCheckpoint, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { fileSource, type FileSource } from "@fairseq-ts/torch-load";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { TranslationTask, type DatasetImpl, type Task, type TranslationOptions } from "@fairseq-ts/tasks";
import { importUserDir } from "./user-dir.js";

/**
 * `--model-overrides` (a Python dict literal) as the args to set on every checkpoint's stored ones; undefined for
 * `{}`. Not a dict literal: an OptionError of `group` (the CLI names the flag and the column).
 */
export function modelOverridesOf(text: string | null | undefined, group: string): Record<string, unknown> | undefined {
  if (text === null || text === undefined) return undefined;
  let overrides;
  try {
    overrides = parseModelOverrides(text);
  } catch (err) {
    throw new OptionError(group, "modelOverrides", (err as Error).message);
  }
  return Object.keys(overrides).length > 0 ? overrides : undefined;
}

/**
 * Open a checkpoint for positioned reads: only its directory/header and the model's weights are read, one
 * at a time, so a file over 2 GiB (a training checkpoint with its optimizer state) loads in the memory
 * of its weights. Errors name the flag and the file.
 */
function openCheckpoint(path: string, flag: string): FileSource {
  try {
    return fileSource(path, fs);
  } catch (err) {
    throw new Error(`${flag} ${(err as Error).message}`);
  }
}

/**
 * Load a model for inference from `--path`: a fairseq `.pt` checkpoint (read without executing
 * anything) or a fairseq-ts `.safetensors` checkpoint. The file's first bytes decide, not its name.
 * `argOverrides` (--model-overrides) replace stored args before the model is built.
 */
export function loadModelForTask(
  path: string,
  task: Task,
  flag = "--path",
  argOverrides?: Record<string, unknown>,
): { model: EncoderDecoderModel | LanguageModel; args: Record<string, unknown> } {
  const src = openCheckpoint(path, flag);
  const translation = task.name === "translation";
  try {
    return loadModelCheckpoint(
      src,
      {
        srcVocabSize: translation ? task.sourceDictionary.length : undefined,
        tgtVocabSize: translation ? task.targetDictionary.length : undefined,
        vocabSize: translation ? undefined : task.targetDictionary.length,
        padIdx: task.targetDictionary.pad(),
      },
      `${flag} ${path}`,
      { argOverrides },
    );
  } finally {
    src.close();
  }
}

/**
 * Weights that wasm cannot hold beside beam search's activations. Its heap is 32-bit: at most 4 GiB for all
 * tensors together, and tfjs's wasm build cannot go past it. Above this, `auto` picks tfjs-node or the cpu
 * backend (weights in JS typed arrays, any total size; matmuls still run on the native OpenBLAS kernels).
 */
const WASM_WEIGHT_LIMIT = 3 * 2 ** 30;

/**
 * Why `auto` should not choose wasm for these checkpoints (their weights together exceed WASM_WEIGHT_LIMIT),
 * or undefined. Read from each file's directory/header only; a file that cannot be read is left for the
 * loader to report.
 */
function weightsBeyondWasm(paths: string[]): string | undefined {
  let total = 0;
  for (const path of paths) {
    try {
      const src = fileSource(path, fs);
      try {
        total += checkpointWeightBytes(src);
      } finally {
        src.close();
      }
    } catch {
      return undefined;
    }
  }
  if (total <= WASM_WEIGHT_LIMIT) return undefined;
  const gib = (total / 2 ** 30).toFixed(2);
  return `the weights of ${paths.length === 1 ? "the checkpoint" : `the ${paths.length} checkpoints`} (${gib} GiB in float32) do not fit wasm's 32-bit heap (4 GiB for weights and activations together); weights stay in JS typed arrays`;
}

/** What generate and interactive need to open the task and the model, from their typed options. */
export interface TranslationSetup {
  backend: string | null;
  userDir: string | null;
  /** `--path`: one checkpoint, or an ensemble's separated by ':' (fairseq's split_paths). */
  path: string;
  /** `--lm-path`: a language model for shallow fusion. */
  lmPath?: string | null;
  task: TranslationOptions;
  datasetImpl: DatasetImpl | null;
  /** `--model-overrides`: a Python dict literal set on every model's stored args (the --lm-path model's too, as fairseq). */
  modelOverrides?: string | null;
  /** `--retain-dropout` / `--retain-dropout-modules` and `--seed`: dropout kept on in every model (fairseq's prepare_for_inference_). */
  retainDropout?: RetainDropoutOptions;
}

/**
 * What generate and interactive do first: choose the backend, import `--user-dir`, open the
 * translation task for DATA and load `--path` for it: every checkpoint of an ensemble, one after the
 * other, each against DATA's dictionaries (a checkpoint that does not fit them is an error naming it),
 * and the `--lm-path` language model, which must use the target dictionary.
 */
export async function setupTranslation(
  data: string,
  o: TranslationSetup,
  command: string,
): Promise<{ task: TranslationTask; ensemble: EnsembleModel; lm: LanguageModel | null }> {
  const paths = splitPaths(o.path);
  await initBackend({
    backend: o.backend === null ? undefined : parseBackendName(o.backend),
    avoidWasm: o.backend === null ? weightsBeyondWasm([...paths, ...(o.lmPath ? [o.lmPath] : [])]) : undefined,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  await importUserDir(o.userDir ?? undefined);
  const overrides = modelOverridesOf(o.modelOverrides, "generation");
  const task = await TranslationTask.setup({ data, ...o.task, datasetImpl: o.datasetImpl });
  const models: EncoderDecoderModel[] = [];
  let lm: LanguageModel | null = null;
  try {
    for (const path of paths) {
      const { model } = loadModelForTask(path, task, "--path", overrides);
      if (model.kind !== "encoder-decoder") {
        model.dispose();
        throw new Error(`--path ${path}: ${command} needs an encoder-decoder model`);
      }
      models.push(model);
    }
    if (o.lmPath) lm = loadFusionLanguageModel(o.lmPath, task, data, overrides);
    if (o.retainDropout) retainDropoutAtInference([...models, ...(lm ? [lm] : [])], o.retainDropout, [...paths, ...(o.lmPath ? [o.lmPath] : [])]);
  } catch (err) {
    for (const m of models) m.dispose();
    lm?.dispose();
    throw err;
  }
  return { task, ensemble: new EnsembleModel(models, paths), lm };
}

/**
 * `--lm-path`: a language model (fairseq `.pt` or fairseq-ts checkpoint) for shallow fusion. fairseq builds it
 * with the data directory's dictionary and needs it to be the translation's target dictionary: a model of
 * another vocabulary size is an error naming the flag, the file and the dictionary.
 */
function loadFusionLanguageModel(path: string, task: TranslationTask, data: string, argOverrides?: Record<string, unknown>): LanguageModel {
  const tgt = task.targetDictionary;
  const src = openCheckpoint(path, "--lm-path");
  let loaded;
  try {
    loaded = loadModelCheckpoint(src, { vocabSize: tgt.length, padIdx: tgt.pad() }, `--lm-path ${path}`, { argOverrides });
  } catch (err) {
    const msg = (err as Error).message;
    if (!/vocabulary size mismatch/.test(msg)) throw err;
    throw new Error(
      `${msg}; the language model for fusion must use the target dictionary (${join(data, `dict.${task.targetLang}.txt`)}, ${tgt.length} symbols), as fairseq requires`,
    );
  } finally {
    src.close();
  }
  if (loaded.model.kind !== "language-model") {
    loaded.model.dispose();
    throw new Error(`--lm-path ${path}: not a language model (shallow fusion needs a decoder-only model such as transformer_lm)`);
  }
  return loaded.model;
}
