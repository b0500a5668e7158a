import { pyRstrip, tokenizeLine } from "@fairseq-ts/dictionary";
import { formatFixed } from "@fairseq-ts/logging";

/** sacrebleu's tokenizers for BLEU: `13a` (mteval-v13a, WMT's default) and `none`. */
export type SacreBleuTokenize = "13a" | "none";

export interface SacreBleuOptions {
  tokenize?: SacreBleuTokenize;
  lowercase?: boolean;
  /** 'exp' (default, mteval's NIST smoothing), 'floor', 'add-k' or 'none'. */
  smoothMethod?: "exp" | "floor" | "add-k" | "none";
  smoothValue?: number;
  effectiveOrder?: boolean;
}

export interface SacreBleuScore {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

const SMOOTH_DEFAULTS = { exp: null, none: null, floor: 0.1, "add-k": 1 } as const;
const ORDER = 4;

// mteval-v13a's language-dependent part, as sacrebleu's TokenizerRegexp applies it.
const RE_13A: [RegExp, string][] = [
  [/([{-~[-` -&(-+:-@/])/g, " $1 "],
  [/([^0-9])([.,])/gu, "$1 $2 "],
  [/([.,])([^0-9])/gu, " $1 $2"],
  [/([0-9])(-)/g, "$1 $2 "],
];

/** sacrebleu's `13a` tokenizer (mteval-v13a.pl's tokenization). */
export function tokenize13a(line: string): string {
  let s = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (s.includes("&")) s = s.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  s = ` ${s} `;
  for (const [re, repl] of RE_13A) s = s.replace(re, repl);
  return tokenizeLine(s).join(" ");
}

function ngrams(line: string): { counts: Map<string, number>; len: number } {
  const toks = tokenizeLine(line);
  const counts = new Map<string, number>();
  for (let n = 1; n <= ORDER; n++) {
    for (let i = 0; i + n <= toks.length; i++) {
      // n-grams keyed by order and tokens (tokens never contain "\u0001")
      const key = toks.slice(i, i + n).join("\u0001");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return { counts, len: toks.length };
}

/** sacrebleu's `compute_bleu` from sufficient statistics. */
export function computeSacreBleu(correct: number[], total: number[], sysLen: number, refLen: number, o: SacreBleuOptions = {}): SacreBleuScore {
  const method = o.smoothMethod ?? "exp";
  const smoothValue = o.smoothValue ?? SMOOTH_DEFAULTS[method] ?? 0;
  const counts = [...correct];
  const totals = [...total];
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(ORDER).fill(0);
  if (!counts.some((c) => c !== 0)) return { score: 0, counts, totals, precisions, bp, sysLen, refLen };
  let smoothMteval = 1;
  let effOrder = ORDER;
  for (let n = 1; n <= ORDER; n++) {
    if (method === "add-k" && n > 1) {
      counts[n - 1]! += smoothValue;
      totals[n - 1]! += smoothValue;
    }
    if (totals[n - 1] === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (counts[n - 1] === 0) {
      if (method === "exp") {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * totals[n - 1]!);
      } else if (method === "floor") {
        precisions[n - 1] = (100 * smoothValue) / totals[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * counts[n - 1]!) / totals[n - 1]!;
    }
  }
  // sacrebleu's my_log floors log(0) at -9999999999
  const logSum = precisions.slice(0, effOrder).reduce((a, p) => a + (p === 0 ? -9999999999 : Math.log(p)), 0);
  return { score: bp * Math.exp(logSum / effOrder), counts, totals, precisions, bp, sysLen, refLen };
}

/**
 * sacrebleu's `corpus_bleu(hyps, refStreams)`: detokenised text in, tokenised with `13a` by default,
 * clipped n-gram matches against every reference stream (max count per n-gram), closest reference
 * length (shorter on ties), 'exp' smoothing.
 */
export function sacreBleu(hyps: readonly string[], refStreams: readonly (readonly string[])[], o: SacreBleuOptions = {}): SacreBleuScore {
  for (const [i, refs] of refStreams.entries()) {
    if (refs.length !== hyps.length) throw new Error(`sacrebleu: reference stream ${i + 1} has ${refs.length} lines, the system output ${hyps.length}`);
  }
  const prep = (s: string) => {
    const x = o.lowercase ? s.toLowerCase() : s;
    return (o.tokenize ?? "13a") === "13a" ? tokenize13a(pyRstrip(x)) : pyRstrip(x);
  };
  const correct = new Array<number>(ORDER).fill(0);
  const total = new Array<number>(ORDER).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hyps.forEach((h, i) => {
    const refNgrams = new Map<string, number>();
    const refLens: number[] = [];
    for (const stream of refStreams) {
      const r = ngrams(prep(stream[i]!));
      refLens.push(r.len);
      for (const [k, c] of r.counts) refNgrams.set(k, Math.max(refNgrams.get(k) ?? 0, c));
    }
    const hyp = ngrams(prep(h));
    let closest = -1;
    let closestDiff = -1;
    for (const l of refLens) {
      const d = Math.abs(hyp.len - l);
      if (closestDiff === -1 || d < closestDiff) {
        closestDiff = d;
        closest = l;
      } else if (d === closestDiff && l < closest) closest = l;
    }
    sysLen += hyp.len;
    refLen += closest;
    for (const [k, c] of hyp.counts) {
      const n = k.split("\u0001").length - 1;
      total[n]! += c;
      const rc = refNgrams.get(k);
      if (rc) correct[n]! += Math.min(c, rc);
    }
  });
  return computeSacreBleu(correct, total, sysLen, refLen, o);
}

/** sacrebleu's `BLEUScore.format()`: `BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)`. */
export function formatSacreBleu(s: SacreBleuScore, width = 2): string {
  const prec = s.precisions.map((p) => formatFixed(p, 1)).join("/");
  const ratio = s.refLen ? s.sysLen / s.refLen : 0;
  return `BLEU = ${formatFixed(s.score, width)} ${prec} (BP = ${formatFixed(s.bp, 3)} ratio = ${formatFixed(ratio, 3)} hyp_len = ${s.sysLen} ref_len = ${s.refLen})`;
}
