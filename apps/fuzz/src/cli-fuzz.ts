/**
 * Fuzzing `fairseq-ts` command lines in-process (the CLI exports `main(argv) → exit code`): random
 * subcommands, real and made-up flag names, values from a hostile pool, `--flag=value` and
 * `--flag value` forms, repeats, missing values and shuffled orders.
 *
 * An outcome is acceptable when it is exit code 0, or exit code 2 (a usage error commander reports
 * naming the flag, argument or command), or exit code 1 with `fairseq-ts: error: <message>` where the
 * error is one of fairseq-ts' own (not a TypeError/RangeError/… escaping from the engine) and the
 * message names a flag or a file. A rejected promise, a stack trace in the output, or a run that does
 * not finish within `hangMs` is a finding.
 *
 * Every run happens with the working directory set to a scratch directory, and every path in the value
 * pool points into it: relative values such as `--save-dir abc` create nothing in the checkout.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { buildProgram, main } from "@fairseq-ts/cli";
import { prng, type FuzzFinding } from "./fuzz.js";

/** commander's types, through the CLI's own program (this app does not depend on commander). */
type Command = ReturnType<typeof buildProgram>;
type Option = Command["options"][number];

/** Error names that mean an engine error escaped instead of a checked, explained one. */
const ENGINE_ERRORS = /^(TypeError|RangeError|ReferenceError|SyntaxError|EvalError|URIError|InternalError|AggregateError)\b/;
/** A stack frame line ("    at f (file.js:1:2)") in what a user would see. */
const STACK_FRAME = /^\s+at .*(:\d+:\d+\)?|<anonymous>\)?)$/m;

export interface CliScratch {
  dir: string;
  /** Paths and plain values flags are given. */
  values: string[];
  /** A real model and its data directory: `interactive` runs get them often enough to translate. */
  model?: { data: string; path: string; input: string };
}

