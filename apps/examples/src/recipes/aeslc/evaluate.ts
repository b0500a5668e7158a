/**
 * ROUGE of a system's subject lines, as Google's rouge-score computes it (fairseq-ts's RougeScorer): ROUGE-1/2/L
 * with the Porter stemmer, against the original subject alone and against all four human references (score_multi:
 * per type, the reference with the best F1), with rouge-score's bootstrap 95% intervals.
 */
import { BootstrapAggregator, RougeScorer, type RougeScore } from "@fairseq-ts/generate";

export const ROUGE_TYPES = ["rouge1", "rouge2", "rougeL"] as const;

/** Mean precision / recall / F1 over the examples, and the bootstrap interval (low / mid / high) of each. */
export interface RougeSummary {
  precision: number;
  recall: number;
  fmeasure: number;
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

export type SystemRouge = Record<(typeof ROUGE_TYPES)[number], RougeSummary>;

export interface SystemResult {
  /** against the original subject line (`.tgt`) */
  single: SystemRouge;
  /** against `.tgt` and `.ann0-2` (multi-reference max) */
  multi: SystemRouge;
}

function summarize(perExample: Record<string, RougeScore>[], bootstrapSamples: number): SystemRouge {
  const agg = new BootstrapAggregator({ nSamples: bootstrapSamples, seed: 0 });
  for (const s of perExample) agg.addScores(s);
  const boot = agg.aggregate();
  const out = {} as SystemRouge;
  for (const t of ROUGE_TYPES) {
    const mean = (k: keyof RougeScore) => perExample.reduce((a, s) => a + s[t]![k], 0) / perExample.length;
    out[t] = { precision: mean("precision"), recall: mean("recall"), fmeasure: mean("fmeasure"), low: boot[t]!.low, mid: boot[t]!.mid, high: boot[t]!.high };
  }
  return out;
}

/** Scores `hypotheses` (one per test example) against `tgt` and against [tgt, ...ann]. */
export function scoreSystem(hypotheses: readonly string[], tgt: readonly string[], ann: readonly (readonly string[])[], bootstrapSamples = 1000): SystemResult {
  if (hypotheses.length !== tgt.length) throw new Error(`recipe aeslc: ${hypotheses.length} hypotheses for ${tgt.length} test examples`);
  const scorer = new RougeScorer([...ROUGE_TYPES], true);
  const single = hypotheses.map((h, i) => scorer.score(tgt[i]!, h));
  const multi = hypotheses.map((h, i) => scorer.scoreMulti([tgt[i]!, ...ann.map((a) => a[i]!)], h));
  return { single: summarize(single, bootstrapSamples), multi: summarize(multi, bootstrapSamples) };
}

const pct = (x: number) => (100 * x).toFixed(2);

/** A plain-text table: one row per system and reference set, P / R / F1 (with the 95% interval of F1) per ROUGE type. */
export function formatTable(results: Record<string, SystemResult>): string {
  const head = ["system", "refs", ...ROUGE_TYPES.map((t) => `${t} P / R / F1 [95% CI of F1]`)];
  const rows = [head];
  for (const [name, r] of Object.entries(results)) {
    for (const refs of ["single", "multi"] as const) {
      rows.push([
        name,
        refs === "single" ? "tgt" : "tgt+ann0-2",
        ...ROUGE_TYPES.map((t) => {
          const s = r[refs][t];
          return `${pct(s.precision)} / ${pct(s.recall)} / ${pct(s.fmeasure)} [${pct(s.low.fmeasure)}, ${pct(s.high.fmeasure)}]`;
        }),
      ]);
    }
  }
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ")).join("\n");
}
