export {
  registerTokenizer,
  registerBpe,
  buildTokenizer,
  buildBpe,
  tokenizerNames,
  bpeNames,
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

import { registerBpe, registerTokenizer } from "./registry.js";
import { SentencepieceBpe } from "./sentencepiece/bpe.js";
import { Gpt2Bpe } from "./gpt2.js";
import { FairseqMosesTokenizer } from "./moses/moses.js";
import { SpaceTokenizer } from "./space.js";
import { SubwordNmtBpe } from "./subword-nmt/apply.js";

registerTokenizer("space", () => new SpaceTokenizer());
registerTokenizer("moses", (opts) => new FairseqMosesTokenizer(opts));
registerBpe("sentencepiece", (opts) => SentencepieceBpe.fromOptions(opts));
registerBpe("subword_nmt", (opts) => SubwordNmtBpe.fromOptions(opts));
registerBpe("gpt2", (opts) => Gpt2Bpe.fromOptions(opts));
