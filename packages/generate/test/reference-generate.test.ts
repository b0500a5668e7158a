import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { loadFairseqCheckpoint, type EncoderDecoderModel } from "@fairseq-ts/models";
import { TranslationTask } from "@fairseq-ts/tasks";
import { BleuScorer, SequenceGenerator, formatH, formatP, type GeneratorOptions } from "../src/index.js";
import { SHARED } from "./shared.js";

const REF = join(SHARED, "reference/fairseq/multi30k-de-en");

interface RefHyp {
  id: number;
  h: string;
  p: string;
}

/** The H- and P- lines of a fairseq generate output, in file order (top hypothesis first per id). */
function readRef(file: string): { hyps: RefHyp[]; bleu: string } {
  const lines = readFileSync(join(REF, file), "utf8").split("\n");
  const hyps: RefHyp[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^H-(\d+)\t/.exec(lines[i]!);
    if (m) hyps.push({ id: Number(m[1]), h: lines[i]!, p: lines[i + 2]! });
  }
  const bleu = lines.find((l) => l.startsWith("Generate test with"))!;
  return { hyps, bleu: bleu.replace(/^Generate test with beam=\d+: /, "") };
}

let task: TranslationTask;
let model: EncoderDecoderModel;

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  task = await TranslationTask.setup({ data: join(REF, "bin") });
  model = (await loadFairseqCheckpoint(join(REF, "model.pt"), { srcVocabSize: task.sourceDictionary.length, tgtVocabSize: task.targetDictionary.length }))
    .model as EncoderDecoderModel;
});

/**
 * Decodes the test set as fairseq-generate does (batches of 64, length-sorted). `everyNthBatch` keeps one batch in n (spread
 * over all lengths) for the property checks, which need many sentences but not all 1000 on a busy CI machine.
 */
