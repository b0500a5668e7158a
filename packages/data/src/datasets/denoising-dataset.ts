/**
 * fairseq v0.10.2's `DenoisingDataset` (`fairseq/data/denoising_dataset.py`): BART's noising of a
 * block of text (sentence permutation, text infilling with Poisson span lengths or whole-word masks,
 * random-token insertion, rotation) and its collater. fairseq draws from two generators and so does
 * this: numpy's (seeded per item by `numpy_seed(seed, epoch, index)`: rotation) and torch's global CPU
 * generator (everything else), which is shared by all items in the order they are read.
 */
import type { TokenSequenceDataset } from "../indexed/mmap-indexed-dataset.js";
import { RandomState } from "../rng/mt19937.js";
import { fairseqNumpySeed } from "../rng/python-hash.js";
import { TorchGenerator, torchFloat32Sum } from "../rng/torch-generator.js";
import { argsortDescending, argsortStable, collateTokens, selectRows } from "./collate.js";
import type { Sample } from "./sample.js";

export type MaskLength = "subword" | "word" | "span-poisson";

/** fairseq's denoising flags (`args.mask`, ...), under the names of the options that declare them. */
export interface DenoisingOptions {
  /** Fraction of words (or subwords) to mask (`--mask`). */
  mask: number;
  /** Fraction of masks that become a random token instead of `<mask>` (`--mask-random`). */
  maskRandom: number;
  /** Random tokens to insert, as a fraction of the length (`--insert`). */
  insert: number;
  /** Fraction of items to rotate (`--rotate`). */
  rotate: number;
  /** Fraction of sentences to permute (`--permute-sentences`). */
  permuteSentences: number;
  /** A masked span becomes 0 tokens, 1 `<mask>`, or (-1) as many masks as it had tokens (`--replace-length`). */
  replaceLength: number;
  maskLength: MaskLength;
  /** Mean span length for `span-poisson` (`--poisson-lambda`). */
  poissonLambda: number;
  /** The BPE in use: with gpt2 a full stop is the token "13", otherwise </s> (fairseq's `full_stop_index`). */
  bpe?: string | null;
}

/** What the dataset needs of fairseq's Dictionary. */
export interface DenoisingVocab {
  readonly length: number;
  bos(): number;
  eos(): number;
  pad(): number;
  index(symbol: string): number;
}

export interface DenoisingItem {
  id: number;
  source: Int32Array;
  target: Int32Array;
}

export class DenoisingError extends Error {
  override name = "DenoisingError";
}

/**
 * fairseq's span-length distribution for `--poisson-lambda`: P(k) = e^-λ λ^k / k! for k = 0, 1, ...
 * until a term falls below 1e-7 (at most 128 terms), as float32, normalised as torch's Categorical does.
 */
export function poissonSpanProbs(lambda: number): Float32Array {
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new DenoisingError(`--poisson-lambda must be a finite number > 0, got ${lambda}`);
  const ps: number[] = [];
  let lambdaToTheK = 1;
  const eToTheMinusLambda = Math.exp(-lambda);
  // Python's int factorial, rounded to a double when divided by (exactly as Python's int / float).
  let kFactorial = 1n;
  for (let k = 0; k < 128; k++) {
    ps.push((eToTheMinusLambda * lambdaToTheK) / Number(kFactorial));
    lambdaToTheK *= lambda;
    kFactorial *= BigInt(k + 1);
    if (ps[ps.length - 1]! < 0.0000001) break;
  }
  const probs = Float32Array.from(ps);
  const sum = torchFloat32Sum(probs);
  for (let i = 0; i < probs.length; i++) probs[i] = probs[i]! / sum;
  return probs;
}

/** Positions where `mask` is set. */
function nonzero(mask: ArrayLike<number | boolean>): number[] {
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.push(i);
  return out;
}

export class DenoisingDataset {
  readonly fullStopIndex: number;
  readonly maskSpanProbs: Float32Array | null;
  epoch = 0;

