import * as tf from "@tensorflow/tfjs-core";
import type { EncoderDecoderModel, FairseqModel, LanguageModel } from "./interfaces.js";
import { buildModel, upgradeStateDict, type ModelArgs, type ModelVocab } from "./registry.js";
import { BaseModel } from "./base-model.js";
import {
  decodeSafetensors,
  f32,
  encodeSafetensors,
  layoutSafetensors,
  readFloat32,
  readSafetensorsHeader,
  toFloat32,
  type SafeTensor,
  type SafeTensorRef,
  type SafeTensorWriter,
  type SafetensorsLayout,
  type SafetensorsSource,
} from "./safetensors.js";

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
 * Lay out a model's parameters as a fairseq-ts checkpoint without holding it in memory: each weight is read
 * off the backend only when it is written. `metadata` (args first, then the writer's fields, in the order
 * given) is stored after `format` and `version`; `extraTensors` follow the weights.
 */
export function layoutCheckpoint(
  model: FairseqModel,
  metadata: Omit<CheckpointMetadata, "format" | "version">,
  extraTensors: ReadonlyMap<string, SafeTensorWriter> = new Map(),
): SafetensorsLayout {
  const tensors = new Map<string, SafeTensorWriter>();
  for (const [name, v] of model.namedParameters()) {
    tensors.set(`${MODEL_PREFIX}${name}`, {
      dtype: "F32",
      shape: v.shape,
      data: () => {
        const values = v.dataSync() as Float32Array;
        return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      },
    });
  }
  for (const [name, t] of extraTensors) {
    if (name.startsWith(MODEL_PREFIX) || tensors.has(name)) throw new CheckpointError(`extra tensor ${name} collides with the model's weights`);
    tensors.set(name, t);
  }
  return layoutSafetensors(tensors, { [CHECKPOINT_METADATA_KEY]: JSON.stringify({ format: "fairseq-ts", version: 1, ...metadata }) });
}

/**
 * Serialise a model's parameters as a fairseq-ts checkpoint in one buffer (small models, browsers);
 * `layoutCheckpoint` streams instead.
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

/** The metadata JSON and the weights/extra split of a checkpoint's tensors, whichever way they are held. */
function splitCheckpoint<T>(
  meta: Record<string, string>,
  tensors: ReadonlyMap<string, T>,
  source?: string,
): { metadata: CheckpointMetadata; weights: Map<string, T>; extraTensors: Map<string, T> } {
  const raw = meta[CHECKPOINT_METADATA_KEY];
  if (!raw) throw new CheckpointError(`not a fairseq-ts checkpoint (no ${CHECKPOINT_METADATA_KEY} metadata)`, source);
  let metadata: unknown;
  try {
    metadata = JSON.parse(raw);
  } catch {
    throw new CheckpointError("corrupt checkpoint metadata", source);
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))
    throw new CheckpointError("corrupt checkpoint metadata (not a JSON object)", source);
  const weights = new Map<string, T>();
  const extraTensors = new Map<string, T>();
  for (const [name, t] of tensors) {
    if (name.startsWith(MODEL_PREFIX)) weights.set(name.slice(MODEL_PREFIX.length), t);
    else extraTensors.set(name, t);
  }
  return { metadata: metadata as CheckpointMetadata, weights, extraTensors };
}

/** Parse a fairseq-ts checkpoint (no tensor is created). Errors are CheckpointErrors naming `source`. */
export function decodeCheckpoint(bytes: Uint8Array, source?: string): DecodedCheckpoint {
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (err) {
    throw checkpointError(err, source);
  }
  return splitCheckpoint(decoded.metadata, decoded.tensors, source);
}

/** A fairseq-ts checkpoint whose header alone has been read: tensors are read from its source on demand. */
export interface CheckpointHeader {
  metadata: CheckpointMetadata;
  /** Model weights by fairseq name (the `model.` prefix removed). */
  weights: Map<string, SafeTensorRef>;
  /** Every other tensor, by its full name (the trainer's `optimizer.<param>.<buffer>`). */
  extraTensors: Map<string, SafeTensorRef>;
}

/**
 * Read a fairseq-ts checkpoint's header from `src` (a file read with positioned reads: no whole-file
 * buffer, so files over 2 GiB read too). Errors are CheckpointErrors naming `source`.
 */
export function readCheckpointHeader(src: SafetensorsSource, source?: string): CheckpointHeader {
  let header;
  try {
    header = readSafetensorsHeader(src);
  } catch (err) {
    throw checkpointError(err, source);
  }
  return splitCheckpoint(header.metadata, header.tensors, source);
}

/** Build and load the model a checkpoint read from `src` holds: each weight read from `src` straight into its array, one at a time. */
export function modelFromCheckpointSource(
  src: SafetensorsSource,
  vocab: ModelVocab,
  source?: string,
  argOverrides?: Readonly<Record<string, unknown>>,
): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  const header = readCheckpointHeader(src, source);
  const weights = new Map<string, WeightValues>();
  for (const [name, ref] of header.weights) weights.set(name, { shape: ref.shape, values: () => readFloat32(src, ref) });
  return modelFromWeights(header.metadata, weights, vocab, source, argOverrides);
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
  // a model that loads its state dict the plain way (not BART's upgrade) takes its weights one at a time:
  // memory holds the model and one weight, not the model and a second copy of all its weights
  if (model instanceof BaseModel && model.loadStateDict === BaseModel.prototype.loadStateDict) {
    try {
      loadWeightsOneByOne(model, new Map(weights));
    } catch (err) {
      throw checkpointError(err, source);
    }
    return;
  }
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

/**
 * BaseModel.loadStateDict's strict check (missing, unexpected, shape) on shapes alone, then each weight
 * read, assigned and released in turn. Tied aliases are not read (loadStateDict ignores their values too).
 */
function loadWeightsOneByOne(model: BaseModel, weights: ReadonlyMap<string, WeightValues>): void {
  const params = model.namedParameters();
  const names = new Set(model.stateDict().keys());
  const ignorable = (k: string) => k.endsWith(".version") || k.endsWith("._float_tensor");
  const problems: string[] = [];
  for (const [name, v] of params) {
    const w = weights.get(name);
    if (!w) problems.push(`missing ${name}`);
    else if (!tf.util.arraysEqual([...w.shape], v.shape)) problems.push(`${name}: shape [${w.shape}] in the checkpoint, [${v.shape}] in the model`);
  }
  for (const k of weights.keys()) if (!names.has(k) && !ignorable(k)) problems.push(`unexpected ${k}`);
  if (problems.length > 0) throw new Error(`state dict does not fit the model:\n  ${problems.slice(0, 20).join("\n  ")}`);
  for (const [name, v] of params) {
    const t = tf.tensor(weights.get(name)!.values(), v.shape, "float32");
    v.assign(t);
    t.dispose();
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
  return modelFromWeights(checkpoint.metadata, new Map(safeTensorValues(checkpoint.weights)), vocab, source, argOverrides);
}

function modelFromWeights(
  metadata: CheckpointMetadata,
  weights: Map<string, WeightValues>,
  vocab: ModelVocab,
  source?: string,
  argOverrides?: Readonly<Record<string, unknown>>,
): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  const stored = metadata.args;
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) throw new CheckpointError("checkpoint metadata has no args", source);
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
