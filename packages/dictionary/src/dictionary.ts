import { nodeBuiltin, writeFileAtomic } from "@fairseq-ts/runtime";
import { postProcess, type PostProcess } from "./post-process.js";
import { compareCodePoints, pyRstrip, splitLines, tokenizeLine } from "./text.js";

export interface DictionaryOptions {
  bos?: string;
  pad?: string;
  eos?: string;
  unk?: string;
  /** Added right after the four specials, before any regular symbol (fairseq's `extra_special_symbols`). */
  extraSpecialSymbols?: readonly string[];
}

export interface FinalizeOptions {
  /** Drop symbols seen fewer than `threshold` times (fairseq `--thresholdsrc/--thresholdtgt`). Default -1. */
  threshold?: number;
  /** Keep at most this many symbols, specials included (fairseq `--nwordssrc/--nwordstgt`). Default -1: all. */
  nwords?: number;
  /** Pad the size to a multiple of this with `madeupwordNNNN` symbols (fairseq `--padding-factor`). Default 8. */
  paddingFactor?: number;
}

export interface EncodeLineOptions {
  /** Split a line into words. Default: fairseq's `tokenize_line` (Python `str.split()`). */
  tokenize?: (line: string) => string[];
  /** Add unseen words to the dictionary (default true, as in fairseq) instead of mapping them to `<unk>`. */
  addIfNotExist?: boolean;
  /** Called for every word with the id it got; preprocess uses it to count `<unk>` replacements. */
  consumer?: (word: string, id: number) => void;
  appendEos?: boolean;
  reverseOrder?: boolean;
}

export interface StringOptions {
  /** Subword post-processing (`--remove-bpe` / `--post-process`), e.g. `"@@ "` or `"sentencepiece"`. */
  bpeSymbol?: PostProcess | null;
  /** Print unknown words as `<<unk>>` (fairseq's `escape_unk`). */
  escapeUnk?: boolean;
  /** Ids to leave out besides eos and bos. */
  extraSymbolsToIgnore?: Iterable<number>;
  /** Print unknown words as this string instead. */
  unkString?: string;
}

/** A dict.txt could not be parsed; `source` and `line` (1-based) say where. */
export class DictionaryFormatError extends Error {
  override name = "DictionaryFormatError";
  constructor(
    message: string,
    readonly source: string,
    readonly line: number,
  ) {
    super(`${source}:${line}: ${message}`);
  }
}

const OVERWRITE_FLAG = "#fairseq:overwrite";
const PY_INT = /^[+-]?\d+(?:_\d+)*$/;

/**
 * A mapping from symbols to consecutive integer ids, with counts; fairseq's `Dictionary`.
 * Ids 0..3 are `<s>`, `<pad>`, `</s>`, `<unk>` unless configured otherwise.
 */
export class Dictionary {
  readonly bosWord: string;
  readonly padWord: string;
  readonly eosWord: string;
  readonly unkWord: string;
  readonly bosIndex: number;
  readonly padIndex: number;
  readonly eosIndex: number;
  readonly unkIndex: number;
  /** Number of special symbols at the start (4 plus any extra specials). */
  readonly nspecial: number;

  private _symbols: string[] = [];
  private _counts: number[] = [];
  private _indices = new Map<string, number>();

  constructor(options: DictionaryOptions = {}) {
    this.bosWord = options.bos ?? "<s>";
    this.padWord = options.pad ?? "<pad>";
    this.eosWord = options.eos ?? "</s>";
    this.unkWord = options.unk ?? "<unk>";
    this.bosIndex = this.addSymbol(this.bosWord);
    this.padIndex = this.addSymbol(this.padWord);
    this.eosIndex = this.addSymbol(this.eosWord);
    this.unkIndex = this.addSymbol(this.unkWord);
    for (const s of options.extraSpecialSymbols ?? []) this.addSymbol(s);
    this.nspecial = this._symbols.length;
  }

  /** Number of symbols, specials included (Python's `len(d)`). */
  get length(): number {
    return this._symbols.length;
  }
  get symbols(): readonly string[] {
    return this._symbols;
  }
  get counts(): readonly number[] {
    return this._counts;
  }

  bos(): number {
    return this.bosIndex;
  }
  pad(): number {
    return this.padIndex;
  }
  eos(): number {
    return this.eosIndex;
  }
  unk(): number {
    return this.unkIndex;
  }

  /** The symbol with this id, or the unknown word when out of range (Python's `d[i]`). */
  symbol(id: number): string {
    return id >= 0 && id < this._symbols.length ? this._symbols[id]! : this.unkWord;
  }