/** A scratch directory with the few real inputs runs can succeed on (score's --sys/--ref, preprocess' corpus). */
export function cliScratch(model?: { data: string; path: string }): CliScratch {
  const dir = mkdtempSync(join(tmpdir(), "fsts-fuzz-cli-"));
  writeFileSync(join(dir, "sys.txt"), "a cat sat on the mat\nthe dog\n");
  writeFileSync(join(dir, "ref.txt"), "the cat sat on the mat\na dog\n");
  writeFileSync(join(dir, "empty.txt"), "");
  writeFileSync(join(dir, "corp.de"), "ein hund\nzwei katzen\n");
  writeFileSync(join(dir, "corp.en"), "a dog\ntwo cats\n");
  writeFileSync(join(dir, "conf.yaml"), "lr: [0.5]\nmax_tokens: 100\n");
  mkdirSync(join(dir, "data-missing-splits"));
  writeFileSync(join(dir, "data-missing-splits", "dict.de.txt"), "ein 1\nhund 1\n");
  writeFileSync(join(dir, "data-missing-splits", "dict.en.txt"), "a 1\ndog 1\n");
  const values = [
    "0",
    "1",
    "-1",
    "2",
    "3",
    "8",
    "-0",
    "0.5",
    "1e9",
    "2147483648",
    "9007199254740993",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "",
    " ",
    "abc",
    "True",
    "False",
    "true",
    "0,1",
    "0.9,0.98",
    "(0.9, 0.98)",
    "1,,2",
    ",",
    "translation",
    "language_modeling",
    "adam",
    "sgd",
    "transformer",
    "lstm",
    "none",
    "json",
    "tqdm",
    "simple",
    "cpu",
    "wasm",
    "mmap",
    "raw",
    "de",
    "en",
    "é",
    "🙂",
    "--lr",
    "-s",
    "x".repeat(300),
    "a\nb",
    "\u0000",
    join(dir, "missing"),
    join(dir, "sys.txt"),
    join(dir, "ref.txt"),
    join(dir, "empty.txt"),
    join(dir, "corp"),
    join(dir, "conf.yaml"),
    join(dir, "data-missing-splits"),
    dir,
  ];
  writeFileSync(join(dir, "input.de"), "ein hund läuft .\nzwei frauen\n");
  return { dir, values, model: model && { ...model, input: join(dir, "input.de") } };
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz-_";

/** A random command line for `program` (real subcommands mostly, their real flags mostly). */
export function randomArgv(program: Command, scratch: CliScratch, rnd: () => number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const cmds = program.commands;
  const r = rnd();
  const cmd: Command | null = r < 0.93 ? pick(cmds) : null;
  const name = cmd ? cmd.name() : pick(["", "trian", "--help", "-h", "help", "--version", "TRAIN", "fairseq-train", pick(scratch.values)]);
  // With a real model, a valid but huge --beam/--nbest only costs time (fairseq caps the beam at the
  // vocabulary size, 5927 here: minutes of decoding), so those two get small values in model runs.
  const modelRun = cmd?.name() === "interactive" && scratch.model !== undefined && rnd() < 0.7;
  const value = (flag?: string) =>
    modelRun && (flag === "--beam" || flag === "--nbest") ? pick(["-1", "0", "1", "2", "3", "8", "abc"]) : pick(scratch.values);
  const garbageFlag = () => {
    const k = Math.floor(rnd() * 4);
    const word = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => pick([...LETTERS])).join("");
    return k === 0 ? `--${word}` : k === 1 ? `-${word[0]}` : k === 2 ? `---${word}` : pick(["--", "-", "--=", "--no-", "--lr=", "-sx"]);
  };
  const options: readonly Option[] = cmd ? cmd.options : [];
  const groups: string[][] = [];
  // positional arguments: usually the one the command wants, sometimes none or extra ones
  const positional = cmd && cmd.registeredArguments.length > 0;
  const nPos = positional ? (rnd() < 0.8 ? 1 : Math.floor(rnd() * 3)) : rnd() < 0.1 ? 1 : 0;
  for (let i = 0; i < nPos; i++) groups.push([rnd() < 0.7 ? pick([join(scratch.dir, "missing"), join(scratch.dir, "data-missing-splits")]) : value()]);
  const nFlags = Math.floor(rnd() * 9);
  for (let i = 0; i < nFlags; i++) {
    if (options.length === 0 || rnd() < 0.12) {
      groups.push(rnd() < 0.5 ? [garbageFlag()] : [garbageFlag(), value()]);
      continue;
    }
    const opt = pick(options);
    const flag = opt.long && (rnd() < 0.85 || !opt.short) ? opt.long : opt.short!;
    const takesValue = opt.required || opt.optional;
    const form = rnd();
    if (takesValue && form < 0.7) groups.push([flag, value(opt.long)]);
    else if (takesValue && form < 0.85 && flag.startsWith("--")) groups.push([`${flag}=${value(opt.long)}`]);
    else if (!takesValue && form < 0.1) groups.push([`${flag}=${value()}`]);
    else groups.push([flag]);
  }
  // the commands that need a model or input get one often enough to get past the first check
  if (modelRun && scratch.model) {
    // a real model on two lines of input: the generation flags reach the sequence generator
    groups.push([scratch.model.data], ["--path", scratch.model.path], ["--input", scratch.model.input], ["--backend", "cpu"]);
    if (nPos > 0) groups.splice(0, 1);
  }
  if (cmd?.name() === "score" && rnd() < 0.7) groups.push(["--sys", join(scratch.dir, "sys.txt")], ["--ref", join(scratch.dir, "ref.txt")]);
  if (cmd?.name() === "preprocess" && rnd() < 0.5)
    groups.push(["-s", "de"], ["-t", "en"], ["--trainpref", join(scratch.dir, "corp")], ["--destdir", join(scratch.dir, `out${Math.floor(rnd() * 4)}`)]);
  // orders: as built, shuffled, or a flag group moved before the subcommand name
  if (rnd() < 0.5) {
    for (let i = groups.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [groups[i], groups[j]] = [groups[j]!, groups[i]!];
    }
  }
  const argv = groups.flat();
  if (rnd() < 0.05 && argv.length) return [argv[0]!, name, ...argv.slice(1)];
  if (rnd() < 0.05) argv.splice(Math.floor(rnd() * (argv.length + 1)), 0, "--");
  return [name, ...argv];
}

export interface CliOutcome {
  code: number | "rejected" | "hang";
  stdout: string;
  stderr: string;
  /** Why the outcome is not acceptable, or null. */
  problem: string | null;
}

/** Does the message name a flag, an argument/command in quotes, a path, or one of the values given? */
function namesWhat(message: string, argv: string[]): boolean {
  return (
    /(^|[\s'"(])--?[a-zA-Z]/.test(message) ||
    /'[^']*'/.test(message) ||
    /\bargument \d+\b/.test(message) ||
    /\/[^\s]+/.test(message) ||
    /\b[\w.-]+\.(txt|pt|safetensors|idx|bin|yaml|yml|json|model|codes|de|en)\b/.test(message) ||
    argv.some((tok) => {
      const v = tok.startsWith("-") ? tok.slice(tok.indexOf("=") + 1 || tok.length) : tok;
      return v.trim().length > 0 && message.includes(v);
    })
  );
}

/**
 * Run one command line through `main` with stdout/stderr captured, the working directory in the
 * scratch directory and FAIRSEQ_TS_DEBUG set (so the stack's first line tells which error class ended
 * the run; users without it see only the message).
 */
export async function runCliCase(argv: string[], scratch: CliScratch, hangMs = 20_000): Promise<CliOutcome> {
  const out: string[] = [];
  const err: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved only to be put back on the same streams
  const saved = { out: process.stdout.write, err: process.stderr.write, cwd: process.cwd(), debug: process.env.FAIRSEQ_TS_DEBUG };
  const capture = (sink: string[]) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      const cb = rest.find((x) => typeof x === "function") as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  process.env.FAIRSEQ_TS_DEBUG = "1";
  process.chdir(scratch.dir);
  let code: CliOutcome["code"];
  let rejection: unknown = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    code = await Promise.race([
      main(argv),
      new Promise<"hang">((resolve) => {
        timer = setTimeout(() => resolve("hang"), hangMs);
      }),
    ]);
  } catch (e) {
    code = "rejected";
    rejection = e;
  } finally {
    clearTimeout(timer);
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.chdir(saved.cwd);
    if (saved.debug === undefined) delete process.env.FAIRSEQ_TS_DEBUG;
    else process.env.FAIRSEQ_TS_DEBUG = saved.debug;
  }
  const stdout = out.join("");
  const stderr = err.join("");
  if (code === "rejected") return { code, stdout, stderr, problem: `main() rejected: ${(rejection as Error)?.stack ?? String(rejection)}` };
  return { code, stdout, stderr, problem: judgeOutcome(code, out, err, argv, hangMs) };
}

