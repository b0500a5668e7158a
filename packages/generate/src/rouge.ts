import { RandomState } from "@fairseq-ts/data";
import { porterStem } from "./porter-stemmer.js";

/**
 * ROUGE as Google's `rouge-score` package computes it (rouge_scorer.py, tokenize.py, scoring.py):
 * ROUGE-N (any n in 1..9), ROUGE-L (LCS of the token lists) and ROUGE-Lsum (summary-level LCS over
 * newline-separated sentences), each as precision / recall / F1.
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** "rouge1".."rouge9", "rougeL" or "rougeLsum" (rouge-score's names). */
export type RougeType = string;

export interface RougeOptions {
  /** Defaults to rouge1, rouge2, rougeL, rougeLsum. */
  types?: readonly RougeType[];
  /** Porter-stem (NLTK's) tokens longer than three characters. */
  useStemmer?: boolean;
}

export const DEFAULT_ROUGE_TYPES: readonly RougeType[] = ["rouge1", "rouge2", "rougeL", "rougeLsum"];

const ZERO: RougeScore = Object.freeze({ precision: 0, recall: 0, fmeasure: 0 });

/** scoring.fmeasure: the harmonic mean, 0 when precision and recall are both 0. */
export function rougeFmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function scoreFromCounts(hits: number, targetCount: number, predictionCount: number): RougeScore {
  const precision = hits / predictionCount;
  const recall = hits / targetCount;
  return { precision, recall, fmeasure: rougeFmeasure(precision, recall) };
}

/**
 * rouge-score's default tokenizer: lowercase, every run of characters outside [a-z0-9] becomes a space,
 * split on whitespace, stem tokens longer than 3 characters when asked, keep only non-empty [a-z0-9]+ tokens.
 */
export function rougeTokenize(text: string, useStemmer = false): string[] {
  const words = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .split(/\s+/);
  const out: string[] = [];
  for (const w of words) {
    const token = useStemmer && w.length > 3 ? porterStem(w) : w;
    if (/^[a-z0-9]+$/.test(token)) out.push(token);
  }
  return out;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  // tokens are [a-z0-9]+, so a space joins them without ambiguity
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(" ");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** ROUGE-N: clipped n-gram overlap over prediction n-grams (P) and target n-grams (R); an empty side divides by 1 as rouge-score does. */
export function rougeN(targetTokens: readonly string[], predictionTokens: readonly string[], n: number): RougeScore {
  const target = ngramCounts(targetTokens, n);
  const prediction = ngramCounts(predictionTokens, n);
  let overlap = 0;
  let targetTotal = 0;
  let predictionTotal = 0;
  for (const [gram, c] of target) {
    overlap += Math.min(c, prediction.get(gram) ?? 0);
    targetTotal += c;
  }
  for (const c of prediction.values()) predictionTotal += c;
  const precision = overlap / Math.max(predictionTotal, 1);
  const recall = overlap / Math.max(targetTotal, 1);
  return { precision, recall, fmeasure: rougeFmeasure(precision, recall) };
}

/** The (rows+1)×(cols+1) LCS length table of `_lcs_table`, flattened row-major. */
function lcsTable<T>(ref: readonly T[], can: readonly T[]): Int32Array {
  const cols = can.length + 1;
  const t = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      t[i * cols + j] = ref[i - 1] === can[j - 1] ? t[(i - 1) * cols + j - 1]! + 1 : Math.max(t[(i - 1) * cols + j]!, t[i * cols + j - 1]!);
    }
  }
  return t;
}

/** Length of the longest common subsequence. */
export function lcsLength<T>(ref: readonly T[], can: readonly T[]): number {
  return lcsTable(ref, can)[ref.length * (can.length + 1) + can.length]!;
}

/**
 * Indices into `ref` of one LCS, read back as `_backtrack_norec` does (on a tie it moves up, i.e. drops a
 * `ref` token, unless the cell to the left is strictly larger). Which LCS is chosen matters for ROUGE-Lsum.
 */
export function lcsIndices<T>(ref: readonly T[], can: readonly T[]): number[] {
  const t = lcsTable(ref, can);
  const cols = can.length + 1;
  let i = ref.length;
  let j = can.length;
  const out: number[] = [];
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i * cols + j - 1]! > t[(i - 1) * cols + j]!) j--;
    else i--;
  }
  return out.reverse();
}

