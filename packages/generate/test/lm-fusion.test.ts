import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { buildModel, loadFairseqCheckpoint, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { TranslationTask } from "@fairseq-ts/tasks";
import { SequenceGenerator, SequenceScorer, type GeneratorOptions, type Hypothesis } from "../src/index.js";
import { fakeModel } from "./fake-model.js";
import { SHARED } from "./shared.js";

const M30K = join(SHARED, "reference/fairseq/multi30k-de-en");
const ENS = join(SHARED, "reference/fairseq/ensemble");
/** fairseq's tiny transformer_lm on WikiText-2: its dictionary has 13,784 symbols (COMMANDS.md there). */
const LM_TINY = join(SHARED, "reference/fairseq/lm-tiny/model.pt");
const LM_VOCAB = 13784;
const specials = { pad: 1, eos: 2, unk: 3 };

let lmTiny: LanguageModel;

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  lmTiny = (await loadFairseqCheckpoint(LM_TINY, { vocabSize: LM_VOCAB })).model as LanguageModel;
});

/** A translation model over the LM's vocabulary with one fixed next-token distribution (hand-set, uneven logits). */
const tmLogits = Float32Array.from({ length: LM_VOCAB }, (_, v) => 3 * Math.sin(v * 12.9898) + (v % 7 === 0 ? 2 : 0));
const fixedTm = () =>
  fakeModel(
    (rows) => tf.tile(tf.reshape(tf.tensor1d(tmLogits), [1, 1, LM_VOCAB]), [rows, 1, 1]) as tf.Tensor3D,
    (x) => tf.logSoftmax(x),
  );
const tmLogProbs = (): Float32Array => tf.tidy(() => tf.logSoftmax(tf.tensor1d(tmLogits)).dataSync() as Float32Array);

/** fairseq's way: the LM run over the whole prefix (eos first, no incremental state); its log-probs at every position. */
function lmFullLogProbs(lm: LanguageModel, prefix: number[]): Float32Array[] {
  return tf.tidy(() => {
    const out = lm.forward(tf.tensor2d([prefix], [1, prefix.length], "int32"));
    const lp = lm.getNormalizedProbs(out, true).dataSync() as Float32Array;
    const V = lp.length / prefix.length;
    return prefix.map((_, k) => lp.slice(k * V, (k + 1) * V));
  });
}

const src = () => tf.tensor2d([[5, 6, 7, 2]], [1, 4], "int32");
const lens = () => tf.tensor1d([4], "int32");

function run(options: GeneratorOptions, model: EncoderDecoderModel = fixedTm()): Hypothesis[] {
  const s = src();
  const l = lens();
  try {
    return new SequenceGenerator(model, specials, LM_VOCAB, options).generate(s, l)[0]!;
  } finally {
    tf.dispose([s, l]);
  }
}

