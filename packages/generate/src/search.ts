/**
 * Search strategies of fairseq v0.10.2's `search.py` beyond plain beam search: `DiverseSiblingsSearch`
 * (`--diversity-rate`) and `LexicallyConstrainedBeamSearch` (`--constraints`). Each takes the step's masked
 * log-probs [bsz·beam, V] and returns the candidates as the generator reads them: per sentence `k`
 * scores (cumulative) and flat indices (beam · V + token), best first in the strategy's order.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ConstraintState } from "./constraints.js";

export interface StepCandidates {
  /** [bsz · k] cumulative scores. */
  cs: Float32Array;
  /** [bsz · k] beam · V + token. */
  ci: Int32Array;
  k: number;
}

/** The rows' cumulative scores before this step (fairseq's `scores[:, :, step - 1]`), as a [rows, 1] tensor. */
function cumulativeColumn(scores: readonly number[][], step: number): tf.Tensor2D {
  return tf.tensor2d(
    Float32Array.from(scores, (s) => s[step - 1]!),
    [scores.length, 1],
  );
}

/**
 * fairseq's `DiverseSiblingsSearch.step` for step > 0 (Li et al. 2016, "A Simple, Fast Diverse Decoding
 * Algorithm"; at step 0 fairseq takes a plain beam search step): each hypothesis' top k = min(2·beam,
 * beam·V - 1) continuations lose rate × their rank among these siblings (1 for the best, 2, ..., k), then
 * the top k of all beam·k are the candidates. The penalised scores are the candidates' scores, so the penalty
 * stays in the hypothesis' cumulative (and positional) scores. Rate 0 is beam search.
 */
export function siblingsStep(lp: tf.Tensor2D, step: number, bsz: number, beam: number, rate: number, scores: readonly number[][]): StepCandidates {
  if (step === 0) throw new Error("siblingsStep: step 0 is a plain beam search step (fairseq's DiverseSiblingsSearch)");
  const V = lp.shape[1];
  const k = Math.min(2 * beam, beam * V - 1);
  // fairseq: torch.arange(1, k + 1).to(lprobs) * diversity_rate, a float32 tensor times a Python float
  const rateF = Math.fround(rate);
  const siblingPenalty = Float32Array.from({ length: k }, (_, i) => Math.fround((i + 1) * rateF));
  const [rowTokens, finalValues, finalIndices] = tf.tidy(() => {
    const cum = tf.add(lp, cumulativeColumn(scores, step));
    const perRow = tf.topk(cum, k);
    const penalised = tf.sub(perRow.values, tf.tensor2d(siblingPenalty, [1, k]));
    const top = tf.topk(tf.reshape(penalised, [bsz, beam * k]), k);
    return [perRow.indices, top.values, top.indices];
  });
  const tokens = rowTokens.dataSync() as Int32Array;
  const cs = finalValues.dataSync() as Float32Array;
  const fi = finalIndices.dataSync() as Int32Array;
  tf.dispose([rowTokens, finalValues, finalIndices]);
  const ci = new Int32Array(bsz * k);
  for (let b = 0; b < bsz; b++)
    for (let j = 0; j < k; j++) {
      const at = fi[b * k + j]!; // among the sentence's beam·k siblings
      ci[b * k + j] = Math.floor(at / k) * V + tokens[b * beam * k + at]!;
    }
  return { cs, ci, k };
}

/** One candidate of a sentence: its cumulative score, token and beam (within the sentence). */
export interface Candidate {
  score: number;
  token: number;
  beam: number;
}

/**
 * fairseq's `LexicallyConstrainedBeamSearch.step_sentence` after the candidates are gathered (steps 3-8):
 * each candidate's constraint state after its token; sorted by (bank, score) through fairseq's float32 key
 * (number of distinct constraint tokens - bank) · -100 + score; duplicates (same beam and token) removed;
 * then striped round-robin across the banks (the best of the highest bank, the best of the next bank, ...,
 * then each bank's second best, ...) and cut to `numCands`. Ties keep the input order (torch's sort leaves it
 * unspecified). Returns the kept candidates and the states of all of them, in the striped order.
 */