  /** The id of a symbol, or the unknown id. */
  index(symbol: string): number {
    const i = this._indices.get(symbol);
    return i === undefined ? this.unkIndex : i;
  }

  has(symbol: string): boolean {
    return this._indices.has(symbol);
  }

  /** Add a symbol (or add `n` to its count) and return its id. */
  addSymbol(word: string, n = 1, overwrite = false): number {
    const existing = this._indices.get(word);
    if (existing !== undefined && !overwrite) {
      this._counts[existing]! += n;
      return existing;
    }
    const idx = this._symbols.length;
    this._indices.set(word, idx);
    this._symbols.push(word);
    this._counts.push(n);
    return idx;
  }

  /** Add every symbol of `other` with its count (fairseq's `update`). */
  update(other: Dictionary): void {
    for (let i = 0; i < other._symbols.length; i++) this.addSymbol(other._symbols[i]!, other._counts[i]!);
  }

  /**
   * Add counted words in Python's `sorted(counter.items())` order, as fairseq's
   * `add_file_to_dictionary` merges the counts of its workers.
   */
  addCounts(counts: Map<string, number>): void {
    const words = [...counts.keys()].sort(compareCodePoints);
    for (const w of words) this.addSymbol(w, counts.get(w)!);
  }

  /**
   * Sort symbols by count (descending; ties by code point, as fairseq's `Counter.most_common`
   * over a sorted dict gives), drop rare ones, keep at most `nwords`, pad to a multiple.
   * Specials keep their ids.
   */
  finalize(options: FinalizeOptions = {}): void {
    const threshold = options.threshold ?? -1;
    let nwords = options.nwords ?? -1;
    const paddingFactor = options.paddingFactor ?? 8;
    if (nwords <= 0) nwords = this.length;

    const order: number[] = [];
    for (let i = this.nspecial; i < this._symbols.length; i++) order.push(i);
    const syms = this._symbols;
    const counts = this._counts;
    order.sort((a, b) => counts[b]! - counts[a]! || compareCodePoints(syms[a]!, syms[b]!));

    const newSymbols = syms.slice(0, this.nspecial);
    const newCounts = counts.slice(0, this.nspecial);
    // Python's most_common(k) with k <= 0 returns nothing.
    const keep = Math.max(0, Math.min(order.length, nwords - this.nspecial));
    for (let k = 0; k < keep; k++) {
      const i = order[k]!;
      if (counts[i]! >= threshold) {
        newSymbols.push(syms[i]!);
        newCounts.push(counts[i]!);
      } else {
        break;
      }
    }
    this._symbols = newSymbols;
    this._counts = newCounts;
    this._indices = new Map(newSymbols.map((s, i) => [s, i]));
    this.padToMultiple(paddingFactor);
  }

  /** Append `madeupword0000`, `madeupword0001`, … (count 0) until the size is a multiple of `factor`. */
  padToMultiple(factor: number): void {
    if (factor <= 1) return;
    let i = 0;
    while (this.length % factor !== 0) {
      this.addSymbol(`madeupword${String(i).padStart(4, "0")}`, 0);
      i++;
    }
  }

  /** Turn a line into ids (fairseq's `encode_line`), eos appended by default. */
  encodeLine(line: string, options: EncodeLineOptions = {}): Int32Array {
    const tokenize = options.tokenize ?? tokenizeLine;
    const addIfNotExist = options.addIfNotExist ?? true;
    const appendEos = options.appendEos ?? true;
    const consumer = options.consumer;
    let words = tokenize(line);
    if (options.reverseOrder) words = words.reverse();
    const n = words.length;
    const ids = new Int32Array(appendEos ? n + 1 : n);
    for (let i = 0; i < n; i++) {
      const w = words[i]!;
      const id = addIfNotExist ? this.addSymbol(w) : this.index(w);
      if (consumer) consumer(w, id);
      ids[i] = id;
    }
    if (appendEos) ids[n] = this.eosIndex;
    return ids;
  }

  /** The unknown word, or `<<unk>>` when escaped. */
  unkString(escape = false): string {
    return escape ? `<${this.unkWord}>` : this.unkWord;
  }