/**
 * The oracle: null when an outcome is acceptable, else why not. `err` holds stderr as written, chunk by
 * chunk (main writes the error line and, with FAIRSEQ_TS_DEBUG, the stack as separate writes).
 */
export function judgeOutcome(code: number | "hang", out: string[], err: string[], argv: string[], hangMs = 0): string | null {
  const stdout = out.join("");
  const stderr = err.join("");
  let problem: string | null = null;
  if (code === "hang") problem = `no result after ${hangMs} ms`;
  else if (code === 1) {
    // main writes "fairseq-ts: error: <message>\n" and then, with FAIRSEQ_TS_DEBUG, the stack in one write
    const at = err.findIndex((c) => c.startsWith("fairseq-ts: error: "));
    const message = at >= 0 ? err[at]!.slice("fairseq-ts: error: ".length) : "";
    const stackHead = at >= 0 ? (err[at + 1] ?? "").split("\n")[0]! : "";
    if (at < 0) problem = `exit 1 without "fairseq-ts: error:"`;
    else if (ENGINE_ERRORS.test(stackHead)) problem = `engine error: ${stackHead}`;
    else if (!namesWhat(message, argv)) problem = `error names no flag or file: ${message.trim()}`;
  } else if (code === 2) {
    // commander: "error: unknown option '--x'", "error: option '--lr <LR>' argument 'a' is invalid. …", or
    // the usage text (`help <unknown>`)
    const at = stderr.search(/^error: /m);
    const line = at >= 0 ? stderr.slice(at) : "";
    if (!line && !/^Usage: /m.test(stderr)) problem = `exit 2 without an "error:" line or usage`;
    else if (line && !namesWhat(line, argv)) problem = `usage error names no flag: ${line}`;
  } else if (code !== 0) problem = `unexpected exit code ${code}`;
  // what a user sees (the debug stack aside) must hold no stack frames
  const at = err.findIndex((c) => c.startsWith("fairseq-ts: error: "));
  const userVisible = stdout + (at >= 0 ? [...err.slice(0, at + 1), ...err.slice(at + 2)] : err).join("");
  if (!problem && STACK_FRAME.test(userVisible)) problem = "stack trace in the output";
  return problem;
}

export interface CliFuzzReport {
  cases: number;
  outcomes: Record<string, number>;
  findings: (FuzzFinding & { argv: string[] })[];
}

/** Random command lines for `seconds`; the first `maxFindings` unacceptable outcomes are returned with their argv. */
export async function runCliFuzz(o: {
  seconds: number;
  seed: number;
  maxFindings?: number;
  hangMs?: number;
  model?: { data: string; path: string };
}): Promise<CliFuzzReport> {
  const rnd = prng(o.seed);
  const scratch = cliScratch(o.model);
  const program = buildProgram();
  const outcomes: Record<string, number> = {};
  const findings: CliFuzzReport["findings"] = [];
  let cases = 0;
  const end = performance.now() + o.seconds * 1000;
  const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
  while (performance.now() < end && findings.length < (o.maxFindings ?? 20)) {
    await new Promise((r) => setImmediate(r)); // main() can finish in microtasks only: let I/O and vitest through
    const argv = randomArgv(program, scratch, rnd);
    const tensors = tf.engine().state.numTensors;
    const r = await runCliCase(argv, scratch, o.hangMs);
    // a finished run, failed or not, leaves no tensor behind (tfjs' engine is process-global)
    const left = tf.engine().state.numTensors - tensors;
    if (left > 0 && !r.problem) r.problem = `${left} tensors left after the run`;
    cases++;
    const key = `exit ${r.code}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (r.problem) findings.push({ target: "fairseq-ts argv", kind: r.code === "hang" ? "slow" : "uncaught", message: r.problem, file: null, argv });
    // a run must not leave signal handlers behind (in-process callers would pile them up)
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const added = process.listeners(sig).filter((l) => !before[sig].includes(l));
      if (added.length)
        findings.push({ target: "fairseq-ts argv", kind: "uncaught", message: `${added.length} ${sig} handler(s) left installed`, file: null, argv });
      for (const l of added) process.off(sig, l);
    }
  }
  return { cases, outcomes, findings };
}
