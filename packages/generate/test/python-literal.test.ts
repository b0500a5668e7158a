/**
 * The Python literal reader behind --model-overrides, against what CPython's ast.literal_eval returns for the same
 * text (the expected values below are literal_eval's, written as JSON: tuples become lists).
 */
import { describe, expect, it } from "vitest";
import { PythonLiteralError, parseModelOverrides, parsePythonLiteral } from "../src/index.js";

describe("parsePythonLiteral (ast.literal_eval)", () => {
  it("scalars: ints in every base, floats, signs, True/False/None", () => {
    const cases: [string, unknown][] = [
      ["3", 3],
      ["-3", -3],
      ["+3", 3],
      ["1_000", 1000],
      ["0x1F", 31],
      ["0o17", 15],
      ["0b101", 5],
      ["0", 0],
      ["00", 0],
      ["0.5", 0.5],
      [".5", 0.5],
      ["5.", 5],
      ["1e-3", 0.001],
      ["2.5E+2", 250],
      ["-1.5e3", -1500],
      ["True", true],
      ["False", false],
      ["None", null],
    ];
    for (const [text, want] of cases) expect(parsePythonLiteral(text), text).toEqual(want);
  });

  it("strings: both quotes, triple quotes, escapes, raw and u prefixes, adjacent strings joined", () => {
    const cases: [string, string][] = [
      [`'abc'`, "abc"],
      [`"abc"`, "abc"],
      [`'it\\'s'`, "it's"],
      [`"say \\"hi\\""`, 'say "hi"'],
      [`'a\\tb\\nc'`, "a\tb\nc"],
      [`'\\x41\\u00e9\\U0001F600\\101'`, "Aé😀A"],
      [`'back\\\\slash'`, "back\\slash"],
      [`'keep \\d'`, "keep \\d"],
      [`r'a\\nb'`, "a\\nb"],
      [`u'x'`, "x"],
      [`'''a'b"c'''`, `a'b"c`],
      [`"""two\nlines"""`, "two\nlines"],
      [`'a' "b" 'c'`, "abc"],
      [`'ünï'`, "ünï"],
    ];
    for (const [text, want] of cases) expect(parsePythonLiteral(text), text).toEqual(want);
  });

  it("containers: lists, tuples (one-element, empty, bare), dicts, nesting, trailing commas, whitespace", () => {
    expect(parsePythonLiteral("[1, 2.5, 'x', None]")).toEqual([1, 2.5, "x", null]);
    expect(parsePythonLiteral("(0.9, 0.98)")).toEqual([0.9, 0.98]);
    expect(parsePythonLiteral("(1,)")).toEqual([1]);
    expect(parsePythonLiteral("(1)")).toEqual(1);
    expect(parsePythonLiteral("()")).toEqual([]);
    expect(parsePythonLiteral("1, 2")).toEqual([1, 2]);
    expect(parsePythonLiteral("[1, 2,]")).toEqual([1, 2]);
    expect(parsePythonLiteral("{}")).toEqual({});
    expect(parsePythonLiteral(` { 'a' : [1, (2, 3)],\n "b": {"c": True},\t'd': -0.5, } `)).toEqual({ a: [1, [2, 3]], b: { c: true }, d: -0.5 });
    // a later duplicate key wins, as in a Python dict display
    expect(parsePythonLiteral("{'a': 1, 'a': 2}")).toEqual({ a: 2 });
    // "__proto__" is an ordinary key
    expect(Object.keys(parsePythonLiteral("{'__proto__': 1}") as object)).toEqual(["__proto__"]);
  });

  it("what is not a literal is an error naming the problem and its column", () => {
    const cases: [string, RegExp][] = [
      ["{'a': foo}", /'foo' is not a literal .* at column 7$/],
      ["{'a': 1", /unclosed '\{' \(opened at column 1\) at column 8$/],
      ["{'a' 1}", /expected ':' after the dict key, got '1' at column 6$/],
      ["{'a': 1 'b': 2}", /expected ',' or '\}' after a dict value, got ''b'|expected ',' or '\}' after a dict value/],
      ["{1: 2}", /dict keys must be strings, got 1 at column 2$/],
      ["{1, 2}", /sets are not supported/],
      ["'abc", /unterminated string \(opened at column 1\) at column 1$/],
      ["b'x'", /bytes literals are not supported/],
      ["f'{x}'", /f-strings are not literals/],
      ["1j", /complex numbers are not supported/],
      ["012", /leading zeros/],
      ["0x1G", /invalid hexadecimal literal/],
      ["1 2", /unexpected '2' after the literal at column 3$/],
      ["", /empty text/],
      ["[1,,2]", /unexpected ','/],
      ["-'a'", /unary - applies only to a number at column 1$/],
      ["__import__('os')", /'__import__' is not a literal/],
      ["'\\N{DASH}'", /\\N\{\.\.\.\} escapes are not supported/],
      ["12345678901234567890", /too large/],
    ];
    for (const [text, re] of cases) {
      let err: unknown = null;
      try {
        parsePythonLiteral(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(PythonLiteralError);
      expect((err as Error).message, text).toMatch(re);
    }
  });
});

describe("parseModelOverrides (--model-overrides)", () => {
  it("a dict of args; anything else is an error saying what was expected", () => {
    expect(parseModelOverrides("{}")).toEqual({});
    expect(parseModelOverrides(`{"dropout": 0.2, 'encoder_normalize_before': True, "adam_betas": "(0.9, 0.98)"}`)).toEqual({
      dropout: 0.2,
      encoder_normalize_before: true,
      adam_betas: "(0.9, 0.98)",
    });
    expect(() => parseModelOverrides("[1, 2]")).toThrow(/expected a Python dict such as \{'dropout': 0.2\}, got a list\/tuple/);
    expect(() => parseModelOverrides("3")).toThrow(/expected a Python dict .*got 3/);
    expect(() => parseModelOverrides("{'beam': three}")).toThrow(/not a Python dict literal: 'three' is not a literal .* at column 10 of "\{'beam': three\}"/);
  });
});