  /**
   * Ids back to a space-joined string, leaving out eos and bos (fairseq's `Dictionary.string`),
   * then undoing subword segmentation when `bpeSymbol` is given.
   */
  string(ids: ArrayLike<number> | Iterable<number>, options: StringOptions = {}): string {
    const ignore = new Set<number>(options.extraSymbolsToIgnore ?? []);
    ignore.add(this.eosIndex);
    ignore.add(this.bosIndex);
    const unk = options.unkString ?? this.unkString(options.escapeUnk ?? false);
    const parts: string[] = [];
    const arr = isArrayLike(ids) ? ids : Array.from(ids);
    for (let k = 0; k < arr.length; k++) {
      const i = arr[k]!;
      if (ignore.has(i)) continue;
      parts.push(i === this.unkIndex ? unk : this.symbol(i));
    }
    return postProcess(parts.join(" "), options.bpeSymbol);
  }

  /** Same symbols and counts in the same order. */
  equals(other: Dictionary): boolean {
    if (other.length !== this.length) return false;
    for (let i = 0; i < this.length; i++) {
      if (other._symbols[i] !== this._symbols[i] || other._counts[i] !== this._counts[i]) return false;
    }
    return true;
  }

  /**
   * Add the entries of a dict.txt text (`<symbol> <count> [#fairseq:overwrite]` per line).
   * @param source file name used in error messages
   */
  addFromText(text: string, source = "<dict.txt>"): void {
    const lines = splitLines(text);
    for (let ln = 0; ln < lines.length; ln++) {
      const raw = pyRstrip(lines[ln]!);
      let cut = raw.lastIndexOf(" ");
      if (cut < 0) {
        throw new DictionaryFormatError(`expected '<token> <cnt> [flags]', got ${JSON.stringify(truncate(lines[ln]!))}`, source, ln + 1);
      }
      let word = raw.slice(0, cut);
      let field = raw.slice(cut + 1);
      let overwrite = false;
      if (field === OVERWRITE_FLAG) {
        overwrite = true;
        cut = word.lastIndexOf(" ");
        if (cut < 0) {
          throw new DictionaryFormatError(`expected '<token> <cnt> ${OVERWRITE_FLAG}', got ${JSON.stringify(truncate(lines[ln]!))}`, source, ln + 1);
        }
        field = word.slice(cut + 1);
        word = word.slice(0, cut);
      }
      if (!PY_INT.test(field)) {
        throw new DictionaryFormatError(`count ${JSON.stringify(truncate(field))} is not an integer (expected '<token> <cnt> [flags]')`, source, ln + 1);
      }
      const count = Number(field.replace(/_/g, ""));
      if (!Number.isSafeInteger(count)) {
        throw new DictionaryFormatError(`count ${truncate(field)} is too large`, source, ln + 1);
      }
      if (this.has(word) && !overwrite) {
        throw new DictionaryFormatError(
          `duplicate word ${JSON.stringify(truncate(word))}; add ${OVERWRITE_FLAG} at the end of the line to overwrite the earlier entry`,
          source,
          ln + 1,
        );
      }
      this.addSymbol(word, count, overwrite);
    }
  }

  /** Parse a dict.txt text into a new dictionary (specials are implicit, as in fairseq). */
  static parse(text: string, options: DictionaryOptions & { source?: string } = {}): Dictionary {
    const d = new Dictionary(options);
    d.addFromText(text, options.source);
    return d;
  }

  /** The dict.txt text: one `symbol count` line per non-special symbol. */
  format(): string {
    const out: string[] = [];
    for (let i = this.nspecial; i < this._symbols.length; i++) {
      out.push(`${this._symbols[i]} ${this._counts[i]}\n`);
    }
    return out.join("");
  }

  /** Read a dict.txt file (Node only). Invalid UTF-8 and malformed lines are errors naming the file. */
  static async load(path: string, options: DictionaryOptions = {}): Promise<Dictionary> {
    const { readFile } = await nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises", "Dictionary.load");
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      // Node's EISDIR message names no file ("illegal operation on a directory, read"): name it, keep the code
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? err);
      throw Object.assign(new Error(`${path}: cannot read dictionary (${why})`, { cause: err }), { code });
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new DictionaryFormatError("invalid UTF-8 (rebuild the dictionary)", path, firstBadUtf8Line(bytes));
    }
    return Dictionary.parse(text, { ...options, source: path });
  }

  /** Write dict.txt atomically: a temporary file, fsync, then rename (Node only). */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, this.format());
  }
}

function isArrayLike(x: unknown): x is ArrayLike<number> {
  return typeof (x as ArrayLike<number>).length === "number";
}

function truncate(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** 1-based line number of the first invalid UTF-8 sequence. */
function firstBadUtf8Line(bytes: Uint8Array): number {
  const dec = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 10) {
      try {
        dec.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return line;
}
