/**
 * fairseq's encoder registries (fairseq/data/encoders/__init__.py): `--tokenizer` and `--bpe` each map
 * a name to a factory; building an unknown name is an Error naming the flag.
 */
import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import { gpt2Options, mosesOptions, sentencepieceOptions, subwordNmtOptions } from "./options.js";
import { SpaceTokenizer } from "./space.js";
import { FairseqMosesTokenizer } from "./moses/moses.js";
import { SentencepieceBpe } from "./sentencepiece/bpe.js";
import { SubwordNmtBpe } from "./subword-nmt/apply.js";
import { Gpt2Bpe } from "./gpt2.js";

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

/**
 * A registry entry: the factory and the entry's own options (fairseq's `add_args` of the tokenizer or BPE
 * class), which the CLI offers only when this entry is selected (`--bpe-codes` with `--bpe subword_nmt`).
 */
export interface EncoderEntry<F> {
  readonly build: F;
  readonly options: AnyOptionGroup | null;
}

// Built-ins are registered on first use (the package declares no side effects: importing registers nothing).
const TOKENIZERS = new Registry<EncoderEntry<TokenizerFactory>>("tokenizer", (r) => {
  r.register("space", { build: () => new SpaceTokenizer(), options: null });
  r.register("moses", { build: (opts) => new FairseqMosesTokenizer(opts), options: mosesOptions });
});
const BPES = new Registry<EncoderEntry<BpeFactory>>("bpe", (r) => {
  r.register("sentencepiece", { build: (opts) => SentencepieceBpe.fromOptions(opts), options: sentencepieceOptions });
  r.register("subword_nmt", { build: (opts) => SubwordNmtBpe.fromOptions(opts), options: subwordNmtOptions });
  r.register("gpt2", { build: (opts) => Gpt2Bpe.fromOptions(opts), options: gpt2Options });
});

function register<F>(table: Registry<EncoderEntry<F>>, flag: string, name: string, factory: F, options: AnyOptionGroup | null): void {
  if (typeof name !== "string" || name.length === 0) throw new Error(`${flag}: a registered name must be a non-empty string`);
  if (typeof factory !== "function") throw new Error(`${flag} ${name}: the factory must be a function`);
  if (table.has(name)) throw new Error(`Cannot register duplicate ${flag} (${name})`);
  table.register(name, { build: factory, options });
}

function entry<F>(table: Registry<EncoderEntry<F>>, flag: string, name: string): EncoderEntry<F> {
  if (!table.has(name)) {
    const known = [...table.names()].sort().join(", ");
    throw new Error(`unknown ${flag} ${JSON.stringify(name)} (known: ${known})`);
  }
  return table.get(name);
}

/** Registers a `--tokenizer` under `name` (an Error if the name is taken), with the options it reads. */
export function registerTokenizer(name: string, factory: TokenizerFactory, options: AnyOptionGroup | null = null): void {
  register(TOKENIZERS, "--tokenizer", name, factory, options);
}

/** Registers a `--bpe` under `name` (an Error if the name is taken), with the options it reads. */
export function registerBpe(name: string, factory: BpeFactory, options: AnyOptionGroup | null = null): void {
  register(BPES, "--bpe", name, factory, options);
}

/** Builds the `--tokenizer` called `name`. */
export function buildTokenizer(name: string, opts: EncoderOptions = {}): Tokenizer {
  return entry(TOKENIZERS, "--tokenizer", name).build(opts ?? {});
}

/** Builds the `--bpe` called `name`. */
export function buildBpe(name: string, opts: EncoderOptions = {}): Bpe {
  return entry(BPES, "--bpe", name).build(opts ?? {});
}

/** The options of the `--tokenizer` called `name` (null: it has none); an unknown name is an Error naming the flag. */
export function tokenizerOptionsOf(name: string): AnyOptionGroup | null {
  return entry(TOKENIZERS, "--tokenizer", name).options;
}

/** The options of the `--bpe` called `name` (null: it has none); an unknown name is an Error naming the flag. */
export function bpeOptionsOf(name: string): AnyOptionGroup | null {
  return entry(BPES, "--bpe", name).options;
}

/** Names registered for `--tokenizer`, sorted. */
export function tokenizerNames(): string[] {
  return TOKENIZERS.names().sort();
}

/** Names registered for `--bpe`, sorted. */
export function bpeNames(): string[] {
  return BPES.names().sort();
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
