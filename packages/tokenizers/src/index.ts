export {
  registerTokenizer,
  registerBpe,
  buildTokenizer,
  buildBpe,
  tokenizerNames,
  bpeNames,
  tokenizerOptionsOf,
  bpeOptionsOf,
  type EncoderEntry,
  type Encoder,
  type Tokenizer,
  type Bpe,
  type EncoderOptions,
  type TokenizerFactory,
  type BpeFactory,
} from "./registry.js";
export { SpaceTokenizer } from "./space.js";
export { SentencePieceProcessor } from "./sentencepiece/processor.js";
export { SentencepieceBpe } from "./sentencepiece/bpe.js";
export { parseModelProto, PieceType, type ModelProto, type ModelPiece, type ModelType, type NormalizerSpec, type TrainerSpec } from "./sentencepiece/proto.js";
export type { Encoded } from "./sentencepiece/model.js";
export { MosesTokenizer, MosesDetokenizer, FairseqMosesTokenizer, type MosesTokenizeOptions } from "./moses/moses.js";
export { Gpt2Bpe, Gpt2BpeEncoder } from "./gpt2.js";
export { learnBpe, type LearnBpeOptions } from "./subword-nmt/learn.js";
export { SubwordNmtApplier, SubwordNmtBpe, readVocabulary, type ApplyBpeOptions } from "./subword-nmt/apply.js";

export {
  mosesOptions,
  subwordNmtOptions,
  sentencepieceOptions,
  gpt2Options,
  type MosesOptions,
  type SubwordNmtOptions,
  type SentencepieceOptions,
  type Gpt2Options,
} from "./options.js";
