import { describe, expect, it } from "vitest";
import { formatFixed, formatG, formatPrecision, pyFloatRepr, pyRound } from "../src/index.js";

// Expected strings are what CPython 3 prints (hand-checked against Python's documented rules:
// exact binary value, round-half-even; repr switches to exponent form below 1e-4 and from 1e16).
describe("Python float formatting", () => {
  it("'{:.Nf}' rounds the exact binary value half to even", () => {
    expect(formatFixed(0.125, 2)).toBe("0.12"); // exact tie -> even (JS toFixed gives 0.13)
    expect(formatFixed(0.375, 2)).toBe("0.38");
    expect(formatFixed(2.675, 2)).toBe("2.67"); // 2.67499999999999982236431605997495353221893310546875
    expect(formatFixed(-0.00001, 4)).toBe("-0.0000");
    expect(formatFixed(1.5, 0)).toBe("2");
    expect(formatFixed(2.5, 0)).toBe("2");
    expect(formatFixed(-3.4592, 4)).toBe("-3.4592");
    expect(formatFixed(123.456, 1)).toBe("123.5");
    expect(formatFixed(1e22, 1)).toBe("10000000000000000000000.0");
    expect(formatFixed(Infinity, 2)).toBe("inf");
  });

  it("round(x, n) is Python's", () => {
    expect(pyRound(2.675, 2)).toBe(2.67);
    expect(pyRound(0.5)).toBe(0);
    expect(pyRound(1.5)).toBe(2);
    expect(pyRound(2.5)).toBe(2);
    expect(pyRound(0.8771929824561403, 3)).toBe(0.877);
    expect(pyRound(5214.6872, 2)).toBe(5214.69);
    expect(pyRound(1234.5, -1)).toBe(1230);
  });

  it("'{:g}' uses 6 significant digits and Python's exponent rule", () => {
    expect(formatG(0.000125)).toBe("0.000125");
    expect(formatG(0.0000125)).toBe("1.25e-05");
    expect(formatG(0.000468293)).toBe("0.000468293");
    expect(formatG(0.0004682927)).toBe("0.000468293");
    expect(formatG(12282)).toBe("12282");
    expect(formatG(123456)).toBe("123456");
    expect(formatG(1234567)).toBe("1.23457e+06");
    expect(formatG(999999.5)).toBe("1e+06"); // tie rounds to even (999999 is odd)
    expect(formatG(100)).toBe("100");
    expect(formatG(1e16)).toBe("1e+16");
    expect(formatG(0)).toBe("0");
    expect(formatG(-0)).toBe("-0");
    expect(formatG(5.285)).toBe("5.285");
    expect(formatG(-2.5e-7)).toBe("-2.5e-07");
    expect(formatG(NaN)).toBe("nan");
  });

  it("repr(float)", () => {
    expect(pyFloatRepr(1e-5)).toBe("1e-05");
    expect(pyFloatRepr(0.0001)).toBe("0.0001");
    expect(pyFloatRepr(1e16)).toBe("1e+16");
    expect(pyFloatRepr(1234567890123456)).toBe("1234567890123456.0");
    expect(pyFloatRepr(2)).toBe("2.0");
    expect(pyFloatRepr(0.1)).toBe("0.1");
    expect(pyFloatRepr(-0)).toBe("-0.0");
    expect(pyFloatRepr(5e-324)).toBe("5e-324");
    expect(pyFloatRepr(1.5e300)).toBe("1.5e+300");
    expect(pyFloatRepr(Math.fround(-2.0689778))).toBe("-2.0689778327941895");
    expect(pyFloatRepr(0.877)).toBe("0.877");
  });

  it("'{:.3}' (precision without a type) keeps one fractional digit in fixed form", () => {
    expect(formatPrecision((100 * 10873) / 389706, 3)).toBe("2.79");
    expect(formatPrecision(0, 3)).toBe("0.0");
    expect(formatPrecision(12, 3)).toBe("12.0");
    expect(formatPrecision(100, 3)).toBe("100.0"); // CPython: 'g' plus Py_DTSF_ADD_DOT_0
    expect(formatPrecision(100, 2)).toBe("1e+02");
    expect(formatPrecision(12.345, 3)).toBe("12.3");
    expect(formatPrecision(0.00001234, 3)).toBe("1.23e-05");
  });
});
