/**
 * Every flag fairseq v0.10.2's parsers define (../shared/reference/fairseq/flags/*.tsv), given to fairseq-ts with a
 * non-default value: it must land in exactly one field of the typed options the command hands to its library calls
 * (the field named like fairseq's `dest`, holding the value given), or stop the command with exit code 2 and an
 * error saying that this flag is not supported. A flag that parses but lands nowhere, or lands in a field named
 * differently, fails. The defaults of the honoured flags equal fairseq's.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CommanderError } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { applyArchitecture } from "@fairseq-ts/models";
import { parseCommand, type ParsedCommand } from "../src/index.js";
import { pyValue, readFlagFiles, type FairseqFlag, type FlagFile } from "./flag-table.js";

/** What each command needs besides the flag under test. */
const BASE: Record<string, string[]> = {
  preprocess: ["preprocess"],
  score: ["score", "--ref", "ref.txt"],
  generate: ["generate", "DATA", "--path", "model.pt"],
  interactive: ["interactive", "DATA", "--path", "model.pt"],
  "eval-lm": ["eval-lm", "DATA", "--path", "model.pt"],
  validate: ["validate", "DATA"],
  train: ["train", "DATA"],
};

/** --user-dir needs a module to import: the test plugin (registers an architecture, nothing else). */
const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), "fixtures/plugin-arch");

const camel = (dest: string) => dest.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Values to try for a flag, non-default for fairseq (the first one fairseq-ts accepts is used). */
function candidates(f: FairseqFlag, base: string[]): (string | null)[] {
  if (f.action === "_StoreTrueAction") return [null];
  if (f.dest === "user_dir") return [PLUGIN];
  const def = pyValue(f.default);
  const given = base.includes(f.flag) ? base[base.indexOf(f.flag) + 1] : undefined;
  if (f.choices) return f.choices.filter((c) => c !== def && c !== given);
  if (f.default === "'True'") return ["False"];
  if (f.default === "'False'") return ["True"];
  if (f.type === "<lambda>") return [f.dest === "update_freq" ? "2" : "0.5"];
  if (f.type === "int") return [String(typeof def === "number" ? def + 1 : 3)];
  if (f.type === "float") return [String(typeof def === "number" ? def + 0.5 : 0.25)];
  return ["x-value"];
}

/** What fairseq's parser makes of `raw` for this flag (its type), to compare with the typed option. */
function expectedValue(f: FairseqFlag, raw: string | null): unknown {
  if (raw === null) return true;
  if (f.default === "'True'" || f.default === "'False'") return raw === "True";
  if (f.type === "<lambda>") return [Number(raw)];
  // nargs='+' (--retain-dropout-modules X): argparse makes a list of the values given
  if (f.nargs === "+") return [f.type === "int" || f.type === "float" ? Number(raw) : raw];
  if (f.type === "int" || f.type === "float") return Number(raw);
  return raw;
}

/**
 * fairseq's default to compare with: `effective`, or `default` where effective is a placeholder or absent, or
 * where it reflects the recipe's own flags (the tiny variant). undefined: nothing to compare.
 */
function fairseqDefault(file: FlagFile, f: FairseqFlag): unknown {
  const eff = f.effective;
  const text = file.file === "flags-train-tiny.tsv" || eff === "<absent>" || /^'[A-Z]+'$/.test(eff) ? f.default : eff;
  const v = pyValue(text);
  // argparse applies `type` to string defaults: eval_bool for --left-pad-source, eval_str_list for --lr
  if ((f.default === "'True'" || f.default === "'False'") && typeof v === "string") return v === "True";
  if (f.type === "<lambda>" && typeof v === "string") return v.split(",").map(Number);
  return v;
}

/** The fields whose values differ between two parses: "group.key". */
function changedFields(a: ParsedCommand, b: ParsedCommand): string[] {
  const out: string[] = [];
  for (const [group, values] of Object.entries(b.options)) {
    for (const [key, v] of Object.entries(values)) {
      if (JSON.stringify(a.options[group]?.[key]) !== JSON.stringify(v)) out.push(`${group}.${key}`);
    }
  }
  return out;
}

function withFlag(base: string[], flag: string, value: string | null): string[] {
  const at = base.indexOf(flag);
  if (at >= 0) return [...base.slice(0, at), flag, ...(value === null ? [] : [value]), ...base.slice(at + 2)];
  return [...base, flag, ...(value === null ? [] : [value])];
}

type Outcome = { kind: "honoured"; field: string; value: unknown } | { kind: "refused"; message: string } | { kind: "failed"; why: string };

