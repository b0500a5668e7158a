/**
 * Commands described by the option groups they use, and their flags derived from those declarations.
 *
 * The parser stays commander (its messages, `--flag=value`, short flags and help), with three changes that make it
 * behave like fairseq's argparse: a flag spelled `--no-X` is its own flag, never the negation of `--X` (commander's
 * rule silently swallowed `--no-repeat-ngram-size 2`); unique prefixes of long flags are accepted (argparse's
 * allow_abbrev, see {@link expandAbbreviations}); and flags fairseq defines but fairseq-ts does not support are
 * declared, so they stop the command with the reason instead of being called unknown. Each command's action only
 * collects one typed object per option group ({@link ParsedCommand}); running it is separate, so tests can check
 * where a flag lands without running anything.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { flagOf, type AnyDecl, type AnyOptionGroup } from "@fairseq-ts/config";

/** An option group as one command uses it. */
export interface GroupUse {
  readonly group: AnyOptionGroup;
  /** The group's name in {@link ParsedCommand.options} (default: the group's own name). */
  readonly as?: string;
  /**
   * Options of the group this command parses (as fairseq's parser does) but has no use for: refused with the
   * reason, so that a fairseq command line never has a flag silently ignored.
   */
  readonly unused?: readonly { readonly keys: readonly string[] | "all"; readonly reason: string }[];
  /** This command's defaults where they differ from the group's (fairseq-eval-lm's `--task language_modeling`). */
  readonly defaults?: Readonly<Record<string, unknown>>;
}

/**
 * An option whose value names a registered component (`--tokenizer moses`, `--arch transformer`): the component's
 * own options become flags of the command only when it is selected, as fairseq's `add_args` does.
 */
export interface Selector {
  /** Where the selecting option is declared: the group name (as used) and key. */
  readonly group: string;
  readonly key: string;
  /** The selected component's options land under this name in {@link ParsedCommand.options}. */
  readonly as: string;
  /**
   * The component's options (null: it has none). An unknown name may throw: the command then has no flags for it,
   * and running it reports the unknown name.
   */
  options(name: string): AnyOptionGroup | null;
  /** Refuse the component's options with this reason (the command parses but does not use them). */
  readonly unused?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  /** The one positional argument (fairseq's `data`), required when given. */
  readonly positional?: { readonly name: string; readonly help: string };
  readonly groups: readonly GroupUse[];
  readonly selectors?: readonly Selector[];
  /** Options that must be given (`--path` of generate): group name (as used) and key. */
  readonly required?: readonly { readonly group: string; readonly key: string }[];
  /** Run the command with its parsed, typed options. */
  run(parsed: ParsedCommand): Promise<void> | void;
}

/** One command line, parsed: the positional argument and one typed, checked object per option group. */
export interface ParsedCommand {
  readonly command: string;
  readonly positional: string | null;
  /** Group name (as used) -> every option of the group, at its default unless given. */
  readonly options: Record<string, Record<string, unknown>>;
  /** "group.key" -> the flag as the user spelled it, for options given on the command line. */
  readonly given: ReadonlyMap<string, string>;
}

/** Where a flag lands: group (as used), key and declaration; `refused` when the command refuses it. */
export interface FlagTarget {
  readonly group: string;
  readonly key: string;
  readonly decl: AnyDecl;
  /** The flag's main spelling (`--batch-size` for `--max-sentences`). */
  readonly flag: string;
  readonly refused: string | null;
}

/** Every flag of one built command: spelling -> target. */
export type FlagTable = Map<string, FlagTarget>;

/** The commander options the CLI declared refused, with the reason (the config-file reader lists them). */
export const refusedOptions = new WeakMap<Option, string>();

/** Which component each selector picked, by command: "group.key" -> name. */
export type Selections = Record<string, Record<string, string | null>>;

const metavarOf = (decl: AnyDecl): string =>
  decl.kind === "option" ? (decl.metavar ?? (decl.type.startsWith("int") || decl.type.startsWith("float") ? "N" : "VALUE")) : "VALUE";

function describeDefault(v: unknown): string | null {
  if (v === null || v === undefined || v === false) return null;
  if (Array.isArray(v)) return v.join(",");
  if (v === true) return "True";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- declared defaults are numbers, strings or arrays
  return typeof v === "string" ? (v === "" ? "''" : v) : String(v);
}

