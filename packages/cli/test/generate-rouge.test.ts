import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rougeScore } from "@fairseq-ts/generate";
import { runCli } from "./cli.js";
import { SHARED } from "./shared.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");
/** fairseq's Multi30k model on a quarter of the test split's batches (ids spread over 0..999, printed in batch order). */
const GEN = ["generate", join(R, "bin"), "--path", join(R, "model.pt"), "--gen-subset", "test", "--batch-size", "64", "--num-shards", "4", "--shard-id", "1"];
const TYPES = [
  ["ROUGE-1", "rouge1"],
  ["ROUGE-2", "rouge2"],
  ["ROUGE-L", "rougeL"],
  ["ROUGE-Lsum", "rougeLsum"],
] as const;

/** The final line's scores: {type: [F, P, R]} in percent, as printed. */
function parseRougeLine(stdout: string): { line: string; scores: Record<string, number[]> } {
  const line = stdout.trim().split("\n").pop()!;
  expect(line).toMatch(/^Generate test with beam=5: ROUGE-1 F /);
  const scores: Record<string, number[]> = {};
  for (const [label] of TYPES) {
    const m = new RegExp(`${label} F ([\\d.]+) \\(P ([\\d.]+) R ([\\d.]+)\\)`).exec(line)!;
    expect(m, `${label} in ${line}`).not.toBeNull();
    scores[label] = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  return { line, scores };
}

/** id → text of the lines with this prefix (S-, T-, D-), the text being the last tab-separated field. */
function byId(stdout: string, prefix: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of stdout.split("\n")) {
    if (!l.startsWith(prefix)) continue;
    const fields = l.split("\t");
    out.set(Number(fields[0]!.slice(prefix.length)), fields[fields.length - 1]!);
  }
  return out;
}

