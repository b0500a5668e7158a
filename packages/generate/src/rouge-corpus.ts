/**
 * ROUGE over a test set, as `generate --scoring rouge` reports it: each hypothesis scored against its reference(s)
 * with rouge-score's `score` / `score_multi`, the mean precision, recall and F1 per type over the hypotheses, and, when
 * asked, rouge-score's bootstrap interval of the mean F1.
 */
import { BootstrapAggregator, DEFAULT_ROUGE_TYPES, RougeScorer, type AggregateScore, type RougeScore, type RougeType } from "./rouge.js";

export interface CorpusRougeOptions {
  /** NLTK's Porter stemmer on both sides (rouge-score's use_stemmer). */
  useStemmer?: boolean;
  /** Bootstrap resamples of the mean (0: no interval). */
  bootstrap?: number;
  /** Seed of the bootstrap resampling (numpy's `np.random.seed`). */
  seed?: number;
}

export interface CorpusRougeResult {
  /** Hypotheses scored. */
  count: number;
  /** References per hypothesis (the largest number given to `add`). */
  references: number;
  useStemmer: boolean;
  /** Mean P, R, F1 per ROUGE type over the hypotheses (0 when there are none). */
  mean: Record<RougeType, RougeScore>;
  /** rouge-score's BootstrapAggregator low/mid/high per type, when `bootstrap` > 0 and something was added. */
  bootstrap: Record<RougeType, AggregateScore> | null;
  bootstrapSamples: number;
}

/** Collects (references, hypothesis) pairs; `result()` averages their per-example ROUGE scores. */
export class CorpusRougeScorer {
  readonly types: readonly RougeType[] = DEFAULT_ROUGE_TYPES;
  private readonly scorer: RougeScorer;
  private readonly aggregator: BootstrapAggregator | null;
  private readonly bootstrap: number;
  private readonly sums: Map<RougeType, RougeScore>;
  private count = 0;
  private references = 0;

  constructor(options: CorpusRougeOptions = {}) {
    const bootstrap = options.bootstrap ?? 0;
    if (!(Number.isInteger(bootstrap) && bootstrap >= 0)) throw new Error(`ROUGE bootstrap resamples must be an integer >= 0, got ${bootstrap}`);
    this.scorer = new RougeScorer(this.types, options.useStemmer ?? false);
    this.bootstrap = bootstrap;
    this.aggregator = bootstrap > 0 ? new BootstrapAggregator({ nSamples: bootstrap, seed: options.seed ?? 1 }) : null;
    this.sums = new Map(this.types.map((t) => [t, { precision: 0, recall: 0, fmeasure: 0 }]));
  }

  /** Score `hypothesis` against `references` (one string, or several: per type the best-F1 one, as score_multi). */
  add(references: string | readonly string[], hypothesis: string): Record<RougeType, RougeScore> {
    const refs = typeof references === "string" ? [references] : references;
    const scores = refs.length === 1 ? this.scorer.score(refs[0]!, hypothesis) : this.scorer.scoreMulti(refs, hypothesis);
    this.aggregator?.addScores(scores);
    for (const t of this.types) {
      const sum = this.sums.get(t)!;
      sum.precision += scores[t]!.precision;
      sum.recall += scores[t]!.recall;
      sum.fmeasure += scores[t]!.fmeasure;
    }
    this.count++;
    this.references = Math.max(this.references, refs.length);
    return scores;
  }

  result(): CorpusRougeResult {
    const n = Math.max(this.count, 1);
    const mean: Record<RougeType, RougeScore> = {};
    for (const t of this.types) {
      const s = this.sums.get(t)!;
      mean[t] = { precision: s.precision / n, recall: s.recall / n, fmeasure: s.fmeasure / n };
    }
    return {
      count: this.count,
      references: this.references,
      useStemmer: this.scorer.useStemmer,
      mean,
      bootstrap: this.aggregator !== null && this.count > 0 ? this.aggregator.aggregate() : null,
      bootstrapSamples: this.bootstrap,
    };
  }
}

const LABELS: Record<string, string> = { rouge1: "ROUGE-1", rouge2: "ROUGE-2", rougeL: "ROUGE-L", rougeLsum: "ROUGE-Lsum" };
const pct = (x: number) => (100 * x).toFixed(2);

/**
 * generate's ROUGE line (after `Generate SUBSET with beam=N: `), scores in percent:
 * `ROUGE-1 F 31.90 (P 30.12 R 35.00), ROUGE-2 F …, ROUGE-L F …, ROUGE-Lsum F … (1000 sentences, 2 references, stemmed)`,
 * and with a bootstrap `; bootstrap 95% F low/mid/high (1000 resamples): ROUGE-1 30.10/31.90/33.50, …`.
 */
export function formatCorpusRouge(r: CorpusRougeResult): string {
  const types = Object.keys(r.mean);
  const scores = types.map((t) => {
    const m = r.mean[t]!;
    return `${LABELS[t] ?? t} F ${pct(m.fmeasure)} (P ${pct(m.precision)} R ${pct(m.recall)})`;
  });
  const what = [`${r.count} sentences`, ...(r.references > 1 ? [`${r.references} references`] : []), ...(r.useStemmer ? ["stemmed"] : [])];
  let line = `${scores.join(", ")} (${what.join(", ")})`;
  if (r.bootstrap !== null) {
    const b = r.bootstrap;
    const intervals = types.map((t) => `${LABELS[t] ?? t} ${pct(b[t]!.low.fmeasure)}/${pct(b[t]!.mid.fmeasure)}/${pct(b[t]!.high.fmeasure)}`);
    line += `; bootstrap 95% F low/mid/high (${r.bootstrapSamples} resamples): ${intervals.join(", ")}`;
  }
  return line;
}
