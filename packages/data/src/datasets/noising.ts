/**
 * fairseq v0.10.2's `fairseq/data/noising.py`: word shuffle, word dropout and word blanking (the
 * UnsupervisedMT recipe) and `NoisingDataset`, which applies them to each item under
 * `numpy_seed(seed + index)`. The noisers work on a batch laid out as fairseq's (T x B): `columns[b]` is
 * sentence b padded with `<pad>` to the batch's longest, and every numpy draw is made in fairseq's order
 * and count (pads included where fairseq includes them), so the same seed gives the same noise.
 */
import type { TokenSequenceDataset } from "../indexed/mmap-indexed-dataset.js";
import { RandomState } from "../rng/mt19937.js";

/** What the noisers need of a dictionary (fairseq's `Dictionary`). */
export interface NoisingVocab {
  readonly symbols: readonly string[];
  eos(): number;
  pad(): number;
  unk(): number;
}

/** A (T x B) batch: B columns of T token ids each, and each column's real length. */
export interface NoisingBatch {
  columns: Int32Array[];
  lengths: number[];
}

export interface WordNoisingOptions {
  /** A token ending with this continues into the next one (fairseq's default "@@"); "" or null turns it off. */
  bpeContMarker?: string | null;
  /** Used when there is no continuation marker: a token ending with this ends a word. */
  bpeEndMarker?: string | null;
}

function checkBatch(batch: NoisingBatch): number {
  const t = batch.columns[0]?.length ?? 0;
  if (batch.columns.length !== batch.lengths.length) throw new Error(`noising: ${batch.columns.length} columns but ${batch.lengths.length} lengths`);
  batch.columns.forEach((c, b) => {
    if (c.length !== t) throw new Error(`noising: column ${b} has ${c.length} rows, expected ${t} (pad the batch)`);
    if (batch.lengths[b]! < 1 || batch.lengths[b]! > t) throw new Error(`noising: length ${batch.lengths[b]} of column ${b} is outside [1, ${t}]`);
  });
  return t;
}

/** Pads sentences into a (T x B) batch (fairseq's layout for the noisers). */
export function toNoisingBatch(sentences: readonly ArrayLike<number>[], pad: number): NoisingBatch {
  const t = Math.max(0, ...sentences.map((s) => s.length));
  const columns = sentences.map((s) => {
    const c = new Int32Array(t).fill(pad);
    for (let i = 0; i < s.length; i++) c[i] = s[i]!;
    return c;
  });
  return { columns, lengths: sentences.map((s) => s.length) };
}

/** The sentences of a batch, without padding. */
export function fromNoisingBatch(batch: NoisingBatch): Int32Array[] {
  return batch.columns.map((c, b) => c.slice(0, batch.lengths[b]));
}

/** fairseq's `WordNoising`: groups BPE pieces into words so that noise moves or drops whole words. */
export class WordNoising {
  /** Per vocabulary id: does this token end a word? null: every token is a word. */
  protected readonly bpeEnd: Uint8Array | null;

  constructor(
    readonly dictionary: NoisingVocab,
    options: WordNoisingOptions = {},
  ) {
    const cont = options.bpeContMarker === undefined ? "@@" : options.bpeContMarker;
    const end = options.bpeEndMarker ?? null;
    const symbols = dictionary.symbols;
    if (cont) this.bpeEnd = Uint8Array.from(symbols, (s) => (s.endsWith(cont) ? 0 : 1));
    else if (end) this.bpeEnd = Uint8Array.from(symbols, (s) => (s.endsWith(end) ? 1 : 0));
    else this.bpeEnd = null;
  }

  /** For every (t, b): the index of the word token t of column b belongs to (fairseq's `get_word_idx`). */
  wordIndex(batch: NoisingBatch): Int32Array[] {
    const t = checkBatch(batch);
    const bpeEnd = this.bpeEnd;
    if (bpeEnd === null) return batch.columns.map(() => Int32Array.from({ length: t }, (_, i) => i));
    if (t === 1 && batch.columns.length === 1) return [Int32Array.of(0)];
    // fairseq's reverse cumulative sum: word_idx[t] = number of word ends among rows 0..t-1.
    return batch.columns.map((col) => {
      const out = new Int32Array(t);
      let ends = 0;
      for (let i = 0; i < t; i++) {
        out[i] = ends;
        const id = col[i]!;
        if (id < 0 || id >= bpeEnd.length) throw new RangeError(`noising: token id ${id} is outside the dictionary (${bpeEnd.length} symbols)`);
        ends += bpeEnd[id]!;
      }
      return out;
    });
  }
}

/** fairseq's `WordDropout`: drops whole words with probability p, or replaces them by `blankIdx`. */
export class WordDropout extends WordNoising {
  constructor(
    dictionary: NoisingVocab,
    readonly defaultDropoutProb = 0.1,
    options: WordNoisingOptions = {},
  ) {
    super(dictionary, options);
  }

