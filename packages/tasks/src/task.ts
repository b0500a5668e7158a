import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  EpochBatchIterator,
  LanguagePairDataset,
  MMapIndexedDataset,
  MonolingualDataset,
  RandomState,
  RawTextDataset,
  TokenBlockDataset,
  batchBySize,
  fairseqNumpySeed,
  filterIndicesBySize,
  reportInvalidSizes,
  truncateSourceDataset,
  type BreakMode,
  type MaxPositions,
  type Sample,
  type TokenSequenceDataset,
} from "@fairseq-ts/data";
import { Dictionary } from "@fairseq-ts/dictionary";
import { buildModel, type EncoderDecoderModel, type LanguageModel, type ModelArgs } from "@fairseq-ts/models";

export class TaskError extends Error {
  override name = "TaskError";
}

export interface BatchIteratorOptions {
  maxTokens?: number | null;
  maxSentences?: number | null;
  /**
   * (source, target) or a single limit, usually `resolveMaxPositions(task.maxPositions(), model.maxPositions())`;
   * examples beyond it raise fairseq's "Size of sample #N is invalid ..." unless ignoreInvalidInputs.
   */
  maxPositions?: MaxPositions | null;
  /** Skip the examples beyond maxPositions, with a warning (fairseq's ignore_invalid_inputs). */
  ignoreInvalidInputs?: boolean;
  /** Receives fairseq's "N samples have invalid sizes and will be skipped, ..." warning. */
  warn?: ((message: string) => void) | null;
  requiredBatchSizeMultiple?: number;
  seed?: number;
  numShards?: number;
  shardId?: number;
  epoch?: number;
  /** Every shard reads the whole group of N batches of each position (its consumer divides the work), see EpochBatchIterator. */
  shareBatchGroups?: boolean;
}

/** The datasets a task builds: items by index, sizes, ordering and collation. */
export interface TaskDataset<Item = unknown> {
  readonly length: number;
  get(index: number): Item;
  collater(items: readonly Item[]): Sample | null;
  numTokens(index: number): number;
  orderedIndices(rng: RandomState): Int32Array;
}

/** What trainer, generate and the CLI need from fairseq's tasks. */
export interface Task {
  readonly name: "translation" | "language_modeling" | "denoising";
  readonly dataDir: string;
  readonly sourceDictionary: Dictionary;
  readonly targetDictionary: Dictionary;
  loadDataset(split: string): TaskDataset;
  buildModel(args: ModelArgs, seed?: number): EncoderDecoderModel | LanguageModel;
  /** fairseq's `get_batch_iterator`: ordered (seeded), filtered, batched, shuffled per epoch. */
  getBatchIterator(dataset: TaskDataset, options: BatchIteratorOptions): EpochBatchIterator<unknown, Sample>;
  maxPositions(): [number, number] | number;
}

/** An mmap dataset (`prefix.bin`/`.idx`), or fairseq's raw text impl (the text file `prefix` itself). */
export function openSplit(prefix: string, what: string, dictionary: Dictionary, impl: DatasetImpl | null = null): TokenSequenceDataset {
  // fairseq's --dataset-impl: the one format to read; unset, whichever exists (mmap first)
  if (impl !== "raw" && existsSync(`${prefix}.idx`) && existsSync(`${prefix}.bin`)) return MMapIndexedDataset.open(prefix);
  if (impl !== "mmap" && existsSync(prefix)) return new RawTextDataset(prefix, dictionary);
  const wanted = impl === "raw" ? `raw text ${prefix}` : impl === "mmap" ? `${prefix}.{bin,idx}` : `${prefix}.{bin,idx} (or raw text ${prefix})`;
  throw new TaskError(`${what}: dataset not found: ${wanted}${impl ? ` (--dataset-impl ${impl})` : ""}`);
}

/** fairseq's `--dataset-impl` values fairseq-ts reads. */
export type DatasetImpl = "mmap" | "raw";

