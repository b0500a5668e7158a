/**
 * A small German → English translation corpus that the project generates itself: sentences with
 * numbers written as words. German says the units before the tens ("vier und dreißig") where English
 * says them after ("thirty four"), so a model has to learn real reordering, not a word-for-word map.
 * Deterministic for a given seed.
 */

const DE_ONES = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"];
const DE_TEENS = ["zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn", "neunzehn"];
const DE_TENS = ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"];
const EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const EN_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/** 0..99 in German words; "ein" instead of "eins" inside compounds. */
function deBelow100(n: number, compound: boolean): string[] {
  if (n < 10) return [n === 1 && compound ? "ein" : DE_ONES[n]!];
  if (n < 20) return [DE_TEENS[n - 10]!];
  const ones = n % 10;
  const tens = DE_TENS[Math.floor(n / 10)]!;
  return ones === 0 ? [tens] : [ones === 1 ? "ein" : DE_ONES[ones]!, "und", tens];
}

function deBelow1000(n: number, compound: boolean): string[] {
  const h = Math.floor(n / 100);
  const rest = n % 100;
  const out: string[] = [];
  if (h > 0) out.push(h === 1 ? "ein" : DE_ONES[h]!, "hundert");
  if (rest > 0 || h === 0) out.push(...deBelow100(rest, compound || h > 0));
  return out;
}

/** A number 0..999,999 in tokenized German words. */
export function germanNumber(n: number): string[] {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new RangeError(`number out of range: ${n}`);
  const th = Math.floor(n / 1000);
  const rest = n % 1000;
  const out: string[] = [];
  if (th > 0) out.push(...(th === 1 ? ["ein"] : deBelow1000(th, true)), "tausend");
  if (rest > 0 || th === 0) out.push(...deBelow1000(rest, th > 0));
  return out;
}

function enBelow100(n: number): string[] {
  if (n < 10) return [EN_ONES[n]!];
  if (n < 20) return [EN_TEENS[n - 10]!];
  const ones = n % 10;
  const tens = EN_TENS[Math.floor(n / 10)]!;
  return ones === 0 ? [tens] : [tens, EN_ONES[ones]!];
}

function enBelow1000(n: number): string[] {
  const h = Math.floor(n / 100);
  const rest = n % 100;
  const out: string[] = [];
  if (h > 0) out.push(EN_ONES[h]!, "hundred");
  if (rest > 0 || h === 0) out.push(...enBelow100(rest));
  return out;
}

/** A number 0..999,999 in tokenized English words. */
export function englishNumber(n: number): string[] {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new RangeError(`number out of range: ${n}`);
  const th = Math.floor(n / 1000);
  const rest = n % 1000;
  const out: string[] = [];
  if (th > 0) out.push(...enBelow1000(th), "thousand");
  if (rest > 0 || th === 0) out.push(...enBelow1000(rest));
  return out;
}

const NOUNS: [string, string][] = [
  ["äpfel", "apples"],
  ["bücher", "books"],
  ["katzen", "cats"],
  ["hunde", "dogs"],
  ["häuser", "houses"],
  ["autos", "cars"],
  ["kinder", "children"],
  ["vögel", "birds"],
];
const TEMPLATES: [string, string][] = [
  ["{n}", "{n}"],
  ["ich habe {n} {x} .", "i have {n} {x} ."],
  ["wir sehen {n} {x} .", "we see {n} {x} ."],
  ["dort sind {n} {x} .", "there are {n} {x} ."],
  ["sie kauft {n} {x} .", "she buys {n} {x} ."],
];

/** mulberry32: a tiny seeded PRNG, enough for reproducible example data. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SentencePair {
  de: string;
  en: string;
}

/**
 * `count` German/English sentence pairs; numbers drawn log-uniformly-ish from [2, maxNumber] so
 * small and large numbers both appear. The same seed gives the same corpus.
 */
export function numberCorpus(count: number, options: { seed: number; maxNumber?: number }): SentencePair[] {
  const rand = mulberry32(options.seed);
  const max = options.maxNumber ?? 9999;
  const digits = Math.floor(Math.log10(max)) + 1;
  const pairs: SentencePair[] = [];
  for (let i = 0; i < count; i++) {
    const width = 1 + Math.floor(rand() * digits);
    const n = Math.min(max, Math.max(2, Math.floor(rand() * 10 ** width)));
    const [tde, ten] = TEMPLATES[Math.floor(rand() * TEMPLATES.length)]!;
    const [xde, xen] = NOUNS[Math.floor(rand() * NOUNS.length)]!;
    pairs.push({
      de: tde.replace("{n}", germanNumber(n).join(" ")).replace("{x}", xde),
      en: ten.replace("{n}", englishNumber(n).join(" ")).replace("{x}", xen),
    });
  }
  return pairs;
}