async function walkFlag(file: FlagFile, f: FairseqFlag, baseline: ParsedCommand | null): Promise<Outcome> {
  const base = [...BASE[file.command]!, ...file.variant];
  const problems: string[] = [];
  for (const raw of candidates(f, base)) {
    let parsed: ParsedCommand;
    try {
      parsed = await parseCommand(withFlag(base, f.flag, raw));
    } catch (err) {
      if (!(err instanceof CommanderError)) return { kind: "failed", why: `${(err as Error).message}` };
      if (err.exitCode === 2 && new RegExp(`'${f.flag}'?: not supported by fairseq-ts: .+`).test(err.message)) return { kind: "refused", message: err.message };
      if (err.exitCode === 2 && file.command === "validate" && /command 'validate': not supported by fairseq-ts: .+/.test(err.message))
        return { kind: "refused", message: err.message };
      problems.push(`${raw}: ${err.message}`);
      continue; // e.g. a choice fairseq-ts does not offer: try the next
    }
    if (!baseline) return { kind: "failed", why: "parsed, but the command's baseline did not" };
    const want = expectedValue(f, raw);
    const names = new Set([camel(f.dest), f.dest]);
    const changed = changedFields(baseline, parsed);
    const own = changed.filter((c) => names.has(c.split(".")[1]!));
    // a component selector (--task, --tokenizer, ...) also brings the component's options: only its own field counts
    const others = changed.filter((c) => !names.has(c.split(".")[1]!));
    const selector = ["task", "tokenizer", "bpe", "scoring", "optimizer", "lr_scheduler", "criterion", "arch"].includes(f.dest);
    if (own.length !== 1)
      return { kind: "failed", why: `${f.flag} ${raw ?? ""}: expected one field named ${[...names].join("/")} to change, changed: [${changed.join(", ")}]` };
    const [group, key] = own[0]!.split(".") as [string, string];
    const got = parsed.options[group]![key];
    if (JSON.stringify(got) !== JSON.stringify(want))
      return { kind: "failed", why: `${f.flag} ${raw ?? ""}: ${own[0]} = ${JSON.stringify(got)}, expected ${JSON.stringify(want)}` };
    if (others.length && !selector) return { kind: "failed", why: `${f.flag} ${raw ?? ""}: also changed [${others.join(", ")}]` };
    return { kind: "honoured", field: own[0]!, value: got };
  }
  return { kind: "failed", why: `no value parsed: ${problems.join(" | ")}` };
}

describe("every fairseq flag is honoured (reaches its typed option) or refused by name", () => {
  const files = readFlagFiles();
  const counts: Record<string, { honoured: number; refused: number }> = {};
  let stderr: { mockRestore(): void };
  beforeAll(() => {
    // commander prints each refusal; the assertions read the errors themselves
    stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterAll(() => {
    stderr.mockRestore();
    const lines = Object.entries(counts).map(([file, c]) => `${file}: ${c.honoured} honoured, ${c.refused} refused (of ${c.honoured + c.refused})`);
    process.stdout.write(`flag walk:\n  ${lines.join("\n  ")}\n`);
  });

  it("knows a command for every flag file", () => {
    expect(files.map((f) => f.file)).toContain("flags-generate.tsv");
  });

  for (const file of files) {
    it(`${file.file}: ${file.flags.length} flags`, async () => {
      let baseline: ParsedCommand | null = null;
      try {
        baseline = await parseCommand([...BASE[file.command]!, ...file.variant]);
      } catch (err) {
        if (file.command !== "validate") throw err;
      }
      const failures: string[] = [];
      const c = (counts[file.file] = { honoured: 0, refused: 0 });
      for (const f of file.flags) {
        const o = await walkFlag(file, f, baseline);
        if (o.kind === "failed") {
          failures.push(`${f.flag}: ${o.why}`);
          continue;
        }
        c[o.kind]++;
        if (o.kind === "honoured" && baseline && ![...BASE[file.command]!, ...file.variant].includes(f.flag)) {
          // defaults: fairseq's (effective where fairseq post-processes, e.g. --criterion of the tiny recipe)
          const [group, key] = o.field.split(".") as [string, string];
          let have = baseline.options[group]![key];
          const want = fairseqDefault(file, f);
          // a model flag fairseq leaves unset (SUPPRESS): the architecture's preset decides, here as there
          if (f.default === "==SUPPRESS==" && group === "model" && have === null) {
            const args = { arch: baseline.options.model!.arch as string } as Record<string, unknown> & { arch: string };
            have = applyArchitecture(args).args[key];
          }
          if (want !== undefined && JSON.stringify(have) !== JSON.stringify(want))
            failures.push(`${f.flag}: default ${JSON.stringify(have)}, fairseq's ${JSON.stringify(want)}`);
        }
      }
      expect(failures, failures.join("\n")).toEqual([]);
      expect(c.honoured + c.refused).toBe(file.flags.length);
    }, 120_000);
  }
});

describe("transformer_align's flags (fairseq's TransformerAlignModel.add_args; the reference lists have no variant for it)", () => {
  it("--alignment-heads, --alignment-layer and --full-context-alignment land in the model args; unset, the preset gives fairseq's 1, 4, False", async () => {
    const base = ["train", "DATA", "--task", "translation", "--arch", "transformer_align"];
    const given = await parseCommand([...base, "--alignment-heads", "2", "--alignment-layer", "3", "--full-context-alignment"]);
    expect(given.options.model).toMatchObject({ arch: "transformer_align", alignment_heads: 2, alignment_layer: 3, full_context_alignment: true });
    const unset = await parseCommand(base);
    const filled = applyArchitecture({ ...(unset.options.model as Record<string, unknown>), arch: "transformer_align" }).args;
    expect([filled.alignment_heads, filled.alignment_layer, filled.full_context_alignment]).toEqual([1, 4, false]);
    // the transformer's own flags come along (the model's options extend the transformer's)
    const big = await parseCommand([...base.slice(0, -1), "transformer_wmt_en_de_big_align", "--adaptive-softmax-cutoff", "100,200"]);
    expect(big.options.model).toMatchObject({ adaptive_softmax_cutoff: "100,200" });
  });
});