/** ROUGE-L: LCS over prediction length (P) and target length (R); 0 when either side is empty. */
export function rougeL(targetTokens: readonly string[], predictionTokens: readonly string[]): RougeScore {
  if (targetTokens.length === 0 || predictionTokens.length === 0) return { ...ZERO };
  return scoreFromCounts(lcsLength(targetTokens, predictionTokens), targetTokens.length, predictionTokens.length);
}

/** The tokens of `ref` in the union (sorted by position in `ref`) of its LCS with each candidate sentence. */
export function unionLcs<T>(ref: readonly T[], candidates: readonly (readonly T[])[]): T[] {
  const union = new Set<number>();
  for (const c of candidates) for (const i of lcsIndices(ref, c)) union.add(i);
  return [...union].sort((a, b) => a - b).map((i) => ref[i]!);
}

/**
 * ROUGE-Lsum, `_summary_level_lcs` (Lin 2004 §3.2): for each reference sentence the union LCS with all
 * candidate sentences; a union token is a hit only while both summaries still have an unused copy of it
 * (ROUGE-1.5.5's guard against counting a token twice). P = hits / candidate tokens, R = hits / reference tokens.
 */
export function summaryLevelLcs<T>(refSents: readonly (readonly T[])[], canSents: readonly (readonly T[])[]): RougeScore {
  if (refSents.length === 0 || canSents.length === 0) return { ...ZERO };
  const m = refSents.reduce((s, x) => s + x.length, 0);
  const n = canSents.reduce((s, x) => s + x.length, 0);
  if (m === 0 || n === 0) return { ...ZERO };
  const countsRef = new Map<T, number>();
  const countsCan = new Map<T, number>();
  for (const s of refSents) for (const t of s) countsRef.set(t, (countsRef.get(t) ?? 0) + 1);
  for (const s of canSents) for (const t of s) countsCan.set(t, (countsCan.get(t) ?? 0) + 1);
  let hits = 0;
  for (const r of refSents) {
    for (const t of unionLcs(r, canSents)) {
      const cc = countsCan.get(t) ?? 0;
      const cr = countsRef.get(t) ?? 0;
      if (cc > 0 && cr > 0) {
        hits++;
        countsCan.set(t, cc - 1);
        countsRef.set(t, cr - 1);
      }
    }
  }
  return scoreFromCounts(hits, m, n);
}

const ROUGE_N = /^rouge([0-9])$/;

function checkType(type: RougeType): void {
  if (type === "rougeL" || type === "rougeLsum") return;
  const m = ROUGE_N.exec(type);
  if (m === null) throw new Error(`invalid ROUGE type '${type}' (expected rouge1..rouge9, rougeL or rougeLsum)`);
  if (Number(m[1]) <= 0) throw new Error(`invalid ROUGE type '${type}': rougeN requires n >= 1`);
}

/** rouge-score's `RougeScorer`: `score(target, prediction)` and `scoreMulti(targets, prediction)`. */
export class RougeScorer {
  readonly types: readonly RougeType[];
  readonly useStemmer: boolean;

  constructor(types: readonly RougeType[] = DEFAULT_ROUGE_TYPES, useStemmer = false) {
    if (types.length === 0) throw new Error("RougeScorer: no ROUGE types given");
    for (const t of types) checkType(t);
    this.types = [...types];
    this.useStemmer = useStemmer;
  }

  /** Scores of `prediction` against one `target`, keyed by ROUGE type. Note rouge-score's argument order: target first. */
  score(target: string, prediction: string): Record<RougeType, RougeScore> {
    const targetTokens = rougeTokenize(target, this.useStemmer);
    const predictionTokens = rougeTokenize(prediction, this.useStemmer);
    const result: Record<RougeType, RougeScore> = {};
    for (const type of this.types) {
      if (type === "rougeL") result[type] = rougeL(targetTokens, predictionTokens);
      else if (type === "rougeLsum") {
        // sentences are the non-empty lines (rouge-score without split_summaries)
        const sents = (text: string): string[][] =>
          text
            .split("\n")
            .filter((s) => s.length > 0)
            .map((s) => rougeTokenize(s, this.useStemmer));
        result[type] = summaryLevelLcs(sents(target), sents(prediction));
      } else result[type] = rougeN(targetTokens, predictionTokens, Number(type.slice(5)));
    }
    return result;
  }

