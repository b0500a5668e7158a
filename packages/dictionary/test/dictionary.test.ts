import { readFileSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dictionary, DictionaryFormatError, compareCodePoints, postProcess, splitLines, tokenizeLine } from "../src/index.js";
import { MULTI30K, REF_BIN } from "./shared.js";

/** Build a dictionary from a text file the way fairseq-preprocess does (one worker). */
function buildFromFile(path: string): Dictionary {
  const d = new Dictionary();
  const counts = new Map<string, number>();
  for (const line of splitLines(readFileSync(path, "utf8"))) {
    for (const w of tokenizeLine(line)) counts.set(w, (counts.get(w) ?? 0) + 1);
    counts.set(d.eosWord, (counts.get(d.eosWord) ?? 0) + 1);
  }
  d.addCounts(counts);
  return d;
}

describe("Dictionary", () => {
  it("has fairseq's four specials at 0..3", () => {
    const d = new Dictionary();
    expect([d.bos(), d.pad(), d.eos(), d.unk()]).toEqual([0, 1, 2, 3]);
    expect(d.symbols).toEqual(["<s>", "<pad>", "</s>", "<unk>"]);
    expect(d.nspecial).toBe(4);
    const e = new Dictionary({ extraSpecialSymbols: ["<mask>"] });
    expect(e.nspecial).toBe(5);
    expect(e.index("<mask>")).toBe(4);
  });

  it("reproduces fairseq-preprocess's dict.de.txt and dict.en.txt byte for byte (threshold 2)", () => {
    for (const lang of ["de", "en"]) {
      const d = buildFromFile(join(MULTI30K, `train.${lang}`));
      d.finalize({ threshold: 2, nwords: -1, paddingFactor: 8 });
      expect(d.format()).toBe(readFileSync(join(REF_BIN, `dict.${lang}.txt`), "utf8"));
    }
    // The numbers in the reference preprocess.log.
    const de = Dictionary.parse(readFileSync(join(REF_BIN, "dict.de.txt"), "utf8"));
    expect(de.length).toBe(7864);
  });

  it("finalize orders by count, then by code point, keeps specials, pads with madeupwords", () => {
    const d = new Dictionary();
    // Insertion order deliberately differs from the expected order.
    d.addSymbol("b", 3);
    d.addSymbol("\u{1F600}", 5); // astral: after U+FFFD in code-point order, before it in UTF-16 order
    d.addSymbol("\uFFFD", 5);
    d.addSymbol("a", 3);
    d.addSymbol("rare", 1);
    d.finalize({ threshold: 2, paddingFactor: 8 });
    expect(d.symbols.slice(4)).toEqual(["\uFFFD", "\u{1F600}", "a", "b"]);
    expect(d.length).toBe(8);
    d.addSymbol("x", 0);
    d.padToMultiple(4);
    expect(d.symbols.slice(8)).toEqual(["x", "madeupword0000", "madeupword0001", "madeupword0002"]);
    expect(d.counts.slice(9)).toEqual([0, 0, 0]);
  });

  it("finalize keeps nwords symbols in total, specials included", () => {
    const d = new Dictionary();
    for (const [w, c] of [
      ["a", 9],
      ["b", 8],
      ["c", 7],
      ["d", 6],
    ] as const)
      d.addSymbol(w, c);
    d.finalize({ nwords: 6, paddingFactor: 1 });
    expect(d.symbols.slice(4)).toEqual(["a", "b"]);
    const e = new Dictionary();
    e.addSymbol("a", 1);
    e.finalize({ nwords: 3, paddingFactor: 1 }); // fewer than the specials: nothing kept
    expect(e.length).toBe(4);
  });

  it("encodeLine splits on Python whitespace, appends eos, adds or maps to unk", () => {
    const d = new Dictionary();
    const ids = d.encodeLine("  hello\u00a0world\u2003hello \t\x1c x\n");
    expect(Array.from(ids)).toEqual([4, 5, 4, 6, 2]);
    const fixed = Dictionary.parse("hello 3\n");
    const seen: [string, number][] = [];
    const ids2 = fixed.encodeLine("hello there", { addIfNotExist: false, consumer: (w, i) => seen.push([w, i]) });
    expect(Array.from(ids2)).toEqual([4, 3, 2]);
    expect(seen).toEqual([
      ["hello", 4],
      ["there", 3],
    ]);
    expect(Array.from(fixed.encodeLine("hello there", { addIfNotExist: false, appendEos: false, reverseOrder: true }))).toEqual([3, 4]);
    // U+FEFF is not whitespace for Python.
    expect(tokenizeLine("a\ufeffb c")).toEqual(["a\ufeffb", "c"]);
  });

  it("string() drops eos/bos, escapes unk, removes BPE", () => {
    const d = Dictionary.parse("he@@ 1\nllo 1\n\u2581wor 1\nld 1\n");
    expect(d.string([4, 5, 3, 2])).toBe("he@@ llo <unk>");
    expect(d.string([0, 4, 5, 3, 2], { escapeUnk: true })).toBe("he@@ llo <<unk>>");
    expect(d.string([4, 5, 3], { bpeSymbol: "@@ " })).toBe("hello <unk>");
    expect(d.string([4, 5], { bpeSymbol: "subword_nmt" })).toBe("hello");
    expect(d.string([6, 7], { bpeSymbol: "sentencepiece" })).toBe("world");
    expect(d.string([4, 5, 3], { unkString: "?", extraSymbolsToIgnore: [5] })).toBe("he@@ ?");
    expect(postProcess("a@@ b@@", "@@ ")).toBe("ab"); // the trailing "@@" meets the added space
    expect(postProcess("h e l l o | w o", "letter")).toBe("hello wo");
  });

  it("round-trips dict.txt, honours #fairseq:overwrite, rejects duplicates and bad lines with file:line", () => {
    const text = "a 5\nb c 3\nd 1\n";
    const d = Dictionary.parse(text);
    expect(d.format()).toBe(text);
    expect(d.index("b c")).toBe(5);
    const o = Dictionary.parse("a 5\na 7 #fairseq:overwrite\n");
    expect(o.length).toBe(6);
    expect(o.index("a")).toBe(5);
    expect(o.counts[5]).toBe(7);
    expect(() => Dictionary.parse("a 1\nb 2\na 3\n", { source: "x.txt" })).toThrowError(/x\.txt:3: duplicate word "a"/);
    expect(() => Dictionary.parse("a 1\nnocount\n", { source: "y.txt" })).toThrowError(DictionaryFormatError);
    expect(() => Dictionary.parse("a 1\nnocount\n", { source: "y.txt" })).toThrowError(/y\.txt:2:/);
    expect(() => Dictionary.parse("a 1\nb x\n", { source: "z.txt" })).toThrowError(/z\.txt:2: count "x" is not an integer/);
    // Windows line endings and a missing final newline are fine.
    expect(Dictionary.parse("a 1\r\nb 2").symbols.slice(4)).toEqual(["a", "b"]);
  });

  it("load() names the file for missing files and invalid UTF-8; save() is atomic", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dict-"));
    await expect(Dictionary.load(join(dir, "missing.txt"))).rejects.toThrow(`${join(dir, "missing.txt")}: cannot read dictionary (no such file)`);
    // Node's own EISDIR message names no file
    await expect(Dictionary.load(dir)).rejects.toThrow(`${dir}: cannot read dictionary (is a directory)`);
    await expect(Dictionary.load(dir)).rejects.toMatchObject({ code: "EISDIR" });
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, Buffer.concat([Buffer.from("a 1\nb 2\n"), Buffer.from([0xff, 0x20, 0x31, 0x0a])]));
    await expect(Dictionary.load(bad)).rejects.toThrow(/bad\.txt:3: invalid UTF-8/);
    const d = Dictionary.parse("x 2\ny 1\n");
    await d.save(join(dir, "dict.txt"));
    expect(readdirSync(dir).sort()).toEqual(["bad.txt", "dict.txt"]);
    expect((await Dictionary.load(join(dir, "dict.txt"))).equals(d)).toBe(true);
  });

  it("compares strings by code point like Python", () => {
    const sorted = ["\u{10000}", "\uE000", "z", "a", "\uFFFF"].sort(compareCodePoints);
    expect(sorted).toEqual(["a", "z", "\uE000", "\uFFFF", "\u{10000}"]);
  });
});
