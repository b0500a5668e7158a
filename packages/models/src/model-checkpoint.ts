import { decodeCheckpoint, modelFromCheckpoint } from "./checkpoint-codec.js";
import { importFairseqCheckpointBytes, type ImportVocab, type LoadOptions } from "./fairseq-import.js";
import type { EncoderDecoderModel, LanguageModel } from "./interfaces.js";
import type { ModelArgs } from "./registry.js";

/**
 * Load a model from checkpoint bytes, whichever format: a fairseq `.pt` (zip + pickle, read without
 * executing anything) or a fairseq-ts checkpoint (safetensors with `model.*` weights and the args in
 * its `fairseq_ts` metadata). Works in browsers too (no file access). Errors are CheckpointErrors
 * naming `source` (a file name, or the flag and file) when given. `options.argOverrides` replace stored args before
 * the model is built (fairseq's arg_overrides, generate's --model-overrides).
 */
export function loadModelCheckpointBytes(
  bytes: Uint8Array,
  vocab: ImportVocab & { padIdx: number },
  source?: string,
  options: LoadOptions = {},
): { model: EncoderDecoderModel | LanguageModel; args: ModelArgs } {
  // a zip (PyTorch) starts with a local file header "PK\x03\x04"; a safetensors file with its header's byte length
  // (8 bytes, little-endian) and then the JSON header's "{": the length alone can start with "PK" (19,280 bytes)
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04 && bytes[8] !== 0x7b;
  if (zip) return importFairseqCheckpointBytes(bytes, vocab, source, options);
  const sizes = { srcVocabSize: vocab.srcVocabSize, tgtVocabSize: vocab.tgtVocabSize, vocabSize: vocab.vocabSize, padIdx: vocab.padIdx };
  return modelFromCheckpoint(decodeCheckpoint(bytes, source), sizes, source, options.argOverrides);
}