/** Ordered (seeded), filtered and batched: the iterator every task builds. */
export function iterator(ds: TaskDataset, o: BatchIteratorOptions, filter: (idx: Int32Array) => Int32Array) {
  const seed = o.seed ?? 1;
  let indices = ds.orderedIndices(new RandomState(fairseqNumpySeed(seed)));
  indices = filter(indices);
  const batches = batchBySize(indices, (i) => ds.numTokens(i), {
    maxTokens: o.maxTokens,
    maxSentences: o.maxSentences,
    requiredBatchSizeMultiple: o.requiredBatchSizeMultiple ?? 1,
  });
  return new EpochBatchIterator<unknown, Sample>(ds as never, batches, {
    seed,
    numShards: o.numShards,
    shardId: o.shardId,
    epoch: o.epoch,
    shareBatchGroups: o.shareBatchGroups,
  });
}

export interface TranslationTaskOptions {
  data: string;
  sourceLang?: string | null;
  targetLang?: string | null;
  leftPadSource?: boolean;
  leftPadTarget?: boolean;
  maxSourcePositions?: number;
  maxTargetPositions?: number;
  datasetImpl?: DatasetImpl | null;
  /** `--truncate-source`: every source cut to its first max-source-positions - 1 tokens plus </s> (fairseq's dataset chain and sizes). */
  truncateSource?: boolean;
}

/** fairseq's `translation` task over a preprocessed data directory. */
export class TranslationTask implements Task {
  readonly name = "translation" as const;
  private constructor(
    readonly dataDir: string,
    readonly sourceLang: string,
    readonly targetLang: string,
    readonly sourceDictionary: Dictionary,
    readonly targetDictionary: Dictionary,
    private readonly o: TranslationTaskOptions,
  ) {}

  /** Load dictionaries; languages are inferred from `train.src-tgt.*` files like fairseq when not given. */
  static async setup(o: TranslationTaskOptions): Promise<TranslationTask> {
    const dir = o.data.split(":")[0]!;
    // quoted: the positional DATA argument may be blank, "-" or "-0" (a mistyped flag)
    if (!existsSync(dir)) throw new TaskError(`data directory not found: '${dir}'`);
    let src = o.sourceLang ?? null;
    let tgt = o.targetLang ?? null;
    if (!src || !tgt) {
      const m = readdirSync(dir)
        .map((f) => /^(?:train|valid|test)\.([^.-]+)-([^.-]+)\./.exec(f))
        .find(Boolean);
      if (!m) throw new TaskError(`could not infer languages from ${dir}; pass --source-lang and --target-lang`);
      src ??= m[1]!;
      tgt ??= m[2]!;
    }
    const load = async (lang: string) => {
      const p = join(dir, `dict.${lang}.txt`);
      if (!existsSync(p)) throw new TaskError(`dictionary not found: ${p}`);
      return Dictionary.load(p);
    };
    const sd = await load(src);
    const td = await load(tgt);
    if (sd.pad() !== td.pad() || sd.eos() !== td.eos() || sd.unk() !== td.unk()) throw new TaskError("source and target dictionaries disagree on special ids");
    return new TranslationTask(dir, src, tgt, sd, td, o);
  }

  loadDataset(split: string): LanguagePairDataset {
    const prefix = (lang: string) => {
      const a = join(this.dataDir, `${split}.${this.sourceLang}-${this.targetLang}.${lang}`);
      const b = join(this.dataDir, `${split}.${this.targetLang}-${this.sourceLang}.${lang}`);
      return existsSync(`${a}.idx`) || existsSync(a) ? a : existsSync(`${b}.idx`) || existsSync(b) ? b : a;
    };
    let src = openSplit(prefix(this.sourceLang), `${split} (${this.sourceLang})`, this.sourceDictionary, this.o.datasetImpl);
    if (this.o.truncateSource) src = truncateSourceDataset(src, this.sourceDictionary.eos(), this.maxPositions()[0]);
    const tgt = openSplit(prefix(this.targetLang), `${split} (${this.targetLang})`, this.targetDictionary, this.o.datasetImpl);
    return new LanguagePairDataset(src, this.sourceDictionary, tgt, this.targetDictionary, {
      leftPadSource: this.o.leftPadSource ?? true,
      leftPadTarget: this.o.leftPadTarget ?? false,
      // fairseq's translation task does not shuffle the test split (its order fixes generate's output)
      shuffle: split !== "test",
    });
  }

