import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SHARED } from "./shared.js";
import flagVariants from "./flag-variants.json";

/** fairseq v0.10.2's flags, as its own argparse parsers report them (../shared/reference/fairseq/flags). */
export const FLAGS_DIR = join(SHARED, "reference/fairseq/flags");

export interface FairseqFlag {
  /** Every spelling (`-s`, `--source-lang`). */
  strings: string[];
  /** The long spelling the walk uses. */
  flag: string;
  dest: string;
  default: string;
  effective: string;
  type: string;
  choices: string[] | null;
  nargs: string;
  action: string;
  group: string;
}

export interface FlagFile {
  file: string;
  /** The fairseq-ts command and the arguments that select the variant (`train --task ... --arch ...`). */
  command: string;
  variant: string[];
  flags: FairseqFlag[];
}

/** The variants COMMANDS.md describes: `flags-train-X.tsv` is train with the given task and arch (shared with scripts/flags-doc.mjs). */
const VARIANTS: Record<string, { command: string; variant: string[] }> = Object.fromEntries(
  Object.entries(flagVariants.variants as Record<string, string[]>).map(([file, [command, ...variant]]) => [file, { command: command!, variant }]),
);

export function readFlagFiles(): FlagFile[] {
  const files = readdirSync(FLAGS_DIR)
    .filter((f) => f.endsWith(".tsv"))
    .sort();
  return files.map((file) => {
    const v = VARIANTS[file];
    if (!v) throw new Error(`${file}: no command known for this flag list (update VARIANTS)`);
    const [header, ...rows] = readFileSync(join(FLAGS_DIR, file), "utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    const cols = header!.split("\t");
    const at = (r: string[], name: string) => r[cols.indexOf(name)] ?? "";
    const flags: FairseqFlag[] = [];
    for (const line of rows) {
      const r = line.split("\t");
      const strings = at(r, "option_strings").split(",");
      if (strings[0] === "(positional)" || strings.includes("--help")) continue;
      const choices = at(r, "choices");
      flags.push({
        strings,
        flag: strings.find((s) => s.startsWith("--"))!,
        dest: at(r, "dest"),
        default: at(r, "default"),
        effective: at(r, "effective"),
        type: at(r, "type"),
        choices: choices ? (JSON.parse(choices) as string[]) : null,
        nargs: at(r, "nargs"),
        action: at(r, "action"),
        group: at(r, "group"),
      });
    }
    return { file, ...v, flags };
  });
}

/** A Python literal from the tsv (`'x'`, `None`, `True`, `1e-08`, `[0.25]`) as a JS value; undefined when absent. */
export function pyValue(text: string): unknown {
  if (text === "<absent>" || text === "==SUPPRESS==") return undefined;
  if (text === "None") return null;
  if (text === "True") return true;
  if (text === "False") return false;
  if (/^'.*'$/.test(text)) return text.slice(1, -1);
  if (/^\[.*\]$/.test(text))
    return text
      .slice(1, -1)
      .split(",")
      .filter((x) => x.trim() !== "")
      .map((x) => pyValue(x.trim()));
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  return text;
}
