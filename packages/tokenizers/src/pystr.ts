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