describe("generate --scoring rouge", () => {
  it("--score-reference: hypotheses equal to the references score 100 on every ROUGE type", async () => {
    const r = await runCli([...GEN, "--score-reference", "--scoring", "rouge"]);
    expect(r.status, r.stderr).toBe(0);
    const { line, scores } = parseRougeLine(r.stdout);
    for (const [label] of TYPES) expect(scores[label], label).toEqual([100, 100, 100]);
    const n = Number(/\((\d+) sentences\)$/.exec(line)![1]);
    expect(n).toBe(byId(r.stdout, "T-").size);
    expect(n).toBeGreaterThan(200);
  }, 120_000);

  it("beam search: the means of rouge-score's per-sentence scores of the D- lines against the T- lines; multi-reference and errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-gen-rouge-"));
    const single = await runCli([...GEN, "--scoring", "rouge"]);
    expect(single.status, single.stderr).toBe(0);
    const refs = byId(single.stdout, "T-");
    const hyps = byId(single.stdout, "D-");
    expect(hyps.size).toBeGreaterThan(200);
    expect(hyps.size).toBeLessThan(300);
    // printed in batch (length) order, not id order: the extra references below must be looked up by id
    const printed = [...hyps.keys()];
    expect(printed).not.toEqual([...printed].sort((a, b) => a - b));
    // independent expectation: the library's one-call rougeScore on the printed strings, averaged here
    const expected = (refsOf: (id: number) => string | string[]) => {
      const sums: Record<string, number[]> = Object.fromEntries(TYPES.map(([l]) => [l, [0, 0, 0]]));
      for (const [id, hyp] of hyps) {
        const s = rougeScore(hyp, refsOf(id));
        for (const [label, type] of TYPES) {
          const sum = sums[label]!;
          sum[0] = sum[0]! + s[type]!.fmeasure;
          sum[1] = sum[1]! + s[type]!.precision;
          sum[2] = sum[2]! + s[type]!.recall;
        }
      }
      return sums;
    };
    const expectClose = (printedScores: Record<string, number[]>, sums: Record<string, number[]>) => {
      for (const [label] of TYPES)
        printedScores[label]!.forEach((v, k) => expect(Math.abs(v - (100 * sums[label]![k]!) / hyps.size), `${label}[${k}]`).toBeLessThanOrEqual(0.00501));
    };
    const one = parseRougeLine(single.stdout);
    expectClose(
      one.scores,
      expected((id) => refs.get(id)!),
    );
    expect(one.scores["ROUGE-1"]![0]).toBeGreaterThan(30);
    expect(one.scores["ROUGE-1"]![0]).toBeLessThan(90);

    // a second reference per sample id (1000 lines, line i = id i): the hypothesis itself for even ids, else a
    // sentence of no shared word. score_multi keeps the better reference per type: 100 on even ids.
    const extra = Array.from({ length: 1000 }, (_, id) => (id % 2 === 0 && hyps.has(id) ? hyps.get(id)! : "zzz qqq"));
    writeFileSync(join(dir, "extra.txt"), `${extra.join("\n")}\n`);
    const multi = await runCli([...GEN, "--quiet", "--scoring", "rouge", "--rouge-extra-refs", join(dir, "extra.txt")]);
    expect(multi.status, multi.stderr).toBe(0);
    const two = parseRougeLine(multi.stdout);
    expect(two.line).toMatch(new RegExp(`\\(${hyps.size} sentences, 2 references\\)$`));
    expectClose(
      two.scores,
      expected((id) => [refs.get(id)!, extra[id]!]),
    );
    for (const [label] of TYPES) expect(two.scores[label]![0], label).toBeGreaterThan(one.scores[label]![0]!);

    // the stemmer and a bootstrap interval (low <= mean-ish mid <= high)
    const stem = await runCli([...GEN, "--quiet", "--scoring", "rouge", "--rouge-stemmer", "--rouge-bootstrap", "200", "--rouge-seed", "3"]);
    expect(stem.status, stem.stderr).toBe(0);
    const st = parseRougeLine(stem.stdout);
    expect(st.line).toMatch(/ sentences, stemmed\); bootstrap 95% F low\/mid\/high \(200 resamples\): ROUGE-1 [\d.]+\/[\d.]+\/[\d.]+, /);
    for (const [label] of TYPES) {
      expect(st.scores[label]![0], label).toBeGreaterThanOrEqual(one.scores[label]![0]! - 0.005);
      const [low, mid, high] = new RegExp(`${label} ([\\d.]+)/([\\d.]+)/([\\d.]+)`).exec(st.line.split("; bootstrap")[1]!)!.slice(1).map(Number);
      expect(low!).toBeLessThanOrEqual(mid!);
      expect(mid!).toBeLessThanOrEqual(high!);
      expect(Math.abs(mid! - st.scores[label]![0]!)).toBeLessThan(2);
    }

    // an extra reference file with the wrong number of lines: the flag, the file and both counts, before generating
    writeFileSync(join(dir, "short.txt"), "a b c\nd e f\n");
    const bad = await runCli([...GEN, "--quiet", "--scoring", "rouge", "--rouge-extra-refs", `${join(dir, "extra.txt")},${join(dir, "short.txt")}`]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`${join(dir, "short.txt")} has 2 lines but the test split has 1000 sentences`);
    expect(bad.stderr).toMatch(/rouge-extra-refs|rougeExtraRefs/);
    expect(bad.stdout).not.toMatch(/^H-/m);
    const missing = await runCli([...GEN, "--quiet", "--scoring", "rouge", "--rouge-extra-refs", join(dir, "nope.txt")]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(`${join(dir, "nope.txt")}: cannot read (ENOENT)`);
    // ROUGE's flags belong to --scoring rouge
    const noScoring = await runCli([...GEN, "--quiet", "--rouge-stemmer"]);
    expect(noScoring.status).not.toBe(0);
    expect(noScoring.stderr).toContain("--rouge-stemmer");
  }, 240_000);
});
