import { Command, CommanderError } from "commander";
import { registerPreprocess } from "./commands/preprocess.js";
import { registerTrain } from "./commands/train.js";
import { registerGenerate } from "./commands/generate.js";
import { registerScore } from "./commands/score.js";
import { registerInteractive } from "./commands/interactive.js";
import { registerEvalLm } from "./commands/eval-lm.js";
import { addEncoderFlags } from "./encoders.js";
import { expandConfigFile } from "./config-file.js";

/** Every subcommand, named after fairseq's console scripts. */
const COMMANDS: ((program: Command) => void)[] = [registerPreprocess, registerTrain, registerGenerate, registerInteractive, registerScore, registerEvalLm];

/** Build the `fairseq-ts` program (exported for tests and embedding). */
export function buildProgram(): Command {
  const program = new Command("fairseq-ts")
    .description("fairseq's command line on TensorFlow.js: same flags, same file formats")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  for (const register of COMMANDS) register(program);
  // fairseq-preprocess accepts (and ignores) the text encoder flags like every fairseq command
  addEncoderFlags(program.commands.find((c) => c.name() === "preprocess")!);
  for (const cmd of program.commands) {
    cmd.exitOverride().showHelpAfterError("(add --help for usage)");
    cmd.option("--config <FILE>", "read flags from a JSON or YAML file (keys = flag names; the command line overrides them)");
  }
  return program;
}

/**
 * Run the CLI. Returns the exit code: 0 on success, 2 for usage errors (unknown flags, bad values:
 * commander names the flag), 1 for run-time errors (bad input files: the error names the file).
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // A NUL byte cannot be in a path or any value fairseq takes; Node's fs would throw a TypeError naming
  // no flag, so refuse it here and name the flag it was given to.
  const nul = argv.findIndex((a) => a.includes("\0"));
  if (nul >= 0) {
    const tok = argv[nul]!;
    const flag = tok.startsWith("-") ? tok.split("=")[0] : argv[nul - 1]?.startsWith("-") ? argv[nul - 1] : null;
    const shown = JSON.stringify(tok);
    process.stderr.write(flag ? `error: option '${flag}': value ${shown} contains a NUL byte\n` : `error: argument ${nul + 1} (${shown}) contains a NUL byte\n`);
    return 2;
  }
  try {
    await program.parseAsync(expandConfigFile(argv, program), { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the message (and help for --help, exit code 0).
      return err.exitCode === 0 ? 0 : 2;
    }
    const e = err as Error;
    process.stderr.write(`fairseq-ts: error: ${e.message}\n`);
    if (process.env.FAIRSEQ_TS_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
