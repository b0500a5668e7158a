import { describe, expect, it } from "vitest";
import { englishNumber, germanNumber, numberCorpus } from "../src/numbers.js";

describe("number corpus", () => {
  it("writes numbers as German and English words (hand-checked)", () => {
    const cases: [number, string, string][] = [
      [0, "null", "zero"],
      [1, "eins", "one"],
      [21, "ein und zwanzig", "twenty one"],
      [34, "vier und dreißig", "thirty four"],
      [100, "ein hundert", "one hundred"],
      [101, "ein hundert ein", "one hundred one"],
      [117, "ein hundert siebzehn", "one hundred seventeen"],
      [1000, "ein tausend", "one thousand"],
      [1001, "ein tausend ein", "one thousand one"],
      [2345, "zwei tausend drei hundert fünf und vierzig", "two thousand three hundred forty five"],
      [21_000, "ein und zwanzig tausend", "twenty one thousand"],
      [999_999, "neun hundert neun und neunzig tausend neun hundert neun und neunzig", "nine hundred ninety nine thousand nine hundred ninety nine"],
    ];
    for (const [n, de, en] of cases) {
      expect(germanNumber(n).join(" ")).toBe(de);
      expect(englishNumber(n).join(" ")).toBe(en);
    }
    expect(() => germanNumber(1_000_000)).toThrow(RangeError);
  });

  it("is deterministic for a seed and varied", () => {
    const a = numberCorpus(500, { seed: 7 });
    expect(numberCorpus(500, { seed: 7 })).toEqual(a);
    expect(numberCorpus(500, { seed: 8 })).not.toEqual(a);
    expect(new Set(a.map((p) => p.en)).size).toBeGreaterThan(400);
    for (const p of a) expect(p.de.split(" ").length).toBeGreaterThan(0);
  });
});