  maxPositions(): [number, number] {
    return [this.o.maxSourcePositions ?? 1024, this.o.maxTargetPositions ?? 1024];
  }

  buildModel(args: ModelArgs, seed = 1): EncoderDecoderModel | LanguageModel {
    return buildModel(
      args,
      { srcVocabSize: this.sourceDictionary.length, tgtVocabSize: this.targetDictionary.length, padIdx: this.sourceDictionary.pad() },
      { seed },
    );
  }

  getBatchIterator(dataset: TaskDataset, o: BatchIteratorOptions): EpochBatchIterator<unknown, Sample> {
    const lp = dataset as unknown as LanguagePairDataset;
    return iterator(dataset, o, (idx) => lp.filterIndicesBySize(idx, o.maxPositions ?? null, o.ignoreInvalidInputs ?? false, o.warn ?? null).indices);
  }
}

export interface LanguageModelingTaskOptions {
  data: string;
  tokensPerSample?: number;
  sampleBreakMode?: BreakMode;
  /** Default: tokensPerSample (fairseq sets max_target_positions to tokens_per_sample when unset). */
  maxTargetPositions?: number | null;
  datasetImpl?: DatasetImpl | null;
}

/** fairseq's `language_modeling` task (targets: future, no bos). */
export class LanguageModelingTask implements Task {
  readonly name = "language_modeling" as const;
  private constructor(
    readonly dataDir: string,
    readonly dictionary: Dictionary,
    private readonly o: LanguageModelingTaskOptions,
  ) {}
  static async setup(o: LanguageModelingTaskOptions): Promise<LanguageModelingTask> {
    const dir = o.data.split(":")[0]!;
    if (!existsSync(dir)) throw new TaskError(`data directory not found: '${dir}'`);
    const p = join(dir, "dict.txt");
    if (!existsSync(p)) throw new TaskError(`dictionary not found: ${p}`);
    return new LanguageModelingTask(dir, await Dictionary.load(p), o);
  }
  get sourceDictionary(): Dictionary {
    return this.dictionary;
  }
  get targetDictionary(): Dictionary {
    return this.dictionary;
  }
  loadDataset(split: string): MonolingualDataset {
    const base = openSplit(join(this.dataDir, split), split, this.dictionary, this.o.datasetImpl);
    const blocks = new TokenBlockDataset(base, this.o.tokensPerSample ?? 1024, this.dictionary.pad(), this.dictionary.eos(), this.o.sampleBreakMode ?? "none");
    return new MonolingualDataset(blocks, this.dictionary, true);
  }
  maxPositions(): number {
    return this.o.maxTargetPositions ?? this.o.tokensPerSample ?? 1024;
  }
  buildModel(args: ModelArgs, seed = 1): EncoderDecoderModel | LanguageModel {
    return buildModel(
      { tokens_per_sample: this.o.tokensPerSample ?? 1024, ...args },
      { vocabSize: this.dictionary.length, padIdx: this.dictionary.pad() },
      { seed },
    );
  }
  getBatchIterator(dataset: TaskDataset, o: BatchIteratorOptions): EpochBatchIterator<unknown, Sample> {
    const mono = dataset as unknown as MonolingualDataset;
    return iterator(dataset, o, (idx) => {
      // FairseqDataset.filter_indices_by_size: one size per block (a pair limit counts by its first number)
      const max = o.maxPositions == null ? null : typeof o.maxPositions === "number" ? o.maxPositions : o.maxPositions[0];
      if (max == null) return idx;
      const out = filterIndicesBySize(idx, mono.sizes, null, max);
      reportInvalidSizes(out.ignored, (i) => mono.sizes[i]!, max, { ignoreInvalidInputs: o.ignoreInvalidInputs ?? false, warn: o.warn });
      return out.indices;
    });
  }
}