  /**
   * @param dataset blocks of tokens that start with <s> and end with </s> (fairseq: TokenBlockDataset →
   *   PrependTokenDataset(bos) → AppendTokenDataset(eos))
   * @param maskWholeWords per vocabulary id, 1 when the token starts a word (null: every token does)
   * @param torch torch's global generator (shared by every item read; fairseq-train seeds it with --seed)
   */
  constructor(
    readonly dataset: TokenSequenceDataset,
    readonly sizes: Int32Array,
    readonly vocab: DenoisingVocab,
    readonly maskIdx: number,
    readonly maskWholeWords: Uint8Array | null,
    readonly shuffle: boolean,
    readonly seed: number,
    readonly options: DenoisingOptions,
    readonly torch: TorchGenerator = new TorchGenerator(seed),
    readonly eos: number = vocab.eos(),
  ) {
    this.fullStopIndex = options.bpe !== "gpt2" ? vocab.eos() : vocab.index("13");
    if (![-1, 0, 1].includes(options.replaceLength))
      throw new DenoisingError(`invalid arg: replace_length=${options.replaceLength} (--replace-length is -1, 0 or 1)`);
    if (!["subword", "word", "span-poisson"].includes(options.maskLength)) throw new DenoisingError(`invalid arg: mask-length=${options.maskLength}`);
    if (options.maskLength === "subword" && ![0, 1].includes(options.replaceLength)) {
      throw new DenoisingError("if using subwords, use replace-length=1 or 0 (--mask-length subword --replace-length -1)");
    }
    this.maskSpanProbs = options.maskLength === "span-poisson" ? poissonSpanProbs(options.poissonLambda) : null;
  }

  get length(): number {
    return this.dataset.length;
  }

  setEpoch(epoch: number): void {
    this.epoch = epoch;
  }

  get(index: number): DenoisingItem {
    const o = this.options;
    // numpy_seed(seed, epoch, index): only rotation draws from it, so it is seeded only then.
    const rng = () => new RandomState(fairseqNumpySeed(this.seed, this.epoch, index));
    const tokens = this.dataset.get(index);
    if (tokens[tokens.length - 1] !== this.eos) throw new DenoisingError(`item ${index} does not end with </s> (${this.eos})`);
    let source: Int32Array = Int32Array.from(tokens);
    const target = Int32Array.from(tokens);
    if (o.permuteSentences > 0) source = this.permuteSentences(source, o.permuteSentences);
    if (o.mask > 0) source = this.addWholeWordMask(source, o.mask);
    if (o.insert > 0) source = this.addInsertionNoise(source, o.insert);
    if (o.rotate > 0) {
      const numpy = rng();
      if (numpy.random() < o.rotate) source = this.addRollingNoise(source, numpy);
    }
    const n = this.vocab.length;
    for (let i = 0; i < source.length; i++) {
      if (source[i]! < 0 || source[i]! > n || (i > 0 && i < source.length - 1 && source[i]! < 1))
        throw new DenoisingError(`item ${index}: token ${source[i]} out of range`);
    }
    if (source[0] !== this.vocab.bos() || source[source.length - 1] !== this.eos) throw new DenoisingError(`item ${index}: noised source lost <s> or </s>`);
    return { id: index, source, target };
  }

  /** Swaps a fraction of the sentences (spans ending with a full stop) into a random order. */
  permuteSentences(source: Int32Array, p = 1.0): Int32Array {
    const len = source.length;
    const fullStops = Uint8Array.from(source, (t) => (t === this.fullStopIndex ? 1 : 0));
    // Pretend it ends with a full stop so the last span is a sentence.
    fullStops[len - 2] = 1;
    const sentenceEnds: number[] = [];
    for (let j = 0; j + 1 < len; j++) if (fullStops[j + 1] && !fullStops[j]) sentenceEnds.push(j + 2);
    const result = source.slice();
    const numSentences = sentenceEnds.length;
    const numToPermute = Math.ceil((numSentences * 2 * p) / 2.0);
    const substitutions = Array.from(this.torch.randperm(numSentences).subarray(0, numToPermute));
    const ordering = Array.from({ length: numSentences }, (_, i) => i);
    const shuffled = this.torch.randperm(numToPermute);
    substitutions.forEach((s, k) => (ordering[s] = substitutions[shuffled[k]!]!));
    let index = 1;
    for (const i of ordering) {
      const sentence = source.subarray(i > 0 ? sentenceEnds[i - 1]! : 1, sentenceEnds[i]!);
      result.set(sentence, index);
      index += sentence.length;
    }
    return result;
  }

  /** 1 where a token starts a word (every token without a whole-word mask), 0 at <s> and </s>. */
  wordStarts(source: Int32Array): Int32Array {
    const ws = this.maskWholeWords;
    const out = ws ? Int32Array.from(source, (t) => ws[t]!) : new Int32Array(source.length).fill(1);
    out[0] = 0;
    out[out.length - 1] = 0;
    return out;
  }

  /** Draws `n` random tokens (torch.randint(1, len(vocab))) into `source` at `positions`. */
  private randomTokens(source: Int32Array, positions: number[]): void {
    const draws = this.torch.randint(1, this.vocab.length, positions.length);
    positions.forEach((p, k) => (source[p] = draws[k]!));
  }

