/**
 * Options declared once, beside the package that owns them: type, default, help and fairseq's flag spelling
 * in one place (what fairseq's dataclass configs do). Library users get typed option objects from a group
 * (`group.resolve({...})`); the CLI derives its flags from the same declarations, so a default or a flag name
 * is never restated.
 */

/** How a value is written on fairseq's command line (its argparse `type`). */
export type OptionType = "int" | "float" | "str" | "bool" | "int[]" | "float[]" | "str[]";

/**
 * How many command-line arguments the flag takes: `value` one, `flag` none (argparse `store_true`),
 * `optional` zero or one (argparse `nargs='?'`: the flag alone stands for `const`), `list` one or more (argparse
 * `nargs='+'`, for list types: `--retain-dropout-modules A B`; each argument is parsed and the items appended).
 */
export type OptionArity = "value" | "flag" | "optional" | "list";

/** One declared option. Build them with {@link opt}. */
export interface OptionDecl<T> {
  readonly kind: "option";
  readonly type: OptionType;
  readonly arity: OptionArity;
  readonly default: T;
  readonly help: string;
  /** fairseq's flag when it is not `--` + the key in kebab-case (e.g. `--lr-deacy-period`, fairseq's spelling). */
  readonly flag?: string;
  /** Further spellings of the flag (`-s` for `--source-lang`, `--max-sentences` for `--batch-size`). */
  readonly aliases?: readonly string[];
  /** The allowed values (str options). */
  readonly choices?: readonly string[];
  /** The value of an `optional`-arity flag given without a value. */
  readonly const?: T;
  /** The value's name in help (`N`, `DIR`). */
  readonly metavar?: string;
  /** Parse one command-line string; throws an Error whose message names no flag (the caller adds it). */
  parse(raw: string): T;
  /** Check a value a library user passed; throws an Error whose message names no option (the group adds it). */
  check(value: unknown): T;
}

/**
 * A fairseq option that fairseq-ts does not support (fp16, TPU, pipeline parallelism, ...): declared so that
 * the command line refuses it by name with the reason, instead of calling it unknown or ignoring it.
 */
export interface RefusedDecl {
  readonly kind: "refused";
  readonly arity: OptionArity;
  readonly help: string;
  /** Why it is refused, shown in the error (`fairseq-ts computes in float32 on the CPU`). */
  readonly reason: string;
  readonly flag?: string;
  readonly aliases?: readonly string[];
}

export type AnyDecl = OptionDecl<any> | RefusedDecl; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Declarations = Readonly<Record<string, AnyDecl>>;

/** The typed options of a set of declarations: every supported key with its value type. */
export type OptionsOf<D extends Declarations> = {
  -readonly [K in keyof D as D[K] extends RefusedDecl ? never : K]: D[K] extends OptionDecl<infer T> ? T : never;
};

/** An invalid option value, named by group and key; the CLI turns it into an error naming the flag. */
export class OptionError extends Error {
  override readonly name = "OptionError";
  constructor(
    /** The group's name (`generation`). */
    readonly group: string,
    /** The option's key in that group (`noRepeatNgramSize`). */
    readonly key: string,
    /** What is wrong, without the option's name (`not an integer`). */
    readonly reason: string,
  ) {
    super(`${group}.${key}: ${reason}`);
  }
}

/**
 * `noRepeatNgramSize` -> `--no-repeat-ngram-size`; snake_case keys too (`encoder_embed_dim` ->
 * `--encoder-embed-dim`), so model options can keep fairseq's argument names, which presets and `.pt` files use.
 */
