import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { cliScratch, judgeOutcome, runCliCase, runCliFuzz } from "../src/cli-fuzz.js";

const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared");

describe("fuzzing fairseq-ts command lines (in-process main)", () => {
  const s = cliScratch();

  it("regressions found by the fuzzer end in errors naming the flag, not in engine errors", async () => {
    // a NUL byte in a value (was Node's TypeError ERR_INVALID_ARG_VALUE from fs)
    const nul = await runCliCase(["preprocess", "--destdir", "a\0b"], s);
    expect(nul.code).toBe(2);
    expect(nul.stderr).toBe(`error: option '--destdir': value "a\\u0000b" contains a NUL byte\n`);
    // --user-dir naming a file that is no module (found as Node's ERR_UNKNOWN_FILE_EXTENSION TypeError for a
    // .txt; vitest's loader imports .txt as an asset, so here a syntax error takes the same path)
    writeFileSync(join(s.dir, "notes.mjs"), "not a module (\n");
    const ud = await runCliCase(["train", join(s.dir, "data-missing-splits"), "--arch", "transformer", "--user-dir", join(s.dir, "notes.mjs")], s);
    expect([ud.code, ud.problem]).toEqual([1, null]);
    expect(ud.stderr).toContain(`fairseq-ts: error: --user-dir ${join(s.dir, "notes.mjs")}: cannot import ${join(s.dir, "notes.mjs")} (`);
    // a directory given as --srcdict, or as the --trainpref file (were EISDIR messages naming no file)
    mkdirSync(join(s.dir, "adir"), { recursive: true });
    const dict = await runCliCase(
      ["preprocess", "--srcdict", join(s.dir, "adir"), "--only-source", "--trainpref", join(s.dir, "corp"), "-s", "de", "--destdir", join(s.dir, "o1")],
      s,
    );
    expect([dict.code, dict.problem]).toEqual([1, null]);
    expect(dict.stderr).toContain(`fairseq-ts: error: --srcdict ${join(s.dir, "adir")}: cannot read dictionary (is a directory)\n`);
    const pref = await runCliCase(["preprocess", "--trainpref", "adir", "--only-source", "--destdir", join(s.dir, "o2")], s);
    expect(pref.stderr).toContain(`fairseq-ts: error: --trainpref adir: adir: cannot read (is a directory)\n`);
    // a train run that gets as far as installing its Ctrl-C handlers removes them when it ends (here: on
    // the missing valid split), so in-process callers do not pile them up
    const sigint = process.listenerCount("SIGINT");
    const tr = await runCliCase(["train", join(s.dir, "data-missing-splits"), "-s", "de", "-t", "en", "--arch", "transformer", "--optimizer", "adam"], s);
    expect([tr.code, tr.problem]).toEqual([1, null]);
    expect(tr.stderr).toContain(`fairseq-ts: error: `);
    expect(tr.stderr).toMatch(/valid\.de-en/);
    expect(process.listenerCount("SIGINT")).toBe(sigint);
    const blank = await runCliCase(["preprocess", "--trainpref", " ", "--only-source", "--destdir", join(s.dir, "o3")], s);
    expect(blank.stderr).toContain(`fairseq-ts: error: --trainpref " ":  : cannot read (no such file)\n`);
  });

  it("the oracle: accepts clear errors and success, flags engine errors and stack traces", async () => {
    const ok = await runCliCase(["score", "--sys", join(s.dir, "sys.txt"), "--ref", join(s.dir, "ref.txt")], s);
    expect([ok.code, ok.problem]).toEqual([0, null]);
    expect(ok.stdout).toMatch(/^BLEU4 = /m);
    const usage = await runCliCase(["score", "--sys", join(s.dir, "sys.txt"), "--ref", join(s.dir, "ref.txt"), "--order", "x"], s);
    expect([usage.code, usage.problem]).toEqual([2, null]);
    expect(usage.stderr).toMatch(/^error: option '-o, --order <N>' argument 'x' is invalid/m);
    // a plugin that throws a TypeError at import or in register(): reported as the --user-dir error
    writeFileSync(join(s.dir, "bad-plugin.mjs"), "null.x;\n");
    const bad = await runCliCase(["train", join(s.dir, "data-missing-splits"), "--arch", "transformer", "--user-dir", join(s.dir, "bad-plugin.mjs")], s);
    expect([bad.code, bad.problem]).toEqual([1, null]);
    expect(bad.stderr).toMatch(/--user-dir .*bad-plugin\.mjs: cannot import .*\(Cannot read properties of null/);
    writeFileSync(join(s.dir, "bad-register.mjs"), "export function register() { return null.y; }\n");
    const reg = await runCliCase(["train", join(s.dir, "data-missing-splits"), "--arch", "transformer", "--user-dir", join(s.dir, "bad-register.mjs")], s);
    expect([reg.code, reg.problem]).toEqual([1, null]);
    expect(reg.stderr).toMatch(/--user-dir .*bad-register\.mjs: register\(\) failed \(Cannot read properties of null/);
    // and what it refuses (synthetic outcomes: none of these is known to happen any more)
    const engine = [
      "fairseq-ts: error: Cannot read properties of undefined (reading 'x')\n",
      "TypeError: Cannot read properties of undefined (reading 'x')\n    at f (/a.js:1:2)\n",
    ];
    expect(judgeOutcome(1, [], engine, ["train", "--lr", "x"])).toBe("engine error: TypeError: Cannot read properties of undefined (reading 'x')");
    expect(judgeOutcome(1, [], ["fairseq-ts: error: something failed\n", "Error: something failed\n"], ["train"])).toBe(
      "error names no flag or file: something failed",
    );
    expect(judgeOutcome(1, [], ["fairseq-ts: error: --lr bad\n", "Error: --lr bad\n"], ["train"])).toBe(null);
    expect(judgeOutcome(0, ["Error: x\n    at main (/x/cli.js:3:9)\n"], [], ["score"])).toBe("stack trace in the output");
    expect(judgeOutcome(2, [], ["oops\n"], ["train"])).toBe('exit 2 without an "error:" line or usage');
    expect(judgeOutcome("hang", [], [], ["interactive"], 20_000)).toBe("no result after 20000 ms");
  });

  it("a short seeded run: every outcome is success or a clear error, none hangs", async () => {
    // tfjs' engine is process-global: no tensor may outlive a failed run (read as a field: no backend needed)
    const tensors = () => tf.engine().state.numTensors;
    const before = tensors();
    const report = await runCliFuzz({ seconds: 6, seed: 20261201 });
    expect(report.findings).toEqual([]);
    expect(tensors()).toBe(before);
    expect(report.cases).toBeGreaterThan(300);
    // all three outcomes occur: the run reaches real work, not only usage errors
    for (const k of ["exit 0", "exit 1", "exit 2"]) expect(report.outcomes[k], k).toBeGreaterThan(10);
  }, 60_000);

  it("with the reference model, generation flags reach the sequence generator: translations or clear errors", async () => {
    const ref = join(SHARED, "reference/fairseq/multi30k-de-en");
    const tensors = () => tf.engine().state.numTensors;
    const before = tensors();
    // found by this run: --beam 0 (a tfjs RangeError), and every failing run after the model loaded kept
    // the model's tensors (and each build 24 initialisation intermediates)
    const sm = cliScratch({ data: join(ref, "bin"), path: join(ref, "model.pt") });
    const base = ["interactive", join(ref, "bin"), "--path", join(ref, "model.pt"), "--input", sm.model!.input, "--backend", "cpu"];
    const cases: [string[], number, string][] = [
      [[], 0, ""],
      [["--beam", "0"], 1, "fairseq-ts: error: --beam must be a positive integer, got 0\n"],
      [
        ["--min-len", "1000"],
        1,
        "fairseq-ts: error: --min-len 1000 cannot be larger than the maximum length 200 (from --max-len-a/--max-len-b and the model's max positions), please adjust these!\n",
      ],
      [["--input", join(sm.dir, "nope")], 1, `fairseq-ts: error: --input ${join(sm.dir, "nope")}: cannot read (no such file)\n`],
    ];
    for (const [extra, code, message] of cases) {
      const r = await runCliCase([...base, ...extra], sm);
      expect([r.code, r.problem], extra.join(" ")).toEqual([code, null]);
      if (message) expect(r.stderr).toContain(message);
      else expect(r.stdout).toMatch(/^H-1\t-?[\d.]+\t\S/m);
      expect(tensors(), extra.join(" ")).toBe(before);
    }
    const report = await runCliFuzz({ seconds: 6, seed: 7, model: { data: join(ref, "bin"), path: join(ref, "model.pt") } });
    expect(report.findings).toEqual([]);
    expect(tensors()).toBe(before);
    expect(report.cases).toBeGreaterThan(30);
    expect(report.outcomes["exit 0"]).toBeGreaterThan(0);
  }, 60_000);
});
