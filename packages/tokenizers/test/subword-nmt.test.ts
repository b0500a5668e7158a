import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildBpe, learnBpe, readVocabulary, SubwordNmtApplier, SubwordNmtBpe } from "../src/index.js";
import { MULTI30K } from "./shared.js";

const sha256 = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");
const fileLines = (path: string): string[] => readFileSync(path, "utf8").split("\n").slice(0, -1);

// Sennrich et al.'s toy corpus: low x5, lower x2, newest x6, widest x3
const TOY = ["low low low low low lower lower", "newest newest newest newest newest newest", "widest widest widest"];
/**
 * Worked by hand with learn_bpe.py's rules. Initial pair counts: (e,s) 9, (s,t</w>) 9, (w,e) 8, (l,o) 7,
 * (n,e) 6, (e,w) 6, (o,w</w>) 5, (w,i) (i,d) (d,e) 3, (o,w) (e,r</w>) 2. Ties go to the larger pair
 * (Python's max over (count, pair)): (s,t</w>) beats (e,s). After each merge only overlapping pairs change,
 * e.g. merging (e,st</w>) takes 6 from (w,e) (newest) and 3 from (d,e) (widest) and creates
 * (w,est</w>) 6 and (d,est</w>) 3. Stops when the best count (0) is below min_frequency 2.
 */
const TOY_MERGES: [string, string, number][] = [
  ["s", "t</w>", 9],
  ["e", "st</w>", 9],
  ["l", "o", 7],
  ["w", "est</w>", 6], // ties at 6 with (n,e), (e,w): "w" is the largest first symbol
  ["n", "e", 6], // ties with (e,west</w>)
  ["ne", "west</w>", 6],
  ["lo", "w</w>", 5],
  ["w", "i", 3], // ties with (i,d), (d,est</w>)
  ["wi", "d", 3], // ties with (d,est</w>)
  ["wid", "est</w>", 3],
  ["w", "e", 2], // lower: ties with (e,r</w>), (lo,w)
  ["we", "r</w>", 2], // ties with (lo,we)
  ["lo", "wer</w>", 2],
];
const TOY_CODES = `#version: 0.2\n${TOY_MERGES.map(([a, b]) => `${a} ${b}\n`).join("")}`;

describe("learnBpe (subword-nmt 0.3.x learn_bpe.py)", () => {
  it("learns the hand-worked merges of the toy corpus, with their frequencies, and stops below min_frequency", () => {
    const seen: [string, string, number][] = [];
    const codes = learnBpe(TOY, 100, { onMerge: (_i, a, b, f) => seen.push([a, b, f]) });
    expect(seen).toEqual(TOY_MERGES);
    expect(codes).toBe(TOY_CODES);
  });

  it("honours numSymbols, minFrequency, totalSymbols and dictionary input", () => {
    expect(learnBpe(TOY, 3)).toBe("#version: 0.2\ns t</w>\ne st</w>\nl o\n");
    expect(learnBpe(TOY, 100, { minFrequency: 6 })).toBe(
      `#version: 0.2\n${TOY_MERGES.slice(0, 6)
        .map(([a, b]) => `${a} ${b}\n`)
        .join("")}`,
    );
    // 13 distinct characters: internal l o n e w s i d (8), final w</w> r</w> t</w> (3) = 11; 14 - 11 = 3 merges
    expect(learnBpe(TOY, 14, { totalSymbols: true })).toBe("#version: 0.2\ns t</w>\ne st</w>\nl o\n");
    expect(learnBpe(["low 5", "lower 2", "newest 6", "widest 3"], 100, { dictInput: true })).toBe(TOY_CODES);
    expect(() => learnBpe(["low 5", "lower"], 10, { dictInput: true })).toThrow(/line 2 is not "word count"/);
    expect(() => learnBpe(TOY, -1)).toThrow(/--symbols/);
    expect(learnBpe([], 10)).toBe("#version: 0.2\n");
  });

  it("splits lines on spaces only and counts characters as code points", () => {
    // "a\tb" is one word of three characters; the astral 😀 is one symbol
    const codes = learnBpe(["a\tb a\tb x😀 x😀"], 10);
    expect(codes).toBe("#version: 0.2\nx 😀</w>\na \t\na\t b</w>\n");
  });

  it("reproduces learn_bpe.py's regex replacement inside symbols that hold non-space whitespace", () => {
    // From subword-nmt 0.3.8's learn_bpe.py. The 2nd merge (\xa0,\xa0) also fires across the boundary
    // into the symbol "\xa0\xa0</w>" (the pattern's (?!\S) accepts the \xa0 that follows), which a plain
    // pairwise merge would not do; the later merges follow from that.
    const lines = Array(2).fill("b\xa0\xa0 \xa0\xa0\xa0\xa0\xa0 \xa0\xa0");
    const seen: string[] = [];
    const codes = learnBpe(lines, 50, { onMerge: (_i, a, b, f) => seen.push(`${a}|${b}|${f}`) });
    expect(seen).toEqual(["\xa0|\xa0</w>|6", "\xa0|\xa0|4", "\xa0\xa0|\xa0\xa0\xa0</w>|2", "\xa0|\xa0\xa0</w>|2", "b|\xa0\xa0</w>|2"]);
    expect(codes).toBe("#version: 0.2\n\xa0 \xa0</w>\n\xa0 \xa0\n\xa0\xa0 \xa0\xa0\xa0</w>\n\xa0 \xa0\xa0</w>\nb \xa0\xa0</w>\n");
  });

  // one test per language: each is one long synchronous call, and vitest's worker must get a turn
  // between them under a loaded CI machine
  it("learns exactly subword-nmt's 10k codes on multi30k train.en", () => {
    // sha256 of `subword-nmt learn-bpe -s 10000 < train.{en,de}` (subword-nmt 0.3.8)
    const en = learnBpe(fileLines(resolve(MULTI30K, "raw/train.en")), 10000);
    expect(en.split("\n").length).toBe(10002);
    expect(en.split("\n").slice(1, 4)).toEqual(["i n", "in g</w>", "a n"]);
    expect(sha256(en)).toBe("bfcc0fe074e5549beb6decffc8d30243eed44c0f52162a4c2f3f909008cabdcb");
  });

  it("learns exactly subword-nmt's 10k codes on multi30k train.de", () => {
    const de = learnBpe(fileLines(resolve(MULTI30K, "raw/train.de")), 10000);
    expect(sha256(de)).toBe("c393387ecc91022454898a6d7d0de12200315cdb99a0c6b5704b83ba3844f681");
  });
});

