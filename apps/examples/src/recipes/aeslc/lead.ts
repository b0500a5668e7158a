/** The lead baseline: the first K words of the e-mail as its subject line, K chosen on held-out data. */
import { RougeScorer } from "@fairseq-ts/generate";

/** The first `k` whitespace-separated words of `body` (all of it when shorter). */
export function leadWords(body: string, k: number): string {
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`recipe aeslc: --lead-words must be a positive integer, got ${k}`);
  return body.trim().split(/\s+/).slice(0, k).join(" ");
}

/** The lead lengths `chooseLeadWords` tries by default. */
export const LEAD_WORD_CANDIDATES: readonly number[] = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20];

/** Mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 (Porter stemmer) of `hypotheses`, each against its references (score_multi: the best reference per type). */
export function meanRougeF1(hypotheses: readonly string[], references: readonly (readonly string[])[]): number {
  if (hypotheses.length !== references.length) throw new Error(`recipe aeslc: ${hypotheses.length} hypotheses for ${references.length} reference sets`);
  const scorer = new RougeScorer(["rouge1", "rouge2", "rougeL"], true);
  let sum = 0;
  hypotheses.forEach((h, i) => {
    const s = scorer.scoreMulti([...references[i]!], h);
    sum += (s.rouge1!.fmeasure + s.rouge2!.fmeasure + s.rougeL!.fmeasure) / 3;
  });
  return sum / hypotheses.length;
}

/**
 * The lead length a fair baseline uses: the K of `candidates` whose lead scores best on a held-out split (valid) by
 * `meanRougeF1` against all its references. A fixed K would favour whichever side it happened to suit: on AESLC's valid
 * split the lead's multi-reference ROUGE-2 grows from 10.1 (4 words) to 23.4 (12 words).
 */
export function chooseLeadWords(
  bodies: readonly string[],
  references: readonly (readonly string[])[],
  candidates: readonly number[] = LEAD_WORD_CANDIDATES,
): { k: number; scores: Record<number, number> } {
  if (candidates.length === 0) throw new Error("recipe aeslc: no lead lengths to choose from");
  const scores: Record<number, number> = {};
  let best = candidates[0]!;
  for (const k of candidates) {
    scores[k] = meanRougeF1(
      bodies.map((b) => leadWords(b, k)),
      references,
    );
    if (scores[k]! > scores[best]!) best = k;
  }
  return { k: best, scores };
}
