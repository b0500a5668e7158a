export {
  disposeIncrementalState,
  type DecoderExtra,
  type DecoderOutput,
  type EncoderDecoderModel,
  type EncoderOut,
  type FairseqDecoder,
  type FairseqEncoder,
  type FairseqModel,
  type IncrementalState,
  type LanguageModel,
} from "./interfaces.js";
