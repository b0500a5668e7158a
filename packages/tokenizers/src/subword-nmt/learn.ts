import { compareCodePoints, hasPySpace, PY_SPACE_CHARS } from "@fairseq-ts/dictionary";
import { stripChars } from "../pystr.js";

export interface LearnBpeOptions {
  /** Stop when no pair occurs at least this often (subword-nmt --min-frequency, default 2). */
  minFrequency?: number;
  /** Subtract the number of distinct characters from numSymbols (--total-symbols). */
  totalSymbols?: boolean;
  /** Lines are "word count" pairs (--dict-input). */
  dictInput?: boolean;
  /** Called for every merge (like --verbose): its index, the pair and its frequency. */
  onMerge?: (index: number, first: string, second: string, frequency: number) => void;
}

type Word = string[];

const STRIP = "\r\n ";

/** get_vocabulary: word counts in first-seen order (Python's Counter). */
function getVocabulary(lines: Iterable<string>, dictInput: boolean): Map<string, number> {
  const vocab = new Map<string, number>();
  let n = 0;
  for (const line of lines) {
    const stripped = stripChars(line, STRIP);
    if (dictInput) {
      const parts = stripped.split(" ");
      const count = parts.length === 2 && /^\s*[+-]?\d+\s*$/.test(parts[1]!) ? Number(parts[1]) : NaN;
      if (!Number.isSafeInteger(count)) {
        throw new Error(`learnBpe (dictInput): line ${n + 1} is not "word count": ${JSON.stringify(line)}`);
      }
      vocab.set(parts[0]!, (vocab.get(parts[0]!) ?? 0) + count);
    } else {
      for (const w of stripped.split(" ")) if (w !== "") vocab.set(w, (vocab.get(w) ?? 0) + 1);
    }
    n++;
  }
  return vocab;
}

const key = (a: string, b: string): string => `${a} ${b}`; // symbols never contain " "

function splitKey(k: string): [string, string] {
  const i = k.indexOf(" ");
  return [k.slice(0, i), k.slice(i + 1)];
}

/** A `defaultdict(int)` of pair -> count. */
class Counts extends Map<string, number> {
  add(k: string, v: number): void {
    this.set(k, (this.get(k) ?? 0) + v);
  }
}

/** A `defaultdict(lambda: defaultdict(int))` of pair -> word index -> count. */
class Indices extends Map<string, Map<number, number>> {
  at(k: string): Map<number, number> {
    let m = this.get(k);
    if (m === undefined) {
      m = new Map();
      this.set(k, m);
    }
    return m;
  }

