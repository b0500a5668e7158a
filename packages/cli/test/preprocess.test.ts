import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SHARED } from "./shared.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "../dist/bin.js");
const D = join(SHARED, "data/multi30k");
const REF = join(SHARED, "reference/fairseq/multi30k-de-en/bin");

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
}

describe("fairseq-ts preprocess (the built binary)", () => {
  it("the reference command gives fairseq's files byte for byte", () => {
    const dest = join(mkdtempSync(join(tmpdir(), "cli-pre-")), "multi30k-bin");
    // COMMANDS.md section 1, word for word (with our paths).
    const r = run([
      "preprocess",
      "--source-lang",
      "de",
      "--target-lang",
      "en",
      "--trainpref",
      `${D}/train`,
      "--validpref",
      `${D}/valid`,
      "--testpref",
      `${D}/test`,
      "--thresholdsrc",
      "2",
      "--thresholdtgt",
      "2",
      "--workers",
      "1",
      "--destdir",
      dest,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("[de] Dictionary: 7864 types");
    expect(r.stdout).toContain(`[en] ${D}/test.en: 1000 sents, 13968 tokens, 1.65% replaced by <unk>`);
    for (const f of readdirSync(REF).filter((f) => f !== "preprocess.log")) {
      expect(readFileSync(join(dest, f)).equals(readFileSync(join(REF, f))), f).toBe(true);
    }
  });

  it("--help works and lists fairseq's flags", () => {
    const r = run(["preprocess", "--help"]);
    expect(r.status).toBe(0);
    for (const flag of [
      "--source-lang",
      "--trainpref",
      "--thresholdsrc",
      "--nwordssrc",
      "--joined-dictionary",
      "--only-source",
      "--padding-factor",
      "--dataset-impl",
      "--workers",
      "--dict-only",
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it("an unknown flag or a bad value is an error that names the flag", () => {
    const a = run(["preprocess", "--thresholdsource", "2"]);
    expect(a.status).toBe(2);
    expect(a.stderr).toContain("unknown option '--thresholdsource'");
    const b = run(["preprocess", "--nwordssrc", "many"]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/option '--nwordssrc <N>' argument 'many' is invalid/);
    const c = run(["preprocess", "--dataset-impl", "lazy-ish"]);
    expect(c.stderr).toMatch(/--dataset-impl/);
  });

  it("a missing input file is an error naming it, exit code 1", () => {
    const dest = mkdtempSync(join(tmpdir(), "cli-pre-"));
    const r = run(["preprocess", "-s", "de", "-t", "en", "--trainpref", "/no/such/train", "--destdir", dest]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/fairseq-ts: error: --trainpref \/no\/such\/train: \/no\/such\/train\.de: cannot read \(no such file\)/);
  });
});
