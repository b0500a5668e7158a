import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { rougeScore } from "@fairseq-ts/generate";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = join(here, "../node_modules/.bin/tsx");
const AESLC = join(here, "../../../../shared/data/aeslc");

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
  it("aeslc-summarization: spm_train + SentencePiece + preprocess + transformer + BART (denoising, fine-tuned) + pointer-generator + ROUGE beside the lead baseline", async () => {
    const work = mkdtempSync(join(tmpdir(), "fsts-recipe-aeslc-"));
    const n = 80;
    const r = await recipe("aeslc-summarization.ts", ["--work", work, "--subset", String(n), "--tiny", "--bootstrap", "200"]);
    expect(r.status, r.out.slice(-3000)).toBe(0);
    for (const f of [
      "spm/spm.model",
      "data-bin/dict.src.txt",
      "data-bin/test.src-tgt.src.bin",
      "bodies-bin/train.bin",
      "checkpoints/bart/checkpoint_best.safetensors",
      // the pointer-generator's own word-level data, with <unk-N> position markers in its dictionary
      "pointer/text/dict.pg.txt",
      "pointer/data-bin/test.src-tgt.src.bin",
    ]) {
      expect(existsSync(join(work, f)), f).toBe(true);
    }
    // every e-mail body is pretrained on: none was cut so long that its block is skipped as too large
    expect(readFileSync(join(work, "logs/bart-pretrain.log"), "utf8")).not.toMatch(/invalid sizes/);
    // one joined dictionary: the BART bodies were binarized with the pairs' dictionary
    expect(readFileSync(join(work, "bodies-bin/dict.txt"), "utf8")).toBe(readFileSync(join(work, "data-bin/dict.src.txt"), "utf8"));
    const lines = (f: string) => readFileSync(f, "utf8").split("\n").slice(0, n);
    const [src, tgt, ...ann] = ["src", "tgt", "ann0", "ann1", "ann2"].map((e) => lines(join(AESLC, `test.${e}`)));
    const result = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as Record<
      string,
      Record<
        "single" | "multi",
        Record<"rouge1" | "rouge2" | "rougeL", { precision: number; recall: number; fmeasure: number; low: { fmeasure: number }; high: { fmeasure: number } }>
      >
    >;
    expect(Object.keys(result)).toEqual(["lead", "transformer", "bart", "pointer"]);
    for (const [system, refs] of Object.entries(result)) {
      // raw text out of generate's --bpe sentencepiece: one line per test e-mail, no SentencePiece word marks
      const hyps = readFileSync(join(work, `test.${system}.hyp`), "utf8").split("\n");
      expect(hyps.length - 1, system).toBe(n);
      expect(hyps.join(" "), system).not.toMatch(/\u2581/);
      for (const kind of ["single", "multi"] as const) {
        for (const s of Object.values(refs[kind])) {
          for (const x of [s.precision, s.recall, s.fmeasure, s.low.fmeasure, s.high.fmeasure]) expect(x >= 0 && x <= 1, `${system} ${kind}`).toBe(true);
          expect(s.low.fmeasure <= s.high.fmeasure).toBe(true);
        }
      }
    }
    // lead: the first K words, K the length that scores best on valid; all scored here independently with rougeScore
    // (Porter stemmer; 4 references = best F1 of each type)
    const run = JSON.parse(readFileSync(join(work, "run.json"), "utf8")) as {
      times: Record<string, number>;
      settings: { leadWords: number; leadWordsOnValid: Record<string, number> };
    };
    const [vsrc, vtgt, ...vann] = ["src", "tgt", "ann0", "ann1", "ann2"].map((e) => lines(join(AESLC, `valid.${e}`)));
    const firstWords = (body: string, k: number) => body.split(" ").slice(0, k).join(" ");
    const meanF1 = (k: number) =>
      vsrc!.reduce((a, body, i) => {
        const s = rougeScore(firstWords(body, k), [vtgt![i]!, ...vann.map((v) => v[i]!)], { useStemmer: true, types: ["rouge1", "rouge2", "rougeL"] });
        return a + (s.rouge1!.fmeasure + s.rouge2!.fmeasure + s.rougeL!.fmeasure) / 3;
      }, 0) / n;
    const tried = Object.keys(run.settings.leadWordsOnValid).map(Number);
    expect(tried).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    for (const k of tried) expect(run.settings.leadWordsOnValid[k], `lead-${k} on valid`).toBeCloseTo(meanF1(k), 12);
    expect(Math.max(...tried.map(meanF1))).toBeCloseTo(meanF1(run.settings.leadWords), 12);
    const lead = src!.map((body) => firstWords(body, run.settings.leadWords));
    const mean = (refsOf: (i: number) => string | string[], type: "rouge1" | "rouge2" | "rougeL") =>
      lead.reduce((a, h, i) => a + rougeScore(h, refsOf(i), { useStemmer: true, types: [type] })[type]!.fmeasure, 0) / n;
    for (const type of ["rouge1", "rouge2", "rougeL"] as const) {
      expect(result.lead!.single[type].fmeasure, type).toBeCloseTo(
        mean((i) => tgt![i]!, type),
        12,
      );
      expect(result.lead!.multi[type].fmeasure, type).toBeCloseTo(
        mean((i) => [tgt![i]!, ...ann.map((a) => a[i]!)], type),
        12,
      );
    }
    // the pointer-generator's penalties: the grid's best on valid generated the test set
    const gen = JSON.parse(readFileSync(join(work, "pointer/generation.json"), "utf8")) as {
      chosen: { lenpen: number; unkpen: number };
      valid: { flags: { lenpen: number; unkpen: number }; meanF1: number }[];
    };
    expect(gen.valid.map((t) => t.flags)).toEqual([
      { lenpen: 1, unkpen: 0 },
      { lenpen: 2, unkpen: 0 },
      { lenpen: 1, unkpen: 10 },
      { lenpen: 2, unkpen: 10 },
    ]);
    expect(gen.valid.find((t) => t.meanF1 === Math.max(...gen.valid.map((v) => v.meanF1)))!.flags).toEqual(gen.chosen);
    for (const stage of [
      "spm_train",
      "preprocess",
      "transformer-train",
      "transformer-generate",
      "bart-pretrain",
      "bart-finetune",
      "bart-generate",
      "pointer",
      "total",
    ]) {
      expect(Number.isFinite(run.times[stage]), stage).toBe(true);
    }
  }, 900_000); // as the LM recipe: under load (CI shares the cores) the three trainings and 7 generate runs took 760 s

  it("aeslc-summarization: an unknown system in --models is named", async () => {
    const r = await recipe("aeslc-summarization.ts", ["--models", "lead,extractive"]);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/--models: unknown system 'extractive'/);
  });
});
