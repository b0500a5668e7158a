/**
 * fairseq v0.10.2's `denoising` task (`fairseq/tasks/denoising.py`, BART pretraining): one dictionary
 * (`dict.txt` plus `<mask>`), blocks of text from a monolingual split, noised by `DenoisingDataset`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DenoisingDataset,
  TokenBlockDataset,
  TorchGenerator,
  filterIndicesBySize,
  reportInvalidSizes,
  stripTokenDataset,
  wholeWordMask,
  wrapBosEos,
  type BreakMode,
  type EpochBatchIterator,
  type MaskLength,
  type Sample,
} from "@fairseq-ts/data";
import { Dictionary } from "@fairseq-ts/dictionary";
import { buildModel, type EncoderDecoderModel, type LanguageModel, type ModelArgs } from "@fairseq-ts/models";
import type { DenoisingTaskFlags } from "./options.js";
import { TaskError, iterator, openSplit, type BatchIteratorOptions, type DatasetImpl, type Task, type TaskDataset } from "./task.js";

export interface DenoisingTaskOptions extends Partial<DenoisingTaskFlags> {
  data: string;
  datasetImpl?: DatasetImpl | null;
  /** `--seed`: seeds each item's numpy draws (with epoch and index) and the torch generator the task's datasets share. */
  seed?: number;
  /** `--bpe`: whole-word masks (`--mask-length word|span-poisson`) ask it where words begin; gpt2 makes "13" the full stop. */
  bpe?: string | null;
  /** The BPE's `is_beginning_of_word` for a dictionary symbol, for a BPE this package does not know (e.g. gpt2 with its encoder.json). */
  isBeginningOfWord?: ((token: string) => boolean) | null;
}

/** Where a BPE's words begin (fairseq's `bpe.is_beginning_of_word`), for the BPEs that define it. */
function beginningOfWord(bpe: string): (token: string) => boolean {
  if (bpe === "sentencepiece") return (t) => ["<unk>", "<s>", "</s>", "<pad>"].includes(t) || t.startsWith("\u2581");
  throw new TaskError(
    `--bpe ${bpe}: whole-word masks (--mask-length word or span-poisson) need the BPE's word starts, which fairseq-ts has for sentencepiece only` +
      (bpe === "subword_nmt" ? " (fairseq's subword_nmt has none either)" : ""),
  );
}

/** fairseq's `denoising` task. */
export class DenoisingTask implements Task {
  readonly name = "denoising" as const;
  /** torch's global generator, seeded with --seed as fairseq-train does first; every split's noise draws from it. */
  readonly torch: TorchGenerator;

  private constructor(
    readonly dataDir: string,
    readonly dictionary: Dictionary,
    readonly maskIdx: number,
    readonly o: DenoisingTaskFlags & DenoisingTaskOptions,
  ) {
    this.torch = new TorchGenerator(o.seed ?? 1);
  }

  static async setup(o: DenoisingTaskOptions, defaults: DenoisingTaskFlags): Promise<DenoisingTask> {
    const dir = o.data.split(":")[0]!;
    if (!existsSync(dir)) throw new TaskError(`data directory not found: '${dir}'`);
    const p = join(dir, "dict.txt");
    if (!existsSync(p)) throw new TaskError(`dictionary not found: ${p}`);
    const dictionary = await Dictionary.load(p);
    const maskIdx = dictionary.addSymbol("<mask>");
    return new DenoisingTask(dir, dictionary, maskIdx, { ...defaults, ...o });
  }

  get sourceDictionary(): Dictionary {
    return this.dictionary;
  }

  get targetDictionary(): Dictionary {
    return this.dictionary;
  }

  /** TokenBlockDataset (tokens-per-sample - 2, no document separator) over the split without </s>, then <s> ... </s>. */
  loadDataset(split: string): DenoisingDataset {
    const o = this.o;
    const d = this.dictionary;
    const base = openSplit(join(this.dataDir, split), split, d, o.datasetImpl ?? null);
    const blocks = new TokenBlockDataset(stripTokenDataset(base, d.eos()), o.tokensPerSample - 2, d.pad(), d.eos(), o.sampleBreakMode as BreakMode, 0);
    const items = wrapBosEos({ length: blocks.length, sizes: blocks.sizes, get: (i) => blocks.get(i).target }, d.bos(), d.eos());
    const bpe = o.bpe ?? null;
    // fairseq's get_whole_word_mask: None without a BPE, so every token then starts a word.
    const bow = o.isBeginningOfWord ?? (bpe !== null ? beginningOfWord(bpe) : null);
    const mask = o.maskLength !== "subword" && bow !== null ? wholeWordMask(d.symbols, d.nspecial, bow) : null;
    return new DenoisingDataset(
      items,
      items.sizes,
      d,
      this.maskIdx,
      mask,
      false,
      o.seed ?? 1,
      {
        mask: o.mask,
        maskRandom: o.maskRandom,
        insert: o.insert,
        rotate: o.rotate,
        permuteSentences: o.permuteSentences,
        replaceLength: o.replaceLength,
        maskLength: o.maskLength as MaskLength,
        poissonLambda: o.poissonLambda,
        bpe,
      },
      this.torch,
    );
  }

  maxPositions(): [number, number] {
    return [this.o.maxSourcePositions, this.o.maxTargetPositions];
  }

  buildModel(args: ModelArgs, seed = 1): EncoderDecoderModel | LanguageModel {
    const n = this.dictionary.length;
    return buildModel(
      { max_source_positions: this.o.maxSourcePositions, max_target_positions: this.o.maxTargetPositions, ...args },
      { srcVocabSize: n, tgtVocabSize: n, padIdx: this.dictionary.pad() },
      { seed },
    );
  }

  getBatchIterator(dataset: TaskDataset, o: BatchIteratorOptions): EpochBatchIterator<unknown, Sample> {
    const ds = dataset as unknown as DenoisingDataset;
    return iterator(dataset, o, (idx) => {
      // fairseq's _filter_by_size_dynamic with one size per item and a (source, target) limit: within both.
      const max =
        o.maxPositions == null ? null : typeof o.maxPositions === "number" ? o.maxPositions : Math.min(...o.maxPositions.filter((x): x is number => x != null));
      if (max == null || !Number.isFinite(max)) return idx;
      const out = filterIndicesBySize(idx, ds.sizes, null, max);
      reportInvalidSizes(out.ignored, (i) => ds.sizes[i]!, max, { ignoreInvalidInputs: o.ignoreInvalidInputs ?? false, warn: o.warn });
      return out.indices;
    });
  }
}