/** The option groups a command has with the given selections: its own, then each selected component's. */
export function groupsOf(spec: CommandSpec, selected: Record<string, string | null> = {}): GroupUse[] {
  const uses: GroupUse[] = [...spec.groups];
  for (const s of spec.selectors ?? []) {
    const name = selected[`${s.group}.${s.key}`] ?? defaultOf(spec, s.group, s.key);
    if (typeof name !== "string") continue;
    let group: AnyOptionGroup | null = null;
    try {
      group = s.options(name);
    } catch {
      group = null; // unknown component: running the command names it
    }
    if (group) uses.push({ group, as: s.as, ...(s.unused !== undefined && { unused: [{ keys: "all", reason: s.unused }] }) });
  }
  return uses;
}

/** A group's default for `key` as this command sets it. */
export function defaultOf(spec: CommandSpec, groupAs: string, key: string): unknown {
  const use = spec.groups.find((u) => (u.as ?? u.group.name) === groupAs);
  if (!use) return undefined;
  if (use.defaults && key in use.defaults) return use.defaults[key];
  const d = use.group.declarations[key];
  return d?.kind === "option" ? d.default : undefined;
}

function refusalOf(use: GroupUse, key: string, decl: AnyDecl): string | null {
  if (decl.kind === "refused") return decl.reason;
  const u = use.unused?.find((x) => x.keys === "all" || x.keys.includes(key));
  return u ? u.reason : null;
}

/**
 * Add `spec` to `program` with the flags of its groups and of the selected components. The action collects the
 * typed options and hands them to `sink` (nothing runs).
 */
export function addCommand(program: Command, spec: CommandSpec, selected: Record<string, string | null>, sink: (p: ParsedCommand) => void): FlagTable {
  const cmd = program.command(spec.name).description(spec.description);
  if (spec.positional) cmd.argument(`<${spec.positional.name}>`, spec.positional.help);
  const uses = groupsOf(spec, selected);
  const table: FlagTable = new Map();
  const values: Record<string, Record<string, unknown>> = {};
  const given = new Map<string, string>();
  const fresh = () => {
    for (const use of uses) {
      const as = use.as ?? use.group.name;
      values[as] = { ...(values[as] ?? {}), ...use.group.defaults(), ...(use.defaults ?? {}) };
    }
    given.clear();
  };
  fresh();
  for (const use of uses) {
    const as = use.as ?? use.group.name;
    for (const [key, decl] of Object.entries(use.group.declarations)) {
      const refused = refusalOf(use, key, decl);
      const main = flagOf(key, decl);
      const spellings = [main, ...(decl.aliases ?? [])];
      const short = spellings.find((s) => /^-[^-]$/.test(s));
      const longs = spellings.filter((s) => s.startsWith("--"));
      const target: FlagTarget = { group: as, key, decl, flag: main, refused };
      const suffix =
        decl.arity === "value"
          ? ` <${metavarOf(decl)}>`
          : decl.arity === "optional"
            ? ` [${metavarOf(decl)}]`
            : decl.arity === "list"
              ? ` <${metavarOf(decl)}...>`
              : "";
      longs.forEach((long, i) => {
        const def = decl.kind === "option" ? describeDefault(use.defaults?.[key] ?? decl.default) : null;
        const help = refused ? `not supported: ${refused}` : `${decl.help}${def !== null && decl.arity !== "flag" ? ` (default: ${def})` : ""}`;
        const option = new Option(`${i === 0 && short ? `${short}, ` : ""}${long}${suffix}`, help);
        // fairseq's `--no-save` is its own store_true flag and `--no-repeat-ngram-size` takes a number:
        // neither is the negation of another flag
        option.negate = false;
        if (i > 0 || refused) option.hideHelp();
        if (decl.kind === "option" && decl.arity !== "flag") {
          option.argParser((raw: string): unknown => {
            try {
              return decl.parse(raw);
            } catch (err) {
              throw new InvalidArgumentError((err as Error).message);
            }
          });
        }
        if (refused) refusedOptions.set(option, refused);
        cmd.addOption(option);
        table.set(long, target);
        if (i === 0 && short) table.set(short, target);
        // (after commander's own listener, which has checked the value)
        cmd.on(`option:${option.name()}`, (raw: string | null | undefined) => {
          const spelled = long;
          if (refused) cmd.error(`error: option '${spelled}': not supported by fairseq-ts: ${refused}`, { exitCode: 2, code: "fairseq-ts.refusedOption" });
          if (decl.kind !== "option") return;
          let v: unknown =
            decl.arity === "flag" ? true : decl.arity === "optional" && (raw === null || raw === undefined) ? decl.const : decl.parse(String(raw));
          // nargs='+': commander reports each argument of `--flag A B` on its own; the list collects them
          if (decl.arity === "list" && given.has(`${as}.${key}`)) v = [...(values[as]![key] as unknown[]), ...(v as unknown[])];
          values[as]![key] = v;
          given.set(`${as}.${key}`, spelled);
        });
      });
    }
  }
  cmd.action((...args: unknown[]) => {
    const positional = spec.positional ? (args[0] as string) : null;
    for (const r of spec.required ?? []) {
      if (values[r.group]?.[r.key] === null || values[r.group]?.[r.key] === undefined) {
        const t = [...table.values()].find((x) => x.group === r.group && x.key === r.key)!;
        cmd.error(`error: required option '${t.flag} <${metavarOf(t.decl)}>' not specified`, { exitCode: 2, code: "commander.missingMandatoryOptionValue" });
      }
    }
    const options: Record<string, Record<string, unknown>> = {};
    for (const [k, v] of Object.entries(values)) options[k] = { ...v };
    sink({ command: spec.name, positional, options, given: new Map(given) });
    fresh(); // the same program may parse again (tests, embedding)
  });
  return table;
}

