import { PyNamespace, TorchTensor, loadTorchCheckpoint, readTorchCheckpoint, type TorchCheckpoint } from "@fairseq-ts/torch-load";
import { CheckpointError, buildModelWithWeights, checkpointError, type WeightValues } from "./checkpoint-codec.js";
import type { EncoderDecoderModel, LanguageModel } from "./interfaces.js";
import { dictionarySizeOf, upgradeStateDict, type ModelArgs } from "./registry.js";

export interface ImportedModel {
  model: EncoderDecoderModel | LanguageModel;
  /** The training args stored in the checkpoint (fairseq's Namespace, snake_case). */
  args: ModelArgs;
}

/**
 * How to build the model from a checkpoint's args. `argOverrides`: values that replace the stored args before the model
 * is built (fairseq's `arg_overrides` of load_model_ensemble, which generate's --model-overrides fills): set on the args
 * as fairseq's setattr does, before the state dict upgrade and the architecture's defaults.
 */
export interface LoadOptions {
  argOverrides?: Readonly<Record<string, unknown>>;
}

/** Vocabulary sizes the model must match (the dictionaries it will be used with). */
export interface ImportVocab {
  srcVocabSize?: number;
  tgtVocabSize?: number;
  vocabSize?: number;
  padIdx?: number;
}

function namespaceToArgs(ns: unknown): ModelArgs {
  if (!(ns instanceof PyNamespace)) throw new CheckpointError("checkpoint has no fairseq args (argparse.Namespace)");
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ns)) args[k] = v;
  if (typeof args.arch !== "string") throw new CheckpointError("checkpoint args have no arch");
  return args as ModelArgs;
}

/**
 * Rebuild a fairseq model from a `.pt` checkpoint (read safely, nothing executed) and load its weights.
 * Vocabulary sizes are checked against `vocab` when given.
 */
export function importFairseqCheckpoint(ckpt: TorchCheckpoint, vocab: ImportVocab = {}, options: LoadOptions = {}): ImportedModel {
  const root = ckpt.root;
  if (!(root instanceof Map)) throw new CheckpointError("not a fairseq checkpoint (top level is not a dict)");
  let args = namespaceToArgs(root.get("args") ?? (root.get("cfg") instanceof Map ? (root.get("cfg") as Map<string, unknown>).get("model") : undefined));
  // (--model-overrides: set on the stored args before anything reads them, as fairseq's load_checkpoint_to_cpu)
  if (options.argOverrides) args = { ...args, ...options.argOverrides } as ModelArgs;
  const state: unknown = root.get("model");
  if (!(state instanceof Map)) throw new CheckpointError("checkpoint has no model state dict");
  // every float tensor, read on demand; integer buffers (e.g. a version counter) are not weights
  const weights = new Map<string, WeightValues>();
  for (const [k, t] of state) {
    if (typeof k !== "string" || !(t instanceof TorchTensor)) continue;
    if (t.dtype !== "float32" && t.dtype !== "float16" && t.dtype !== "bfloat16" && t.dtype !== "float64") continue;
    const values = () => {
      const data = ckpt.tensorData(t);
      return data instanceof Float64Array ? Float32Array.from(data) : (data as Float32Array);
    };
    weights.set(k, { shape: t.shape, values });
  }
  // fairseq's upgrade_state_dict_named (renamed weights, BART's <mask> row, classification heads)
  args = upgradeStateDict(args, weights, vocab);

  const rows = (name: string) => weights.get(name)?.shape[0];
  // an adaptive input (fairseq's AdaptiveInput) holds the vocabulary in bands: embeddings.N.0.weight
  const bandRows = () => {
    let n = 0;
    for (let i = 0; weights.has(`decoder.embed_tokens.embeddings.${i}.0.weight`); i++) n += rows(`decoder.embed_tokens.embeddings.${i}.0.weight`)!;
    return n > 0 ? n : undefined;
  };
  const isLm = !weights.has("encoder.embed_tokens.weight");
  const padIdx = vocab.padIdx ?? 1;
  // the dictionaries' sizes, from the embeddings' rows (the same but for models whose embeddings leave entries out)
  const embeddingRows: Record<string, number | undefined> = isLm
    ? { vocabSize: rows("decoder.embed_tokens.weight") ?? bandRows() }
    : { srcVocabSize: rows("encoder.embed_tokens.weight"), tgtVocabSize: rows("decoder.embed_tokens.weight") ?? rows("decoder.output_projection.weight") };
  const sizes = Object.fromEntries(Object.entries(embeddingRows).map(([k, n]) => [k, n === undefined ? undefined : dictionarySizeOf(args, n)])) as {
    vocabSize?: number;
    srcVocabSize?: number;
    tgtVocabSize?: number;
  };
  for (const [k, expected] of Object.entries(vocab)) {
    if (k === "padIdx" || expected === undefined) continue;
    const got = (sizes as Record<string, number | undefined>)[k];
    if (got !== undefined && got !== expected) {
      throw new CheckpointError(
        `vocabulary size mismatch: the checkpoint's ${k.replace("VocabSize", "").replace("vocabSize", "") || ""} embedding has ${embeddingRows[k]} rows${embeddingRows[k] === got ? "" : ` (a dictionary of ${got} symbols)`} but the dictionary has ${expected} symbols (wrong dict.txt for this model?)`,
      );
    }
  }
  const model = buildModelWithWeights(args, { ...sizes, padIdx }, weights);
  return { model, args };
}

/** Read and import a fairseq `.pt` file (Node). Errors name the file. */
export async function loadFairseqCheckpoint(path: string, vocab: ImportVocab = {}, options: LoadOptions = {}): Promise<ImportedModel> {
  const ckpt = await readTorchCheckpoint(path);
  try {
    return importFairseqCheckpoint(ckpt, vocab, options);
  } catch (err) {
    throw checkpointError(err, path);
  } finally {
    ckpt.close();
  }
}

/** Import from bytes (browser or Node); CheckpointErrors name `source` when given. */
export function importFairseqCheckpointBytes(bytes: Uint8Array, vocab: ImportVocab = {}, source?: string, options: LoadOptions = {}): ImportedModel {
  try {
    return importFairseqCheckpoint(loadTorchCheckpoint(bytes), vocab, options);
  } catch (err) {
    throw source === undefined ? err : checkpointError(err, source);
  }
}
