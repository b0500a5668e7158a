/**
 * Python's `strip(chars)` family for an explicit character set, which only the encoders use. Python's
 * whitespace class, `split()`, `strip()`, `re.sub(r"\s+", " ", s)` and code-point ordering are
 * `@fairseq-ts/dictionary`'s (one implementation for dictionary, data and the encoders).
 */

/** Python's `s.strip(chars)` for an explicit character set (e.g. "\r\n "). */
export function stripChars(s: string, chars: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a]!)) a++;
  while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** Python's `s.lstrip(chars)`. */
export function lstripChars(s: string, chars: string): string {
  let a = 0;
  while (a < s.length && chars.includes(s[a]!)) a++;
  return s.slice(a);
}

/** Python's `s.rstrip(chars)`. */
export function rstripChars(s: string, chars: string): string {
  let b = s.length;
  while (b > 0 && chars.includes(s[b - 1]!)) b--;
  return s.slice(0, b);
}
