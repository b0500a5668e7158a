/** Python string semantics the fairseq encoders rely on. */

/** The characters of Python's `str.isspace()` (= `\s` in Python's `re` on str patterns). */
export const PY_SPACE_CHARS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const RUNS = new RegExp(`[${PY_SPACE_CHARS}]+`, "g");
const LEAD = new RegExp(`^[${PY_SPACE_CHARS}]+`);
const TRAIL = new RegExp(`[${PY_SPACE_CHARS}]+$`);

/** Python's `str.strip()`. */
export function pyStrip(s: string): string {
  return s.replace(LEAD, "").replace(TRAIL, "");
}

/** Python's `str.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(TRAIL, "");
}

/** Python's `str.split()` (no argument): runs of whitespace separate, ends ignored. */
export function pySplit(s: string): string[] {
  const t = pyStrip(s);
  return t === "" ? [] : t.split(RUNS);
}

/** Python's `re.sub(r"\s+", " ", s)`. */
export function collapseSpaces(s: string): string {
  return s.replace(RUNS, " ");
}

/** Python's `s.strip(chars)` for an explicit character set (e.g. "\r\n "). */
export function stripChars(s: string, chars: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a])) a++;
  while (b > a && chars.includes(s[b - 1])) b--;
  return s.slice(a, b);
}

/** Python's `s.lstrip(chars)`. */
export function lstripChars(s: string, chars: string): string {
  let a = 0;
  while (a < s.length && chars.includes(s[a])) a++;
  return s.slice(a);
}

/** Python's `s.rstrip(chars)`. */
export function rstripChars(s: string, chars: string): string {
  let b = s.length;
  while (b > 0 && chars.includes(s[b - 1])) b--;
  return s.slice(0, b);
}

/** Python's str ordering (by code point; JS `<` compares UTF-16 units, which differs for astral chars). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // a surrogate (astral code point) sorts above every BMP unit, including U+E000..U+FFFF
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Whether `s` has a character in Python's whitespace class. */
const ANY_SPACE = new RegExp(`[${PY_SPACE_CHARS}]`);
export function hasPySpace(s: string): boolean {
  return ANY_SPACE.test(s);
}
