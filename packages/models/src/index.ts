export {
  disposeIncrementalState,
  type DecoderExtra,
  type DecoderForwardOptions,
  type DecoderOutput,
  type EncoderDecoderModel,
  type EncoderOut,
  type FairseqDecoder,
  type FairseqEncoder,
  type FairseqModel,
  type IncrementalState,
  type LanguageModel,
  type AdaptiveSoftmaxLayer,
  type AdaptiveSoftmaxTerms,
} from "./interfaces.js";
export { transformerLmParameterShapes, transformerParameterShapes, type ParameterShapes } from "./param-shapes.js";
export { AdaptiveInput, AdaptiveSoftmax, adaptiveCutoff, parseCutoff } from "./adaptive.js";
export { BaseModel } from "./base-model.js";
export { logSoftmax, makePositions, sinusoidalTable, ParamStore, SeededRandom, type ActivationFn } from "./modules.js";
export { MultiheadAttention } from "./multihead-attention.js";
export {
  TransformerDecoder,
  TransformerEncoder,
  TransformerAlignModel,
  TransformerLanguageModel,
  TransformerModel,
  upgradeTransformerStateDict,
  type TokenEmbedder,
  type TransformerAlignArgs,
  type TransformerArgs,
} from "./transformer.js";
export {
  BARTClassificationHead,
  BARTModel,
  bartBase,
  bartLarge,
  mbartBase,
  mbartBaseWmt20,
  mbartLarge,
  upgradeBartStateDict,
  type BartArgs,
  type ClassificationHeadSpec,
} from "./bart.js";
export { AttentionLayer, LSTMDecoder, LSTMEncoder, LSTMModel, evalBool, lstmBase, type LSTMArgs } from "./lstm.js";
export {
  applyArchitecture,
  buildModel,
  dictionarySizeOf,
  listArchitectures,
  modelOptionsOf,
  modelParameterShapes,
  registerArchitecture,
  registerModel,
  transformerAlign,
  transformerBase,
  transformerLmBase,
  transformerLmBaevskiGbw,
  transformerLmBaevskiWiki103,
  transformerLmBig,
  transformerVaswaniWmtEnDeBig,
  transformerWmtEnDeBig,
  transformerWmtEnDeBigAlign,
  upgradeStateDict,
  type ArchitecturePreset,
  type ModelArgs,
  type ModelSpec,
  type ModelVocab,
} from "./registry.js";
export {
  CHECKPOINT_METADATA_KEY,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  layoutCheckpoint,
  loadModelWeights,
  modelFromCheckpointSource,
  readCheckpointHeader,
  type CheckpointHeader,
  type WeightValues,
  modelFromCheckpoint,
  weightsOnlyCheckpoint,
  type CheckpointMetadata,
  type DecodedCheckpoint,
} from "./checkpoint-codec.js";
export {
  importFairseqCheckpoint,
  importFairseqCheckpointBytes,
  loadFairseqCheckpoint,
  type ImportVocab,
  type ImportedModel,
  type LoadOptions,
} from "./fairseq-import.js";
export {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  f32,
  layoutSafetensors,
  readFloat32,
  readSafeTensor,
  readSafetensorsHeader,
  toFloat32,
  type SafeDtype,
  type SafeTensor,
  type SafeTensorRef,
  type SafeTensorWriter,
  type SafetensorsLayout,
  type SafetensorsSource,
} from "./safetensors.js";
export { checkpointWeightBytes, loadModelCheckpoint, loadModelCheckpointBytes, openCheckpointFile } from "./model-checkpoint.js";
export type { ByteSource, FileSource } from "@fairseq-ts/torch-load";
export { disposeTensorSample, sampleToTensors, type TensorSample } from "./tensor-sample.js";
export {
  bartOptions,
  lstmOptions,
  modelSelectionOptions,
  transformerAlignOptions,
  transformerLmOptions,
  transformerOptions,
  type BartOptions,
  type LstmOptions,
  type TransformerLmOptions,
  type TransformerAlignOptions,
  type TransformerOptions,
} from "./options.js";
