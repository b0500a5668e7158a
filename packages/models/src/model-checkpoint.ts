import * as tf from "@tensorflow/tfjs-core";
import { importFairseqCheckpointBytes, CheckpointError, type ImportVocab } from "./fairseq-import.js";
import type { EncoderDecoderModel, LanguageModel } from "./interfaces.js";
import { buildModel, type ModelArgs } from "./registry.js";
import { decodeSafetensors, toFloat32 } from "./safetensors.js";

/**
 * Load a model from checkpoint bytes, whichever format: a fairseq `.pt` (zip + pickle, read without
 * executing anything) or a fairseq-ts checkpoint (safetensors with `model.*` weights and the args in
 * its `fairseq_ts` metadata). Works in browsers too (no file access).
 */
export function loadModelCheckpointBytes(bytes: Uint8Array, vocab: ImportVocab & { padIdx: number }): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return importFairseqCheckpointBytes(bytes, vocab);
  const { tensors, metadata } = decodeSafetensors(bytes);
  const raw = metadata.fairseq_ts;
  if (!raw) throw new CheckpointError("not a fairseq or fairseq-ts checkpoint (no fairseq_ts metadata)");
  const meta = JSON.parse(raw) as { args: ModelArgs };
  const model = buildModel({ ...meta.args }, { srcVocabSize: vocab.srcVocabSize, tgtVocabSize: vocab.tgtVocabSize, vocabSize: vocab.vocabSize, padIdx: vocab.padIdx });
  const values = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of tensors) if (name.startsWith("model.")) values.set(name.slice(6), tf.tensor(toFloat32(t), t.shape, "float32"));
    model.loadStateDict(values);
  } catch (err) {
    model.dispose();
    throw new CheckpointError((err as Error).message);
  } finally {
    for (const v of values.values()) v.dispose();
  }
  return { model, args: meta.args };
}