  /** BART's text infilling: masks `p` of the words, as spans (Poisson lengths) or single words. */
  addWholeWordMask(source: Int32Array, p: number): Int32Array {
    const o = this.options;
    const isWordStart = this.wordStarts(source);
    let starts = 0;
    for (const w of isWordStart) starts += w;
    // float32 tensor times a Python float: the product is rounded to float32 before the ceil.
    let numToMask = Math.ceil(Math.fround(starts * Math.fround(p)));
    let numInserts = 0;
    if (numToMask === 0) return source;
    let lengths: number[];
    const spanProbs = this.maskSpanProbs;
    if (spanProbs !== null) {
      lengths = Array.from(this.torch.multinomialWithReplacement(spanProbs, numToMask));
      let total = lengths.reduce((a, b) => a + b, 0);
      while (total < numToMask) {
        lengths = lengths.concat(Array.from(this.torch.multinomialWithReplacement(spanProbs, numToMask)));
        total = lengths.reduce((a, b) => a + b, 0);
      }
      // Trim to the masking budget.
      let i = 0;
      let cum = lengths[0]!;
      while (cum < numToMask) cum += lengths[++i]!;
      lengths[i] = numToMask - (cum - lengths[i]!);
      numToMask = i + 1;
      lengths = lengths.slice(0, numToMask).filter((l) => l > 0);
      // 0-length spans become insertions.
      numInserts = numToMask - lengths.length;
      numToMask -= numInserts;
      if (numToMask === 0) return this.addInsertionNoise(source, numInserts / source.length);
    } else {
      lengths = new Array<number>(numToMask).fill(1);
    }
    const wordStartPositions = nonzero(isWordStart);
    const perm = this.torch.randperm(wordStartPositions.length);
    let indices = Array.from(perm.subarray(0, numToMask), (k) => wordStartPositions[k]!);
    const u = this.torch.uniformFloat32(numToMask);
    const randomRatio = Math.fround(o.maskRandom);
    let maskRandom = Array.from(u, (x) => x < randomRatio);
    if (spanProbs !== null && indices.length !== lengths.length)
      throw new DenoisingError(`${lengths.length} spans but ${indices.length} word starts to put them at`);

    const sourceLength = source.length;
    const toKeep = new Uint8Array(sourceLength).fill(1);
    // A long length at </s>, so spans never run over the end of the document.
    isWordStart[sourceLength - 1] = 255;
    const replace = (positions: number[], flags: boolean[]) => {
      for (const q of positions) source[q] = this.maskIdx;
      this.randomTokens(
        source,
        positions.filter((_, k) => flags[k]),
      );
    };
    if (o.replaceLength === 0) for (const q of indices) toKeep[q] = 0;
    else replace(indices, maskRandom);

    if (spanProbs !== null) {
      lengths = lengths.map((l) => l - 1);
      while (indices.length > 0) {
        lengths = lengths.map((l, k) => l - isWordStart[indices[k]! + 1]!);
        const keep = lengths.map((l) => l >= 0);
        indices = indices.filter((_, k) => keep[k]).map((q) => q + 1);
        maskRandom = maskRandom.filter((_, k) => keep[k]);
        lengths = lengths.filter((_, k) => keep[k]);
        if (o.replaceLength !== -1) for (const q of indices) toKeep[q] = 0;
        else replace(indices, maskRandom);
      }
    } else {
      while (indices.length > 0) {
        const keep = indices.map((q) => isWordStart[q + 1] === 0);
        indices = indices.filter((_, k) => keep[k]).map((q) => q + 1);
        maskRandom = maskRandom.filter((_, k) => keep[k]);
        if (o.replaceLength !== -1) for (const q of indices) toKeep[q] = 0;
        else replace(indices, maskRandom);
      }
    }
    let out: Int32Array = source.filter((_, k) => toKeep[k] === 1);
    if (numInserts > 0) out = this.addInsertionNoise(out, numInserts / out.length);
    return out;
  }

  /** Inserts ceil(len * p) tokens: `<mask>`, or random tokens for a `--mask-random` share of them. */
  addInsertionNoise(tokens: Int32Array, p: number): Int32Array {
    if (p === 0.0) return tokens;
    const numTokens = tokens.length;
    const n = Math.ceil(numTokens * p);
    const noiseIndices = Array.from(this.torch.randperm(numTokens + n - 2).subarray(0, n), (k) => k + 1);
    const noiseMask = new Uint8Array(numTokens + n);
    for (const q of noiseIndices) noiseMask[q] = 1;
    const result = new Int32Array(n + numTokens).fill(-1);
    const numRandom = Math.ceil(n * this.options.maskRandom);
    for (const q of noiseIndices.slice(numRandom)) result[q] = this.maskIdx;
    this.randomTokens(result, noiseIndices.slice(0, numRandom));
    let k = 0;
    for (let i = 0; i < result.length; i++) if (!noiseMask[i]) result[i] = tokens[k++]!;
    return result;
  }

