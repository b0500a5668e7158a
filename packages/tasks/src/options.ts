/**
 * The tasks' own options (fairseq's `TranslationConfig` and `LanguageModelingConfig`), declared once; each task
 * in the task registry carries its group, so the CLI offers `--left-pad-source` with `--task translation` and
 * `--tokens-per-sample` with `--task language_modeling`.
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

const EVAL_BLEU = "BLEU during validation (--eval-bleu) is not implemented: run generate on a checkpoint";

/** `--task translation`. */
export const translationOptions = defineOptions("task", {
  sourceLang: opt.str(null, "source language", { aliases: ["-s"], metavar: "SRC" }),
  targetLang: opt.str(null, "target language", { aliases: ["-t"], metavar: "TARGET" }),
  loadAlignments: opt.refused("alignment datasets (guided alignment training) are not implemented", "flag"),
  leftPadSource: opt.bool(true, "pad the source on the left", { metavar: "BOOL" }),
  leftPadTarget: opt.bool(false, "pad the target on the left", { metavar: "BOOL" }),
  maxSourcePositions: opt.int(1024, "max number of tokens in the source sequence", { metavar: "N" }),
  maxTargetPositions: opt.int(1024, "max number of tokens in the target sequence", { metavar: "N" }),
  upsamplePrimary: opt.refused("upsampling the primary of several training corpora is not implemented (one data directory per split)"),
  truncateSource: opt.flag("truncate source to max-source-positions"),
  numBatchBuckets: opt.refused("length-bucketed padding is a TPU optimization fairseq-ts does not need"),
  evalBleu: opt.refused(EVAL_BLEU, "flag"),
  evalBleuDetok: opt.refused(EVAL_BLEU),
  evalBleuDetokArgs: opt.refused(EVAL_BLEU),
  evalTokenizedBleu: opt.refused(EVAL_BLEU, "flag"),
  evalBleuRemoveBpe: opt.refused(EVAL_BLEU, "optional"),
  evalBleuArgs: opt.refused(EVAL_BLEU),
  evalBleuPrintSamples: opt.refused(EVAL_BLEU, "flag"),
});
export type TranslationOptions = OptionsOf<typeof translationOptions.declarations>;

/** `--task language_modeling`. */
export const languageModelingOptions = defineOptions("task", {
  sampleBreakMode: opt.choice(
    ["none", "complete", "complete_doc", "eos"],
    "none",
    "how blocks of --tokens-per-sample are cut (none, complete, complete_doc, eos)",
    { metavar: "MODE" },
  ),
  tokensPerSample: opt.int(1024, "max number of tokens per sample for LM dataset", { metavar: "N" }),
  outputDictionarySize: opt.refused("limiting the output dictionary is not implemented"),
  selfTarget: opt.refused("only future targets (next-token prediction) are implemented", "flag"),
  futureTarget: opt.refused(
    "only future targets are implemented, and they are the default: the flag changes nothing only in fairseq's multi-target models",
    "flag",
  ),
  pastTarget: opt.refused("only future targets (next-token prediction) are implemented", "flag"),
  addBosToken: opt.refused("prepending <s> to each sample is not implemented", "flag"),
  maxTargetPositions: opt.int(null, "max number of tokens in the target sequence (default: --tokens-per-sample)", { metavar: "N" }),
  shortenMethod: opt.refused("shortening samples (truncate, random_crop) is not implemented"),
  shortenDataSplitList: opt.refused("shortening samples (truncate, random_crop) is not implemented"),
});
export type LanguageModelingOptions = OptionsOf<typeof languageModelingOptions.declarations>;

/** `--task denoising` (fairseq v0.10.2's DenoisingTask.add_args: names, defaults and help). */
export const denoisingOptions = defineOptions("task", {
  tokensPerSample: opt.int(512, "max number of total tokens over all segments per sample for dataset", { metavar: "N" }),
  sampleBreakMode: opt.choice(["none", "complete", "complete_doc", "eos"], "complete_doc", "mode for breaking sentence", { metavar: "MODE" }),
  mask: opt.float(0.0, "fraction of words/subwords that will be masked"),
  maskRandom: opt.float(0.0, "instead of using [MASK], use random token this often"),
  insert: opt.float(0.0, "insert this percentage of additional random tokens"),
  permute: opt.refused("fairseq declares --permute for the denoising task but its DenoisingDataset never reads it (use --permute-sentences)"),
  rotate: opt.float(0.5, "rotate this proportion of inputs"),
  poissonLambda: opt.float(3.0, "randomly shuffle sentences for this proportion of inputs"),
  permuteSentences: opt.float(0.0, "shuffle this proportion of sentences in all inputs"),
  maskLength: opt.choice(["subword", "word", "span-poisson"], "subword", "mask length to choose"),
  replaceLength: opt.int(-1, "when masking N tokens, replace with 0, 1, or N tokens (use -1 for N)"),
  maxSourcePositions: opt.int(1024, "max number of tokens in the source sequence", { metavar: "N" }),
  maxTargetPositions: opt.int(1024, "max number of tokens in the target sequence", { metavar: "N" }),
});
export type DenoisingTaskFlags = OptionsOf<typeof denoisingOptions.declarations>;
