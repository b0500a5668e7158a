// Runs the examples in every package README, so the READMEs stay true (issue #23).
//
// A runnable example is a fenced block whose info string is "ts example". Each runs as its own ESM file
// (`.mts`) written into a temporary directory inside its package's folder: `@fairseq-ts/<that package>`
// resolves to the built package through its own `exports` (Node's self-reference) and every other import
// through that package's node_modules, so an example can only use the package's public API and what the
// package declares as (dev)dependencies. The working directory is the temporary one, so files an example
// writes are removed with it. Runner: tsx, already this app's devDependency (Node 20 cannot strip types;
// `--experimental-strip-types` arrived in Node 22.6).
//
// Checked: exit code 0, and the printed lines. Every `// prints: TEXT` comment in a block is one line the
// example must print to stdout, in that order; stdout must hold exactly those lines when there is at
// least one such comment (stderr, where initBackend reports its choice, is not compared).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = join(here, "../node_modules/.bin/tsx");
const repo = resolve(here, "../../..");

interface ReadmeExample {
  readme: string;
  packageDir: string;
  line: number;
  code: string;
  prints: string[];
}

/** The "ts example" blocks of one README, with the 1-based line where each block starts. */
function extractExamples(readme: string, packageDir: string, text: string): ReadmeExample[] {
  const lines = text.split("\n");
  const found: ReadmeExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s+example\s*$/.test(lines[i]!)) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"));
    if (end < 0) throw new Error(`${readme}:${i + 1}: unterminated code block`);
    const code = lines.slice(i + 1, end);
    const prints = code.flatMap((l) => {
      const m = /\/\/ prints: (.*)$/.exec(l);
      return m ? [m[1]!.trimEnd()] : []; // the group is not optional
    });
    found.push({ readme, packageDir, line: i + 1, code: code.join("\n") + "\n", prints });
    i = end;
  }
  return found;
}

function readmes(): ReadmeExample[] {
  const all: ReadmeExample[] = [];
  for (const area of ["packages", "apps"]) {
    for (const name of readdirSync(join(repo, area)).sort()) {
      const packageDir = join(repo, area, name);
      const readme = join(packageDir, "README.md");
      if (!existsSync(readme)) continue;
      all.push(...extractExamples(`${area}/${name}/README.md`, packageDir, readFileSync(readme, "utf8")));
    }
  }
  return all;
}

/** An example that has not finished after this long is killed (a hang, e.g. a worker that never exits). */
const EXAMPLE_TIMEOUT_MS = 120_000;

function run(file: string, cwd: string): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const p = spawn(tsx, [file], { cwd });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      err += `\n(killed after ${EXAMPLE_TIMEOUT_MS / 1000} s)`;
      p.kill("SIGKILL");
    }, EXAMPLE_TIMEOUT_MS);
    p.stdout.on("data", (d) => (out += String(d)));
    p.stderr.on("data", (d) => (err += String(d)));
    p.on("close", (status) => {
      clearTimeout(timer);
      done({ status, out, err });
    });
  });
}

const examples = readmes();

/** Two examples at a time: they are child processes, mostly waiting on tsx's start-up and on tfjs's wasm. */
const slots = { free: 2, waiting: [] as (() => void)[] };
async function inSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (slots.free === 0) await new Promise<void>((go) => slots.waiting.push(go));
  else slots.free--;
  try {
    return await fn();
  } finally {
    const next = slots.waiting.shift();
    if (next) next();
    else slots.free++;
  }
}

describe("README examples", () => {
  it("the harness finds one or more runnable examples in every package README", () => {
    const withExample = new Set(examples.map((e) => e.readme));
    const packages = readdirSync(join(repo, "packages")).filter((n) => existsSync(join(repo, "packages", n, "README.md")));
    expect(packages.filter((n) => !withExample.has(`packages/${n}/README.md`))).toEqual([]);
  });

  it("extractExamples reads the info string, the block and its // prints: lines", () => {
    const md = ["# x", "```ts", "notRun();", "```", "```ts example", "console.log(1); // prints: 1", "console.log('a b');   // prints: a b  ", "```"].join(
      "\n",
    );
    expect(extractExamples("x/README.md", "/x", md)).toEqual([
      {
        readme: "x/README.md",
        packageDir: "/x",
        line: 5,
        code: "console.log(1); // prints: 1\nconsole.log('a b');   // prints: a b  \n",
        prints: ["1", "a b"],
      },
    ]);
  });

  // (each test waits for a slot, then runs: the app's 5-minute test timeout covers both under CI load)
  for (const ex of examples) {
    it.concurrent(`${ex.readme}:${ex.line} runs${ex.prints.length ? " and prints what it says" : ""}`, async ({ expect }) => {
      const dir = mkdtempSync(join(ex.packageDir, ".readme-example-"));
      try {
        const file = join(dir, "example.mts");
        writeFileSync(file, ex.code);
        const r = await inSlot(() => run(file, dir));
        expect(r.status, `${ex.readme}:${ex.line} failed\n${r.err}`).toBe(0);
        if (ex.prints.length > 0) {
          const printed = r.out.split("\n").map((l) => l.trimEnd());
          while (printed.length > 0 && printed[printed.length - 1] === "") printed.pop();
          expect(printed, `${ex.readme}:${ex.line}`).toEqual(ex.prints);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
