import { describe, expect, it } from "vitest";
import { CorpusRougeScorer, formatCorpusRouge } from "../src/index.js";

describe("CorpusRougeScorer", () => {
  it("averages per-sentence P/R/F (hand-worked) and formats generate's ROUGE line", () => {
    const c = new CorpusRougeScorer();
    // "the cat sat" vs "the cat sat on the mat": 3 of 3 unigrams match, 3 of 6 reference unigrams: P 1, R 1/2, F 2/3;
    // bigrams: 2 of 2, 2 of 5: P 1, R 2/5, F 4/7; LCS 3: as unigrams
    c.add("the cat sat on the mat", "the cat sat");
    // identical: 1 everywhere
    c.add("a dog", "a dog");
    const r = c.result();
    expect(r.count).toBe(2);
    expect(r.mean.rouge1!.precision).toBeCloseTo(1, 12);
    expect(r.mean.rouge1!.recall).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(r.mean.rouge1!.fmeasure).toBeCloseTo((2 / 3 + 1) / 2, 12);
    expect(r.mean.rouge2!.fmeasure).toBeCloseTo((4 / 7 + 1) / 2, 12);
    expect(r.mean.rougeL!.fmeasure).toBeCloseTo((2 / 3 + 1) / 2, 12);
    expect(formatCorpusRouge(r)).toBe(
      "ROUGE-1 F 83.33 (P 100.00 R 75.00), ROUGE-2 F 78.57 (P 100.00 R 70.00), ROUGE-L F 83.33 (P 100.00 R 75.00), ROUGE-Lsum F 83.33 (P 100.00 R 75.00) (2 sentences)",
    );
  });

  it("several references: per type the best-F1 reference (score_multi); the line says how many", () => {
    const c = new CorpusRougeScorer({ useStemmer: true });
    c.add(["the cat sat on the mat", "the cat sat"], "the cat sat");
    const r = c.result();
    expect(r.mean.rouge1!.fmeasure).toBe(1);
    expect(formatCorpusRouge(r)).toMatch(/\(1 sentences, 2 references, stemmed\)$/);
  });

  it("bootstrap interval brackets the mean; bad resample counts are refused", () => {
    const c = new CorpusRougeScorer({ bootstrap: 50, seed: 1 });
    c.add("a b c d", "a b x y");
    c.add("a b c d", "a b c d");
    const r = c.result();
    expect(r.bootstrap!.rouge1!.low.fmeasure).toBeLessThanOrEqual(r.bootstrap!.rouge1!.high.fmeasure);
    expect(formatCorpusRouge(r)).toMatch(/; bootstrap 95% F low\/mid\/high \(50 resamples\): ROUGE-1 [\d.]+\/[\d.]+\/[\d.]+, ROUGE-2 /);
    expect(() => new CorpusRougeScorer({ bootstrap: -1 })).toThrow(/>= 0, got -1/);
    expect(new CorpusRougeScorer().result().count).toBe(0);
  });
});
