import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = join(here, "../node_modules/.bin/tsx");

function recipe(script: string, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(tsx, [join(here, "../src/recipes", script), ...args]);
    let out = "";
    p.stdout.on("data", (d) => (out += String(d)));
    p.stderr.on("data", (d) => (out += String(d)));
    p.on("close", (status) => resolve({ status, out }));
  });
}

describe("recipes (pipeline checks with tiny settings; the real runs are by hand)", () => {
  it("multi30k-bpe: Moses + learned BPE + preprocess + train + generate + raw-text interactive", async () => {
    const work = mkdtempSync(join(tmpdir(), "fsts-recipe-bpe-"));
    const r = await recipe("multi30k-bpe.ts", ["--work", work, "--subset", "1500", "--merges", "800", "--max-update", "20", "--tiny"]);
    expect(r.status, r.out.slice(-3000)).toBe(0);
    const codes = readFileSync(join(work, "codes"), "utf8").split("\n").filter(Boolean);
    expect(codes[0]).toBe("#version: 0.2");
    expect(codes.length).toBe(801);
    // the training text carries subword-nmt's @@ continuation marks
    expect(readFileSync(join(work, "tok/train.de"), "utf8")).toMatch(/@@ /);
    expect(existsSync(join(work, "data-bin/dict.de.txt"))).toBe(true);
    expect(r.out).toMatch(/Generate test with beam=5: BLEU4 = [\d.]+/);
    const result = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as { translations: string[] };
    expect(result.translations).toHaveLength(3);
    // raw text out: BPE removed (no @@), and Moses detokenized (no space before sentence-final punctuation)
    for (const t of result.translations) {
      expect(t.length).toBeGreaterThan(0);
      expect(t).not.toMatch(/@@/);
      expect(t).not.toMatch(/ [.,!?]$/);
    }
  }, 900_000);

  it("wikitext2-lm: preprocess --only-source, train transformer_lm, eval-lm with and without a context window", async () => {
    const work = mkdtempSync(join(tmpdir(), "fsts-recipe-lm-"));
    const r = await recipe("wikitext2-lm.ts", ["--work", work, "--subset", "400", "--max-update", "20", "--tokens-per-sample", "32", "--tiny"]);
    expect(r.status, r.out.slice(-3000)).toBe(0);
    const result = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as { validPpl: number[]; testPpl: number; testPplContextWindow: number };
    expect(result.validPpl.length).toBeGreaterThanOrEqual(2); // every 10 updates and at epoch ends
    expect(result.validPpl.at(-1)!).toBeLessThan(result.validPpl[0]!); // it learns
    expect(Number.isFinite(result.testPpl) && Number.isFinite(result.testPplContextWindow)).toBe(true);
  }, 900_000);
});
