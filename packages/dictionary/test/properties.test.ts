import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dictionary, compareCodePoints, splitLines, tokenizeLine } from "../src/index.js";

// Python whitespace (str.isspace) and the line breaks of universal-newline reading.
// eslint-disable-next-line no-control-regex -- Python's whitespace includes these control characters
const PY_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

/** A word as fairseq sees one: any Unicode (astral included), no Python whitespace. */
const word = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).filter((w) => !PY_SPACE.test(w));
/** A dict.txt symbol: may contain inner spaces, but no line breaks and no whitespace at either end. */
const symbol = fc
  .tuple(word, fc.option(word, { nil: undefined }))
  .map(([a, b]) => (b === undefined ? a : `${a} ${b}`))
  .filter((s) => !["<s>", "<pad>", "</s>", "<unk>"].includes(s));

describe("dictionary properties", () => {
  it("dict.txt round-trips: parse(format(d)) has the same symbols and counts", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(symbol, fc.nat({ max: 1e9 })), { selector: ([s]) => s, maxLength: 40 }), (entries) => {
        const d = new Dictionary();
        for (const [s, c] of entries) d.addSymbol(s, c);
        const back = Dictionary.parse(d.format());
        expect(back.equals(d)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("encodeLine then string() gives back the whitespace-normalised line", () => {
    fc.assert(
      fc.property(
        fc.array(
          word.filter((w) => w !== "<s>" && w !== "</s>"),
          { maxLength: 12 },
        ),
        fc.array(fc.constantFrom(" ", "\t", "\u3000", "\u00a0", "  "), { minLength: 12, maxLength: 12 }),
        (words, seps) => {
          const line = words.map((w, i) => w + seps[i]).join("");
          const d = new Dictionary();
          const ids = d.encodeLine(line);
          expect(ids[ids.length - 1]).toBe(d.eos());
          expect(d.string(ids)).toBe(tokenizeLine(line).join(" "));
          expect(tokenizeLine(line)).toEqual(words);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("finalize: specials first, counts descending, ties in code-point order, threshold and padding respected", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(symbol, fc.integer({ min: 0, max: 5 })), { selector: ([s]) => s, maxLength: 40 }),
        fc.integer({ min: -1, max: 4 }),
        fc.integer({ min: 1, max: 16 }),
        (entries, threshold, paddingFactor) => {
          const d = new Dictionary();
          for (const [s, c] of entries) d.addSymbol(s, c);
          d.finalize({ threshold, paddingFactor });
          expect(d.symbols.slice(0, 4)).toEqual(["<s>", "<pad>", "</s>", "<unk>"]);
          expect(d.length % paddingFactor).toBe(0);
          const kept = d.symbols.slice(4).filter((_, i) => !/^madeupword\d{4}$/.test(d.symbols[4 + i]!) || d.counts[4 + i]! > 0);
          for (let i = 1; i < kept.length; i++) {
            const ca = d.counts[d.index(kept[i - 1]!)]!;
            const cb = d.counts[d.index(kept[i]!)]!;
            expect(ca > cb || (ca === cb && compareCodePoints(kept[i - 1]!, kept[i]!) < 0)).toBe(true);
          }
          const expectedKept = entries.filter(([, c]) => c >= threshold).length;
          expect(kept.length).toBe(expectedKept);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("splitLines matches Python's universal newlines", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("\n", "\r", "\r\n"))), (pieces) => {
        const text = pieces.join("");
        // Reference: split at \r\n, \r or \n; a trailing terminator does not start a new line.
        const ref = text.split(/\r\n|\r|\n/);
        if (ref.length > 0 && ref[ref.length - 1] === "") ref.pop();
        expect(splitLines(text)).toEqual(ref);
      }),
      { numRuns: 300 },
    );
  });
});
