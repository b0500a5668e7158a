import { readFileSync } from "node:fs";
import type { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { refusedOptions } from "./spec.js";

/** Flags whose list values are Python tuples in fairseq (`--adam-betas '(0.9, 0.98)'`). */
const TUPLE_FLAGS = new Set(["adam-betas", "adafactor-eps", "phase-ratio"]);
/** fairseq's hydra groups name their component with `_name`. */
const GROUP_NAME_FLAG: Record<string, string> = {
  model: "arch",
  task: "task",
  criterion: "criterion",
  optimizer: "optimizer",
  lr_scheduler: "lr-scheduler",
  bpe: "bpe",
  tokenizer: "tokenizer",
};

export class ConfigFileError extends Error {
  override name = "ConfigFileError";
}

function findOption(cmd: Command, flag: string): Option | undefined {
  return cmd.options.find((o) => o.long === `--${flag}`) ?? cmd.options.find((o) => o.long === `--no-${flag}`);
}

/** `key: value` pairs of a config file (nested hydra-style groups flattened) as flag names and values. */
function flatten(obj: Record<string, unknown>, file: string, group: string | null, out: [string, unknown][]): void {
  for (const [k, v] of Object.entries(obj)) {
    if (k === "_name") {
      const flag = group ? GROUP_NAME_FLAG[group] : undefined;
      if (!flag) throw new ConfigFileError(`${file}: '_name' outside a component group (model, task, criterion, optimizer, lr_scheduler, bpe, tokenizer)`);
      out.push([flag, v]);
    } else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      flatten(v as Record<string, unknown>, file, k, out);
    } else {
      out.push([k.replace(/_/g, "-"), v]);
    }
  }
}

/** Parse a config file's text (JSON when the name ends in .json, else YAML) into a mapping, or a ConfigFileError. */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    // (the yaml library throws its own errors and even ReferenceError for a dangling alias: all become ours)
    parsed = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { logLevel: "error" });
  } catch (err) {
    throw new ConfigFileError(
      `--config ${file}: not valid ${/\.json$/i.test(file) ? "JSON" : "YAML"}: ${String((err as Error)?.message ?? err).split("\n")[0]}`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new ConfigFileError(`--config ${file}: expected a mapping of flag names to values`);
  return parsed as Record<string, unknown>;
}

/** `--config FILE` in argv: the file and the other tokens (null without it). */
export function configFileOf(argv: string[]): { file: string; rest: string[] } | null {
  const at = argv.indexOf("--config");
  const eq = argv.findIndex((a) => a.startsWith("--config="));
  if (at < 0 && eq < 0) return null;
  const file = at >= 0 ? argv[at + 1] : argv[eq]!.slice("--config=".length);
  if (!file) throw new ConfigFileError("--config: expected a file name");
  const rest = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 2)] : [...argv.slice(0, eq), ...argv.slice(eq + 1)];
  return { file, rest };
}

/** A config file's `key: value` pairs as flag names (without `--`) and values, hydra groups flattened. */
export function readConfigPairs(file: string): [string, unknown][] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigFileError(`--config ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const parsed = parseConfigText(text, file);
  const pairs: [string, unknown][] = [];
  flatten(parsed, file, null, pairs);
  return pairs;
}

/**
 * `fairseq-ts <command> --config FILE ...`: the flags in a JSON or YAML file (keys are flag names, with
 * `-` or `_`; fairseq's hydra groups may nest them) come first, so the command line overrides them.
 * A `data` key stands for the data directory when the command line gives none.
 */
export function expandConfigFile(argv: string[], program: Command): string[] {
  const found = configFileOf(argv);
  if (!found) return argv;
  const { file, rest } = found;
  const cmd = program.commands.find((c) => c.name() === rest[0]);
  if (!cmd) throw new ConfigFileError(`--config ${file}: give the command first (e.g. fairseq-ts train --config ${file})`);
  const pairs = readConfigPairs(file);
  const injected: string[] = [];
  const unknown: string[] = [];
  const refused: string[] = [];
  let data: string | null = null;
  for (const [flag, value] of pairs) {
    if (flag === "data") {
      data = String(value);
      continue;
    }
    if (value === null || value === undefined) continue;
    const opt = findOption(cmd, flag);
    if (!opt || refusedOptions.has(opt)) {
      unknown.push(flag);
      if (opt) refused.push(`'${flag}' is not supported by fairseq-ts: ${refusedOptions.get(opt)}`);
      continue;
    }
    const takesValue = opt.required || opt.optional;
    if (typeof value === "boolean") {
      if (opt.long === `--${flag}` && !takesValue) {
        // a switch named like the key (`no-save: true` -> --no-save; `report-accuracy: false` -> nothing)
        if (value) injected.push(`--${flag}`);
      } else if (opt.long === `--no-${flag}`) {
        // `save: false` -> --no-save
        if (!value) injected.push(`--no-${flag}`);
      } else {
        injected.push(`--${flag}`, value ? "True" : "False");
      }
      continue;
    }
    if (typeof value === "object" && !Array.isArray(value))
      throw new ConfigFileError(`--config ${file}: '${flag}' takes a value, not ${JSON.stringify(value)}`);
    const str = Array.isArray(value) ? (TUPLE_FLAGS.has(flag) ? `(${value.join(", ")})` : value.join(",")) : String(value as string | number | bigint);
    if (!takesValue) throw new ConfigFileError(`--config ${file}: '${flag}' is a switch; give true or false, not ${JSON.stringify(value)}`);
    injected.push(`--${flag}`, str);
  }
  if (unknown.length)
    throw new ConfigFileError(
      `--config ${file}: unknown option(s) for ${cmd.name()}: ${unknown.map((u) => `'${u}'`).join(", ")}${refused.length ? ` (${refused.join("; ")})` : ""}`,
    );
  const out = [rest[0]!, ...injected, ...rest.slice(1)];
  if (data !== null && !hasPositional(rest.slice(1), cmd)) out.push(data);
  return out;
}

/** Whether the user's tokens include a positional argument (a token that is neither a flag nor a flag's value). */
function hasPositional(tokens: string[], cmd: Command): boolean {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "--") return i + 1 < tokens.length;
    if (!t.startsWith("-") || t === "-") return true;
    if (t.includes("=")) continue;
    const opt = cmd.options.find((o) => o.long === t || o.short === t);
    if (opt?.required) i++;
    else if (opt?.optional && i + 1 < tokens.length && !tokens[i + 1]!.startsWith("-")) i++;
  }
  return false;
}