  /** Rotates the text between <s> and </s> by a random offset (numpy's draw). */
  addRollingNoise(tokens: Int32Array, rng: RandomState): Int32Array {
    const len = tokens.length;
    const offset = rng.randint(1, Math.max(1, len - 1) + 1);
    const out = new Int32Array(len);
    out[0] = tokens[0]!;
    out.set(tokens.subarray(offset, len - 1), 1);
    out.set(tokens.subarray(1, offset), 1 + Math.max(0, len - 1 - offset));
    out[len - 1] = tokens[len - 1]!;
    return out;
  }

  numTokens(index: number): number {
    return this.sizes[index]!;
  }

  size(index: number): number {
    return this.sizes[index]!;
  }

  /** fairseq's `ordered_indices`: a permutation from `rng` when shuffling, then a stable sort by size. */
  orderedIndices(rng: RandomState): Int32Array {
    const indices = this.shuffle ? rng.permutation(this.length) : Int32Array.from({ length: this.length }, (_, i) => i);
    const order = argsortStable(Int32Array.from(indices, (i) => this.sizes[i]!));
    return Int32Array.from(order, (k) => indices[k]!);
  }

  /**
   * fairseq's denoising `collate`: right-padded source and target, rows sorted by descending source
   * length, prev_output_tokens = target with its last token (</s>) moved to the front.
   */
  collater(items: readonly DenoisingItem[]): Sample | null {
    if (items.length === 0) return null;
    const pad = this.vocab.pad();
    const srcTokens = collateTokens(
      items.map((s) => s.source),
      pad,
    );
    const order = argsortDescending(Int32Array.from(items, (s) => s.source.length));
    const targets = items.map((s) => s.target);
    let ntokens = 0;
    for (const t of targets) ntokens += t.length;
    return {
      id: Int32Array.from(order, (k) => items[k]!.id),
      // fairseq's denoising collater reports the first item's source length here, not the batch size
      // (kept: it is what fairseq logs as bsz for this task).
      nsentences: items[0]!.source.length,
      ntokens,
      netInput: {
        srcTokens: selectRows(srcTokens, order),
        srcLengths: Int32Array.from(order, (k) => items[k]!.source.length),
        prevOutputTokens: selectRows(collateTokens(targets, pad, { moveEosToBeginning: true }), order),
      },
      target: selectRows(collateTokens(targets, pad), order),
    };
  }
}

/**
 * fairseq's `get_whole_word_mask`: per vocabulary id, 1 when the token begins a word. Special symbols
 * (the first `nspecial`) and fairseq's `madeupword` padding always do; the rest as the BPE says.
 */
export function wholeWordMask(symbols: readonly string[], nspecial: number, isBeginningOfWord: (token: string) => boolean): Uint8Array {
  return Uint8Array.from(symbols, (tok, i) => (i < nspecial || tok.startsWith("madeupword") || isBeginningOfWord(tok) ? 1 : 0));
}

/** Wraps a dataset of blocks: strips </s> from both ends of each item, as fairseq's `StripTokenDataset`. */
export function stripTokenDataset(dataset: TokenSequenceDataset, id: number): TokenSequenceDataset {
  return {
    length: dataset.length,
    // fairseq's wrapper reports the wrapped dataset's sizes (before stripping), and TokenBlockDataset cuts by them.
    sizes: dataset.sizes,
    get(i: number): Int32Array {
      const item = dataset.get(i);
      let s = 0;
      let e = item.length;
      while (e > s && item[e - 1] === id) e--;
      while (s < e && item[s] === id) s++;
      return item.subarray(s, e);
    },
  };
}

/** `PrependTokenDataset(bos)` then `AppendTokenDataset(eos)` over items (sizes + 2). */
export function wrapBosEos(
  dataset: { readonly length: number; readonly sizes: Int32Array; get(i: number): Int32Array },
  bos: number,
  eos: number,
): TokenSequenceDataset {
  return {
    length: dataset.length,
    sizes: Int32Array.from(dataset.sizes, (s) => s + 2),
    get(i: number): Int32Array {
      const item = dataset.get(i);
      const out = new Int32Array(item.length + 2);
      out[0] = bos;
      out.set(item, 1);
      out[item.length + 1] = eos;
      return out;
    },
  };
}
