/**
 * fairseq's encoder registries (fairseq/data/encoders/__init__.py): `--tokenizer` and `--bpe` each map
 * a name to a factory; building an unknown name is an Error naming the flag.
 */

/** fairseq's encoder interface: text in, text out. */
export interface Encoder {
  encode(line: string): string;
  decode(line: string): string;
}

/** A `--tokenizer` (space, moses, ...). */
export type Tokenizer = Encoder;

/** A `--bpe` (subword_nmt, sentencepiece, ...). */
export interface Bpe extends Encoder {
  /** Whether `token` (one piece of an encoded line) starts a word, as fairseq's `is_beginning_of_word`. */
  isBeginningOfWord(token: string): boolean;
}

/** Options are camelCase versions of fairseq's flags (`--bpe-codes` -> `bpeCodes`). */
export type EncoderOptions = Record<string, unknown>;

export type TokenizerFactory = (opts: EncoderOptions) => Tokenizer;
export type BpeFactory = (opts: EncoderOptions) => Bpe;

const TOKENIZERS = new Map<string, TokenizerFactory>();
const BPES = new Map<string, BpeFactory>();

function register<F>(table: Map<string, F>, flag: string, name: string, factory: F): void {
  if (typeof name !== "string" || name.length === 0) throw new Error(`${flag}: a registered name must be a non-empty string`);
  if (typeof factory !== "function") throw new Error(`${flag} ${name}: the factory must be a function`);
  if (table.has(name)) throw new Error(`Cannot register duplicate ${flag} (${name})`);
  table.set(name, factory);
}

function build<F extends (opts: EncoderOptions) => unknown>(
  table: Map<string, F>,
  flag: string,
  name: string,
  opts: EncoderOptions,
): ReturnType<F> {
  const factory = table.get(name);
  if (factory === undefined) {
    const known = [...table.keys()].sort().join(", ");
    throw new Error(`unknown ${flag} ${JSON.stringify(name)} (known: ${known})`);
  }
  return factory(opts ?? {}) as ReturnType<F>;
}

/** Registers a `--tokenizer` under `name` (an Error if the name is taken). */
export function registerTokenizer(name: string, factory: TokenizerFactory): void {
  register(TOKENIZERS, "--tokenizer", name, factory);
}

/** Registers a `--bpe` under `name` (an Error if the name is taken). */
export function registerBpe(name: string, factory: BpeFactory): void {
  register(BPES, "--bpe", name, factory);
}

/** Builds the `--tokenizer` called `name`. */
export function buildTokenizer(name: string, opts: EncoderOptions = {}): Tokenizer {
  return build(TOKENIZERS, "--tokenizer", name, opts);
}

/** Builds the `--bpe` called `name`. */
export function buildBpe(name: string, opts: EncoderOptions = {}): Bpe {
  return build(BPES, "--bpe", name, opts);
}

/** Names registered for `--tokenizer`, sorted. */
export function tokenizerNames(): string[] {
  return [...TOKENIZERS.keys()].sort();
}

/** Names registered for `--bpe`, sorted. */
export function bpeNames(): string[] {
  return [...BPES.keys()].sort();
}

/** Reads an optional string option, with an Error naming the flag if it has the wrong type. */
export function stringOption(opts: EncoderOptions, key: string, flag: string, fallback: string): string;
export function stringOption(opts: EncoderOptions, key: string, flag: string): string | undefined;
export function stringOption(opts: EncoderOptions, key: string, flag: string, fallback?: string): string | undefined {
  const v = opts[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "string") throw new Error(`${flag} must be a string, got ${typeof v}`);
  return v;
}

/** Reads an optional boolean option, with an Error naming the flag if it has the wrong type. */
export function boolOption(opts: EncoderOptions, key: string, flag: string): boolean {
  const v = opts[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw new Error(`${flag} must be a boolean, got ${typeof v}`);
  return v;
}
