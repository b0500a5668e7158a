import { copyFile, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { failpoint, writeFileAtomic, type StreamedFile } from "@fairseq-ts/runtime";
import {
  CheckpointError,
  decodeCheckpoint as decodeModelCheckpoint,
  encodeCheckpoint as encodeModelCheckpoint,
  f32,
  layoutCheckpoint,
  openCheckpointFile,
  readCheckpointHeader,
  readFloat32,
  readSafeTensor,
  toFloat32,
  type FairseqModel,
  type FileSource,
  type SafeTensor,
  type SafeTensorWriter,
} from "@fairseq-ts/models";
import type { Optimizer, OptimizerState } from "@fairseq-ts/optim";

/*
 * The trainer's part of a checkpoint: the optimizer's buffers (tensors `optimizer.<param>.<buffer>`) and
 * its state beside the model's args (fairseq's `extra_state`). The format itself (weights, metadata key,
 * errors, loading weights into a model) is @fairseq-ts/models' checkpoint codec.
 */

/** Everything besides tensors that a fairseq-ts training checkpoint holds (fairseq's `args` + `extra_state`). */
export interface CheckpointMeta {
  format: "fairseq-ts";
  version: 1;
  /** The model/training args, fairseq snake_case names (arch, encoder_embed_dim, …). */
  args: Record<string, unknown>;
  numUpdates: number;
  optimizer: Omit<OptimizerState, "buffers"> | null;
  lrScheduler: Record<string, unknown> | null;
  /** train_iterator, val_loss, best, metrics, … */
  extraState: Record<string, unknown>;
}

const OPTIMIZER_PREFIX = "optimizer.";

/** Serialise model weights, the optimizer's buffers and the training state into safetensors bytes. */
export function encodeCheckpoint(model: FairseqModel, optimizer: Optimizer | null, meta: Omit<CheckpointMeta, "format" | "version" | "optimizer">): Uint8Array {
  const buffers = new Map<string, SafeTensor>();
  let optMeta: CheckpointMeta["optimizer"] = null;
  if (optimizer) {
    const st = optimizer.stateDict();
    for (const [param, bufs] of Object.entries(st.buffers)) {
      for (const [k, b] of Object.entries(bufs))
        buffers.set(`${OPTIMIZER_PREFIX}${param}.${k}`, f32(b.shape, b.data instanceof Float32Array ? b.data : Float32Array.from(b.data)));
    }
    // `extra`: optimizer scalars beyond lr/step (NAG's previous lr, Adafactor's per-parameter steps)
    optMeta = st.extra ? { name: st.name, lr: st.lr, step: st.step, extra: st.extra } : { name: st.name, lr: st.lr, step: st.step };
  }
  return encodeModelCheckpoint(model, { ...meta, optimizer: optMeta }, buffers);
}

/**
 * The same checkpoint as `encodeCheckpoint`, byte for byte, laid out to stream to disk (`writeCheckpointFiles`):
 * the header first, then each weight read off the backend and each optimizer buffer written in turn at
 * running 64-bit-safe offsets, so that a checkpoint over 2 GiB (a transformer-big with its Adam state) is
 * never one buffer.
 */
export function checkpointFile(model: FairseqModel, optimizer: Optimizer | null, meta: Omit<CheckpointMeta, "format" | "version" | "optimizer">): StreamedFile {
  const buffers = new Map<string, SafeTensorWriter>();
  let optMeta: CheckpointMeta["optimizer"] = null;
  if (optimizer) {
    const st = optimizer.stateDict();
    for (const [param, bufs] of Object.entries(st.buffers)) {
      for (const [k, b] of Object.entries(bufs)) {
        buffers.set(`${OPTIMIZER_PREFIX}${param}.${k}`, {
          dtype: "F32",
          shape: b.shape,
          data: () => {
            const v = b.data instanceof Float32Array ? b.data : Float32Array.from(b.data);
            return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
          },
        });
      }
    }
    optMeta = st.extra ? { name: st.name, lr: st.lr, step: st.step, extra: st.extra } : { name: st.name, lr: st.lr, step: st.step };
  }
  return layoutCheckpoint(model, { ...meta, optimizer: optMeta }, buffers);
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  /** Model weights by fairseq name (load them with the models package's `loadModelWeights`). */
  model: Map<string, SafeTensor>;
  /** The optimizer's state, or null when the checkpoint has none. */
  optimizer: OptimizerState | null;
}

/** Parse a training checkpoint; errors are the models codec's CheckpointError naming `source`. */
export function decodeCheckpoint(bytes: Uint8Array, source = "<checkpoint>"): LoadedCheckpoint {
  const { metadata, weights, extraTensors } = decodeModelCheckpoint(bytes, source);
  const meta = metadata as unknown as CheckpointMeta;
  const buffers: OptimizerState["buffers"] = {};
  for (const [name, t] of extraTensors) {
    if (!name.startsWith(OPTIMIZER_PREFIX)) continue;
    const rest = name.slice(OPTIMIZER_PREFIX.length);
    const cut = rest.lastIndexOf(".");
    let data: Float32Array;
    try {
      data = toFloat32(t);
    } catch (err) {
      throw new CheckpointError(`${name}: ${(err as Error).message}`, source);
    }
    (buffers[rest.slice(0, cut)] ??= {})[rest.slice(cut + 1)] = { shape: t.shape, data };
  }
  const optimizer = meta.optimizer ? { ...meta.optimizer, buffers } : null;
  return { meta, model: weights, optimizer };
}

/** Write `data` (bytes, or a `checkpointFile` streamed) to the first path atomically and copy it to the others (each copy atomic too). */
export async function writeCheckpointFiles(paths: string[], data: Uint8Array | StreamedFile): Promise<void> {
  if (paths.length === 0) return;
  await writeFileAtomic(paths[0]!, data);
  for (const p of paths.slice(1)) {
    const tmp = join(dirname(p), `.${process.pid}.copy.tmp`);
    await copyFile(paths[0]!, tmp);
    failpoint("checkpoint-copy:before-rename");
    await rename(tmp, p).catch(async (err) => {
      await unlink(tmp).catch(() => {});
      throw err;
    });
  }
}

/**
 * Read a training checkpoint from disk with positioned reads: the header, then each tensor into a buffer of
 * its own (no whole-file buffer, so files over 2 GiB read). Errors are CheckpointErrors naming `path`.
 */
export async function readCheckpointFile(path: string): Promise<LoadedCheckpoint> {
  let src: FileSource;
  try {
    src = await openCheckpointFile(path);
  } catch (err) {
    const msg = (err as Error).message;
    throw new CheckpointError(msg.startsWith(`${path}: `) ? msg.slice(path.length + 2) : msg, path);
  }
  try {
    const { metadata, weights, extraTensors } = readCheckpointHeader(src, path);
    const meta = metadata as unknown as CheckpointMeta;
    const model = new Map<string, SafeTensor>();
    for (const [name, ref] of weights) model.set(name, readSafeTensor(src, ref));
    const buffers: OptimizerState["buffers"] = {};
    for (const [name, ref] of extraTensors) {
      if (!name.startsWith(OPTIMIZER_PREFIX)) continue;
      const rest = name.slice(OPTIMIZER_PREFIX.length);
      const cut = rest.lastIndexOf(".");
      let data: Float32Array;
      try {
        data = readFloat32(src, ref);
      } catch (err) {
        throw new CheckpointError(`${name}: ${(err as Error).message}`, path);
      }
      (buffers[rest.slice(0, cut)] ??= {})[rest.slice(cut + 1)] = { shape: ref.shape, data };
    }
    const optimizer = meta.optimizer ? { ...meta.optimizer, buffers } : null;
    return { meta, model, optimizer };
  } finally {
    src.close();
  }
}
