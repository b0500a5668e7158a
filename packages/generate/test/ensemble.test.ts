import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { disposeTensorSample, loadFairseqCheckpoint, sampleToTensors, type DecoderOutput, type EncoderDecoderModel, type EncoderOut } from "@fairseq-ts/models";
import { TranslationTask } from "@fairseq-ts/tasks";
import { BleuScorer, EnsembleModel, SequenceGenerator, SequenceScorer, formatH, formatP, splitPaths, type GeneratorOptions } from "../src/index.js";
import { SHARED } from "./shared.js";

const M30K = join(SHARED, "reference/fairseq/multi30k-de-en");
const ENS = join(SHARED, "reference/fairseq/ensemble");

/** The H- and P- lines of a fairseq generate output, in file order, and its BLEU result. */
function readRef(path: string): { hyps: { id: number; h: string; p: string }[]; bleu: string } {
  const lines = readFileSync(path, "utf8").split("\n");
  const hyps: { id: number; h: string; p: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^H-(\d+)\t/.exec(lines[i]!);
    if (m) hyps.push({ id: Number(m[1]), h: lines[i]!, p: lines[i + 2]! });
  }
  return { hyps, bleu: lines.find((l) => l.startsWith("Generate test with"))!.replace(/^Generate test with beam=\d+: /, "") };
}

let task: TranslationTask;
let publicModel: EncoderDecoderModel;
let seed2Model: EncoderDecoderModel;

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  task = await TranslationTask.setup({ data: join(M30K, "bin") });
  const vocab = { srcVocabSize: task.sourceDictionary.length, tgtVocabSize: task.targetDictionary.length };
  publicModel = (await loadFairseqCheckpoint(join(M30K, "model.pt"), vocab)).model as EncoderDecoderModel;
  seed2Model = (await loadFairseqCheckpoint(join(ENS, "model-seed2.pt"), vocab)).model as EncoderDecoderModel;
});

