import { readTextSync } from "../node-fs.js";
import { pyRstrip } from "@fairseq-ts/dictionary";
import { lstripChars, rstripChars, stripChars } from "../pystr.js";
import { type Bpe, type EncoderOptions, stringOption } from "../registry.js";

const STRIP = "\r\n ";
const EOW = "</w>";

export interface ApplyBpeOptions {
  /** Use only the first `merges` codes (-1 = all; apply_bpe.py --merges). */
  merges?: number;
  /** Continuation marker appended to non-final subwords (--separator, default "@@"). */
  separator?: string;
  /** Only produce subwords in this vocabulary, splitting others by reversing merges (--vocabulary). */
  vocab?: ReadonlySet<string>;
  /** Regular expressions (subword-nmt's syntax for simple patterns) of words never split (--glossaries). */
  glossaries?: string[];
  /** Names the codes file in errors. */
  what?: string;
}

/** read_vocabulary: "word count" lines from get_vocab.py, keeping words with count >= threshold. */
export function readVocabulary(text: string, threshold: number | null = null): Set<string> {
  const vocab = new Set<string>();
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((line, i) => {
    const parts = stripChars(line, STRIP).split(" ");
    if (parts.length !== 2 || !/^\s*[+-]?\d+\s*$/.test(parts[1]!)) {
      throw new Error(`--vocabulary line ${i + 1}: expected "word count", got ${JSON.stringify(line)}`);
    }
    if (threshold === null || Number(parts[1]) >= threshold) vocab.add(parts[0]!);
  });
  return vocab;
}

/** isolate_glossary: split `word` around matches of `glossary`. */
function isolateGlossary(word: string, glossary: string): string[] {
  if (new RegExp(`^${glossary}$`).test(word) || !new RegExp(glossary).test(word)) return [word];
  const segments = word.split(new RegExp(`(${glossary})`));
  const ending = segments.pop() as string;
  const kept = segments.filter((s) => s !== "" && s !== undefined);
  return ending !== "" ? [...kept, stripChars(ending, STRIP)] : kept;
}

/**
 * Applies subword-nmt BPE codes like apply_bpe.py's BPE class (0.3.x): merges by rank within each
 * word, version 0.2 end-of-word handling, "@@" continuation markers, optional vocabulary and glossaries.
 */
export class SubwordNmtApplier {
  readonly version: [number, number];
  readonly separator: string;
  /** pair "a b" -> rank (the first occurrence wins, as apply_bpe.py). */
  private readonly ranks = new Map<string, number>();
  /** merged string -> pair, for vocabulary filtering. */
  private readonly reverse = new Map<string, [string, string]>();
  private readonly vocab: ReadonlySet<string> | null;
  private readonly glossaries: string[];
  private readonly glossariesRegex: RegExp | null;
  private readonly cache = new Map<string, string[]>();

