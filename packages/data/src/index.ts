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
export { TextInputError, binarize, countWords, findOffsets, readLines, type BinarizeStats, type ReadLinesOptions } from "./binarizer.js";
export { PreprocessError, preprocess, type PreprocessOptions, type PreprocessResult } from "./preprocess.js";