/**
 * argparse's allow_abbrev: a unique prefix of a long flag stands for it (`--max-tok 4096`); an ambiguous one is
 * an error listing the candidates. Tokens after `--`, and values of value-taking flags, are left alone.
 */
export function expandAbbreviations(argv: string[], program: Command): string[] {
  const cmd = program.commands.find((c) => c.name() === argv[0]);
  if (!cmd) return argv;
  const longs = cmd.options.map((o) => o.long).filter((l): l is string => !!l);
  longs.push("--help");
  const takesValue = (flag: string) => cmd.options.some((o) => (o.long === flag || o.short === flag) && o.required);
  const out = [argv[0]!];
  for (let i = 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (!t.startsWith("--") || t.length <= 2) {
      out.push(t);
      if (/^-[^-]$/.test(t) && takesValue(t) && i + 1 < argv.length) out.push(argv[++i]!);
      continue;
    }
    const eq = t.indexOf("=");
    const name = eq >= 0 ? t.slice(0, eq) : t;
    let flag = name;
    if (!longs.includes(name)) {
      const candidates = longs.filter((l) => l.startsWith(name));
      if (candidates.length === 1) flag = candidates[0]!;
      else if (candidates.length > 1)
        cmd.error(`error: ambiguous option: ${name} could match ${candidates.join(", ")}`, { exitCode: 2, code: "fairseq-ts.ambiguousOption" });
    }
    out.push(eq >= 0 ? `${flag}${t.slice(eq)}` : flag);
    if (eq < 0 && takesValue(flag) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

/**
 * The component names a command line selects (`--tokenizer moses`, `--arch lstm`, `--user-dir`), read before
 * parsing because they decide which flags exist: from `--flag value` / `--flag=value` in argv, else from the
 * config file's pairs, else the command's default.
 */
export function scanSelections(
  spec: CommandSpec,
  argv: string[],
  configPairs: [string, unknown][],
  extra: { group: string; key: string }[] = [],
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const wanted = [...(spec.selectors ?? []).map((s) => ({ group: s.group, key: s.key })), ...extra];
  for (const w of wanted) {
    const use = spec.groups.find((u) => (u.as ?? u.group.name) === w.group);
    const decl = use?.group.declarations[w.key];
    if (!use || !decl) continue;
    const spellings = [flagOf(w.key, decl), ...(decl.aliases ?? [])];
    let value: string | null | undefined;
    for (let i = 1; i < argv.length; i++) {
      const t = argv[i]!;
      if (t === "--") break;
      for (const s of spellings) {
        if (t === s && i + 1 < argv.length) value = argv[i + 1]!;
        else if (t.startsWith(`${s}=`)) value = t.slice(s.length + 1);
      }
    }
    if (value === undefined) {
      const names = spellings.filter((s) => s.startsWith("--")).map((s) => s.slice(2));
      const pair = [...configPairs].reverse().find(([k]) => names.includes(k));
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- config values are scalars or arrays here (flatten() opens mappings); expandConfigFile rejects the rest
      if (pair && pair[1] !== null && pair[1] !== undefined) value = String(pair[1]);
    }
    out[`${w.group}.${w.key}`] = value ?? (defaultOf(spec, w.group, w.key) as string | null) ?? null;
  }
  return out;
}
