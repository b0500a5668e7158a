/**
 * Text helpers that reproduce Python's string semantics, which fairseq relies on:
 * `str.split()` / `re.sub(r"\s+")` whitespace, universal-newline line splitting, and
 * code-point string ordering.
 */

/**
 * Characters for which Python's `str.isspace()` is true (what `\s`, `split()` and `strip()` use), as the
 * inside of a RegExp character class (`new RegExp(`[${PY_SPACE_CHARS}]+`)`).
 * Differs from JavaScript's `\s`: Python includes U+001C..U+001F and U+0085, and excludes U+FEFF.
 */
export const PY_SPACE_CHARS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const PY_SPACE_RUN_G = new RegExp(`[${PY_SPACE_CHARS}]+`, "gu");
const PY_TRAILING = new RegExp(`[${PY_SPACE_CHARS}]+$`, "u");
const PY_LEADING = new RegExp(`^[${PY_SPACE_CHARS}]+`, "u");
const PY_ANY_SPACE = new RegExp(`[${PY_SPACE_CHARS}]`, "u");

/** True when the UTF-16 unit `code` is Python whitespace (all such characters are in the BMP). */
export function isPythonSpace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    (code >= 0x1c && code <= 0x20) ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Whether `s` holds a character of Python's whitespace class. */
export function hasPySpace(s: string): boolean {
  return PY_ANY_SPACE.test(s);
}

/**
 * fairseq's `tokenize_line`: collapse whitespace runs, strip, split on spaces.
 * Equivalent to Python's `line.split()`.
 */
export function tokenizeLine(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    if (isPythonSpace(line.charCodeAt(i))) {
      if (start >= 0) {
        out.push(line.slice(start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

/** Python's `str.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(PY_TRAILING, "");
}

/** Python's `str.strip()`. */
export function pyStrip(s: string): string {
  return s.replace(PY_LEADING, "").replace(PY_TRAILING, "");
}

/** Python's `re.sub(r"\s+", " ", s)`. */
export function normalizeSpace(s: string): string {
  return s.replace(PY_SPACE_RUN_G, " ");
}

/**
 * Split text into lines the way Python's text-mode file iteration does (universal newlines:
 * `\n`, `\r\n` and a lone `\r` all end a line). The line terminators are not included.
 * A final line without terminator is returned; an empty trailing piece is not.
 */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lines.push(text.slice(start, i));
      start = i + 1;
    } else if (c === 13) {
      lines.push(text.slice(start, i));
      if (i + 1 < n && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  if (start < n) lines.push(text.slice(start));
  return lines;
}

/**
 * Compare two strings by Unicode code point, as Python does (JavaScript's `<` compares UTF-16
 * units, which orders astral characters before U+E000..U+FFFF).
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      // A surrogate (astral code point) sorts above every BMP unit, including U+E000..U+FFFF.
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}
