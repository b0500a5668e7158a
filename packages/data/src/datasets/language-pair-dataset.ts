import { filterIndicesBySize, reportInvalidSizes, type MaxPositions } from "../batching/filter-by-size.js";
import type { Dictionary } from "@fairseq-ts/dictionary";
import type { TokenSequenceDataset } from "../indexed/mmap-indexed-dataset.js";
import type { RandomState } from "../rng/mt19937.js";
import { argsortDescending, argsortStable, collateTokens, countNonPad, selectRows } from "./collate.js";
import type { Sample } from "./sample.js";

export interface LanguagePairDatasetOptions {
  leftPadSource?: boolean;
  leftPadTarget?: boolean;
  shuffle?: boolean;
  inputFeeding?: boolean;
  appendEosToTarget?: boolean;
  removeEosFromSource?: boolean;
  appendBos?: boolean;
  padToMultiple?: number;
}

export interface PairItem {
  id: number;
  source: Int32Array;
  target: Int32Array | null;
}

/** fairseq's `LanguagePairDataset`: aligned source/target sequences, ordering, filtering, collation. */
export class LanguagePairDataset {
  readonly srcSizes: Int32Array;
  readonly tgtSizes: Int32Array | null;
  readonly leftPadSource: boolean;
  readonly leftPadTarget: boolean;
  readonly shuffle: boolean;
  private readonly o: Required<LanguagePairDatasetOptions>;

  constructor(
    readonly src: TokenSequenceDataset,
    readonly srcDict: Dictionary,
    readonly tgt: TokenSequenceDataset | null = null,
    readonly tgtDict: Dictionary | null = null,
    options: LanguagePairDatasetOptions = {},
  ) {
    if (tgt && tgt.length !== src.length) {
      throw new Error(`source and target must contain the same number of examples (${src.length} vs ${tgt.length})`);
    }
    this.o = {
      leftPadSource: options.leftPadSource ?? true,
      leftPadTarget: options.leftPadTarget ?? false,
      shuffle: options.shuffle ?? true,
      inputFeeding: options.inputFeeding ?? true,
      appendEosToTarget: options.appendEosToTarget ?? false,
      removeEosFromSource: options.removeEosFromSource ?? false,
      appendBos: options.appendBos ?? false,
      padToMultiple: options.padToMultiple ?? 1,
    };
    this.leftPadSource = this.o.leftPadSource;
    this.leftPadTarget = this.o.leftPadTarget;
    this.shuffle = this.o.shuffle;
    this.srcSizes = src.sizes;
    this.tgtSizes = tgt ? tgt.sizes : null;
  }

  get length(): number {
    return this.src.length;
  }

  get(index: number): PairItem {
    let source = this.src.get(index);
    let target = this.tgt ? this.tgt.get(index) : null;
    const eos = this.srcDict.eos();
    if (this.o.appendEosToTarget && target && this.tgtDict) {
      const e = this.tgtDict.eos();
      if (target[target.length - 1] !== e) target = Int32Array.from([...target, e]);
    }
    if (this.o.appendBos) {
      const bos = this.srcDict.bos();
      if (source[0] !== bos) source = Int32Array.from([bos, ...source]);
      if (target && this.tgtDict && target[0] !== this.tgtDict.bos()) target = Int32Array.from([this.tgtDict.bos(), ...target]);
    }
    if (this.o.removeEosFromSource && source[source.length - 1] === eos) source = source.subarray(0, source.length - 1);
    return { id: index, source, target };
  }

  /** Tokens an example occupies in a batch: max(source, target) length. */
  numTokens(index: number): number {
    return Math.max(this.srcSizes[index]!, this.tgtSizes ? this.tgtSizes[index]! : 0);
  }

  /** (source, target) sizes. */
  size(index: number): [number, number] {
    return [this.srcSizes[index]!, this.tgtSizes ? this.tgtSizes[index]! : 0];
  }

  /**
   * fairseq's `ordered_indices`: a random permutation (drawn from `rng`, i.e. numpy's global state
   * seeded by the task) when shuffling, then stable sorts by target and by source length.
   */
  orderedIndices(rng: RandomState): Int32Array {
    let indices = this.o.shuffle ? rng.permutation(this.length) : Int32Array.from({ length: this.length }, (_, i) => i);
    const by = (sizes: Int32Array) => {
      const keys = Int32Array.from(indices, (i) => sizes[i]!);
      const order = argsortStable(keys);
      indices = Int32Array.from(order, (k) => indices[k]!);
    };
    if (this.tgtSizes) by(this.tgtSizes);
    by(this.srcSizes);
    return indices;
  }

  /**
   * fairseq's `filter_indices_by_size` + the task's check: drop examples longer than the max
   * positions; with `ignoreInvalid` false an oversize example is an error, as in fairseq.
   */
  filterIndicesBySize(
    indices: Int32Array,
    maxPositions: MaxPositions | null,
    ignoreInvalid = false,
    warn: ((message: string) => void) | null = null,
  ): { indices: Int32Array; ignored: number[] } {
    const out = filterIndicesBySize(indices, this.srcSizes, this.tgtSizes, maxPositions);
    if (maxPositions != null) reportInvalidSizes(out.ignored, (i) => this.size(i), maxPositions, { ignoreInvalidInputs: ignoreInvalid, warn });
    return out;
  }

  /** fairseq's `collate`: pad, sort by descending source length, build prev_output_tokens. */
  collater(items: readonly PairItem[]): Sample | null {
    if (items.length === 0) return null;
    const pad = this.srcDict.pad();
    const eos = this.srcDict.eos();
    const opts = { eosIdx: eos, padToMultiple: this.o.padToMultiple };
    const srcTokens = collateTokens(
      items.map((s) => s.source),
      pad,
      { ...opts, leftPad: this.o.leftPadSource },
    );
    const srcLens = Int32Array.from(items, (s) => countNonPad(s.source, pad));
    const order = argsortDescending(srcLens);
    const id = Int32Array.from(order, (k) => items[k]!.id);
    const srcLengths = Int32Array.from(order, (k) => srcLens[k]!);
    let target = null;
    let prevOutputTokens = null;
    let ntokens = 0;
    if (items[0]!.target) {
      const tgts = items.map((s) => s.target!);
      target = selectRows(collateTokens(tgts, pad, { ...opts, leftPad: this.o.leftPadTarget }), order);
      for (const t of tgts) ntokens += countNonPad(t, pad);
      if (this.o.inputFeeding) {
        prevOutputTokens = selectRows(collateTokens(tgts, pad, { ...opts, leftPad: this.o.leftPadTarget, moveEosToBeginning: true }), order);
      }
    } else {
      for (const l of srcLengths) ntokens += l;
    }
    return {
      id,
      nsentences: items.length,
      ntokens,
      netInput: { srcTokens: selectRows(srcTokens, order), srcLengths, prevOutputTokens },
      target,
    };
  }
}