async function generateLikeFairseq(options: GeneratorOptions, everyNthBatch = 1) {
  const tgt = task.targetDictionary;
  const gen = new SequenceGenerator(model, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, options);
  const ds = task.loadDataset("test");
  const itr = task.getBatchIterator(ds, { maxSentences: 64, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
  const out: { id: number; hyps: ReturnType<SequenceGenerator["generate"]>[number]; target: Int32Array }[] = [];
  const before = tf.memory().numTensors;
  let counted = -1;
  let batch = -1;
  for (const s of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample>) {
    if (++batch % everyNthBatch !== 0) continue;
    const src = tf.tensor2d(s.netInput.srcTokens.data, [s.netInput.srcTokens.rows, s.netInput.srcTokens.cols], "int32");
    const lens = tf.tensor1d(s.netInput.srcLengths, "int32");
    const hyps = gen.generate(src, lens);
    tf.dispose([src, lens]);
    await new Promise((r) => setImmediate(r)); // let vitest's worker messages through between batches
    if (counted < 0) counted = tf.memory().numTensors; // caches made by the first batch
    const cols = s.target!.cols;
    s.id.forEach((id, r) => out.push({ id, hyps: hyps[r]!, target: s.target!.data.slice(r * cols, (r + 1) * cols).filter((t) => t !== tgt.pad()) }));
  }
  expect(tf.memory().numTensors).toBe(counted); // flat across batches: no leak
  void before;
  return out;
}

describe("SequenceGenerator against fairseq's generate output (reference model)", () => {
  for (const [file, opts] of [
    ["gen-beam5.txt", { beam: 5 }],
    ["gen-beam1.txt", { beam: 1 }],
    ["gen-beam4-lenpen0.6-nbest2.txt", { beam: 4, lenpen: 0.6, nbest: 2 }],
  ] as [string, GeneratorOptions][]) {
    it(`${file}: same order, same hypotheses, scores within 1e-3, same BLEU`, async () => {
      const ref = readRef(file);
      const ours = await generateLikeFairseq(opts);
      const tgt = task.targetDictionary;
      const lines: RefHyp[] = [];
      const bleu = new BleuScorer(tgt.pad(), tgt.eos(), tgt.unk());
      for (const o of ours) {
        o.hyps.forEach((h, j) => {
          lines.push({ id: o.id, h: formatH(o.id, h.score, tgt.string(h.tokens)), p: formatP(o.id, h.positionalScores) });
          if (j === 0) bleu.add(o.target, h.tokens);
        });
      }
      expect(lines.map((l) => l.id)).toEqual(ref.hyps.map((l) => l.id)); // batch order, nbest
      let sameTokens = 0;
      let maxScoreDiff = 0;
      const differ: string[] = [];
      lines.forEach((l, i) => {
        const r = ref.hyps[i]!;
        const [, rs, rt] = r.h.split("\t");
        const [, os, ot] = l.h.split("\t");
        if (rt === ot) {
          sameTokens++;
          maxScoreDiff = Math.max(maxScoreDiff, Math.abs(Number(rs) - Number(os)));
          const rp = r.p.split("\t")[1]!.split(" ").map(Number);
          const op = l.p.split("\t")[1]!.split(" ").map(Number);
          rp.forEach((x, k) => (maxScoreDiff = Math.max(maxScoreDiff, Math.abs(x - op[k]!))));
        } else differ.push(`${l.id}: ours "${ot}" (${os}) vs fairseq "${rt}" (${rs})`);
      });
      const rate = sameTokens / lines.length;
      console.log(
        `${file}: ${sameTokens}/${lines.length} identical hypotheses (${(100 * rate).toFixed(2)}%), max score diff ${maxScoreDiff.toExponential(2)}; ${bleu.resultString()}\n  ${differ.slice(0, 5).join("\n  ")}`,
      );
      expect(rate).toBeGreaterThanOrEqual(0.99);
      expect(maxScoreDiff).toBeLessThan(1e-3);
      expect(bleu.resultString()).toBe(ref.bleu);
    }, 300_000);
  }
});

describe("--match-source-len and --no-repeat-ngram-size on the reference model (the properties fairseq v0.10.2 guarantees)", () => {
  it("match-source-len, beam 5: the best hypothesis has exactly the source's length; every final eos has positional score 0", async () => {
    const ds = task.loadDataset("test");
    const srcLen = (id: number) => ds.src.get(id).filter((t) => t !== task.sourceDictionary.eos() && t !== task.sourceDictionary.pad()).length;
    const ours = await generateLikeFairseq({ beam: 5, matchSourceLen: true });
    expect(ours.length).toBe(1000);
    let longer = 0;
    for (const o of ours) {
      const best = o.hyps[0]!;
      expect(best.tokens.length - 1, `sentence ${o.id}`).toBe(srcLen(o.id));
      expect(Number.isFinite(best.score)).toBe(true);
      expect(best.tokens.at(-1)).toBe(task.targetDictionary.eos());
      expect(best.positionalScores.at(-1)).toBe(0);
      expect(formatP(o.id, best.positionalScores).endsWith(" 0.0000")).toBe(true); // fairseq's P- line
    }
    // and with nbest 5, every hypothesis (of every 3rd batch): those longer than the source are scored -inf (fairseq's finalize_hypos)
    const all = await generateLikeFairseq({ beam: 5, nbest: 5, matchSourceLen: true }, 3);
    expect(all.length).toBeGreaterThan(300);
    for (const o of all) {
      for (const h of o.hyps) {
        expect(h.positionalScores.at(-1)).toBe(0);
        if (h.tokens.length - 1 === srcLen(o.id)) expect(Number.isFinite(h.score)).toBe(true);
        else {
          expect(h.tokens.length - 1).toBeGreaterThan(srcLen(o.id));
          expect(h.score).toBe(-Infinity);
          longer++;
        }
      }
    }
    console.log(`match-source-len nbest 5: ${longer} of ${all.length * 5} hypotheses longer than the source (score -inf)`);
  }, 600_000);

  it("no-repeat-ngram-size 2, beam 5: no hypothesis repeats a bigram, and some differ from plain beam search", async () => {
    const blocked = await generateLikeFairseq({ beam: 5, noRepeatNgramSize: 2 }, 2); // every 2nd batch
    expect(blocked.length).toBeGreaterThan(450);
    const plain = readRef("gen-beam5.txt");
    const tgt = task.targetDictionary;
    let differ = 0;
    let plainRepeats = 0;
    const repeats = (t: Int32Array) => {
      const seen = new Set<string>();
      const withBos = [tgt.eos(), ...Array.from(t)];
      for (let i = 0; i + 1 < withBos.length; i++) {
        const key = `${withBos[i]},${withBos[i + 1]}`;
        if (seen.has(key)) return true;
        seen.add(key);
      }
      return false;
    };
    const plainById = new Map(plain.hyps.map((r) => [r.id, r.h.split("\t")[2]!]));
    for (const o of blocked) {
      const h = o.hyps[0]!;
      expect(repeats(h.tokens), `sentence ${o.id}: ${tgt.string(h.tokens)}`).toBe(false);
      const ref = plainById.get(o.id)!;
      if (ref !== tgt.string(h.tokens)) differ++;
      if (repeats(Int32Array.from([...ref.split(" ").map((w) => tgt.index(w)), tgt.eos()]))) plainRepeats++;
    }
    console.log(
      `no-repeat-ngram-size 2: ${differ} of ${blocked.length} best hypotheses differ from fairseq's plain beam 5; ${plainRepeats} of those repeat a bigram`,
    );
    // every plain hypothesis that repeats a bigram must change
    expect(differ).toBeGreaterThanOrEqual(plainRepeats);
    expect(plainRepeats).toBeGreaterThan(0);
  }, 600_000);
});