  constructor(codes: string, opts: ApplyBpeOptions = {}) {
    const what = opts.what ?? "BPE codes";
    const merges = opts.merges ?? -1;
    let body = codes;
    let offset = 1;
    const nl = codes.indexOf("\n");
    const firstLine = nl < 0 ? codes : codes.slice(0, nl + 1);
    if (firstLine.startsWith("#version:")) {
      const fields = firstLine.trim().split(/\s+/);
      // "#version:" starts the trimmed line, so the split has a last field
      const versionField = fields[fields.length - 1]!;
      const v = versionField.replace(/(\.0+)*$/, "").split(".");
      if (!v.every((x) => /^\d+$/.test(x))) throw new Error(`${what}: unsupported version line ${JSON.stringify(firstLine.trim())}`);
      const version = v.map(Number);
      const [major, minor] = version;
      if (!(version.length === 2 && major === 0 && (minor === 1 || minor === 2))) {
        throw new Error(`${what}: unsupported codes version ${versionField} (subword-nmt reads 0.1 and 0.2)`);
      }
      this.version = [0, minor];
      body = nl < 0 ? "" : codes.slice(nl + 1);
      offset += 1;
    } else {
      this.version = [0, 1];
    }
    const items = rstripChars(body, "\n").split("\n");
    const pairs: [string, string][] = [];
    for (let n = 0; n < items.length && (merges === -1 || n < merges); n++) {
      const item = stripChars(items[n]!, STRIP).split(" ");
      if (item.length !== 2) {
        throw new Error(`${what}: invalid line ${n + offset}: ${JSON.stringify(item.join(" "))} (a line is two subword units separated by a space)`);
      }
      pairs.push([item[0]!, item[1]!]);
    }
    const lastSeen = new Map<string, number>();
    pairs.forEach(([a, b], i) => {
      const k = `${a} ${b}`;
      if (!this.ranks.has(k)) this.ranks.set(k, i);
      lastSeen.set(k, i);
    });
    // bpe_codes_reverse iterates the codes dict, ordered by last occurrence descending; the last write wins
    const order = [...lastSeen.entries()].sort((x, y) => y[1] - x[1]);
    for (const [k] of order) {
      const i = k.indexOf(" ");
      const a = k.slice(0, i);
      const b = k.slice(i + 1);
      this.reverse.set(a + b, [a, b]);
    }
    this.separator = opts.separator ?? "@@";
    this.vocab = opts.vocab ?? null;
    this.glossaries = opts.glossaries ?? [];
    this.glossariesRegex = this.glossaries.length > 0 ? new RegExp(`^(${this.glossaries.join("|")})$`) : null;
  }

  /** The number of merge operations in use. */
  get size(): number {
    return this.ranks.size;
  }

  /** process_line: BPE on the words of `line`, keeping its leading/trailing "\r\n " characters. */
  processLine(line: string): string {
    let out = "";
    const leading = line.length - lstripChars(line, STRIP).length;
    if (leading) out += line.slice(0, leading);
    out += this.segment(line);
    const trailing = line.length - rstripChars(line, STRIP).length;
    if (trailing && trailing !== line.length) out += line.slice(line.length - trailing);
    return out;
  }

  /** segment: BPE on a whitespace-tokenized sentence (split on " "). */
  segment(sentence: string): string {
    return this.segmentTokens(stripChars(sentence, STRIP).split(" ")).join(" ");
  }

  /** segment_tokens: subwords of each token, all but each word's last marked with the separator. */
  segmentTokens(tokens: string[]): string[] {
    const output: string[] = [];
    for (const word of tokens) {
      if (!word) continue;
      const newWord: string[] = [];
      for (const segment of this.isolateGlossaries(word)) for (const s of this.encodeWord(segment)) newWord.push(s);
      // all but the word's last subword carry the separator
      for (const [i, s] of newWord.entries()) output.push(i < newWord.length - 1 ? s + this.separator : s);
    }
    return output;
  }

  private isolateGlossaries(word: string): string[] {
    let segments = [word];
    for (const g of this.glossaries) segments = segments.flatMap((s) => isolateGlossary(s, g));
    return segments;
  }

