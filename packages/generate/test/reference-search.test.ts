/**
 * --diversity-rate and --constraints on fairseq's tiny reference model (Multi30k de→en, test set batches as
 * fairseq-generate makes them): rate 0 reproduces beam search and fairseq's gen-beam5 output; with rate 0.5
 * every positional score is the model's log-prob minus rate × an integer sibling rank (checked by rescoring
 * the hypotheses teacher-forced); with constraints taken from the references every hypothesis contains them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { loadFairseqCheckpoint, type EncoderDecoderModel } from "@fairseq-ts/models";
import { TranslationTask } from "@fairseq-ts/tasks";
import { BleuScorer, SequenceGenerator, SequenceScorer, formatH, type GeneratorOptions, type Hypothesis } from "../src/index.js";
import { SHARED } from "./shared.js";

const REF = join(SHARED, "reference/fairseq/multi30k-de-en");

let task: TranslationTask;
let model: EncoderDecoderModel;

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  task = await TranslationTask.setup({ data: join(REF, "bin") });
  model = (await loadFairseqCheckpoint(join(REF, "model.pt"), { srcVocabSize: task.sourceDictionary.length, tgtVocabSize: task.targetDictionary.length }))
    .model as EncoderDecoderModel;
});

interface Row {
  id: number;
  src: Int32Array;
  target: Int32Array;
  hyps: Hypothesis[];
}

/**
 * The test set in fairseq-generate's batches (64 sentences, length-sorted), one batch in `every` (spread over all
 * lengths); `constraintsOf` gives each row's constraints. Asserts the tensor count stays flat across batches.
 */
