import type { Dictionary } from "@fairseq-ts/dictionary";
import type { RandomState } from "../rng/mt19937.js";
import { collateTokens } from "./collate.js";
import type { Sample } from "./sample.js";
import type { TokenBlockDataset } from "./token-block-dataset.js";

export interface MonolingualItem {
  id: number;
  source: Int32Array;
  target: Int32Array;
}

/**
 * fairseq's `MonolingualDataset` for language modelling (targets ["future"]): the model reads the
 * block shifted right and predicts the block itself.
 */
export class MonolingualDataset {
  readonly sizes: Int32Array;
  constructor(
    private readonly blocks: TokenBlockDataset,
    readonly vocab: Dictionary,
    readonly shuffle = true,
    readonly addBosToken = false,
  ) {
    this.sizes = blocks.sizes;
  }

  get length(): number {
    return this.blocks.length;
  }

  get(index: number): MonolingualItem {
    const b = this.blocks.get(index);
    let source = b.source;
    let target = b.target;
    if (this.addBosToken) {
      source = Int32Array.from([this.vocab.bos(), ...source]);
      target = Int32Array.from([this.vocab.pad(), ...target]);
    }
    return { id: index, source, target };
  }

  numTokens(index: number): number {
    return this.sizes[index]!;
  }

  /** fairseq's `np.lexsort([permutation, sizes])`: by size, ties in random order. */
  orderedIndices(rng: RandomState): Int32Array {
    const n = this.length;
    const perm = this.shuffle ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    return idx.sort((a, b) => this.sizes[a]! - this.sizes[b]! || perm[a]! - perm[b]!);
  }

  /** fairseq's `monolingual_dataset.collate`: right-padded source and target, ntokens = source tokens. */
  collater(items: readonly MonolingualItem[]): Sample | null {
    if (items.length === 0) return null;
    const pad = this.vocab.pad();
    const eos = this.vocab.eos();
    let ntokens = 0;
    for (const s of items) ntokens += s.source.length;
    return {
      id: Int32Array.from(items, (s) => s.id),
      nsentences: items.length,
      ntokens,
      netInput: {
        srcTokens: collateTokens(
          items.map((s) => s.source),
          pad,
          { eosIdx: eos },
        ),
        srcLengths: Int32Array.from(items, (s) => s.source.length),
        prevOutputTokens: null,
      },
      target: collateTokens(
        items.map((s) => s.target),
        pad,
        { eosIdx: eos },
      ),
    };
  }
}