  /**
   * `score_multi`: per ROUGE type, the whole score (P, R, F) against the target with the highest F1; on a tie
   * the first such target (numpy's argmax). Each type may take a different target.
   */
  scoreMulti(targets: readonly string[], prediction: string): Record<RougeType, RougeScore> {
    if (targets.length === 0) throw new Error("RougeScorer.scoreMulti: no targets given");
    const all = targets.map((t) => this.score(t, prediction));
    const result: Record<RougeType, RougeScore> = {};
    for (const type of this.types) {
      let best = all[0]![type]!;
      for (const s of all) if (s[type]!.fmeasure > best.fmeasure) best = s[type]!;
      result[type] = best;
    }
    return result;
  }
}

/** One-call form: scores of `prediction` against `reference` (a string, or several references scored as `score_multi`). */
export function rougeScore(prediction: string, reference: string | readonly string[], options: RougeOptions = {}): Record<RougeType, RougeScore> {
  const scorer = new RougeScorer(options.types ?? DEFAULT_ROUGE_TYPES, options.useStemmer ?? false);
  return typeof reference === "string" ? scorer.score(reference, prediction) : scorer.scoreMulti(reference, prediction);
}

export interface AggregateScore {
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

export interface BootstrapOptions {
  /** Two-sided confidence interval on the mean, in [0, 1] (default 0.95: the 2.5th and 97.5th percentiles). */
  confidenceInterval?: number;
  /** Number of bootstrap resamples (default 1000). */
  nSamples?: number;
  /** Seed of the resampling draws: numpy's legacy generator after `np.random.seed(seed)` (default 0). */
  seed?: number;
}

/** numpy.percentile's default ('linear'): the value at rank q/100·(n−1) of the sorted data, interpolated. */
export function percentileLinear(sorted: readonly number[], q: number): number {
  const rank = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const frac = rank - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

/**
 * rouge-score's `BootstrapAggregator`: nSamples times, draw as many examples as were added, uniformly with
 * replacement, and take the mean P, R and F; low / mid / high are the (1−ci)/2, 50th and 1−(1−ci)/2
 * percentiles of those means (mid is the median of the resampled means, as in rouge-score, not the plain mean).
 * The same resample indices serve P, R and F of a type, as numpy indexes whole rows.
 */
export class BootstrapAggregator {
  private readonly confidenceInterval: number;
  private readonly nSamples: number;
  private readonly seed: number;
  private readonly scores = new Map<RougeType, RougeScore[]>();

  constructor(options: BootstrapOptions = {}) {
    const ci = options.confidenceInterval ?? 0.95;
    const n = options.nSamples ?? 1000;
    if (!(ci >= 0 && ci <= 1)) throw new Error(`BootstrapAggregator: confidenceInterval must be in [0, 1], got ${ci}`);
    if (!(Number.isInteger(n) && n > 0)) throw new Error(`BootstrapAggregator: nSamples must be a positive integer, got ${n}`);
    this.confidenceInterval = ci;
    this.nSamples = n;
    this.seed = options.seed ?? 0;
  }

  addScores(scores: Record<RougeType, RougeScore>): void {
    for (const [type, s] of Object.entries(scores)) {
      let list = this.scores.get(type);
      if (list === undefined) this.scores.set(type, (list = []));
      list.push(s);
    }
  }

  aggregate(): Record<RougeType, AggregateScore> {
    const delta = (1 - this.confidenceInterval) / 2;
    const qs = [100 * delta, 50, 100 * (1 - delta)] as const;
    const result: Record<RougeType, AggregateScore> = {};
    // rouge-score resamples with np.random.choice(np.arange(n), size=n) (legacy: randint(0, n, n)) from numpy's global
    // generator, one type after another in insertion order: the same stream, seeded as np.random.seed(seed).
    const rng = new RandomState(this.seed);
    for (const [type, list] of this.scores) {
      const n = list.length;
      const means: [number[], number[], number[]] = [[], [], []];
      for (let s = 0; s < this.nSamples; s++) {
        let p = 0;
        let r = 0;
        let f = 0;
        for (const k of rng.randintArray(0, n, n)) {
          const x = list[k]!;
          p += x.precision;
          r += x.recall;
          f += x.fmeasure;
        }
        means[0].push(p / n);
        means[1].push(r / n);
        means[2].push(f / n);
      }
      for (const m of means) m.sort((a, b) => a - b);
      const at = (q: number): RougeScore => ({
        precision: percentileLinear(means[0], q),
        recall: percentileLinear(means[1], q),
        fmeasure: percentileLinear(means[2], q),
      });
      result[type] = { low: at(qs[0]), mid: at(qs[1]), high: at(qs[2]) };
    }
    return result;
  }
}
