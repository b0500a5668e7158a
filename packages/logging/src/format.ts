/**
 * Python's float formatting, exactly: fairseq's logs and generate output are Python-formatted, and
 * matching them byte for byte needs Python's rules (exact binary value, round-half-even, Python's
 * exponent thresholds), which differ from JavaScript's `toFixed`/`String`.
 */

/** An exact decimal: value = digits × 10^exp10, digits a non-negative BigInt. */
interface Decimal {
  negative: boolean;
  digits: bigint;
  exp10: number;
}

const TWO52 = 2n ** 52n;

/** The exact decimal value of a finite double. */
function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const negative = hi >>> 31 === 1;
  const biased = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let mant: bigint;
  let e2: number;
  if (biased === 0) {
    mant = frac;
    e2 = -1074;
  } else {
    mant = frac + TWO52;
    e2 = biased - 1075;
  }
  if (mant === 0n) return { negative, digits: 0n, exp10: 0 };
  if (e2 >= 0) return { negative, digits: mant << BigInt(e2), exp10: 0 };
  // m / 2^k = m * 5^k / 10^k
  return { negative, digits: mant * 5n ** BigInt(-e2), exp10: e2 };
}

/** Divide by 10^k (k > 0) rounding half to even. */
function divRoundHalfEven(n: bigint, k: number): bigint {
  const d = 10n ** BigInt(k);
  const q = n / d;
  const r = n - q * d;
  const twice = 2n * r;
  if (twice > d || (twice === d && q % 2n === 1n)) return q + 1n;
  return q;
}

/** `value` rounded half-even to `frac` fractional digits, as an integer count of 10^-frac. */
function roundToFraction(dec: Decimal, frac: number): bigint {
  const shift = dec.exp10 + frac;
  return shift >= 0 ? dec.digits * 10n ** BigInt(shift) : divRoundHalfEven(dec.digits, -shift);
}

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return undefined;
}

function sign(dec: Decimal): string {
  return dec.negative ? "-" : "";
}

/** Python's `"{:.Nf}".format(x)`. */
export function formatFixed(x: number, fractionDigits: number): string {
  const nf = nonFinite(x);
  if (nf) return nf;
  const dec = exactDecimal(x);
  const n = roundToFraction(dec, fractionDigits).toString();
  if (fractionDigits === 0) return sign(dec) + n;
  const padded = n.padStart(fractionDigits + 1, "0");
  return `${sign(dec)}${padded.slice(0, -fractionDigits)}.${padded.slice(-fractionDigits)}`;
}

/** Python's `round(x, ndigits)` for a float: the double nearest to x rounded half-even at the exact value. */
export function pyRound(x: number, ndigits = 0): number {
  if (!Number.isFinite(x)) return x;
  if (ndigits >= 0) {
    if (ndigits > 330) return x;
    return Number(formatFixed(x, ndigits));
  }
  const dec = exactDecimal(x);
  const q = roundToFraction(dec, ndigits);
  const v = Number(`${q}e${-ndigits}`);
  return dec.negative ? -v : v;
}

/** Round to `p` significant digits: [digit string of length p (or p+1 on carry fixed below), decimal exponent]. */
function significant(dec: Decimal, p: number): { digits: string; exp: number } {
  const s = dec.digits.toString();
  const len = s.length;
  if (len <= p) {
    return { digits: s.padEnd(p, "0"), exp: len - 1 + dec.exp10 };
  }
  let r = divRoundHalfEven(dec.digits, len - p).toString();
  let exp = len - 1 + dec.exp10;
  if (r.length > p) {
    r = r.slice(0, p);
    exp += 1;
  }
  return { digits: r, exp };
}

function stripZeros(s: string): string {
  if (!s.includes(".")) return s;
  return s.replace(/0+$/, "").replace(/\.$/, "");
}

function expSuffix(exp: number): string {
  const a = Math.abs(exp);
  return `e${exp < 0 ? "-" : "+"}${a < 10 ? `0${a}` : a}`;
}

/** Python's `"{:g}".format(x)` (precision 6) or `"{:.Pg}"`. */
export function formatG(x: number, precision = 6): string {
  const nf = nonFinite(x);
  if (nf) return nf;
  const p = precision === 0 ? 1 : precision;
  const dec = exactDecimal(x);
  if (dec.digits === 0n) return `${sign(dec)}0`;
  const { digits, exp } = significant(dec, p);
  if (exp >= -4 && exp < p) {
    let body: string;
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1);
      const fracPart = digits.slice(exp + 1);
      body = fracPart ? `${intPart}.${fracPart}` : intPart;
    } else {
      body = `0.${"0".repeat(-exp - 1)}${digits}`;
    }
    return sign(dec) + stripZeros(body);
  }
  const mant = stripZeros(digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits);
  return sign(dec) + mant + expSuffix(exp);
}

/** Python's `repr(x)` / `str(x)` for a float: shortest round-trip digits, Python's layout. */
export function pyFloatRepr(x: number): string {
  const nf = nonFinite(x);
  if (nf) return nf;
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() without an argument gives the shortest digits that round-trip.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
  if (!m) throw new Error(`unexpected exponential form for ${x}`);
  const neg = m[1]!;
  const digits = m[2]! + (m[3] ?? "");
  const exp = Number(m[4]);
  if (exp < -4 || exp >= 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return neg + mant + expSuffix(exp);
  }
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const fracPart = digits.slice(exp + 1);
    return `${neg}${intPart}.${fracPart || "0"}`;
  }
  return `${neg}0.${"0".repeat(-exp - 1)}${digits}`;
}

/**
 * Python's `"{:.Pf}"`-less precision format `"{:.P}".format(x)` (e.g. fairseq's `{:.3}%`): like
 * `{:.Pg}`, but fixed-point output keeps at least one digit after the point ("1.0", "0.0").
 */
export function formatPrecision(x: number, precision: number): string {
  const g = formatG(x, precision);
  return /^-?\d+$/.test(g) ? `${g}.0` : g;
}
