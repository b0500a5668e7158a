import { copyFile, readFile, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { failpoint, writeFileAtomic } from "@fairseq-ts/runtime";
import { decodeSafetensors, encodeSafetensors, f32, toFloat32, type FairseqModel, type SafeTensor } from "@fairseq-ts/models";
import type { Optimizer, OptimizerState } from "@fairseq-ts/optim";

/** Everything besides tensors that a fairseq-ts checkpoint holds (fairseq's `args` + `extra_state`). */
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

export class CheckpointFileError extends Error {
  override name = "CheckpointFileError";
}

const META_KEY = "fairseq_ts";

/** Serialise model weights (+ optimizer buffers) and state into safetensors bytes. */
export function encodeCheckpoint(model: FairseqModel, optimizer: Optimizer | null, meta: Omit<CheckpointMeta, "format" | "version" | "optimizer">): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, v] of model.namedParameters()) tensors.set(`model.${name}`, f32(v.shape, v.dataSync() as Float32Array));
  let optMeta: CheckpointMeta["optimizer"] = null;
  if (optimizer) {
    const st = optimizer.stateDict();
    for (const [param, bufs] of Object.entries(st.buffers)) {
      for (const [k, b] of Object.entries(bufs)) tensors.set(`optimizer.${param}.${k}`, f32(b.shape, b.data instanceof Float32Array ? b.data : Float32Array.from(b.data)));
    }
    // `extra`: optimizer scalars beyond lr/step (NAG's previous lr, Adafactor's per-parameter steps)
    optMeta = st.extra ? { name: st.name, lr: st.lr, step: st.step, extra: st.extra } : { name: st.name, lr: st.lr, step: st.step };
  }
  const full: CheckpointMeta = { format: "fairseq-ts", version: 1, ...meta, optimizer: optMeta };
  return encodeSafetensors(tensors, { [META_KEY]: JSON.stringify(full) });
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  /** Model weights by fairseq name. */
  model: Map<string, SafeTensor>;
  /** The optimizer's state, or null when the checkpoint has none. */
  optimizer: OptimizerState | null;
}

export function decodeCheckpoint(bytes: Uint8Array, source = "<checkpoint>"): LoadedCheckpoint {
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (err) {
    throw new CheckpointFileError(`${source}: ${(err as Error).message}`);
  }
  const raw = decoded.metadata[META_KEY];
  if (!raw) throw new CheckpointFileError(`${source}: not a fairseq-ts checkpoint (no ${META_KEY} metadata)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw new CheckpointFileError(`${source}: corrupt checkpoint metadata`);
  }
  const model = new Map<string, SafeTensor>();
  const buffers: OptimizerState["buffers"] = {};
  for (const [name, t] of decoded.tensors) {
    if (name.startsWith("model.")) model.set(name.slice(6), t);
    else if (name.startsWith("optimizer.")) {
      const rest = name.slice(10);
      const cut = rest.lastIndexOf(".");
      const param = rest.slice(0, cut);
      (buffers[param] ??= {})[rest.slice(cut + 1)] = { shape: t.shape, data: toFloat32(t) };
    }
  }
  const optimizer = meta.optimizer ? { ...meta.optimizer, buffers } : null;
  return { meta, model, optimizer };
}

/** Load weights into a model (strict: names and shapes must match). */
export function loadModelWeights(model: FairseqModel, weights: Map<string, SafeTensor>, source: string): void {
  const values = new Map<string, tf.Tensor>();
  try {
    for (const [k, t] of weights) values.set(k, tf.tensor(toFloat32(t), t.shape, "float32"));
    model.loadStateDict(values);
  } catch (err) {
    throw new CheckpointFileError(`${source}: ${(err as Error).message}`);
  } finally {
    for (const v of values.values()) v.dispose();
  }
}

/** Write `bytes` to the first path atomically and copy it to the others (each copy atomic too). */
export async function writeCheckpointFiles(paths: string[], bytes: Uint8Array): Promise<void> {
  if (paths.length === 0) return;
  await writeFileAtomic(paths[0]!, bytes);
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

export async function readCheckpointFile(path: string): Promise<LoadedCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new CheckpointFileError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return decodeCheckpoint(bytes, path);
}