export function kebabFlag(key: string): string {
  return `--${key.replace(/_/g, "-").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The flag of a declaration: its own spelling, else the key in kebab-case. */
export function flagOf(key: string, decl: AnyDecl): string {
  return decl.flag ?? kebabFlag(key);
}

// ---------------------------------------------------------------------------------------------- value parsers

/** Python's `int(x)` as argparse calls it: optional sign, digits (underscores between digits), spaces around. */
export function parseInt10(raw: string): number {
  const s = raw.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(s)) throw new Error(`invalid int value: '${raw}'`);
  const n = Number(s.replace(/_/g, ""));
  if (!Number.isSafeInteger(n)) throw new Error(`int value out of range: '${raw}'`);
  return n;
}

/** Python's `float(x)`: decimal or exponent notation, `inf`/`infinity`/`nan` in any case; no hex, no empty. */
export function parseFloat10(raw: string): number {
  const s = raw.trim().replace(/(\d)_(?=\d)/g, "$1");
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) return special[2]!.toLowerCase() === "nan" ? NaN : special[1] === "-" ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) throw new Error(`invalid float value: '${raw}'`);
  return Number(s);
}

/** fairseq's `utils.eval_bool` for flags such as `--left-pad-source True`. */
export function parseBool(raw: string): boolean {
  const v = raw.trim();
  if (v === "True" || v === "1" || v.toLowerCase() === "true") return true;
  if (v === "False" || v === "0" || v.toLowerCase() === "false") return false;
  throw new Error(`invalid bool value: '${raw}' (expected True or False)`);
}

/**
 * fairseq's `eval_str_list(x, type)`: `0.25`, `0.25,0.1`, `[0.25, 0.1]` or `(1, 2)` -> a list of values (Python
 * evaluates the text; a bare scalar becomes a one-element list).
 */
export function parseList<T>(raw: string, item: (s: string) => T): T[] {
  let s = raw.trim();
  if ((s.startsWith("[") && s.endsWith("]")) || (s.startsWith("(") && s.endsWith(")"))) s = s.slice(1, -1);
  const parts = s.split(",").map((p) => p.trim());
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop(); // Python's trailing comma: (1,)
  if (parts.some((p) => p === "")) throw new Error(`invalid list value: '${raw}'`);
  return parts.map(item);
}

function describe(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
}

const checkers: Record<OptionType, (v: unknown) => boolean> = {
  int: (v) => typeof v === "number" && Number.isSafeInteger(v),
  float: (v) => typeof v === "number",
  str: (v) => typeof v === "string",
  bool: (v) => typeof v === "boolean",
  "int[]": (v) => Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isSafeInteger(x)),
  "float[]": (v) => Array.isArray(v) && v.every((x) => typeof x === "number"),
  "str[]": (v) => Array.isArray(v) && v.every((x) => typeof x === "string"),
};

const parsers: Record<OptionType, (raw: string) => unknown> = {
  int: parseInt10,
  float: parseFloat10,
  str: (s) => s,
  bool: parseBool,
  "int[]": (s) => parseList(s, parseInt10),
  "float[]": (s) => parseList(s, parseFloat10),
  "str[]": (s) => parseList(s, (x) => x),
};

/** What every builder accepts besides the default and the help. */
export interface DeclExtras<T> {
  flag?: string;
  aliases?: readonly string[];
  metavar?: string;
  choices?: readonly string[];
  /** `optional` arity: the value when the flag is given alone. */
  const?: T;
  arity?: OptionArity;
}

function make<T>(type: OptionType, def: T, help: string, extras: DeclExtras<T> = {}): OptionDecl<T> {
  const arity: OptionArity = extras.arity ?? (extras.const !== undefined ? "optional" : "value");
  const nullable = def === null;
  const choices = extras.choices;
  const check = (value: unknown): T => {
    if (value === null && nullable) return value as T;
    if (!checkers[type](value)) throw new Error(`expected ${type}${nullable ? " or null" : ""}, got ${describe(value)}`);
    if (choices && typeof value === "string" && !choices.includes(value))
      throw new Error(`invalid choice: ${describe(value)} (choose from ${choices.map((c) => `'${c}'`).join(", ")})`);
    return value as T;
  };
  return {
    kind: "option",
    type,
    arity,
    default: def,
    help,
    ...(extras.flag !== undefined && { flag: extras.flag }),
    ...(extras.aliases !== undefined && { aliases: extras.aliases }),
    ...(choices !== undefined && { choices }),
    ...(extras.const !== undefined && { const: extras.const }),
    ...(extras.metavar !== undefined && { metavar: extras.metavar }),
    parse: (raw: string) => check(parsers[type](raw)),
    check,
  };
}

type Nullable<D, T> = D extends null ? T | null : T;

/**
 * Declaration builders, one per fairseq argparse type. A `null` default makes the option nullable
 * (fairseq's `default=None`).
 */
export const opt = {
  int: <D extends number | null>(def: D, help: string, extras?: DeclExtras<number>) =>
    make<Nullable<D, number>>("int", def as Nullable<D, number>, help, extras as DeclExtras<Nullable<D, number>>),
  float: <D extends number | null>(def: D, help: string, extras?: DeclExtras<number>) =>
    make<Nullable<D, number>>("float", def as Nullable<D, number>, help, extras as DeclExtras<Nullable<D, number>>),
  str: <D extends string | null>(def: D, help: string, extras?: DeclExtras<string>) =>
    make<Nullable<D, string>>("str", def as Nullable<D, string>, help, extras as DeclExtras<Nullable<D, string>>),
  /** A str option restricted to `choices` (typed as their union). */
  choice: <const C extends readonly string[], D extends C[number] | null>(choices: C, def: D, help: string, extras?: DeclExtras<C[number]>) =>
    make<Nullable<D, C[number]>>("str", def as Nullable<D, C[number]>, help, { ...(extras as DeclExtras<Nullable<D, C[number]>>), choices }),
  /** A value-taking boolean (`--left-pad-source False`, fairseq's `type=eval_bool`). */
  bool: (def: boolean, help: string, extras?: DeclExtras<boolean>) => make<boolean>("bool", def, help, extras),
  /** A switch (argparse `store_true`): false unless given; takes no value on the command line. */
  flag: (help: string, extras?: Omit<DeclExtras<boolean>, "arity" | "const">) => make<boolean>("bool", false, help, { ...extras, arity: "flag" }),
  /**
   * A switch whose default is unset (null) rather than false: fairseq's model flags (`default=SUPPRESS`), which an
   * architecture preset fills when the command line does not give them.
   */
  presetFlag: (help: string, extras?: Omit<DeclExtras<boolean>, "arity" | "const">) =>
    make<boolean | null>("bool", null, help, { ...(extras as DeclExtras<boolean | null>), arity: "flag" }),
  intList: (def: number[], help: string, extras?: DeclExtras<number[]>) => make<number[]>("int[]", def, help, extras),
  floatList: (def: number[], help: string, extras?: DeclExtras<number[]>) => make<number[]>("float[]", def, help, extras),
  strList: <D extends string[] | null>(def: D, help: string, extras?: DeclExtras<string[]>) =>
    make<Nullable<D, string[]>>("str[]", def as Nullable<D, string[]>, help, extras as DeclExtras<Nullable<D, string[]>>),
  /** A fairseq option fairseq-ts refuses by name, with the reason (`arity` says whether fairseq's flag takes a value). */
  refused: (reason: string, arity: OptionArity = "value", extras: { flag?: string; aliases?: readonly string[]; help?: string } = {}): RefusedDecl => ({
    kind: "refused",
    arity,
    reason,
    help: extras.help ?? `not supported: ${reason}`,
    ...(extras.flag !== undefined && { flag: extras.flag }),
    ...(extras.aliases !== undefined && { aliases: extras.aliases }),
  }),
};

// ---------------------------------------------------------------------------------------------- groups

/** A named set of declarations, the unit a package owns (fairseq's `GenerationConfig`, `CheckpointConfig`, ...). */
export interface OptionGroup<D extends Declarations = Declarations> {
  readonly name: string;
  readonly declarations: D;
  /** Every supported option at its default (a fresh object each call). */
  defaults(): OptionsOf<D>;
  /**
   * Defaults overlaid with `given`, each given value checked against its declaration. Unknown keys and refused
   * options are errors ({@link OptionError}), so a misspelled option never passes silently.
   */
  resolve(given?: Partial<OptionsOf<D>>): OptionsOf<D>;
}

/**
 * Any option group, whatever its declarations: what registries and the CLI hold when the group is not known
 * statically (a model's options, a plugin's optimizer options).
 */
export interface AnyOptionGroup {
  readonly name: string;
  readonly declarations: Declarations;
  defaults(): Record<string, unknown>;
  resolve(given?: Record<string, unknown>): Record<string, unknown>;
}

const clone = (v: unknown): unknown => (Array.isArray(v) ? [...(v as unknown[])] : v);

/** Declare a group of options. `name` is how errors and docs refer to the group. */
export function defineOptions<const D extends Declarations>(name: string, declarations: D): OptionGroup<D> {
  const entries = Object.entries(declarations);
  const defaults = (): OptionsOf<D> => {
    const out: Record<string, unknown> = {};
    for (const [key, decl] of entries) if (decl.kind === "option") out[key] = clone(decl.default);
    return out as OptionsOf<D>;
  };
  return {
    name,
    declarations,
    defaults,
    resolve(given = {}) {
      const out = defaults() as Record<string, unknown>;
      for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
        if (value === undefined) continue;
        const decl = declarations[key];
        if (!decl)
          throw new OptionError(
            name,
            key,
            `unknown option (known: ${entries
              .filter(([, d]) => d.kind === "option")
              .map(([k]) => k)
              .join(", ")})`,
          );
        if (decl.kind === "refused") throw new OptionError(name, key, `not supported: ${decl.reason}`);
        try {
          out[key] = decl.check(clone(value));
        } catch (err) {
          throw new OptionError(name, key, (err as Error).message);
        }
      }
      return out as OptionsOf<D>;
    },
  };
}