  /** encode(): one word to its subwords. */
  encodeWord(orig: string): string[] {
    const cached = this.cache.get(orig);
    if (cached !== undefined) return cached;
    if (this.glossariesRegex !== null && this.glossariesRegex.test(orig)) {
      this.cache.set(orig, [orig]);
      return [orig];
    }
    let word = Array.from(orig);
    // nothing to merge; "" (a glossary match followed by "\r" leaves one) has no subwords (apply_bpe.py raises IndexError)
    if (word.length < 2) return word;
    if (this.version[1] === 1) word.push(EOW);
    else word[word.length - 1]! += EOW;

    const ranks = this.ranks;
    while (word.length > 1) {
      // the lowest-ranked pair present, then all its (non-overlapping) occurrences left to right
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) bestRank = r;
      }
      if (bestRank === Infinity) break;
      const next: string[] = [];
      let i = 0;
      for (let j = 0; j + 1 < word.length; j++) {
        if (j < i) continue;
        if (ranks.get(`${word[j]} ${word[j + 1]}`) === bestRank) {
          for (let k = i; k < j; k++) next.push(word[k]!);
          next.push(word[j]! + word[j + 1]!);
          i = j + 2;
        }
      }
      for (let k = i; k < word.length; k++) next.push(word[k]!);
      word = next;
    }
    // merges only join neighbours, so a word of 2+ symbols keeps at least one
    const last = word[word.length - 1]!;
    if (last === EOW) word = word.slice(0, -1);
    else if (last.endsWith(EOW)) word[word.length - 1] = last.slice(0, -EOW.length);
    if (this.vocab !== null) word = this.checkVocabAndSplit(word, this.vocab);
    this.cache.set(orig, word);
    return word;
  }

  private *recursiveSplit(segment: string, vocab: ReadonlySet<string>, final: boolean): Generator<string> {
    const sep = this.separator;
    const pair = this.reverse.get(final ? segment + EOW : segment);
    if (pair === undefined) {
      yield segment;
      return;
    }
    const left = pair[0];
    const right = final ? pair[1].slice(0, -4) : pair[1];
    if (vocab.has(left + sep)) yield left;
    else yield* this.recursiveSplit(left, vocab, false);
    if ((final && vocab.has(right)) || (!final && vocab.has(right + sep))) yield right;
    else yield* this.recursiveSplit(right, vocab, final);
  }

  private checkVocabAndSplit(orig: string[], vocab: ReadonlySet<string>): string[] {
    const out: string[] = [];
    const sep = this.separator;
    for (const segment of orig.slice(0, -1)) {
      if (vocab.has(segment + sep)) out.push(segment);
      else out.push(...this.recursiveSplit(segment, vocab, false));
    }
    const last = orig[orig.length - 1]!; // encodeWord gives at least one subword here
    if (vocab.has(last)) out.push(last);
    else out.push(...this.recursiveSplit(last, vocab, true));
    return out;
  }
}

/**
 * fairseq's `--bpe subword_nmt` (SubwordNMTBPE): encode = apply_bpe's process_line with `--bpe-codes`
 * and `--bpe-separator`; decode = (x + " ").replace(separator + " ", "").rstrip().
 */
export class SubwordNmtBpe implements Bpe {
  readonly bpeSymbol: string;

  constructor(readonly applier: SubwordNmtApplier) {
    this.bpeSymbol = `${applier.separator} `;
  }

  /** Options: `bpeCodes` (path of the codes file), `bpeCodesText` (its contents instead), `bpeSeparator`. */
  static fromOptions(opts: EncoderOptions): SubwordNmtBpe {
    const separator = stringOption(opts, "bpeSeparator", "--bpe-separator", "@@");
    const text = stringOption(opts, "bpeCodesText", "bpeCodesText");
    const path = stringOption(opts, "bpeCodes", "--bpe-codes");
    if (text !== undefined) return new SubwordNmtBpe(new SubwordNmtApplier(text, { separator, what: "--bpe-codes" }));
    if (path === undefined || path === "") throw new Error("--bpe-codes is required for --bpe=subword_nmt");
    const codes = readTextSync(path, "--bpe-codes");
    return new SubwordNmtBpe(new SubwordNmtApplier(codes, { separator, what: `--bpe-codes ${path}` }));
  }

  encode(line: string): string {
    return this.applier.processLine(line);
  }

  decode(line: string): string {
    return pyRstrip(`${line} `.replaceAll(this.bpeSymbol, ""));
  }

  /** fairseq's SubwordNMTBPE has no is_beginning_of_word: "@@" marks the end of a non-final piece. */
  isBeginningOfWord(token: string): boolean {
    throw new Error(`--bpe=subword_nmt cannot tell whether ${JSON.stringify(token)} begins a word (its separator marks the previous piece)`);
  }
}
