import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess } from "@fairseq-ts/data";
import { runCli } from "./cli.js";
import { MULTI30K, SHARED } from "./shared.js";

/**
 * fairseq's summarization decoding flags together on fairseq's bart-tiny (no fairseq output exists with them, so
 * the check is their invariants): --min-len, --max-len-a/b, --lenpen 2.0, --no-repeat-ngram-size 3 and
 * --truncate-source with a short --max-source-positions.
 */
const MODEL = join(SHARED, "reference/fairseq/bart-tiny/model.pt");
const N = 120;
const MAX_SOURCE = 12;
const [A, B, MIN] = [0.5, 6, 8];
let data: string;
let sources: string[];

beforeAll(async () => {
  // bart-tiny's joined dictionary (COMMANDS.md's preprocess flags), then the first N test sentences as raw text
  const dictDir = mkdtempSync(join(tmpdir(), "fsts-bart-dict-"));
  await preprocess({
    sourceLang: "de",
    targetLang: "en",
    trainpref: join(MULTI30K, "train"),
    thresholdsrc: 2,
    thresholdtgt: 2,
    joinedDictionary: true,
    dictOnly: true,
    workers: 1,
    destdir: dictDir,
    log: () => {},
  });
  data = mkdtempSync(join(tmpdir(), "fsts-bart-len-"));
  for (const l of ["de", "en"]) {
    copyFileSync(join(dictDir, `dict.${l}.txt`), join(data, `dict.${l}.txt`));
    const lines = readFileSync(join(MULTI30K, `test.${l}`), "utf8")
      .split("\n")
      .slice(0, N);
    writeFileSync(join(data, `test.de-en.${l}`), `${lines.join("\n")}\n`);
    if (l === "de") sources = lines;
  }
}, 120_000);

const field = (line: string, k: number) => line.split("\t")[k]!;

describe("bart-tiny: --min-len, --max-len-a/b, --lenpen 2.0, --no-repeat-ngram-size 3, --truncate-source", () => {
  it("every hypothesis respects the length bounds and repeats no trigram; long sources are truncated, none skipped", async () => {
    const run = (minLen: string[]) =>
      runCli([
        "generate",
        data,
        "--dataset-impl",
        "raw",
        "--path",
        MODEL,
        "--gen-subset",
        "test",
        "--batch-size",
        "32",
        "--beam",
        "4",
        "--nbest",
        "4",
        "--lenpen",
        "2.0",
        ...minLen,
        "--max-len-a",
        String(A),
        "--max-len-b",
        String(B),
        "--no-repeat-ngram-size",
        "3",
        "--truncate-source",
        "--max-source-positions",
        String(MAX_SOURCE),
      ]);
    const r = await run(["--min-len", String(MIN)]);
    expect(r.status, r.stderr).toBe(0);
    // without --min-len some hypotheses are shorter: the bound below is the flag's doing
    const free = await run([]);
    expect(free.status, free.stderr).toBe(0);
    const shortest = Math.min(
      ...free.stdout
        .split("\n")
        .filter((l) => l.startsWith("H-"))
        .map((l) => field(l, 2).split(" ").length),
    );
    expect(shortest).toBeLessThan(MIN);
    const lines = r.stdout.split("\n");
    const src = new Map(lines.filter((l) => l.startsWith("S-")).map((l) => [Number(field(l, 0).slice(2)), field(l, 1).split(" ")]));
    const hyps = lines.filter((l) => l.startsWith("H-"));
    // nothing skipped: every sentence, with --nbest 4 hypotheses
    expect(src.size).toBe(N);
    expect(hyps.length).toBe(4 * N);
    // --truncate-source: max_source_positions - 1 tokens and eos; the long sources were cut there
    let truncated = 0;
    for (const [id, tokens] of src) {
      expect(tokens.length, `S-${id}`).toBeLessThanOrEqual(MAX_SOURCE - 1);
      if (sources[id]!.split(" ").length > MAX_SOURCE - 1) {
        truncated++;
        expect(tokens.length, `S-${id}`).toBe(MAX_SOURCE - 1);
      }
    }
    expect(truncated).toBeGreaterThan(N / 4);
    // fairseq's max_len = a * (padded source width, eos included) + b; no batch is wider than max_source_positions
    const maxLen = Math.floor(A * MAX_SOURCE + B);
    let atMin = 0;
    let atMax = 0;
    for (const h of hyps) {
      const tokens = field(h, 2).split(" ");
      // H lines leave eos out: the hypothesis has tokens.length + 1 tokens
      expect(tokens.length, h).toBeGreaterThanOrEqual(MIN);
      expect(tokens.length, h).toBeLessThanOrEqual(maxLen);
      if (tokens.length === MIN) atMin++;
      if (tokens.length === maxLen) atMax++;
      const trigrams = new Set<string>();
      for (let i = 0; i + 3 <= tokens.length; i++) {
        const g = tokens.slice(i, i + 3).join(" ");
        expect(trigrams.has(g), `${h}: '${g}' repeated`).toBe(false);
        trigrams.add(g);
      }
    }
    // the bounds are reached, so they are what holds the lengths in
    expect(atMin).toBeGreaterThan(0);
    expect(atMax).toBeGreaterThan(0);
    // one positional score per token plus eos
    const ps = lines.filter((l) => l.startsWith("P-"));
    ps.forEach((p, i) => expect(field(p, 1).split(" ").length).toBe(field(hyps[i]!, 2).split(" ").length + 1));
  }, 180_000);
});
