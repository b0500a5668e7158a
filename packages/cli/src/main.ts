import { Command, CommanderError } from "commander";
import { OptionError, flagOf } from "@fairseq-ts/config";
import { trainSpec } from "./commands/train.js";
import { generateSpec } from "./commands/generate.js";
import { interactiveSpec } from "./commands/interactive.js";
import { preprocessSpec } from "./commands/preprocess.js";
import { scoreSpec } from "./commands/score.js";
import { evalLmSpec } from "./commands/eval-lm.js";
import { serveSpec } from "./commands/serve.js";
import { configFileOf, expandConfigFile, readConfigPairs } from "./config-file.js";
import { addCommand, expandAbbreviations, groupsOf, scanSelections, type CommandSpec, type FlagTable, type ParsedCommand, type Selections } from "./spec.js";
import { importUserDir } from "./user-dir.js";

/** The commands whose flags come from option declarations, named after fairseq's console scripts. */
export const COMMAND_SPECS: readonly CommandSpec[] = [preprocessSpec, trainSpec, generateSpec, interactiveSpec, scoreSpec, evalLmSpec, serveSpec];

/** fairseq's console scripts fairseq-ts does not have, with the reason (they stop with exit code 2). */
export const MISSING_COMMANDS: Readonly<Record<string, string>> = {
  validate:
    "fairseq-validate is not implemented: train reports the validation loss of every epoch (--valid-subset), and generate --score-reference scores a split with a checkpoint",
};

/**
 * Build the `fairseq-ts` program (exported for tests and embedding). `selections` picks, per command, the
 * components whose flags the command gets (`{ train: { "common.optimizer": "adam" } }`; default: each command's
 * defaults); `sink` receives the typed options of a parsed command line; `only` builds the flags of that command
 * alone (the others keep their names).
 */
export function buildProgram(
  selections: Selections = {},
  sink: (p: ParsedCommand) => void = () => {},
  tables?: Map<string, FlagTable>,
  only?: string,
): Command {
  const program = new Command("fairseq-ts")
    .description("fairseq's command line on TensorFlow.js: same flags, same file formats")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  for (const spec of COMMAND_SPECS) {
    if (only !== undefined && spec.name !== only) {
      // a command line runs one command: the others need their names only (hundreds of flags each to build)
      program.command(spec.name).description(spec.description);
      continue;
    }
    const table = addCommand(program, spec, selections[spec.name] ?? {}, sink);
    tables?.set(spec.name, table);
  }
  for (const [name, reason] of Object.entries(MISSING_COMMANDS)) {
    program
      .command(name, { hidden: true })
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => program.error(`error: command '${name}': not supported by fairseq-ts: ${reason}`, { exitCode: 2, code: "fairseq-ts.refusedCommand" }));
  }
  for (const cmd of program.commands) {
    cmd.exitOverride().showHelpAfterError("(add --help for usage)");
    cmd.option("--config <FILE>", "read flags from a JSON or YAML file (keys = flag names; the command line overrides them)");
  }
  return program;
}

/** What parsing a command line produced: the typed options (null for commands that run while parsing) and its flags. */
interface Prepared {
  spec: CommandSpec | null;
  parsed: ParsedCommand | null;
  table: FlagTable | null;
}

/** The components a command line selects (reading `--config`, importing `--user-dir`). */
async function selectionsOf(spec: CommandSpec | null, argv: string[]): Promise<Record<string, string | null>> {
  let selected: Record<string, string | null> = {};
  if (spec) {
    // the selected components decide which flags exist, so read them (and import --user-dir, whose
    // models and optimizers bring their own flags) before parsing
    const config = configFileOf(argv);
    const pairs = config ? readConfigPairs(config.file) : [];
    const userDir = scanSelections(spec, argv, pairs, [{ group: "common", key: "userDir" }])["common.userDir"];
    if (userDir) await importUserDir(userDir);
    selected = scanSelections(spec, argv, pairs);
  }
  return selected;
}

