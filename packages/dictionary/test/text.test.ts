import { describe, expect, it } from "vitest";
import { PY_SPACE_CHARS, hasPySpace, normalizeSpace, pyRstrip, pyStrip, tokenizeLine } from "../src/index.js";

// The code points for which Python 3's str.isspace() is true, copied from Python's output of
// [hex(c) for c in range(0x110000) if chr(c).isspace()] (none is outside the BMP).
const PYTHON_SPACES = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
  0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
];

describe("Python whitespace (one class for dictionary, data and the encoders)", () => {
  it("PY_SPACE_CHARS and hasPySpace hold exactly Python's whitespace, over the whole BMP", () => {
    const cls = new RegExp(`^[${PY_SPACE_CHARS}]$`, "u");
    const found: number[] = [];
    for (let c = 0; c <= 0xffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCharCode(c);
      expect(hasPySpace(`a${ch}b`)).toBe(cls.test(ch));
      if (cls.test(ch)) found.push(c);
    }
    expect(found).toEqual(PYTHON_SPACES);
    // not JavaScript's \s: BOM and the Mongolian vowel separator are not Python whitespace
    expect(hasPySpace("\ufeff\u180e")).toBe(false);
  });

  it("split(), strip(), rstrip() and re.sub(r'\\s+', ' ', s) as Python gives them", () => {
    const s = "\u3000 a\x1cb\u0085\u00a0c\t\n";
    expect(tokenizeLine(s)).toEqual(["a", "b", "c"]); // s.split()
    expect(tokenizeLine(" \t\n")).toEqual([]);
    expect(pyStrip(s)).toBe("a\x1cb\u0085\u00a0c");
    expect(pyRstrip(s)).toBe("\u3000 a\x1cb\u0085\u00a0c");
    expect(normalizeSpace(s)).toBe(" a b c ");
    expect(normalizeSpace("x\ufeffy")).toBe("x\ufeffy");
  });
});
