export { BleuScorer, type BleuStat } from "./bleu.js";
export { computeSacreBleu, formatSacreBleu, sacreBleu, tokenize13a, type SacreBleuOptions, type SacreBleuScore, type SacreBleuTokenize } from "./sacrebleu.js";
export { SequenceGenerator, type GeneratorOptions, type Hypothesis, type Specials } from "./sequence-generator.js";
export { formatD, formatH, formatP, toBase2 } from "./format.js";
export { SequenceScorer } from "./sequence-scorer.js";
export { Translator, fromPretrained, textPipeline, translatorFromFiles, type PretrainedFiles, type TextPipeline } from "./hub.js";
export { attentionArgmax, extractHardAlignment, parseAlignDict, replaceUnk } from "./alignment.js";
export { evalLmOptions, generationOptions, generatorOptionsFrom, interactiveOptions, sacrebleuScoringOptions, scorers, type EvalLmOptions, type GenerationOptions, type InteractiveOptions, type SacrebleuScoringOptions, type ScorerEntry } from "./options.js";
