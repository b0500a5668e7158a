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

  it("--rouge-extra-refs: per type the reference with the best F1 (score_multi); --rouge-bootstrap adds low/mid/high F1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "score-rouge-"));
    const sys = join(dir, "sys.txt");
    const ref = join(dir, "ref.txt");
    const extra = join(dir, "extra.txt");
    writeFileSync(sys, "The quick brown dog jumps on the log.\ncats running\n");
    writeFileSync(ref, "The quick brown fox jumps over the lazy dog\nthe cat runs\n");
    writeFileSync(extra, "the quick brown dog\ncats running\n");
    // line 1 vs the extra 'the quick brown dog' (4 tokens, 3 bigrams, all in the prediction):
    //   rouge1 P 4/8 R 1 F 2/3 < 12/17 of the first reference -> keeps P 6/8 R 6/9 F 12/17
    //   rouge2 P 3/7 R 1 F (6/7)/(10/7) = 3/5 > 4/15 -> P 3/7 R 1 F 3/5
    //   rougeL LCS 4: P 1/2 R 1 F 2/3 > 10/17 -> P 1/2 R 1 F 2/3
    // line 2 vs the extra 'cats running': identical, every score 1
    const r = await runCli(["score", "--rouge", "--sys", sys, "--ref", ref, "--rouge-extra-refs", extra]);
    expect(r.status, r.stderr).toBe(0);
    const mean = (a: number, b: number) => ((a + b) / 2).toFixed(6);
    expect(r.stdout.split("\n").slice(1)).toEqual([
      `rouge1: P = ${mean(6 / 8, 1)} R = ${mean(6 / 9, 1)} F = ${mean(12 / 17, 1)} (2 lines, 2 references)`,
      `rouge2: P = ${mean(3 / 7, 1)} R = ${mean(1, 1)} F = ${mean(3 / 5, 1)} (2 lines, 2 references)`,
      `rougeL: P = ${mean(1 / 2, 1)} R = ${mean(1, 1)} F = ${mean(2 / 3, 1)} (2 lines, 2 references)`,
      "",
    ]);

    const b = await runCli(["score", "--rouge", "--sys", sys, "--ref", ref, "--rouge-bootstrap", "100"]);
    expect(b.status, b.stderr).toBe(0);
    const boot = b.stdout.split("\n").filter((l) => l.includes("bootstrap"));
    expect(boot).toHaveLength(3);
    for (const line of boot) {
      const m = /^rouge(1|2|L) F bootstrap \(100 resamples, 95%\): low = ([0-9.]+) mid = ([0-9.]+) high = ([0-9.]+)$/.exec(line);
      expect(m, line).not.toBeNull();
      // two examples: every resampled mean is 0, F/2 or F of the first line (the second scores 0)
      const [low, mid, high] = [Number(m![2]), Number(m![3]), Number(m![4])];
      expect(low).toBeLessThanOrEqual(mid);
      expect(mid).toBeLessThanOrEqual(high);
      expect(low).toBeGreaterThanOrEqual(0);
    }
    const again = await runCli(["score", "--rouge", "--sys", sys, "--ref", ref, "--rouge-bootstrap", "100"]);
    expect(again.stdout).toBe(b.stdout);

    const bad = await runCli(["score", "--sys", sys, "--ref", ref, "--rouge-stemmer"]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/need --rouge/);
    const short = await runCli(["score", "--rouge", "--sys", sys, "--ref", ref, "--rouge-extra-refs", join(dir, "missing.txt")]);
    expect(short.status).not.toBe(0);
    expect(short.stderr).toMatch(/--rouge-extra-refs .*missing\.txt: cannot read/);
  }, 60_000);
});