  add(k: string, j: number, v: number): void {
    const m = this.at(k);
    m.set(j, (m.get(j) ?? 0) + v);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/** max(stats, key=lambda x: (stats[x], x)): highest count, ties to the largest (first, second). */
function mostFrequent(stats: Map<string, number>): string {
  let best = "";
  let bestCount = -Infinity;
  let bestParts: [string, string] | null = null;
  for (const [k, c] of stats) {
    if (c > bestCount) {
      best = k;
      bestCount = c;
      bestParts = null;
    } else if (c === bestCount) {
      bestParts ??= splitKey(best);
      const p = splitKey(k);
      const cmp = compareCodePoints(p[0], bestParts[0]) || compareCodePoints(p[1], bestParts[1]);
      if (cmp > 0) {
        best = k;
        bestParts = p;
      }
    }
  }
  return best;
}

/** prune_stats: drop pairs below the threshold from `stats`, keeping them in `bigStats`. */
function pruneStats(stats: Counts, bigStats: Counts, threshold: number): void {
  for (const [item, freq] of [...stats]) {
    if (freq < threshold) {
      stats.delete(item);
      if (freq < 0) bigStats.add(item, freq);
      else bigStats.set(item, freq);
    }
  }
}

/**
 * Learns BPE merge operations like subword-nmt 0.3.x's learn_bpe.py (same statistics updates, pruning
 * and (frequency, pair) tie-breaking, so the codes are identical). `lines` are the training text lines
 * (split on " " only, like subword-nmt); returns the codes file: "#version: 0.2" then one "a b" per merge.
 */
export function learnBpe(lines: Iterable<string>, numSymbols: number, opts: LearnBpeOptions = {}): string {
  if (!Number.isInteger(numSymbols) || numSymbols < 0) throw new Error(`learnBpe: --symbols must be a non-negative integer, got ${numSymbols}`);
  const minFrequency = opts.minFrequency ?? 2;
  const out: string[] = ["#version: 0.2"];
  const counts = getVocabulary(lines, opts.dictInput ?? false);

  // words as symbol tuples, the last character carrying </w>; sorted by count, descending (stable)
  const vocab: { word: Word; freq: number }[] = [];
  let oddSpace = false; // a word containing Python whitespace other than " " needs the regex replace
  for (const [w, freq] of counts) {
    const chars = Array.from(w);
    chars[chars.length - 1] += "</w>";
    vocab.push({ word: chars, freq });
    if (!oddSpace && hasPySpace(w)) oddSpace = true;
  }
  vocab.sort((a, b) => b.freq - a.freq);

  if (opts.totalSymbols) {
    const internal = new Set<string>();
    const final = new Set<string>();
    for (const { word } of vocab) {
      for (let i = 0; i < word.length - 1; i++) internal.add(word[i]!);
      final.add(word[word.length - 1]!);
    }
    numSymbols -= internal.size + final.size;
  }

  // get_pair_statistics
  let stats = new Counts();
  const indices = new Indices();
  vocab.forEach(({ word, freq }, j) => {
    for (let i = 1; i < word.length; i++) {
      const k = key(word[i - 1]!, word[i]!);
      stats.add(k, freq);
      indices.add(k, j, 1);
    }
  });
  const bigStats = new Counts(stats);

  const replacePair = (first: string, second: string, pairKey: string): [number, Word, Word, number][] => {
    const changes: [number, Word, Word, number][] = [];
    const merged = first + second;
    let pattern: RegExp | null = null;
    if (oddSpace) {
      const ws = PY_SPACE_CHARS;
      pattern = new RegExp(`(?<![^${ws}])${escapeRegExp(`${first} ${second}`)}(?![^${ws}])`, "g");
    }
    for (const [j, f] of indices.at(pairKey)) {
      if (f < 1) continue;
      const { word, freq } = vocab[j]!; // indices hold positions in vocab
      let newWord: Word;
      if (pattern !== null) {
        newWord = word
          .join(" ")
          .replace(pattern, () => merged)
          .split(" ");
      } else {
        // the regex's effect when no symbol holds whitespace: non-overlapping left-to-right merges
        newWord = [];
        for (let i = 0; i < word.length; i++) {
          if (i + 1 < word.length && word[i] === first && word[i + 1] === second) {
            newWord.push(merged);
            i++;
          } else newWord.push(word[i]!);
        }
      }
      vocab[j] = { word: newWord, freq };
      changes.push([j, newWord, word, freq]);
    }
    return changes;
  };

  const updatePairStatistics = (first: string, second: string, pairKey: string, changed: [number, Word, Word, number][]): void => {
    stats.set(pairKey, 0);
    indices.set(pairKey, new Map());
    const newPair = first + second;
    for (const [j, word, oldWord, freq] of changed) {
      // remove the pairs the merged occurrences took part in
      let i = 0;
      for (;;) {
        i = oldWord.indexOf(first, i);
        if (i < 0) break;
        if (i < oldWord.length - 1 && oldWord[i + 1] === second) {
          if (i) {
            const prev = key(oldWord[i - 1]!, oldWord[i]!);
            stats.add(prev, -freq);
            indices.add(prev, j, -1);
          }
          if (i < oldWord.length - 2) {
            if (oldWord[i + 2] !== first || i >= oldWord.length - 3 || oldWord[i + 3] !== second) {
              const nex = key(oldWord[i + 1]!, oldWord[i + 2]!);
              stats.add(nex, -freq);
              indices.add(nex, j, -1);
            }
          }
          i += 2;
        } else i += 1;
      }
      // add the pairs the new symbol forms
      i = 0;
      for (;;) {
        i = word.indexOf(newPair, i);
        if (i < 0) break;
        if (i) {
          const prev = key(word[i - 1]!, word[i]!);
          stats.add(prev, freq);
          indices.add(prev, j, 1);
        }
        if (i < word.length - 1 && word[i + 1] !== newPair) {
          const nex = key(word[i]!, word[i + 1]!);
          stats.add(nex, freq);
          indices.add(nex, j, 1);
        }
        i += 1;
      }
    }
  };

  if (stats.size === 0) return `${out.join("\n")}\n`;
  let maxCount = -Infinity;
  for (const c of stats.values()) if (c > maxCount) maxCount = c;
  let threshold = maxCount / 10;
  let best = "";
  for (let i = 0; i < numSymbols; i++) {
    if (stats.size > 0) best = mostFrequent(stats);
    if (stats.size === 0 || (i && (stats.get(best) ?? 0) < threshold)) {
      pruneStats(stats, bigStats, threshold);
      stats = new Counts(bigStats);
      if (stats.size === 0) break; // (Python: max() of an empty sequence)
      best = mostFrequent(stats);
      threshold = ((stats.get(best) ?? 0) * i) / (i + 10000.0);
      pruneStats(stats, bigStats, threshold);
    }
    const freq = stats.get(best) ?? 0;
    if (freq < minFrequency) break; // "no pair has frequency >= FREQ. Stopping"
    const [first, second] = splitKey(best);
    opts.onMerge?.(i, first, second, freq);
    out.push(`${first} ${second}`);
    const changes = replacePair(first, second, best);
    updatePairStatistics(first, second, best, changes);
    stats.set(best, 0);
    if (i % 100 === 0) pruneStats(stats, bigStats, threshold);
  }
  return `${out.join("\n")}\n`;
}
