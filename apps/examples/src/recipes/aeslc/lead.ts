/** The lead baseline: the first K words of the e-mail as its subject line. */

/** The first `k` whitespace-separated words of `body` (all of it when shorter). */
export function leadWords(body: string, k: number): string {
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`recipe aeslc: --lead-words must be a positive integer, got ${k}`);
  return body.trim().split(/\s+/).slice(0, k).join(" ");
}
