import { describe, expect, it } from "vitest";
import { computeSacreBleu, formatSacreBleu, sacreBleu, tokenize13a } from "../src/index.js";

// Vectors from sacrebleu's own test suite (test/test_bleu.py, test/test_tokenizers.py).
const refs = [
  ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
  ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
];
const hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];

describe("sacrebleu-compatible BLEU", () => {
  it("corpus BLEU of sacrebleu's README example (two reference streams)", () => {
    expect(sacreBleu(hyps, refs).score).toBeCloseTo(48.530827, 5);
    expect(sacreBleu(hyps, refs, { tokenize: "13a" }).score).toBeCloseTo(48.530827, 5);
    expect(sacreBleu(hyps, refs, { tokenize: "none" }).score).toBeCloseTo(49.1919566, 5);
    expect(sacreBleu(hyps, refs, { smoothMethod: "none" }).score).toBeCloseTo(48.530827, 5);
    expect(sacreBleu(["", "", ""], refs).score).toBe(0);
  });

  it("sufficient statistics and scores from statistics", () => {
    const s = sacreBleu(["am I am a character sequence"], [["I am a symbol string sequence a a"]]);
    expect(s.counts).toEqual([4, 2, 1, 0]);
    expect(s.totals).toEqual([6, 5, 4, 3]);
    expect(computeSacreBleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).score / 100).toBeCloseTo(0.8375922397, 9);
    expect(computeSacreBleu([0, 0, 0, 0], [4, 4, 2, 1], 0, 1).score).toBe(0);
  });

  it("raw (floor 0.01, no tokenisation, effective order) and sentence BLEU (effective order)", () => {
    const raw = { smoothMethod: "floor", smoothValue: 0.01, tokenize: "none", effectiveOrder: true } as const;
    expect(sacreBleu(["this is a test", "another test"], [["ref1", "ref2"]], raw).score).toBe(0);
    expect(sacreBleu(["this is a test"], [["this is a test"]], raw).score / 100).toBeCloseTo(1, 12);
    expect(sacreBleu(["this is a fest"], [["this is a test"]], raw).score / 100).toBeCloseTo(0.223606797749979, 12);
    // test_effective_order uses raw_corpus_bleu(..., .01) too
    expect(sacreBleu(["test"], [["a test"]], raw).score / 100).toBeCloseTo(0.3678794411714425, 12);
    expect(sacreBleu(["a test"], [["a test"]], raw).score / 100).toBeCloseTo(1, 12);
    expect(sacreBleu(["a little test"], [["a test"]], raw).score / 100).toBeCloseTo(0.03218297948685433, 12);
  });

  it("13a tokenisation (mteval-v13a rules: punctuation split, digits keep . , and -; entities unescaped)", () => {
    // the punctuation class is {|}~ [\\]^_` space!"#$%& ()*+ :;<=>?@ / — the apostrophe is not in it
    expect(tokenize13a("Hello, world! It's 3.5 (or 3,5)-ish.")).toBe("Hello , world ! It's 3.5 ( or 3,5 ) -ish .");
    expect(tokenize13a("a&amp;b &quot;c&quot; x&lt;y")).toBe('a & b " c " x < y');
    expect(tokenize13a("The 1990-2000 period")).toBe("The 1990 - 2000 period");
    expect(tokenize13a("  many   spaces\there ")).toBe("many spaces here");
  });

  it("formats like sacrebleu's BLEUScore.format()", () => {
    const s = sacreBleu(hyps, refs);
    expect(formatSacreBleu(s)).toMatch(/^BLEU = 48\.53 \d+\.\d\/\d+\.\d\/\d+\.\d\/\d+\.\d \(BP = \d\.\d{3} ratio = \d\.\d{3} hyp_len = \d+ ref_len = \d+\)$/);
    // hand-computed: hyp tokens 6 + 4 + 7 = 17 ("wasn't" stays one token); closest ref lengths 6, 5, 7
    expect([s.sysLen, s.refLen]).toEqual([17, 18]);
    expect(formatSacreBleu(s)).toContain("(BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
  });
});
