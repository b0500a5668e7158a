// Public API of @fairseq-ts/data. Each area lives in its own folder; export it here explicitly.

// Binarized datasets and preprocessing (fairseq's indexed_dataset.py, binarizer.py, preprocess.py).
export { bestFittingDtype, type IndexedDtype } from "./indexed/dtypes.js";
export {
  IndexedDatasetError,
  MMapIndexedDataset,
  MMapIndexedDatasetBuilder,
  dataFilePath,
  formatMMapIndex,
  indexFilePath,
  parseMMapIndex,
  type MMapIndex,
  type TokenSequenceDataset,
} from "./indexed/mmap-indexed-dataset.js";
export { RawTextDataset } from "./indexed/raw-text-dataset.js";
export { TextInputError, binarize, countWords, findOffsets, readLines, type BinarizeStats, type ReadLinesOptions } from "./binarizer.js";
export { PreprocessError, preprocess, type PreprocessOptions, type PreprocessResult } from "./preprocess.js";

// Ordering, batching and epoch iteration (fairseq's data_utils, iterators, numpy's RandomState).
export { RandomState, type RandomStateSnapshot } from "./rng/mt19937.js";
export { fairseqNumpySeed, pythonIntHash, pythonTupleHash } from "./rng/python-hash.js";
export { numpyBinomial, numpyLoggam, numpyPoisson, type UniformSource } from "./rng/numpy-random.js";
export { TorchGenerator, torchFloat32Sum } from "./rng/torch-generator.js";
export { argsortDescending, argsortStable, collateTokens, selectRows, type IntMatrix } from "./datasets/collate.js";
export { balanceSamples, splitSample, type Sample } from "./datasets/sample.js";
export { LanguagePairDataset, type LanguagePairDatasetOptions, type PairItem } from "./datasets/language-pair-dataset.js";
export { BatchSizeError, batchBySize, type BatchBySizeOptions } from "./batching/batch-by-size.js";
export {
  InvalidSizeError,
  filterIndicesBySize,
  formatPositions,
  reportInvalidSizes,
  resolveMaxPositions,
  type InvalidSizePolicy,
  type MaxPositions,
} from "./batching/filter-by-size.js";
export {
  CountingIterator,
  EpochBatchIterator,
  EpochIterator,
  shardBatches,
  type CollatableDataset,
  type EpochBatchIteratorOptions,
  type EpochBatchIteratorState,
} from "./iterators/epoch-batch-iterator.js";
export { TokenBlockDataset, blockToDatasetIndex, sliceIndices, type BreakMode, type TokenBlock } from "./datasets/token-block-dataset.js";
export { MonolingualDataset, type MonolingualItem } from "./datasets/monolingual-dataset.js";
export { LMContextWindowDataset } from "./datasets/lm-context-window-dataset.js";
export {
  DenoisingDataset,
  DenoisingError,
  poissonSpanProbs,
  stripTokenDataset,
  wholeWordMask,
  wrapBosEos,
  type DenoisingItem,
  type DenoisingOptions,
  type DenoisingVocab,
  type MaskLength,
} from "./datasets/denoising-dataset.js";
export { truncateSourceDataset } from "./datasets/truncate-source.js";
export {
  NoisingDataset,
  UnsupervisedMTNoising,
  WordDropout,
  WordNoising,
  WordShuffle,
  fromNoisingBatch,
  toNoisingBatch,
  type Noiser,
  type NoisingBatch,
  type NoisingVocab,
  type UnsupervisedMTNoisingOptions,
  type WordNoisingOptions,
} from "./datasets/noising.js";
export { datasetOptions, preprocessOptions, type DatasetOptions, type PreprocessFlags } from "./options.js";