/** fairseq-generate's batches of the test set (64 sentences, length-sorted); `everyNth` keeps one batch in n. */
function* testBatches(everyNth = 1): Generator<Sample> {
  const itr = task.getBatchIterator(task.loadDataset("test"), { maxSentences: 64, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
  let batch = -1;
  for (const s of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample>) if (++batch % everyNth === 0) yield s;
}

/** Decode the test set as fairseq-generate does; tensors must stay flat across batches. */
async function decode(models: EncoderDecoderModel | EncoderDecoderModel[], options: GeneratorOptions, everyNth = 1) {
  const tgt = task.targetDictionary;
  const gen = new SequenceGenerator(models, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, options);
  const out: { id: number; hyps: ReturnType<SequenceGenerator["generate"]>[number]; target: Int32Array }[] = [];
  let counted = -1;
  for (const s of testBatches(everyNth)) {
    const src = tf.tensor2d(s.netInput.srcTokens.data, [s.netInput.srcTokens.rows, s.netInput.srcTokens.cols], "int32");
    const lens = tf.tensor1d(s.netInput.srcLengths, "int32");
    const hyps = gen.generate(src, lens);
    tf.dispose([src, lens]);
    await new Promise((r) => setImmediate(r)); // let vitest's worker messages through between batches
    if (counted < 0)
      counted = tf.memory().numTensors; // caches made by the first batch
    else expect(tf.memory().numTensors).toBe(counted);
    const cols = s.target!.cols;
    s.id.forEach((id, r) => out.push({ id, hyps: hyps[r]!, target: s.target!.data.slice(r * cols, (r + 1) * cols).filter((t) => t !== tgt.pad()) }));
  }
  return out;
}

describe("ensembles against fairseq-generate (../shared/reference/fairseq/ensemble, beam 5, batch 64)", () => {
  for (const [file, which] of [
    ["gen-seed2-beam5.txt", "seed-2 model alone"],
    ["gen-ensemble-beam5.txt", "public model + seed-2 model"],
  ] as const) {
    it(`${file} (${which}): same order, ≥ 99% identical hypotheses, scores within 1e-3, same BLEU`, async () => {
      const ref = readRef(join(ENS, file));
      const models = which === "seed-2 model alone" ? seed2Model : [publicModel, seed2Model];
      const ours = await decode(models, { beam: 5 });
      const tgt = task.targetDictionary;
      const bleu = new BleuScorer(tgt.pad(), tgt.eos(), tgt.unk());
      const lines = ours.map((o) => {
        bleu.add(o.target, o.hyps[0]!.tokens);
        return { id: o.id, h: formatH(o.id, o.hyps[0]!.score, tgt.string(o.hyps[0]!.tokens)), p: formatP(o.id, o.hyps[0]!.positionalScores) };
      });
      expect(lines.map((l) => l.id)).toEqual(ref.hyps.map((l) => l.id));
      let same = 0;
      let maxDiff = 0;
      const differ: string[] = [];
      lines.forEach((l, i) => {
        const r = ref.hyps[i]!;
        const [, rs, rt] = r.h.split("\t");
        const [, os, ot] = l.h.split("\t");
        if (rt !== ot) {
          differ.push(`${l.id}: ours "${ot}" (${os}) vs fairseq "${rt}" (${rs})`);
          return;
        }
        same++;
        maxDiff = Math.max(maxDiff, Math.abs(Number(rs) - Number(os)));
        const rp = r.p.split("\t")[1]!.split(" ").map(Number);
        const op = l.p.split("\t")[1]!.split(" ").map(Number);
        expect(op.length).toBe(rp.length);
        rp.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - op[k]!))));
      });
      console.log(
        `${file}: ${same}/${lines.length} identical hypotheses, max score diff ${maxDiff.toExponential(2)}; ${bleu.resultString()}\n  ${differ.slice(0, 5).join("\n  ")}`,
      );
      expect(same / lines.length).toBeGreaterThanOrEqual(0.99);
      expect(maxDiff).toBeLessThan(1e-3);
      expect(bleu.resultString()).toBe(ref.bleu);
    }, 300_000);
  }

  it("an ensemble of one model twice decodes like that model alone (log of the mean of equal probabilities)", async () => {
    const alone = await decode(publicModel, { beam: 5, nbest: 2 }, 5);
    const twice = await decode([publicModel, publicModel], { beam: 5, nbest: 2 }, 5);
    expect(twice.map((o) => o.id)).toEqual(alone.map((o) => o.id));
    let maxDiff = 0;
    alone.forEach((o, i) => {
      const t = twice[i]!;
      expect(t.hyps.map((h) => Array.from(h.tokens))).toEqual(o.hyps.map((h) => Array.from(h.tokens)));
      o.hyps.forEach((h, j) => {
        maxDiff = Math.max(maxDiff, Math.abs(h.score - t.hyps[j]!.score));
        h.positionalScores.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - t.hyps[j]!.positionalScores[k]!))));
      });
    });
    expect(maxDiff).toBeLessThan(1e-5);
  }, 300_000);

  it("retained attention (--print-alignment / --replace-unk) is the mean of the models' attentions over each hypothesis", () => {
    const tgt = task.targetDictionary;
    const s = testBatches(6).next().value as Sample;
    const srcT = tf.tensor2d(s.netInput.srcTokens.data, [s.netInput.srcTokens.rows, s.netInput.srcTokens.cols], "int32");
    const lens = tf.tensor1d(s.netInput.srcLengths, "int32");
    const gen = new SequenceGenerator([publicModel, seed2Model], { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, {
      beam: 4,
      nbest: 2,
      retainAttention: true,
    });
    const hyps = gen.generate(srcT, lens).slice(0, 8);
    let maxDiff = 0;
    hyps.forEach((hs, r) =>
      hs.forEach((h) => {
        expect(h.attention!.length).toBe(h.tokens.length);
        // independent: each model's decoder over [eos, tokens...] with teacher forcing, attentions averaged
        tf.tidy(() => {
          const src1 = tf.slice(srcT, [r, 0], [1, -1]) as tf.Tensor2D;
          const prev = tf.tensor2d([[tgt.eos(), ...Array.from(h.tokens.subarray(0, h.tokens.length - 1))]], [1, h.tokens.length], "int32");
          const attn = [publicModel, seed2Model].map(
            (m) => m.decoder.forward(prev, m.encoder.forward(src1, tf.slice(lens, [r], [1]) as tf.Tensor1D))[1].attn!.arraySync()[0]!,
          );
          attn[0]!.forEach((row, t) => row.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs((v + attn[1]![t]![k]!) / 2 - h.attention![t]![k]!)))));
        });
      }),
    );
    tf.dispose([srcT, lens]);
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("score-reference: a token's ensemble log-prob is the log of the mean of the two models' probabilities", () => {
    const s = testBatches(4).next().value as Sample;
    const ts = sampleToTensors(s);
    try {
      const { srcTokens, srcLengths, prevOutputTokens } = ts.netInput;
      const pad = task.targetDictionary.pad();
      const a = new SequenceScorer(publicModel, pad).score(srcTokens, srcLengths, prevOutputTokens!, ts.target);
      const b = new SequenceScorer(seed2Model, pad).score(srcTokens, srcLengths, prevOutputTokens!, ts.target);
      const scorer = new SequenceScorer([publicModel, seed2Model], pad);
      const ens = scorer.score(srcTokens, srcLengths, prevOutputTokens!, ts.target);
      const before = tf.memory().numTensors; // (after the models' first calls, which cache position tables)
      scorer.score(srcTokens, srcLengths, prevOutputTokens!, ts.target);
      expect(tf.memory().numTensors).toBe(before);
      let maxDiff = 0;
      ens.forEach((hs, r) => {
        const [h] = hs;
        expect(Array.from(h!.tokens)).toEqual(Array.from(a[r]![0]!.tokens));
        let sum = 0;
        h!.positionalScores.forEach((x, k) => {
          const want = Math.log((Math.exp(a[r]![0]!.positionalScores[k]!) + Math.exp(b[r]![0]!.positionalScores[k]!)) / 2);
          maxDiff = Math.max(maxDiff, Math.abs(x - want));
          sum += want;
        });
        // the sentence score: the mean over the target tokens, eos included
        maxDiff = Math.max(maxDiff, Math.abs(h!.score - sum / h!.tokens.length));
      });
      expect(maxDiff).toBeLessThan(1e-5);
    } finally {
      disposeTensorSample(ts);
    }
  });
});