describe("shallow fusion (--lm-path/--lm-weight) with fairseq's tiny transformer_lm (.pt), hand-checked", () => {
  it("every token's score is tm_lprob + w · lm_lprob, the LM's computed over the whole prefix as fairseq does (beam 3, nbest 3)", () => {
    const w = 0.4;
    const hyps = run({ beam: 3, nbest: 3, maxLenB: 4, lmModel: lmTiny, lmWeight: w });
    expect(hyps.length).toBe(3);
    const tm = tmLogProbs();
    let maxDiff = 0;
    for (const h of hyps) {
      const toks = Array.from(h.tokens);
      const lm = lmFullLogProbs(lmTiny, [specials.eos, ...toks.slice(0, -1)]);
      toks.forEach((t, k) => (maxDiff = Math.max(maxDiff, Math.abs(h.positionalScores[k]! - (tm[t]! + w * lm[k]![t]!)))));
    }
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("beam 1 picks, at every step, the argmax of tm + w · lm over the vocabulary (pad never; eos not before min-len)", () => {
    const w = 1.5;
    const [h] = run({ beam: 1, maxLenB: 5, minLen: 2, lmModel: lmTiny, lmWeight: w });
    const tm = tmLogProbs();
    const toks = Array.from(h!.tokens);
    const lm = lmFullLogProbs(lmTiny, [specials.eos, ...toks.slice(0, -1)]);
    const plain = run({ beam: 1, maxLenB: 5, minLen: 2 })[0]!;
    toks.forEach((t, k) => {
      let best = -1;
      let bestScore = -Infinity;
      for (let v = 0; v < LM_VOCAB; v++) {
        if (v === specials.pad || (v === specials.eos && k < 2) || (k === 5 && v !== specials.eos)) continue;
        const s = tm[v]! + w * lm[k]![v]!;
        if (s > bestScore) [best, bestScore] = [v, s];
      }
      expect(t, `step ${k}`).toBe(best);
    });
    // the LM changes the choice: without it the fixed distribution repeats its argmax
    expect(toks).not.toEqual(Array.from(plain.tokens));
  });

  it("--lm-weight 0 gives exactly the hypotheses and scores of decoding without a language model", () => {
    const plain = run({ beam: 4, nbest: 4, maxLenB: 4 });
    const zero = run({ beam: 4, nbest: 4, maxLenB: 4, lmModel: lmTiny, lmWeight: 0 });
    expect(zero.map((h) => [Array.from(h.tokens), h.score, Array.from(h.positionalScores)])).toEqual(
      plain.map((h) => [Array.from(h.tokens), h.score, Array.from(h.positionalScores)]),
    );
  });

  it("the LM is added before the unk penalty: an unk's score is tm + w · lm - unkpen", () => {
    const w = 0.5;
    const unkpen = 0.75;
    // force <unk> first with a translation model that prefers it overwhelmingly
    const logits = Float32Array.from(tmLogits);
    logits[specials.unk] = 40;
    const tm = fakeModel(
      (rows) => tf.tile(tf.reshape(tf.tensor1d(logits), [1, 1, LM_VOCAB]), [rows, 1, 1]) as tf.Tensor3D,
      (x) => tf.logSoftmax(x),
    );
    const [h] = run({ beam: 1, maxLenB: 1, unkpen, lmModel: lmTiny, lmWeight: w }, tm);
    expect(h!.tokens[0]).toBe(specials.unk);
    const tmLp = tf.tidy(() => tf.logSoftmax(tf.tensor1d(logits)).dataSync()[specials.unk]!);
    const lm = lmFullLogProbs(lmTiny, [specials.eos]);
    expect(h!.positionalScores[0]).toBeCloseTo(tmLp + w * lm[0]![specials.unk]! - unkpen, 4);
  });

  it("a language model over another vocabulary is an error naming both sizes", () => {
    const tm = fakeModel((rows) => tf.zeros([rows, 1, 6]) as tf.Tensor3D);
    const gen = new SequenceGenerator(tm, specials, 6, { beam: 1, lmModel: lmTiny, lmWeight: 1 });
    const [s, l] = [src(), lens()];
    const before = tf.memory().numTensors;
    expect(() => gen.generate(s, l)).toThrow("--lm-path: the language model predicts 13784 symbols but the target dictionary has 6");
    expect(tf.memory().numTensors).toBe(before); // nothing left behind by the failed step
    tf.dispose([s, l]);
    expect(() => new SequenceGenerator(tm, specials, 6, { lmModel: lmTiny, lmWeight: NaN }).generate(src(), lens())).toThrow(
      "--lm-weight must be a finite number, got NaN",
    );
  });
});

describe("ensemble + language model on the Multi30k models", () => {
  let task: TranslationTask;
  let models: EncoderDecoderModel[];
  let lm: LanguageModel;
  beforeAll(async () => {
    task = await TranslationTask.setup({ data: join(M30K, "bin") });
    const vocab = { srcVocabSize: task.sourceDictionary.length, tgtVocabSize: task.targetDictionary.length };
    models = [
      (await loadFairseqCheckpoint(join(M30K, "model.pt"), vocab)).model as EncoderDecoderModel,
      (await loadFairseqCheckpoint(join(ENS, "model-seed2.pt"), vocab)).model as EncoderDecoderModel,
    ];
    // a (randomly initialised) transformer_lm over the target dictionary: what --lm-path needs
    lm = buildModel(
      { arch: "transformer_lm", decoder_layers: 1, decoder_embed_dim: 16, decoder_ffn_embed_dim: 32, decoder_attention_heads: 2 },
      { vocabSize: task.targetDictionary.length, padIdx: task.targetDictionary.pad() },
      { seed: 7 },
    ) as LanguageModel;
  });

  it("no tensor leak across batches with 2 models + an LM; weight 0 = no LM exactly; weight 2 changes hypotheses", async () => {
    const tgt = task.targetDictionary;
    const sp = { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() };
    const itr = task.getBatchIterator(task.loadDataset("test"), { maxSentences: 16, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
    const batches = [...(itr.nextEpochItr({ shuffle: false }) as Iterable<Sample>)].filter((_, i) => i % 20 === 0).slice(0, 3);
    const decode = async (o: GeneratorOptions) => {
      const gen = new SequenceGenerator(models, sp, tgt.length, { beam: 4, ...o });
      const out: Hypothesis[] = [];
      const counts: number[] = [];
      for (const s of batches) {
        const x = tf.tensor2d(s.netInput.srcTokens.data, [s.netInput.srcTokens.rows, s.netInput.srcTokens.cols], "int32");
        const l = tf.tensor1d(s.netInput.srcLengths, "int32");
        out.push(...gen.generate(x, l).map((h) => h[0]!));
        tf.dispose([x, l]);
        counts.push(tf.memory().numTensors);
        await new Promise((r) => setImmediate(r));
      }
      return { out, counts };
    };
    const plain = await decode({});
    const zero = await decode({ lmModel: lm, lmWeight: 0 });
    const fused = await decode({ lmModel: lm, lmWeight: 2, retainAttention: true });
    for (const { counts } of [plain, zero, fused]) expect(new Set(counts).size, `numTensors after each batch: ${counts.join(", ")}`).toBe(1);
    expect(zero.out.map((h) => [Array.from(h.tokens), h.score])).toEqual(plain.out.map((h) => [Array.from(h.tokens), h.score]));
    const changed = fused.out.filter((h, i) => tgt.string(h.tokens) !== tgt.string(plain.out[i]!.tokens)).length;
    console.log(`lm weight 2: ${changed} of ${fused.out.length} best hypotheses differ from the ensemble alone`);
    expect(changed).toBeGreaterThan(0);
    // every token's fused score, through beam reorders and a shrinking batch: the two models' teacher-forced
    // log-mean probability (SequenceScorer) + 2 · the LM's log-prob over the whole prefix
    const sources = batches.flatMap((s) => {
      const { data, rows, cols } = s.netInput.srcTokens;
      return Array.from({ length: rows }, (_, r) => data.slice(r * cols, (r + 1) * cols).filter((t) => t !== task.sourceDictionary.pad()));
    });
    const scorer = new SequenceScorer(models, tgt.pad());
    let maxDiff = 0;
    fused.out.forEach((h, i) => {
      const toks = Array.from(h.tokens);
      const tm = tf.tidy(() => {
        const src = tf.tensor2d([Array.from(sources[i]!)], [1, sources[i]!.length], "int32");
        const prev = tf.tensor2d([[tgt.eos(), ...toks.slice(0, -1)]], [1, toks.length], "int32");
        return scorer.score(src, tf.tensor1d([sources[i]!.length], "int32"), prev, tf.tensor2d([toks], [1, toks.length], "int32"))[0]![0]!.positionalScores;
      });
      const lmLp = lmFullLogProbs(lm, [tgt.eos(), ...toks.slice(0, -1)]);
      toks.forEach((t, k) => (maxDiff = Math.max(maxDiff, Math.abs(h.positionalScores[k]! - (tm[k]! + 2 * lmLp[k]![t]!)))));
    });
    console.log(`fused scores vs teacher-forced ensemble + 2 · LM: max diff ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThan(1e-4);
  }, 300_000);
});