export function stripeCandidates(
  candidates: readonly Candidate[],
  states: readonly ConstraintState[],
  numCands: number,
): { candidates: Candidate[]; states: ConstraintState[] } {
  const numConstraintTokens = states[0]!.tokens.size;
  let cands = candidates.map((c) => ({ ...c, state: states[c.beam]!.advance(c.token) }));
  const key = (c: (typeof cands)[number]) => Math.fround((numConstraintTokens - c.state.bank) * -100 + c.score);
  cands = cands
    .map((c, i) => ({ c, i, key: key(c) }))
    .sort((a, b) => b.key - a.key || a.i - b.i)
    .map((x) => x.c);
  const seen = new Set<number>();
  cands = cands.filter((c) => {
    const id = c.beam * 0x1000000 + c.token;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  // stripe: the n-th candidate of a run of equal banks gets offset n·(count + 1), plus its distance from the top bank
  const n = cands.length;
  let count = -1;
  let current = cands[0]!.state.bank;
  const stripes = cands.map((c) => {
    const bank = c.state.bank;
    if (bank !== current) {
      count = 0;
      current = bank;
    } else count += 1;
    return numConstraintTokens - bank + count * (n + 1);
  });
  const order = stripes.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const striped = order.map(([, i]) => cands[i]!);
  return { candidates: striped.slice(0, numCands).map(({ score, token, beam }) => ({ score, token, beam })), states: striped.map((c) => c.state) };
}

/**
 * fairseq's `LexicallyConstrainedBeamSearch.step` (Post & Vilar 2018, Hu et al. 2019): eos is banned in rows
 * whose constraints are unfinished (from step 1); the candidates are the top k = min(2·beam, beam·V - 1) over
 * the sentence's beam, each hypothesis' best token (from step 1), and every token that advances a
 * hypothesis' constraints; `stripeCandidates` then allocates the beam across the banks.
 * `states[b][j]`: the constraint state of beam j of sentence b. Returns the candidates and, per sentence,
 * the constraint state of each candidate (what the beam's new states are picked from).
 */
export function constrainedStep(
  lp: tf.Tensor2D,
  step: number,
  bsz: number,
  beam: number,
  eos: number,
  scores: readonly number[][],
  states: readonly (readonly ConstraintState[])[],
): StepCandidates & { states: ConstraintState[][] } {
  const V = lp.shape[1];
  const numCands = Math.min(2 * beam, beam * V - 1);
  const rows = step === 0 ? 1 : beam; // at step 0 every beam is the same: only the first is searched
  // the tokens that advance each searched hypothesis' constraints, as flat indices into the searched rows
  const extra: { b: number; j: number; token: number }[] = [];
  for (let b = 0; b < bsz; b++)
    for (let j = 0; j < rows; j++) for (const token of [...states[b]![j]!.nextTokens()].sort((x, y) => x - y)) extra.push({ b, j, token });
  let read: (Float32Array | Int32Array | null)[] = [];
  tf.tidy(() => {
    let x: tf.Tensor2D = lp;
    if (step > 0) {
      const ban = Float32Array.from({ length: bsz * beam }, (_, r) => (states[Math.floor(r / beam)]![r % beam]!.finished ? 0 : -Infinity));
      if (ban.some((v) => v !== 0)) x = withColumnAdded(x, eos, ban);
      x = tf.add(x, cumulativeColumn(scores, step));
    } else {
      x = tf.gather(
        x,
        tf.tensor1d(
          Array.from({ length: bsz }, (_, b) => b * beam),
          "int32",
        ),
      );
    }
    const top = tf.topk(tf.reshape(x, [bsz, rows * V]), Math.min(numCands, rows * V));
    const rowTop = step > 0 ? tf.topk(x, 1) : null;
    const extraScores =
      extra.length > 0
        ? tf.gather(
            tf.reshape(x, [-1]),
            tf.tensor1d(
              extra.map((e) => (e.b * rows + e.j) * V + e.token),
              "int32",
            ),
          )
        : null;
    read = [top.values, top.indices, rowTop?.values, rowTop?.indices, extraScores].map((t) => (t ? (t.dataSync() as Float32Array | Int32Array) : null));
  });
  const [tv, ti, rv, ri, ev] = read;
  const kTop = ti!.length / bsz;
  const candidates: Candidate[][] = Array.from({ length: bsz }, () => []);
  for (let b = 0; b < bsz; b++) {
    for (let j = 0; j < kTop; j++) {
      const flat = ti![b * kTop + j]!;
      candidates[b]!.push({ score: tv![b * kTop + j]!, token: flat % V, beam: Math.floor(flat / V) });
    }
    if (rv && ri) for (let j = 0; j < beam; j++) candidates[b]!.push({ score: rv[b * beam + j]!, token: ri[b * beam + j]!, beam: j });
  }
  extra.forEach((e, i) => candidates[e.b]!.push({ score: ev![i]!, token: e.token, beam: e.j }));
  const cs = new Float32Array(bsz * numCands);
  const ci = new Int32Array(bsz * numCands);
  const newStates: ConstraintState[][] = [];
  for (let b = 0; b < bsz; b++) {
    const r = stripeCandidates(candidates[b]!, states[b]!, numCands);
    if (r.candidates.length < numCands)
      throw new Error(`constrained search: ${r.candidates.length} distinct candidates for ${numCands} places (vocabulary too small for the beam)`);
    r.candidates.forEach((c, j) => {
      cs[b * numCands + j] = c.score;
      ci[b * numCands + j] = c.beam * V + c.token;
    });
    newStates.push(r.states);
  }
  return { cs, ci, k: numCands, states: newStates };
}

/** `x` with `add[r]` added to column `col` of each row r (sliced around it: no [rows, V] mask per step). */
function withColumnAdded(x: tf.Tensor2D, col: number, add: Float32Array): tf.Tensor2D {
  const [rows, V] = x.shape;
  const parts: tf.Tensor2D[] = [];
  if (col > 0) parts.push(tf.slice(x, [0, 0], [rows, col]));
  parts.push(tf.add(tf.slice(x, [0, col], [rows, 1]), tf.tensor2d(add, [rows, 1])));
  if (col + 1 < V) parts.push(tf.slice(x, [0, col + 1], [rows, V - col - 1]));
  return tf.concat(parts, 1);
}