/** A fake model with one fixed next-token distribution (probabilities `p`) and one fixed attention row (`attn`). */
function fixedWithAttention(p: number[], attn: number[]): EncoderDecoderModel {
  const V = p.length;
  const S = attn.length;
  const decoder = {
    forward: (prev: tf.Tensor2D): DecoderOutput => {
      const rows = prev.shape[0];
      return [
        tf.tile(tf.reshape(tf.log(tf.tensor1d(p)), [1, 1, V]), [rows, 1, 1]) as tf.Tensor3D,
        { attn: tf.tile(tf.reshape(tf.tensor1d(attn), [1, 1, S]), [rows, 1, 1]) as tf.Tensor3D },
      ];
    },
    getNormalizedProbs: (out: DecoderOutput, logProbs: boolean) => (logProbs ? tf.logSoftmax(out[0]) : tf.softmax(out[0])),
    reorderIncrementalState: () => {},
    maxPositions: () => 1024,
  };
  const encoder = {
    forward: (src: tf.Tensor2D): EncoderOut => ({ encoderOut: tf.zeros([src.shape[0], 1, 1]) as tf.Tensor3D, encoderPaddingMask: null, extra: {} }),
    reorderEncoderOut: (e: EncoderOut, order: tf.Tensor1D) => ({ encoderOut: tf.gather(e.encoderOut, order), encoderPaddingMask: null, extra: {} }),
    maxPositions: () => 1024,
  };
  return {
    kind: "encoder-decoder",
    encoder,
    decoder,
    eval: () => {},
    maxDecoderPositions: () => 1024,
    maxPositions: () => [1024, 1024],
    dispose: () => {},
  } as unknown as EncoderDecoderModel;
}