  noising(rng: RandomState, batch: NoisingBatch, dropoutProb?: number, blankIdx?: number): NoisingBatch {
    const p = dropoutProb ?? this.defaultDropoutProb;
    if (p === 0) return batch;
    if (!(p > 0 && p < 1)) throw new RangeError(`WordDropout: dropout probability must be in (0, 1), got ${p}`);
    const wordIdx = this.wordIndex(batch);
    const eos = this.dictionary.eos();
    const sentences: number[][] = [];
    batch.columns.forEach((col, b) => {
      const len = batch.lengths[b]!;
      const wi = wordIdx[b]!;
      let numWords = 0;
      for (const w of wi) numWords = Math.max(numWords, w + 1);
      const hasEos = col[len - 1] === eos;
      const keep: boolean[] = [];
      for (let k = 0; k < (hasEos ? numWords - 1 : numWords); k++) keep.push(rng.random() >= p);
      if (hasEos) keep.push(true);
      const out: number[] = [];
      for (let j = 0; j < len; j++) {
        if (keep[wi[j]!]) out.push(col[j]!);
        else if (blankIdx !== undefined) out.push(blankIdx);
      }
      // At least one word besides the end of sentence: put a random token of the input in front.
      if (out.length <= 1) out.unshift(col[rng.randint(0, len)]!);
      if (!(out.length >= 1 && (!hasEos || (out.length >= 2 && out[out.length - 1] === eos)))) throw new Error("WordDropout: new sentence is invalid");
      sentences.push(out);
    });
    return toNoisingBatch(sentences, this.dictionary.pad());
  }
}

/** fairseq's `WordShuffle`: moves each word by less than k positions (noise uniform in [0, k)). */
export class WordShuffle extends WordNoising {
  /** fairseq ignores its constructor's distance and always uses 3 as the default (kept). */
  readonly defaultMaxShuffleDistance = 3;

  constructor(dictionary: NoisingVocab, options: WordNoisingOptions = {}) {
    super(dictionary, options);
  }

  noising(rng: RandomState, batch: NoisingBatch, maxShuffleDistance?: number): NoisingBatch {
    const k = maxShuffleDistance ?? this.defaultMaxShuffleDistance;
    if (k === 0) return batch;
    if (!(k > 1)) throw new RangeError(`WordShuffle: max shuffle distance must be > 1 (or 0 for none), got ${k}`);
    const t = checkBatch(batch);
    const nb = batch.columns.length;
    // numpy's uniform(0, k, size=(T, B)), row-major; row 0 is -1 so the first word never moves.
    const noise = rng.uniform(0, k, t * nb);
    for (let b = 0; b < nb; b++) noise[b] = -1;
    const wordIdx = this.wordIndex(batch);
    const eos = this.dictionary.eos();
    const columns = batch.columns.map((col, b) => {
      const len = batch.lengths[b]!;
      const lengthNoEos = col[len - 1] === eos ? len - 1 : len;
      const wi = wordIdx[b]!;
      const scores = new Float64Array(lengthNoEos);
      for (let j = 0; j < lengthNoEos; j++) scores[j] = wi[j]! + noise[wi[j]! * nb + b]! + 1e-6 * j;
      const order = Array.from({ length: lengthNoEos }, (_, j) => j).sort((x, y) => scores[x]! - scores[y]! || x - y);
      const out = col.slice();
      for (let j = 0; j < lengthNoEos; j++) out[j] = col[order[j]!]!;
      return out;
    });
    return { columns, lengths: batch.lengths.slice() };
  }
}

export interface UnsupervisedMTNoisingOptions extends WordNoisingOptions {
  maxWordShuffleDistance: number;
  wordDropoutProb: number;
  wordBlankingProb: number;
}

/** The noiser interface `NoisingDataset` takes (fairseq's `WordNoising.noising(x, lengths)`). */
export interface Noiser {
  noising(rng: RandomState, batch: NoisingBatch): NoisingBatch;
}

/** fairseq's `UnsupervisedMTNoising`: word shuffle, then word dropout, then word blanking (to `<unk>`). */
export class UnsupervisedMTNoising extends WordNoising implements Noiser {
  readonly wordDropout: WordDropout;
  readonly wordShuffle: WordShuffle;

  constructor(
    dictionary: NoisingVocab,
    readonly options: UnsupervisedMTNoisingOptions,
  ) {
    super(dictionary);
    const markers = { bpeContMarker: options.bpeContMarker, bpeEndMarker: options.bpeEndMarker };
    this.wordDropout = new WordDropout(dictionary, 0.1, markers);
    this.wordShuffle = new WordShuffle(dictionary, markers);
  }

  noising(rng: RandomState, batch: NoisingBatch): NoisingBatch {
    let x = this.wordShuffle.noising(rng, batch, this.options.maxWordShuffleDistance);
    x = this.wordDropout.noising(rng, x, this.options.wordDropoutProb);
    return this.wordDropout.noising(rng, x, this.options.wordBlankingProb, this.dictionary.unk());
  }
}

/** fairseq's `NoisingDataset`: item i is the noiser's output for item i, drawn after `np.random.seed(seed + i)`. */
export class NoisingDataset {
  readonly noiser: Noiser;

  constructor(
    readonly src: TokenSequenceDataset,
    readonly dictionary: NoisingVocab,
    readonly seed: number,
    noiser: Noiser | UnsupervisedMTNoisingOptions,
  ) {
    this.noiser = "noising" in noiser ? noiser : new UnsupervisedMTNoising(dictionary, noiser);
  }

  get length(): number {
    return this.src.length;
  }

  get(index: number): Int32Array {
    const tokens = this.src.get(index);
    const rng = new RandomState(this.seed + index);
    const out = this.noiser.noising(rng, { columns: [Int32Array.from(tokens)], lengths: [tokens.length] });
    return out.columns[0]!.slice(0, out.lengths[0]);
  }
}
