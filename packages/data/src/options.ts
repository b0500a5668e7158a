/**
 * The data package's option groups, declared once (fairseq's `DatasetConfig` and fairseq-preprocess's
 * "Preprocessing" group): type, default, help and fairseq's flag. The CLI derives its flags from them and
 * library callers get typed objects (`datasetOptions.resolve({...})`).
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

/** fairseq's `dataset_data_loading` group (`DatasetConfig`): batching, subsets, validation cadence. */
export const datasetOptions = defineOptions("dataset", {
  numWorkers: opt.refused("fairseq-ts loads batches in the process that uses them (no data-loader workers)"),
  skipInvalidSizeInputsValidTest: opt.flag("ignore too long or too short lines in valid and test set"),
  maxTokens: opt.int(null, "maximum number of tokens in a batch", { metavar: "N" }),
  batchSize: opt.int(null, "number of examples in a batch", { metavar: "N", aliases: ["--max-sentences"] }),
  requiredBatchSizeMultiple: opt.int(8, "batch size will be a multiple of this value", { metavar: "N" }),
  requiredSeqLenMultiple: opt.refused("padding sequence lengths to a multiple is a GPU tensor-core optimization fairseq-ts does not need"),
  datasetImpl: opt.choice(["raw", "mmap"], null, "dataset implementation to read (raw text or mmap .bin/.idx; default: whichever exists)", {
    metavar: "FORMAT",
  }),
  dataBufferSize: opt.refused("fairseq-ts has no background data prefetching"),
  trainSubset: opt.str("train", "data subset to use for training (e.g. train, valid, test)", { metavar: "SPLIT" }),
  validSubset: opt.str("valid", "comma separated list of data subsets to use for validation (e.g. train, valid, test)", { metavar: "SPLIT" }),
  validateInterval: opt.int(1, "validate every N epochs", { metavar: "N" }),
  validateIntervalUpdates: opt.int(0, "validate every N updates", { metavar: "N" }),
  validateAfterUpdates: opt.int(0, "dont validate until reaching this many updates", { metavar: "N" }),
  fixedValidationSeed: opt.refused("validation in fairseq-ts draws no random numbers (no sampling), so there is no seed to fix"),
  disableValidation: opt.flag("disable validation"),
  maxTokensValid: opt.int(null, "maximum number of tokens in a validation batch (defaults to --max-tokens)", { metavar: "N" }),
  batchSizeValid: opt.int(null, "batch size of the validation batch (defaults to --batch-size)", { metavar: "N" }),
  curriculum: opt.refused("curriculum learning (unshuffled first epochs) is not implemented"),
  genSubset: opt.str("test", "data subset to generate (train, valid, test)", { metavar: "SPLIT" }),
  numShards: opt.int(1, "shard generation over N shards", { metavar: "N" }),
  shardId: opt.int(0, "id of the shard to generate (id < num_shards)", { metavar: "ID" }),
});
export type DatasetOptions = OptionsOf<typeof datasetOptions.declarations>;

/** fairseq-preprocess's options (its "Preprocessing" group and `--dataset-impl`). */
export const preprocessOptions = defineOptions("preprocess", {
  sourceLang: opt.str(null, "source language", { flag: "--source-lang", aliases: ["-s"], metavar: "SRC" }),
  targetLang: opt.str(null, "target language", { flag: "--target-lang", aliases: ["-t"], metavar: "TARGET" }),
  trainpref: opt.str(null, "train file prefix (also used to build dictionaries)", { metavar: "FP" }),
  validpref: opt.str(null, "comma separated, valid file prefixes (words missing from train set are replaced with <unk>)", { metavar: "FP" }),
  testpref: opt.str(null, "comma separated, test file prefixes (words missing from train set are replaced with <unk>)", { metavar: "FP" }),
  alignSuffix: opt.refused("alignment files (--align-suffix) are not binarized by fairseq-ts"),
  destdir: opt.str("data-bin", "destination dir", { metavar: "DIR" }),
  thresholdtgt: opt.int(0, "map words appearing less than threshold times to unknown", { metavar: "N" }),
  thresholdsrc: opt.int(0, "map words appearing less than threshold times to unknown", { metavar: "N" }),
  tgtdict: opt.str(null, "reuse given target dictionary", { metavar: "FP" }),
  srcdict: opt.str(null, "reuse given source dictionary", { metavar: "FP" }),
  nwordstgt: opt.int(-1, "number of target words to retain", { metavar: "N" }),
  nwordssrc: opt.int(-1, "number of source words to retain", { metavar: "N" }),
  alignfile: opt.refused("alignment files are not binarized by fairseq-ts"),
  datasetImpl: opt.choice(["mmap", "raw"], "mmap", "output dataset implementation (mmap .bin/.idx, or raw text)", { metavar: "FORMAT" }),
  joinedDictionary: opt.flag("generate joined dictionary"),
  onlySource: opt.flag("only process the source language"),
  paddingFactor: opt.int(8, "pad dictionary size to be multiple of N", { metavar: "N" }),
  workers: opt.int(1, "number of parallel workers", { metavar: "N" }),
  /** fairseq-ts only (later fairseq versions have it too). */
  dictOnly: opt.flag("if true, only builds a dictionary and then exits"),
});
export type PreprocessFlags = OptionsOf<typeof preprocessOptions.declarations>;
