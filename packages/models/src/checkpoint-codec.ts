import * as tf from "@tensorflow/tfjs-core";
import type { EncoderDecoderModel, FairseqModel, LanguageModel } from "./interfaces.js";
import { buildModel, upgradeStateDict, type ModelArgs, type ModelVocab } from "./registry.js";
import { decodeSafetensors, encodeSafetensors, f32, toFloat32, type SafeTensor } from "./safetensors.js";

/*
 * The fairseq-ts checkpoint format, in one place: a safetensors file whose weights are named
 * `model.<fairseq name>` and whose metadata key `fairseq_ts` holds a JSON object with the model's
 * `args` (fairseq's Namespace, snake_case). Writers may add tensors under their own prefix (the
 * trainer's `optimizer.`) and fields of their own to the JSON; readers of the model ignore both.
 */

/** The safetensors metadata key holding the checkpoint's JSON. */
export const CHECKPOINT_METADATA_KEY = "fairseq_ts";
const MODEL_PREFIX = "model.";

/** A checkpoint that is malformed or does not fit the model/dictionaries; the message names the file. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
  /** The file (or flag and file) the checkpoint came from, when known. */
  readonly source: string | undefined;
  constructor(message: string, source?: string) {
    super(source === undefined ? message : `${source}: ${message}`);
    this.source = source;
  }
}

/** Any failure while reading `source` as a CheckpointError naming it (once). */
export function checkpointError(err: unknown, source?: string): CheckpointError {
  if (err instanceof CheckpointError && (source === undefined || err.source !== undefined)) return err;
  return new CheckpointError(err instanceof CheckpointError ? err.message : err instanceof Error ? err.message : String(err), source);
}

/** The JSON stored under `fairseq_ts`: the model's args plus whatever the writer adds (see the trainer's CheckpointMeta). */
export interface CheckpointMetadata {
  format?: "fairseq-ts";
  version?: 1;
  /** The model/training args, fairseq snake_case names (arch, encoder_embed_dim, …). */
  args: ModelArgs;
  [field: string]: unknown;
}

export interface DecodedCheckpoint {
  metadata: CheckpointMetadata;
  /** Model weights by fairseq name (the `model.` prefix removed). */
  weights: Map<string, SafeTensor>;
  /** Every other tensor, by its full name (e.g. the trainer's `optimizer.<param>.<buffer>`). */
  extraTensors: Map<string, SafeTensor>;
}

/**
 * Serialise a model's parameters as a fairseq-ts checkpoint. `metadata` (args first, then the writer's
 * fields, in the order given) is stored after `format` and `version`; `extraTensors` follow the weights.
 */
export function encodeCheckpoint(
  model: FairseqModel,
  metadata: Omit<CheckpointMetadata, "format" | "version">,
  extraTensors: ReadonlyMap<string, SafeTensor> = new Map(),
): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, v] of model.namedParameters()) tensors.set(`${MODEL_PREFIX}${name}`, f32(v.shape, v.dataSync() as Float32Array));
  for (const [name, t] of extraTensors) {
    if (name.startsWith(MODEL_PREFIX) || tensors.has(name)) throw new CheckpointError(`extra tensor ${name} collides with the model's weights`);
    tensors.set(name, t);
  }
  return encodeSafetensors(tensors, { [CHECKPOINT_METADATA_KEY]: JSON.stringify({ format: "fairseq-ts", version: 1, ...metadata }) });
}

