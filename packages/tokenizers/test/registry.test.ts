import { describe, expect, it } from "vitest";
import { buildBpe, buildTokenizer, registerBpe, registerTokenizer, SpaceTokenizer, tokenizerNames } from "../src/index.js";

describe("registries", () => {
  it("builds the space tokenizer by name", () => {
    expect(tokenizerNames()).toContain("space");
    expect(buildTokenizer("space", {})).toBeInstanceOf(SpaceTokenizer);
  });

  it("names the flag for unknown names", () => {
    expect(() => buildTokenizer("nope")).toThrow(/--tokenizer "nope"/);
    expect(() => buildBpe("nope")).toThrow(/--bpe "nope"/);
  });

  it("rejects duplicates and registers user encoders", () => {
    expect(() => registerTokenizer("space", () => new SpaceTokenizer())).toThrow(/duplicate --tokenizer \(space\)/);
    registerTokenizer("upper-test", () => ({ encode: (s) => s.toUpperCase(), decode: (s) => s.toLowerCase() }));
    expect(buildTokenizer("upper-test").encode("ab c")).toBe("AB C");
    registerBpe("chars-test", () => ({
      encode: (s) => [...s].join(" "),
      decode: (s) => s.replace(/ /g, ""),
      isBeginningOfWord: () => true,
    }));
    expect(buildBpe("chars-test").encode("abc")).toBe("a b c");
  });
});

describe("space tokenizer (fairseq SpaceTokenizer: re.sub(r'\\s+', ' ', x))", () => {
  const t = new SpaceTokenizer();
  it("collapses every run of Python whitespace to one space and keeps the ends", () => {
    expect(t.encode("  a\tb\n\nc  ")).toBe(" a b c ");
    expect(t.encode("a\u00a0\u3000b\u2028c\x1fd")).toBe("a b c d");
    // not whitespace for Python's re: zero-width space, BOM
    expect(t.encode("a\u200bb\ufeffc")).toBe("a\u200bb\ufeffc");
  });
  it("decodes as the identity", () => {
    expect(t.decode(" a  b ")).toBe(" a  b ");
  });
});