describe("SubwordNmtApplier (subword-nmt 0.3.x apply_bpe.py)", () => {
  const toy = new SubwordNmtApplier(TOY_CODES);

  it("applies merges by rank within each word (hand-worked) and keeps leading/trailing whitespace", () => {
    // lowest: l o w e s t</w> -(0)-> l o w e st</w> -(1)-> l o w est</w> -(2)-> lo w est</w> -(3)-> lo west</w>
    // newer: n e w e r</w> -(4)-> ne w e r</w> -(10)-> ne we r</w> -(11)-> ne wer</w>
    // wider: w i d e r</w> -(7)-> wi d e r</w> -(8)-> wid e r</w>;  ss: s s</w> (no code)
    expect(toy.processLine("  lowest newer wider low a ss  \n")).toBe("  lo@@ west ne@@ wer wid@@ e@@ r low a s@@ s  \n");
    expect(toy.processLine("\n")).toBe("\n");
    expect(toy.processLine("   ")).toBe("   ");
    expect(toy.processLine("low\u00a0low")).toBe("lo@@ w@@ \u00a0@@ low"); // non-space whitespace is a character
    expect(toy.segment("low  \tlow")).toBe("low \t@@ low");
  });

  it("merges non-overlapping occurrences left to right (x x x -> xx x)", () => {
    const a = new SubwordNmtApplier("#version: 0.2\nx x\n");
    expect(a.segment("xxx xxxx xx x")).toBe("xx@@ x xx@@ x@@ x x@@ x x");
    // "x x</w>" is a different pair from "x x"
    const b = new SubwordNmtApplier("#version: 0.2\nx x</w>\nx x\n");
    expect(b.segment("xx xxx")).toBe("xx x@@ xx");
  });

  it("reads version 0.1 codes (a separate </w> symbol), honours merges and the first of duplicate codes", () => {
    const v01 = new SubwordNmtApplier("l o\nlo w\nlow </w>\n");
    expect(v01.version).toEqual([0, 1]);
    expect(v01.segment("low lot")).toBe("low lo@@ t");
    expect(new SubwordNmtApplier(TOY_CODES, { merges: 3 }).segment("lowest")).toBe("lo@@ w@@ est");
    const dup = new SubwordNmtApplier("#version: 0.2\na b\nb c\na b\n");
    expect(dup.size).toBe(2);
    expect(dup.segment("abc")).toBe("ab@@ c");
    expect(new SubwordNmtApplier(TOY_CODES, { separator: "~~" }).segment("lowest")).toBe("lo~~ west");
  });

  it("isolates glossaries like subword-nmt's test_glossaries", () => {
    const a = new SubwordNmtApplier("#version: 0.2\nq q\n", { glossaries: ["like", "Manuel", "USA"] });
    expect(a.segment("wordlikeUSAwordManuelManuelwordUSA")).toBe("w@@ o@@ r@@ d@@ like@@ USA@@ w@@ o@@ r@@ d@@ Manuel@@ Manuel@@ w@@ o@@ r@@ d@@ USA");
    const r = new SubwordNmtApplier("#version: 0.2\nw o\nwo r</w>\n", { glossaries: ["<country>\\w*</country>", "\\d+"] });
    expect(r.segment("wor10001<country>USA</country>")).toBe("wor@@ 10001@@ <country>USA</country>");
  });

  it("a glossary match followed by a stripped character leaves an empty segment, which has no subwords", () => {
    // isolate_glossary strips "\r\n " from the last segment: "xGLOSS\r" gives x, GLOSS and "" (apply_bpe.py's encode
    // raises IndexError on ""); both codes versions drop it
    for (const version of ["0.1", "0.2"]) {
      const a = new SubwordNmtApplier(`#version: ${version}\nq q\n`, { glossaries: ["GLOSS"] });
      expect(a.segment("xGLOSS\r y")).toBe("x@@ GLOSS y");
      expect(a.encodeWord("")).toEqual([]);
    }
  });

  it("splits out-of-vocabulary subwords by reversing merges (--vocabulary)", () => {
    // "lowest" -> lo west; with "west" unknown: west</w> came from (w, est</w>) -> w + est
    const vocab = readVocabulary("lo@@ 5\nw@@ 5\nest 5\nwest 1\n", 2);
    expect([...vocab].sort()).toEqual(["est", "lo@@", "w@@"]);
    expect(new SubwordNmtApplier(TOY_CODES, { vocab }).segment("lowest")).toBe("lo@@ w@@ est");
    expect(() => readVocabulary("a 1\nb\n")).toThrow(/--vocabulary line 2/);
  });

  it("rejects malformed codes with the line number", () => {
    expect(() => new SubwordNmtApplier("#version: 0.2\na b\nc d e\n", { what: "--bpe-codes x" })).toThrow(/--bpe-codes x: invalid line 3: "c d e"/);
    expect(() => new SubwordNmtApplier("#version: 0.3\na b\n")).toThrow(/unsupported codes version 0.3/);
    // like apply_bpe.py, a codes file with only the header has an invalid (empty) line 2
    expect(() => new SubwordNmtApplier("#version: 0.2\n")).toThrow(/invalid line 2/);
  });

  it("segments multi30k test.en exactly like apply_bpe.py with the 10k codes learned on train.en", () => {
    const codes = learnBpe(fileLines(resolve(MULTI30K, "raw/train.en")), 10000);
    const a = new SubwordNmtApplier(codes);
    const text = readFileSync(resolve(MULTI30K, "raw/test.en"), "utf8");
    const out = text
      .split(/(?<=\n)/)
      .map((l) => a.processLine(l))
      .join("");
    // sha256 of `subword-nmt apply-bpe -c codes < test.en`
    expect(sha256(out)).toBe("f5ae07a917434a4513ad0b8bf5a6610fdf9ae61ad889cc7defb04d4b147091dd");
    expect(out.split("\n")[1]).toBe("A Boston Ter@@ rier is running on lush green grass in front of a white fence.");
  });
});