describe("EnsembleModel (hand-worked)", () => {
  // pad 1, eos 2, unk 3; tokens 4 and 5
  const specials = { pad: 1, eos: 2, unk: 3 };
  const src = () => tf.tensor2d([[4, 2]], [1, 2], "int32");
  const lens = () => tf.tensor1d([2], "int32");

  it("a step's log-probs are log((p + q) / 2) and its attention the mean of the models' attentions", () => {
    const p = [0.05, 0.05, 0.1, 0.1, 0.6, 0.1];
    const q = [0.05, 0.05, 0.1, 0.1, 0.1, 0.6];
    // token 4: log(0.35), token 5: log(0.35) — tie; min-len 1 bans eos at step 0; then eos (0.1) vs 4/5 again
    const gen = new SequenceGenerator([fixedWithAttention(p, [0.2, 0.8]), fixedWithAttention(q, [0.6, 0.4])], specials, 6, {
      beam: 1,
      maxLenB: 2,
      retainAttention: true,
    });
    const [h] = gen.generate(src(), lens())[0]!;
    // step 0 and 1: argmax of the mean (4 and 5 tie at 0.35: topk takes the lower index); step 2 = max length: eos
    expect(Array.from(h!.tokens)).toEqual([4, 4, 2]);
    expect(h!.positionalScores[0]).toBeCloseTo(Math.log(0.35), 6);
    expect(h!.positionalScores[1]).toBeCloseTo(Math.log(0.35), 6);
    expect(h!.positionalScores[2]).toBeCloseTo(Math.log(0.1), 6);
    for (const row of h!.attention!) {
      expect(row[0]).toBeCloseTo(0.4, 6);
      expect(row[1]).toBeCloseTo(0.6, 6);
    }
  });

  it("max positions: the smallest over the models; an ensemble of models of different vocabularies is an error naming them", () => {
    const a = fixedWithAttention([0.2, 0.2, 0.2, 0.2, 0.2], [1]);
    const b = fixedWithAttention([0.1, 0.1, 0.2, 0.3, 0.2, 0.1], [1]);
    (b as unknown as { maxDecoderPositions: () => number }).maxDecoderPositions = () => 7;
    (b as unknown as { maxPositions: () => [number, number] }).maxPositions = () => [9, 7];
    const e = new EnsembleModel([a, b], ["a.pt", "b.pt"]);
    expect(e.maxDecoderPositions()).toBe(7);
    expect(e.maxPositions()).toEqual([9, 7]);
    const gen = new SequenceGenerator(e, specials, 5, { beam: 1 });
    expect(() => gen.generate(src(), lens())).toThrow("b.pt predicts 6 symbols but the target dictionary has 5: the models must use the target dictionary");
    // without the dictionary's size (a direct call), the models are compared with the first
    const [x, l] = [src(), lens()];
    const enc = e.forwardEncoder(x, l);
    expect(() => e.forwardDecoder(tf.tensor2d([[2]], [1, 1], "int32"), enc, e.newIncrementalStates(), 1, false)).toThrow(
      "ensemble: b.pt predicts 6 symbols but a.pt predicts 5: the models must share the target dictionary",
    );
  });

  it("splitPaths: fairseq's split_paths (':' separated; '|' when the paths are URLs); an empty entry is an error", () => {
    expect(splitPaths("a.pt")).toEqual(["a.pt"]);
    expect(splitPaths("a.pt:dir/b.safetensors")).toEqual(["a.pt", "dir/b.safetensors"]);
    expect(splitPaths("https://x/a.pt|https://x/b.pt")).toEqual(["https://x/a.pt", "https://x/b.pt"]);
    expect(() => splitPaths("a.pt::b.pt")).toThrow("--path a.pt::b.pt: empty checkpoint path in the list");
  });
});