/** Parse a fairseq-ts checkpoint (no tensor is created). Errors are CheckpointErrors naming `source`. */
export function decodeCheckpoint(bytes: Uint8Array, source?: string): DecodedCheckpoint {
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (err) {
    throw checkpointError(err, source);
  }
  const raw = decoded.metadata[CHECKPOINT_METADATA_KEY];
  if (!raw) throw new CheckpointError(`not a fairseq-ts checkpoint (no ${CHECKPOINT_METADATA_KEY} metadata)`, source);
  let metadata: unknown;
  try {
    metadata = JSON.parse(raw);
  } catch {
    throw new CheckpointError("corrupt checkpoint metadata", source);
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))
    throw new CheckpointError("corrupt checkpoint metadata (not a JSON object)", source);
  const weights = new Map<string, SafeTensor>();
  const extraTensors = new Map<string, SafeTensor>();
  for (const [name, t] of decoded.tensors) {
    if (name.startsWith(MODEL_PREFIX)) weights.set(name.slice(MODEL_PREFIX.length), t);
    else extraTensors.set(name, t);
  }
  return { metadata: metadata as CheckpointMetadata, weights, extraTensors };
}

/**
 * The checkpoint inference needs: the weights and the metadata string as they are, without the
 * writer's extra tensors (a training checkpoint's optimizer state).
 */
export function weightsOnlyCheckpoint(bytes: Uint8Array, source?: string): Uint8Array {
  const { weights } = decodeCheckpoint(bytes, source);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of weights) tensors.set(`${MODEL_PREFIX}${name}`, t);
  return encodeSafetensors(tensors, { [CHECKPOINT_METADATA_KEY]: decodeSafetensors(bytes).metadata[CHECKPOINT_METADATA_KEY]! });
}

/** One weight as a reader sees it: its shape and, on demand, its values as float32. */
export interface WeightValues {
  shape: readonly number[];
  values(): Float32Array;
}

/** Load weights by fairseq name into a model (strict: names and shapes must match); the one loop every format uses. */
export function loadWeightValues(model: FairseqModel, weights: Iterable<[string, WeightValues]>, source?: string): void {
  const values = new Map<string, tf.Tensor>();
  try {
    for (const [name, w] of weights) values.set(name, tf.tensor(w.values(), [...w.shape], "float32"));
    model.loadStateDict(values);
  } catch (err) {
    throw checkpointError(err, source);
  } finally {
    for (const v of values.values()) v.dispose();
  }
}

function* safeTensorValues(weights: ReadonlyMap<string, SafeTensor>): Generator<[string, WeightValues]> {
  for (const [name, t] of weights) yield [name, { shape: t.shape, values: () => toFloat32(t) }];
}

/** Load a decoded checkpoint's weights into an existing model (trainer resume, fine-tuning). */
export function loadModelWeights(model: FairseqModel, weights: ReadonlyMap<string, SafeTensor>, source?: string): void {
  loadWeightValues(model, safeTensorValues(weights), source);
}

/** Build the model `args` describe for `vocab` and load `weights` into it; the model is disposed if loading fails. */
export function buildModelWithWeights(
  args: ModelArgs,
  vocab: ModelVocab,
  weights: Iterable<[string, WeightValues]>,
  source?: string,
): EncoderDecoderModel | LanguageModel {
  let model;
  try {
    model = buildModel({ ...args }, vocab);
  } catch (err) {
    throw checkpointError(err, source);
  }
  try {
    loadWeightValues(model, weights, source);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** Build and load the model a decoded fairseq-ts checkpoint holds. */
export function modelFromCheckpoint(
  checkpoint: DecodedCheckpoint,
  vocab: ModelVocab,
  source?: string,
  argOverrides?: Readonly<Record<string, unknown>>,
): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  const stored = checkpoint.metadata.args;
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) throw new CheckpointError("checkpoint metadata has no args", source);
  const weights = new Map(safeTensorValues(checkpoint.weights));
  let upgraded: ModelArgs;
  try {
    // (--model-overrides: set on the stored args before anything reads them, as fairseq's load_checkpoint_to_cpu)
    const args = argOverrides ? ({ ...stored, ...argOverrides } as ModelArgs) : stored;
    upgraded = upgradeStateDict(args, weights, vocab);
  } catch (err) {
    throw checkpointError(err, source);
  }
  return { model: buildModelWithWeights(upgraded, vocab, weights, source), args: upgraded };
}