describe("--bpe subword_nmt (fairseq SubwordNMTBPE)", () => {
  it("encodes with --bpe-codes and decodes with (x + ' ').replace('@@ ', '').rstrip()", () => {
    const dir = mkdtempSync(join(tmpdir(), "fairseq-ts-bpe-"));
    try {
      const path = join(dir, "codes");
      writeFileSync(path, TOY_CODES);
      const bpe = buildBpe("subword_nmt", { bpeCodes: path });
      expect(bpe).toBeInstanceOf(SubwordNmtBpe);
      expect(bpe.encode("lowest newer")).toBe("lo@@ west ne@@ wer");
      expect(bpe.decode("lo@@ west ne@@ wer")).toBe("lowest newer");
      expect(bpe.decode("lo@@ west@@")).toBe("lowest"); // the appended space makes a trailing "@@" go too
      expect(bpe.decode("a b \u3000")).toBe("a b");
      const tilde = buildBpe("subword_nmt", { bpeCodesText: TOY_CODES, bpeSeparator: "~~" });
      expect(tilde.encode("lowest")).toBe("lo~~ west");
      expect(tilde.decode("lo~~ west")).toBe("lowest");
      expect(() => bpe.isBeginningOfWord("lo@@")).toThrow(/subword_nmt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the flag on bad options", () => {
    expect(() => buildBpe("subword_nmt", {})).toThrow(/--bpe-codes is required/);
    expect(() => buildBpe("subword_nmt", { bpeCodes: "/nope/codes" })).toThrow(/--bpe-codes: cannot read \/nope\/codes/);
    expect(() => buildBpe("subword_nmt", { bpeCodes: 3 })).toThrow(/--bpe-codes must be a string/);
    expect(() => buildBpe("subword_nmt", { bpeCodesText: "#version: 0.2\na\n" })).toThrow(/--bpe-codes: invalid line 2/);
  });
});
