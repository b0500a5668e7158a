import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { loadFairseqCheckpoint, type EncoderDecoderModel } from "@fairseq-ts/models";
import { TranslationTask } from "@fairseq-ts/tasks";
import { SequenceGenerator, SequenceScorer, attentionArgmax, extractHardAlignment, parseAlignDict, replaceUnk } from "../src/index.js";
import { SHARED } from "./shared.js";

const REF = join(SHARED, "reference/fairseq/multi30k-de-en");
const f = (...rows: number[][]) => rows.map((r) => Float32Array.from(r));

describe("alignment helpers (fairseq's utils, hand-checked)", () => {
  it("extract_hard_alignment: argmax over valid source tokens, word numbers from 0, pad/eos skipped", () => {
    // source (left-padded): pad pad a b c eos ; target: x y eos
    const src = [1, 1, 10, 11, 12, 2];
    const tgt = [20, 21, 2];
    const attn = f([0.9, 0.9, 0.1, 0.5, 0.2, 0.95], [0, 0, 0.3, 0.1, 0.6, 0], [0, 0, 0.2, 0.2, 0.2, 0.4]);
    // x -> b (pad and eos are ignored even with the highest weight), y -> c; eos in the target is skipped
    expect(extractHardAlignment(attn, src, tgt, 1, 2)).toEqual([
      [1, 0],
      [2, 1],
    ]);
    // ties: the first maximum (torch.max) -> a
    expect(extractHardAlignment(f([0, 0, 0.4, 0.4, 0.2, 0]), src, [20], 1, 2)).toEqual([[0, 0]]);
    expect(extractHardAlignment(f([1, 1]), [1, 2], [20], 1, 2)).toEqual([]);
  });

  it("replace_unk: unknown words become the aligned source word, through the alignment dictionary if it has one", () => {
    const src = [1, 10, 11, 2];
    const attn = f([0, 0.1, 0.9, 0], [0, 0.8, 0.1, 0.1], [0, 0.1, 0.1, 0.8]);
    const al = attentionArgmax(attn, src, 1);
    expect(al).toEqual([1, 0, 2]); // positions among non-pad source tokens; 2 = eos
    expect(replaceUnk("<unk> sees <unk>", "Hund Katze", al, parseAlignDict(null), "<unk>")).toBe("Katze sees <eos>");
    expect(replaceUnk("a <unk>", "Hund Katze", [0, 0], parseAlignDict("Hund dog\nKatze cat\n"), "<unk>")).toBe("a dog");
  });
});

describe("retained attention (for --print-alignment / --replace-unk)", () => {
  let task: TranslationTask;
  let model: EncoderDecoderModel;
  beforeAll(async () => {
    await initBackend({ backend: "wasm", log: null });
    task = await TranslationTask.setup({ data: join(REF, "bin") });
    model = (await loadFairseqCheckpoint(join(REF, "model.pt"), { srcVocabSize: task.sourceDictionary.length, tgtVocabSize: task.targetDictionary.length }))
      .model as EncoderDecoderModel;
  });

  it("equals the decoder's teacher-forced attention over each final hypothesis, and does not change the hypotheses", () => {
    const tgt = task.targetDictionary;
    const sp = { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() };
    const ds = task.loadDataset("test");
    const itr = task.getBatchIterator(ds, { maxSentences: 8, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
    const s = itr.nextEpochItr({ shuffle: false }).next().value as Sample;
    const srcT = tf.tensor2d(s.netInput.srcTokens.data, [s.netInput.srcTokens.rows, s.netInput.srcTokens.cols], "int32");
    const lens = tf.tensor1d(s.netInput.srcLengths, "int32");
    const plain = new SequenceGenerator(model, sp, tgt.length, { beam: 4, nbest: 2 }).generate(srcT, lens);
    const withAttn = new SequenceGenerator(model, sp, tgt.length, { beam: 4, nbest: 2, retainAttention: true }).generate(srcT, lens);
    let maxDiff = 0;
    withAttn.forEach((hyps, r) => {
      hyps.forEach((h, j) => {
        expect(Array.from(h.tokens)).toEqual(Array.from(plain[r]![j]!.tokens));
        expect(h.attention!.length).toBe(h.tokens.length);
        // independent: run the decoder over [eos, tokens...] with teacher forcing and read its attention
        tf.tidy(() => {
          const src1 = tf.slice(srcT, [r, 0], [1, -1]) as tf.Tensor2D;
          const enc = model.encoder.forward(src1, tf.slice(lens, [r], [1]) as tf.Tensor1D);
          const prev = tf.tensor2d([[tgt.eos(), ...Array.from(h.tokens.subarray(0, h.tokens.length - 1))]], [1, h.tokens.length], "int32");
          const [, extra] = model.decoder.forward(prev, enc);
          const a = extra.attn!.arraySync()[0]!;
          a.forEach((row, t) => row.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - h.attention![t]![k]!)))));
        });
      });
    });
    expect(maxDiff).toBeLessThan(1e-4);
    tf.dispose([srcT, lens]);
  });

  it("--prefix-size: hypotheses start with the target's first tokens; the whole target as prefix gives the reference and its score-reference scores", () => {
    const tgt = task.targetDictionary;
    const sp = { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() };
    const ds = task.loadDataset("test");
    const itr = task.getBatchIterator(ds, { maxSentences: 8, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
    const s = itr.nextEpochItr({ shuffle: false }).next().value as Sample;
    const srcT = tf.tensor2d(s.netInput.srcTokens.data, [s.netInput.srcTokens.rows, s.netInput.srcTokens.cols], "int32");
    const lens = tf.tensor1d(s.netInput.srcLengths, "int32");
    const cols = s.target!.cols;
    const targetRow = (r: number) => s.target!.data.slice(r * cols, (r + 1) * cols);
    const gen = new SequenceGenerator(model, sp, tgt.length, { beam: 5 });
    const two = gen.generate(
      srcT,
      lens,
      Array.from(s.id, (_, r) => targetRow(r).slice(0, 2)),
    );
    two.forEach((hyps, r) => expect(Array.from(hyps[0]!.tokens.slice(0, 2))).toEqual(Array.from(targetRow(r).slice(0, 2))));
    // prefix = the whole target (eos included, pad after): forced to the reference, scored like --score-reference
    const full = gen.generate(
      srcT,
      lens,
      Array.from(s.id, (_, r) => targetRow(r)),
    );
    const prev = tf.tensor2d(s.netInput.prevOutputTokens!.data, [s.target!.rows, cols], "int32");
    const tgtT = tf.tensor2d(s.target!.data, [s.target!.rows, cols], "int32");
    const ref = new SequenceScorer(model, tgt.pad()).score(srcT, lens, prev, tgtT);
    full.forEach((hyps, r) => {
      const want = Array.from(targetRow(r)).filter((t) => t !== tgt.pad());
      expect(Array.from(hyps[0]!.tokens)).toEqual(want);
      expect(hyps[0]!.score).toBeCloseTo(ref[r]![0]!.score, 4);
      hyps[0]!.positionalScores.forEach((p, t) => expect(p).toBeCloseTo(ref[r]![0]!.positionalScores[t]!, 4));
    });
    tf.dispose([srcT, lens, prev, tgtT]);
  });
});
