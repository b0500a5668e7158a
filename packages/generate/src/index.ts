export { BleuScorer, type BleuStat } from "./bleu.js";
export { computeSacreBleu, formatSacreBleu, sacreBleu, tokenize13a, type SacreBleuOptions, type SacreBleuScore, type SacreBleuTokenize } from "./sacrebleu.js";
export { generateInChunks, rowsPerChunk, type ChunkOptions } from "./chunked-generation.js";
export { SequenceGenerator, type GeneratorOptions, type Hypothesis, type Specials } from "./sequence-generator.js";
export {
  ConstraintNode,
  ConstraintSequence,
  OrderedConstraintState,
  UnorderedConstraintState,
  createConstraintState,
  packConstraints,
  unpackConstraints,
  type Constraint,
  type ConstraintState,
} from "./constraints.js";
export { EnsembleModel, LanguageModelFusion, splitPaths, type EnsembleStep } from "./ensemble.js";
export { formatD, formatH, formatP, toBase2 } from "./format.js";
export { LanguageModelScorer, SequenceScorer, gatherTargetLogProbs, type LanguageModelScore } from "./sequence-scorer.js";
export {
  BARTHubInterface,
  InvalidInputSizeError,
  Translator,
  fromPretrained,
  generateForSources,
  inferenceSizeCheck,
  textPipeline,
  translatorFromFiles,
  type InferenceSizeOptions,
  type PretrainedFiles,
  type TextPipeline,
} from "./hub.js";
export { attentionArgmax, extractHardAlignment, parseAlignDict, replaceUnk } from "./alignment.js";
export { PythonLiteralError, parseModelOverrides, parsePythonLiteral, type PyLiteral } from "./python-literal.js";
export { retainDropoutAtInference, type RetainDropoutOptions } from "./retain-dropout.js";
export {
  chunkOptionsFrom,
  evalLmOptions,
  generationOptions,
  generatorOptionsFrom,
  interactiveOptions,
  rougeScoringOptions,
  sacrebleuScoringOptions,
  scorers,
  type EvalLmOptions,
  type GenerationOptions,
  type InteractiveOptions,
  type RougeScoringOptions,
  type SacrebleuScoringOptions,
  type ScorerEntry,
} from "./options.js";
export {
  BootstrapAggregator,
  DEFAULT_ROUGE_TYPES,
  RougeScorer,
  lcsIndices,
  lcsLength,
  percentileLinear,
  rougeFmeasure,
  rougeL,
  rougeN,
  rougeScore,
  rougeTokenize,
  summaryLevelLcs,
  unionLcs,
  type AggregateScore,
  type BootstrapOptions,
  type RougeOptions,
  type RougeScore,
  type RougeType,
} from "./rouge.js";
export { CorpusRougeScorer, formatCorpusRouge, type CorpusRougeOptions, type CorpusRougeResult } from "./rouge-corpus.js";
export { porterStem } from "./porter-stemmer.js";
