import { TorchTensor, bufferSource, loadTorchCheckpoint, openFileSource, type ByteSource, type FileSource } from "@fairseq-ts/torch-load";
import { checkpointError, modelFromCheckpointSource, readCheckpointHeader } from "./checkpoint-codec.js";
import { importFairseqCheckpoint, type ImportVocab, type LoadOptions } from "./fairseq-import.js";
import type { EncoderDecoderModel, LanguageModel } from "./interfaces.js";
import type { ModelArgs } from "./registry.js";

/**
 * Load a model from a checkpoint, whichever format: a fairseq `.pt` (zip + pickle, read without executing
 * anything) or a fairseq-ts checkpoint (safetensors with `model.*` weights and the args in its `fairseq_ts`
 * metadata). `checkpoint` is the file's bytes (browsers) or a ByteSource over the file (Node: torch-load's
 * `fileSource`), from which only the directory/header and the model's weights are read, each straight into
 * its array and loaded before the next is read: no whole-file buffer, nothing of a training checkpoint's
 * optimizer state, files over 2 GiB. Errors are CheckpointErrors naming `source` (a file name, or the flag
 * and file) when given. `options.argOverrides` replace stored args before the model is built (fairseq's
 * arg_overrides, generate's --model-overrides).
 */
export function loadModelCheckpoint(
  checkpoint: Uint8Array | ByteSource,
  vocab: ImportVocab & { padIdx: number },
  source?: string,
  options: LoadOptions = {},
): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  const src = checkpoint instanceof Uint8Array ? bufferSource(checkpoint) : checkpoint;
  let head: Uint8Array;
  try {
    head = src.read(0, Math.min(9, src.size));
  } catch (err) {
    throw checkpointError(err, source);
  }
  // a zip (PyTorch) starts with a local file header "PK\x03\x04"; a safetensors file with its header's byte length
  // (8 bytes, little-endian) and then the JSON header's "{": the length alone can start with "PK" (19,280 bytes)
  const zip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04 && head[8] !== 0x7b;
  if (zip) {
    try {
      return importFairseqCheckpoint(loadTorchCheckpoint(src), vocab, options);
    } catch (err) {
      throw source === undefined ? err : checkpointError(err, source);
    }
  }
  const sizes = { srcVocabSize: vocab.srcVocabSize, tgtVocabSize: vocab.tgtVocabSize, vocabSize: vocab.vocabSize, padIdx: vocab.padIdx };
  return modelFromCheckpointSource(src, sizes, source, options.argOverrides);
}

/** `loadModelCheckpoint` from bytes (kept for callers holding a buffer). */
export function loadModelCheckpointBytes(
  bytes: Uint8Array,
  vocab: ImportVocab & { padIdx: number },
  source?: string,
  options: LoadOptions = {},
): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  return loadModelCheckpoint(bytes, vocab, source, options);
}

/**
 * Open a checkpoint file for `loadModelCheckpoint` (Node only): positioned reads, nothing read yet.
 * `close()` it once the model is loaded. Errors name the file.
 */
export async function openCheckpointFile(path: string): Promise<FileSource> {
  return openFileSource(path);
}

/**
 * The bytes a checkpoint's model weights take once loaded (float32), from its directory/header alone (the
 * pickle of a `.pt`, the JSON header of a safetensors file): what a caller needs to pick a backend before
 * loading (wasm's heap is 32-bit: at most 4 GiB for weights and activations together). Tied weights count once.
 */
export function checkpointWeightBytes(checkpoint: Uint8Array | ByteSource): number {
  const src = checkpoint instanceof Uint8Array ? bufferSource(checkpoint) : checkpoint;
  const head = src.read(0, Math.min(9, src.size));
  const zip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04 && head[8] !== 0x7b;
  let bytes = 0;
  if (zip) {
    const root = loadTorchCheckpoint(src).root;
    const state: unknown = root instanceof Map ? root.get("model") : undefined;
    if (!(state instanceof Map)) return 0;
    const seen = new Set<string>();
    for (const t of state.values()) {
      if (!(t instanceof TorchTensor) || !t.dtype.startsWith("float") || t.dtype === "float64") continue;
      const key = `${t.storage.key}:${t.storageOffset}:${t.numel}`;
      if (seen.has(key)) continue;
      seen.add(key);
      bytes += t.numel * 4;
    }
    return bytes;
  }
  for (const ref of readCheckpointHeader(src).weights.values()) bytes += ref.dtype === "F32" ? ref.byteLength : (ref.byteLength / BYTES_OF[ref.dtype]!) * 4;
  return bytes;
}

const BYTES_OF: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