/**
 * The flags a command line's command has (with the components it selects: `train --arch lstm` has the LSTM's):
 * spelling -> where it lands, or why it is refused. Nothing is parsed or run (docs and tests read it).
 */
export async function flagTableOf(argv: string[]): Promise<FlagTable> {
  const spec = COMMAND_SPECS.find((s) => s.name === argv[0]);
  if (!spec) throw new Error(`flagTableOf: '${argv[0]}' is not a command with declared options`);
  const tables = new Map<string, FlagTable>();
  buildProgram({ [spec.name]: await selectionsOf(spec, argv) }, () => {}, tables, spec.name);
  return tables.get(spec.name)!;
}

async function prepare(argv: string[]): Promise<Prepared> {
  const spec = COMMAND_SPECS.find((s) => s.name === argv[0]) ?? null;
  const selected = await selectionsOf(spec, argv);
  let parsed: ParsedCommand | null = null;
  const tables = new Map<string, FlagTable>();
  const program = buildProgram(spec ? { [spec.name]: selected } : {}, (p) => (parsed = p), tables, spec?.name);
  const expanded = expandAbbreviations(expandConfigFile(argv, program), program);
  await program.parseAsync(expanded, { from: "user" });
  return { spec, parsed, table: spec ? tables.get(spec.name)! : null };
}

/**
 * Parse a command line into its typed options, one object per option group, without running anything
 * (`--user-dir` is imported: its components bring flags). Usage errors throw commander's `CommanderError`.
 */
export async function parseCommand(argv: string[]): Promise<ParsedCommand> {
  const { parsed } = await prepare(argv);
  if (!parsed) throw new Error(`parseCommand: '${argv[0]}' is not a command with declared options`);
  return parsed;
}

/** The flag of an option named by a library's OptionError, among the command's flags. */
function flagOfOptionError(err: OptionError, spec: CommandSpec | null, table: FlagTable | null): string | null {
  if (table) for (const [spelling, t] of table) if (t.group === err.group && t.key === err.key && spelling === t.flag) return spelling;
  if (spec) {
    for (const use of groupsOf(spec)) {
      const decl = use.group.declarations[err.key];
      if ((use.as ?? use.group.name) === err.group && decl) return flagOf(err.key, decl);
    }
  }
  return null;
}

/**
 * Run the CLI. Returns the exit code: 0 on success, 2 for usage errors (unknown or refused flags, bad values:
 * the message names the flag), 1 for run-time errors (bad input files: the error names the file).
 */
export async function main(argv: string[]): Promise<number> {
  // A NUL byte cannot be in a path or any value fairseq takes; Node's fs would throw a TypeError naming
  // no flag, so refuse it here and name the flag it was given to.
  const nul = argv.findIndex((a) => a.includes("\0"));
  if (nul >= 0) {
    const tok = argv[nul]!;
    const flag = tok.startsWith("-") ? tok.split("=")[0] : argv[nul - 1]?.startsWith("-") ? argv[nul - 1] : null;
    const shown = JSON.stringify(tok);
    process.stderr.write(
      flag ? `error: option '${flag}': value ${shown} contains a NUL byte\n` : `error: argument ${nul + 1} (${shown}) contains a NUL byte\n`,
    );
    return 2;
  }
  let prepared: Prepared | null = null;
  try {
    prepared = await prepare(argv);
    if (prepared.spec && prepared.parsed) await prepared.spec.run(prepared.parsed);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the message (and help for --help, exit code 0).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof OptionError) {
      // a library's complaint about an option, told in terms of the flag the user gave
      const flag = flagOfOptionError(err, prepared?.spec ?? null, prepared?.table ?? null);
      process.stderr.write(flag ? `error: option '${flag}': ${err.reason}\n` : `fairseq-ts: error: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`fairseq-ts: error: ${e.message}\n`);
    if (process.env.FAIRSEQ_TS_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
