import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { LanguagePairDataset } from "@fairseq-ts/data";
import { Dictionary } from "@fairseq-ts/dictionary";
import { CheckpointError, loadFairseqCheckpoint, type EncoderDecoderModel } from "../src/index.js";
import { SHARED } from "./shared.js";

const REF = join(SHARED, "reference/fairseq/multi30k-de-en");
const D = join(SHARED, "data/multi30k");

/** In-memory token sequences (what the binarized test split holds: the text encoded with the dicts). */
function seqs(lines: string[], dict: Dictionary) {
  const items = lines.map((l) => dict.encodeLine(l, { addIfNotExist: false }));
  return { length: items.length, sizes: Int32Array.from(items, (x) => x.length), get: (i: number) => items[i]! };
}

function toTensor(m: { data: Int32Array; rows: number; cols: number }): tf.Tensor2D {
  return tf.tensor2d(m.data, [m.rows, m.cols], "int32");
}

describe("fairseq checkpoint import (reference model.pt)", () => {
  let model: EncoderDecoderModel;
  let src: Dictionary;
  let tgt: Dictionary;
  beforeAll(async () => {
    await initBackend({ backend: "wasm", log: null });
    src = await Dictionary.load(join(REF, "bin/dict.de.txt"));
    tgt = await Dictionary.load(join(REF, "bin/dict.en.txt"));
    const imported = await loadFairseqCheckpoint(join(REF, "model.pt"), { srcVocabSize: src.length, tgtVocabSize: tgt.length });
    model = imported.model as EncoderDecoderModel;
    model.eval();
  });

  it("reproduces every P- and H- value of fairseq's generate --score-reference within 1e-3", () => {
    const de = readFileSync(join(D, "test.de"), "utf8").split("\n").slice(0, -1);
    const en = readFileSync(join(D, "test.en"), "utf8").split("\n").slice(0, -1);
    const ds = new LanguagePairDataset(seqs(de, src), src, seqs(en, tgt), tgt);
    const ref = new Map<number, { h: number; p: number[] }>();
    for (const line of readFileSync(join(REF, "score-reference.txt"), "utf8").split("\n")) {
      const h = /^H-(\d+)\t(\S+)\t/.exec(line);
      if (h) ref.set(Number(h[1]), { h: Number(h[2]), p: [] });
      const p = /^P-(\d+)\t(.*)$/.exec(line);
      if (p) ref.get(Number(p[1]))!.p = p[2]!.split(" ").map(Number);
    }
    expect(ref.size).toBe(1000);
    // Caches (position tables, future mask) are created on the first batch; count from after it.
    let before = -1;
    let maxDiff = 0;
    let checked = 0;
    for (let start = 0; start < ds.length; start += 100) {
      const items = Array.from({ length: Math.min(100, ds.length - start) }, (_, k) => ds.get(start + k));
      const s = ds.collater(items)!;
      const pad = tgt.pad();
      const scores = tf.tidy(() => {
        const net = model.forward(toTensor(s.netInput.srcTokens), tf.tensor1d(s.netInput.srcLengths, "int32"), toTensor(s.netInput.prevOutputTokens!));
        const lprobs = model.getNormalizedProbs(net, true);
        const [b, t, v] = lprobs.shape;
        const flatIdx = tf.add(tf.mul(tf.range(0, b! * t!, 1, "int32"), tf.scalar(v!, "int32")), tf.reshape(toTensor(s.target!), [-1]));
        return tf.div(tf.gather(tf.reshape(lprobs, [-1]), flatIdx), Math.LN2);
      });
      const vals = scores.dataSync();
      scores.dispose();
      if (before < 0) before = tf.memory().numTensors;
      const cols = s.target!.cols;
      for (let r = 0; r < s.id.length; r++) {
        const id = s.id[r]!;
        const want = ref.get(id)!;
        const got: number[] = [];
        for (let c = 0; c < cols; c++) if (s.target!.data[r * cols + c] !== pad) got.push(vals[r * cols + c]!);
        expect(got.length).toBe(want.p.length);
        for (let k = 0; k < got.length; k++) maxDiff = Math.max(maxDiff, Math.abs(got[k]! - want.p[k]!));
        const mean = got.reduce((a, x) => a + x, 0) / got.length;
        expect(Math.abs(mean - want.h)).toBeLessThan(1e-3);
        checked++;
      }
    }
    expect(checked).toBe(1000);
    // P values are printed with 4 decimals, so a correct model differs by at most 5e-5 plus float noise.
    expect(maxDiff).toBeLessThan(1e-3);
    expect(tf.memory().numTensors).toBe(before);
    console.log(`score-reference: 1000 sentences, max |P diff| = ${maxDiff.toExponential(2)}`);
  });

  it("a vocabulary that does not match the checkpoint is a clear error", async () => {
    await expect(loadFairseqCheckpoint(join(REF, "model.pt"), { srcVocabSize: 100, tgtVocabSize: tgt.length })).rejects.toThrow(CheckpointError);
    await expect(loadFairseqCheckpoint(join(REF, "model.pt"), { srcVocabSize: 100 })).rejects.toThrow(/7864 rows but the dictionary has 100 symbols/);
  });
});
