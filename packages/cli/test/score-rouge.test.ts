import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

describe("fairseq-ts score --rouge", () => {
  it("prints the mean ROUGE-1/2/L precision, recall and F1 over the lines, with and without the stemmer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "score-rouge-"));
    const sys = join(dir, "sys.txt");
    const ref = join(dir, "ref.txt");
    writeFileSync(sys, "The quick brown dog jumps on the log.\ncats running\n");
    writeFileSync(ref, "The quick brown fox jumps over the lazy dog\nthe cat runs\n");
    // line 1 (worked in generate's rouge.test.ts): rouge1 P 6/8 R 6/9 F 12/17; rouge2 P 2/7 R 1/4 F 4/15; rougeL P 5/8 R 5/9 F 10/17
    // line 2 unstemmed: no overlap, all 0; stemmed: cat, run match -> rouge1 P 1 R 2/3 F 4/5, rouge2 'cat run' P 1 R 1/2 F 2/3, rougeL as rouge1
    const plain = await runCli(["score", "--rouge", "--sys", sys, "--ref", ref]);
    expect(plain.status, plain.stderr).toBe(0);
    const mean = (a: number, b: number) => ((a + b) / 2).toFixed(6);
    expect(plain.stdout.split("\n").slice(1)).toEqual([
      `rouge1: P = ${mean(6 / 8, 0)} R = ${mean(6 / 9, 0)} F = ${mean(12 / 17, 0)} (2 lines)`,
      `rouge2: P = ${mean(2 / 7, 0)} R = ${mean(1 / 4, 0)} F = ${mean(4 / 15, 0)} (2 lines)`,
      `rougeL: P = ${mean(5 / 8, 0)} R = ${mean(5 / 9, 0)} F = ${mean(10 / 17, 0)} (2 lines)`,
      "",
    ]);
    const stemmed = await runCli(["score", "--rouge", "--rouge-stemmer", "--sys", sys, "--ref", ref]);
    expect(stemmed.status, stemmed.stderr).toBe(0);
    expect(stemmed.stdout.split("\n").slice(1)).toEqual([
      `rouge1: P = ${mean(6 / 8, 1)} R = ${mean(6 / 9, 2 / 3)} F = ${mean(12 / 17, 4 / 5)} (2 lines, stemmed)`,
      `rouge2: P = ${mean(2 / 7, 1)} R = ${mean(1 / 4, 1 / 2)} F = ${mean(4 / 15, 2 / 3)} (2 lines, stemmed)`,
      `rougeL: P = ${mean(5 / 8, 1)} R = ${mean(5 / 9, 2 / 3)} F = ${mean(10 / 17, 4 / 5)} (2 lines, stemmed)`,
      "",
    ]);
  }, 60_000);
});
