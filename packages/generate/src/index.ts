export { BleuScorer, type BleuStat } from "./bleu.js";
export { SequenceGenerator, type GeneratorOptions, type Hypothesis, type Specials } from "./sequence-generator.js";
export { formatD, formatH, formatP, toBase2 } from "./format.js";
export { SequenceScorer } from "./sequence-scorer.js";
export { Translator, fromPretrained, translatorFromFiles, type PretrainedFiles } from "./hub.js";