async function decode(options: GeneratorOptions, every: number, constraintsOf?: (target: Int32Array, id: number) => number[][]): Promise<Row[]> {
  const tgt = task.targetDictionary;
  const gen = new SequenceGenerator(model, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, options);
  const ds = task.loadDataset("test");
  const itr = task.getBatchIterator(ds, { maxSentences: 64, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
  const out: Row[] = [];
  let counted = -1;
  let batch = -1;
  for (const s of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample>) {
    if (++batch % every !== 0) continue;
    const { rows, cols } = s.netInput.srcTokens;
    const src = tf.tensor2d(s.netInput.srcTokens.data, [rows, cols], "int32");
    const lens = tf.tensor1d(s.netInput.srcLengths, "int32");
    const tc = s.target!.cols;
    const targets = Array.from(s.id, (_, r) => s.target!.data.slice(r * tc, (r + 1) * tc).filter((t) => t !== tgt.pad()));
    const hyps = gen.generate(src, lens, null, constraintsOf ? targets.map((t, r) => constraintsOf(t, s.id[r]!)) : null);
    tf.dispose([src, lens]);
    await new Promise((r) => setImmediate(r)); // let vitest's worker messages through between batches
    if (counted < 0)
      counted = tf.memory().numTensors; // caches made by the first batch
    else expect(tf.memory().numTensors).toBe(counted);
    s.id.forEach((id, r) =>
      out.push({
        id,
        src: s.netInput.srcTokens.data.slice(r * cols, (r + 1) * cols).filter((t) => t !== tgt.pad()),
        target: targets[r]!,
        hyps: hyps[r]!,
      }),
    );
  }
  return out;
}

/** Teacher-forced log-probs of each hypothesis of a row (fairseq's --score-reference on them). */
function rescore(row: Row): Float32Array[] {
  const tgt = task.targetDictionary;
  const n = row.hyps.length;
  const T = Math.max(...row.hyps.map((h) => h.tokens.length));
  const target = new Int32Array(n * T).fill(tgt.pad());
  const prev = new Int32Array(n * T).fill(tgt.pad());
  row.hyps.forEach((h, i) => {
    target.set(h.tokens, i * T);
    prev.set([tgt.eos(), ...h.tokens.subarray(0, h.tokens.length - 1)], i * T);
  });
  const S = row.src.length;
  const srcT = tf.tensor2d(
    Int32Array.from({ length: n * S }, (_, i) => row.src[i % S]!),
    [n, S],
    "int32",
  );
  const lens = tf.tensor1d(new Array<number>(n).fill(S), "int32");
  const [tt, pt] = [tf.tensor2d(target, [n, T], "int32"), tf.tensor2d(prev, [n, T], "int32")];
  const scored = new SequenceScorer(model, tgt.pad()).score(srcT, lens, pt, tt);
  tf.dispose([srcT, lens, tt, pt]);
  return scored.map((s) => s[0]!.positionalScores);
}

const contains = (h: ArrayLike<number>, c: readonly number[], from = 0): number => {
  for (let i = from; i + c.length <= h.length; i++) if (c.every((t, j) => h[i + j] === t)) return i + c.length;
  return -1;
};

describe("--diversity-rate on the reference model", () => {
  it("rate 0 gives beam search's n-best lists (tokens and scores) and fairseq's gen-beam5 best hypotheses", async () => {
    const plain = await decode({ beam: 5, nbest: 5 }, 4);
    const zero = await decode({ beam: 5, nbest: 5, diversityRate: 0 }, 4);
    expect(zero.length).toBeGreaterThan(200);
    const view = (rows: Row[]) => rows.map((r) => r.hyps.map((h) => [r.id, Array.from(h.tokens), h.score, Array.from(h.positionalScores)]));
    expect(view(zero)).toEqual(view(plain));
    // the best hypotheses as fairseq printed them with --beam 5 (rate -1)
    const refH = new Map(
      readFileSync(join(REF, "gen-beam5.txt"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("H-"))
        .map((l) => [Number(/^H-(\d+)/.exec(l)![1]), l.split("\t")[2]!]),
    );
    const tgt = task.targetDictionary;
    const same = zero.filter((r) => formatH(r.id, r.hyps[0]!.score, tgt.string(r.hyps[0]!.tokens)).split("\t")[2] === refH.get(r.id)).length;
    expect(same / zero.length).toBeGreaterThanOrEqual(0.99);
  }, 600_000);

  it("rate 0.5: each positional score is the model's log-prob minus 0.5 x its sibling rank (0 at step 0, 1..10 after)", async () => {
    const R = 0.5;
    const rows = await decode({ beam: 5, nbest: 5, diversityRate: R }, 4);
    const plain = await decode({ beam: 5, nbest: 5 }, 4);
    let maxOff = 0;
    let ranked = 0;
    const ranks = new Array<number>(11).fill(0);
    for (const row of rows) {
      const lp = rescore(row);
      row.hyps.forEach((h, i) => {
        expect(h.tokens.at(-1)).toBe(task.targetDictionary.eos());
        // the score is the (penalised) positional scores' mean: --lenpen 1
        expect(h.score).toBeCloseTo(h.positionalScores.reduce((a, b) => a + b, 0) / h.tokens.length, 4);
        if (i > 0) expect(h.score).toBeLessThanOrEqual(row.hyps[i - 1]!.score);
        h.positionalScores.forEach((p, t) => {
          const rank = (lp[i]![t]! - p) / R;
          const k = Math.round(rank);
          maxOff = Math.max(maxOff, Math.abs(rank - k));
          expect(t === 0 ? k === 0 : k >= 1 && k <= 10, `sentence ${row.id} hyp ${i} token ${t}: rank ${rank}`).toBe(true);
          ranks[k]!++;
          ranked++;
        });
      });
    }
    expect(maxOff).toBeLessThan(2e-3);
    // diversity: distinct words over each n-best list, and lists that differ from beam search's
    const distinct = (rs: Row[]) => rs.reduce((n, r) => n + new Set(r.hyps.flatMap((h) => Array.from(h.tokens))).size, 0) / rs.length;
    const differ = rows.filter((r, i) => r.hyps.some((h, j) => Array.from(h.tokens).join() !== Array.from(plain[i]!.hyps[j]?.tokens ?? []).join())).length;
    console.log(
      `diversity-rate 0.5: ${ranked} positional scores, sibling ranks 0..10: ${ranks.join(" ")}, max deviation from an integer rank ${maxOff.toExponential(1)}; ` +
        `distinct words per 5-best list ${distinct(rows).toFixed(2)} (beam search ${distinct(plain).toFixed(2)}); ${differ} of ${rows.length} lists differ`,
    );
    expect(differ).toBeGreaterThan(0);
  }, 600_000);
});

describe("--constraints on the reference model", () => {
  // per sentence: words of the reference that beam search's best hypothesis (gen-beam5) lacks
  const refBest = () =>
    new Map(
      readFileSync(join(REF, "gen-beam5.txt"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("H-"))
        .map((l) => [Number(/^H-(\d+)/.exec(l)![1]), new Set(l.split("\t")[2]!.split(" "))]),
    );
  const missing = (best: Map<number, Set<string>>, target: Int32Array, id: number): number[] => {
    const tgt = task.targetDictionary;
    const seen = new Set<number>();
    return Array.from(target).filter((t) => {
      const ok = t !== tgt.eos() && t !== tgt.unk() && !best.get(id)!.has(tgt.symbol(t)) && !seen.has(t);
      seen.add(t);
      return ok;
    });
  };

  it("unordered, one or two missing reference words: every hypothesis contains each of them; BLEU rises", async () => {
    const best = refBest();
    const constraintsOf = (target: Int32Array, id: number) =>
      missing(best, target, id)
        .slice(0, 2)
        .map((t) => [t]);
    const rows = await decode({ beam: 5, nbest: 5, constraints: "unordered" }, 4, constraintsOf);
    const plain = await decode({ beam: 5 }, 4);
    const tgt = task.targetDictionary;
    const bleu = (rs: Row[]) => {
      const b = new BleuScorer(tgt.pad(), tgt.eos(), tgt.unk());
      for (const r of rs) b.add(r.target, r.hyps[0]!.tokens);
      return b.score();
    };
    let withConstraints = 0;
    let short = 0;
    for (const row of rows) {
      const cs = constraintsOf(row.target, row.id);
      if (cs.length) withConstraints++;
      // a sentence whose beam loops until the maximum length (bank by bank, the striping keeps the looping hypotheses) ends with fewer
      if (row.hyps.length < 5) short++;
      expect(row.hyps.length).toBeGreaterThan(0);
      for (const h of row.hyps)
        for (const c of cs) expect(contains(h.tokens, c), `sentence ${row.id}: ${tgt.string(h.tokens)} lacks ${tgt.string(c)}`).toBeGreaterThan(0);
    }
    console.log(
      `unordered constraints: ${withConstraints} of ${rows.length} sentences constrained, ${short} with fewer than 5 hypotheses; BLEU ${bleu(plain).toFixed(2)} -> ${bleu(rows).toFixed(2)}`,
    );
    expect(withConstraints).toBeGreaterThan(100);
    expect(bleu(rows)).toBeGreaterThan(bleu(plain));
  }, 600_000);

  it("ordered, a reference bigram then a later missing word: every hypothesis contains them in that order", async () => {
    const best = refBest();
    const tgt = task.targetDictionary;
    const constraintsOf = (target: Int32Array, id: number) => {
      const words = Array.from(target).filter((t) => t !== tgt.eos());
      const last = missing(best, target, id).at(-1);
      const at = last === undefined ? -1 : words.indexOf(last);
      return at >= 2 ? [words.slice(0, 2), [last!]] : [];
    };
    const rows = await decode({ beam: 4, nbest: 4, constraints: "ordered" }, 4, constraintsOf);
    let constrained = 0;
    for (const row of rows) {
      const cs = constraintsOf(row.target, row.id);
      if (cs.length) constrained++;
      for (const h of row.hyps) {
        let from = 0;
        for (const c of cs) {
          from = contains(h.tokens, c, from);
          expect(from, `sentence ${row.id}: ${tgt.string(h.tokens)} lacks ${cs.map((x) => tgt.string(x)).join(" | ")} in order`).toBeGreaterThan(0);
        }
      }
    }
    console.log(`ordered constraints: ${constrained} of ${rows.length} sentences constrained`);
    expect(constrained).toBeGreaterThan(50);
  }, 600_000);
});
