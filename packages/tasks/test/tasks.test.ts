import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { disposeTensorSample, sampleToTensors } from "@fairseq-ts/models";
import { preprocess } from "@fairseq-ts/data";
import { LanguageModelingTask, TaskError, TranslationTask } from "../src/index.js";
import { SHARED } from "./shared.js";

const BIN = join(SHARED, "reference/fairseq/multi30k-de-en/bin");

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

describe("translation task", () => {
  it("infers the languages from the data directory like fairseq and loads both dictionaries", async () => {
    const task = await TranslationTask.setup({ data: BIN });
    expect([task.sourceLang, task.targetLang]).toEqual(["de", "en"]);
    expect(task.sourceDictionary.length).toBe(7864);
    expect(task.targetDictionary.length).toBe(5928);
    await expect(TranslationTask.setup({ data: "/no/such/dir" })).rejects.toThrow(TaskError);
  });

  it("--truncate-source: each source keeps its first max-source-positions - 1 tokens and </s>; sizes as fairseq's dataset chain reports them", async () => {
    const full = (await TranslationTask.setup({ data: BIN })).loadDataset("valid");
    const task = await TranslationTask.setup({ data: BIN, truncateSource: true, maxSourcePositions: 8 });
    const cut = task.loadDataset("valid");
    const eos = task.sourceDictionary.eos();
    let shortened = 0;
    for (let i = 0; i < full.length; i++) {
      const src = full.get(i).source;
      const expected = src.length > 8 ? [...src.subarray(0, 7), eos] : [...src]; // every source already ends with </s>
      expect([...cut.get(i).source], `item ${i}`).toEqual(expected);
      expect([...cut.get(i).target!]).toEqual([...full.get(i).target!]);
      // AppendToken(Truncate(StripToken(src))): StripTokenDataset keeps the unstripped size, so min(size, 7) + 1
      expect(cut.srcSizes[i]).toBe(Math.min(full.srcSizes[i]!, 7) + 1);
      if (src.length > 8) shortened++;
    }
    expect(shortened).toBeGreaterThan(800);
    await expect(TranslationTask.setup({ data: BIN, truncateSource: true, maxSourcePositions: 1 }).then((t) => t.loadDataset("valid"))).rejects.toThrow(
      /--truncate-source needs --max-source-positions >= 2/,
    );
  });

  it("gives fairseq's 114 training batches, shuffled train and unshuffled test ordering", async () => {
    const task = await TranslationTask.setup({ data: BIN });
    const train = task.loadDataset("train");
    const itr = task.getBatchIterator(train, { maxTokens: 4096, maxPositions: task.maxPositions(), requiredBatchSizeMultiple: 8, seed: 1 });
    expect(itr.length).toBe(114);
    const test = task.loadDataset("test");
    expect(test.shuffle).toBe(false);
    expect(train.shuffle).toBe(true);
  });

  it("turns a collated sample into int32 tensors and frees them", async () => {
    const task = await TranslationTask.setup({ data: BIN });
    const ds = task.loadDataset("valid");
    const s = ds.collater([ds.get(0), ds.get(1)])!;
    const before = tf.memory().numTensors;
    const ts = sampleToTensors(s);
    expect(ts.netInput.srcTokens.dtype).toBe("int32");
    expect(ts.target.shape).toEqual([2, s.target!.cols]);
    disposeTensorSample(ts);
    expect(tf.memory().numTensors).toBe(before);
    await expect(Promise.resolve().then(() => task.loadDataset("nosuchsplit"))).rejects.toThrow(/nosuchsplit/);
  });
});

describe("raw text datasets (--dataset-impl raw)", () => {
  it("a raw-preprocessed directory loads the same items as the binarized one", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { preprocess } = await import("@fairseq-ts/data");
    const dest = mkdtempSync(join(tmpdir(), "fsts-raw-"));
    await preprocess({
      sourceLang: "de",
      targetLang: "en",
      testpref: join(SHARED, "data/multi30k/test"),
      srcdict: join(BIN, "dict.de.txt"),
      tgtdict: join(BIN, "dict.en.txt"),
      datasetImpl: "raw",
      destdir: dest,
      log: () => {},
    });
    const raw = (await TranslationTask.setup({ data: dest })).loadDataset("test");
    const bin = (await TranslationTask.setup({ data: BIN })).loadDataset("test");
    expect(raw.length).toBe(1000);
    for (const i of [0, 17, 999]) {
      expect(Array.from(raw.get(i).source)).toEqual(Array.from(bin.get(i).source));
      expect(Array.from(raw.get(i).target!)).toEqual(Array.from(bin.get(i).target!));
    }
  });
});

describe("getBatchIterator's size check (fairseq's filter_indices_by_size)", () => {
  it("test split, max positions (20, 20): raises for the first example that does not fit unless told to skip, then warns", async () => {
    const task = await TranslationTask.setup({ data: BIN, maxSourcePositions: 20, maxTargetPositions: 20 });
    expect(task.maxPositions()).toEqual([20, 20]);
    const test = task.loadDataset("test");
    // independent count: the examples whose source or target (eos included) exceeds 20 tokens, in index order
    // (the test split is not shuffled, and the stable sort by size keeps equal sizes in index order)
    const tooLong = Array.from({ length: test.length }, (_, i) => i).filter((i) => test.srcSizes[i]! > 20 || test.tgtSizes![i]! > 20);
    expect(tooLong.length).toBeGreaterThan(10);
    const opts = { maxSentences: 64, maxPositions: task.maxPositions(), seed: 1 };
    let message = "";
    try {
      task.getBatchIterator(test, opts);
    } catch (e) {
      message = (e as Error).message;
    }
    const first = Number(/^Size of sample #(\d+) is invalid/.exec(message)?.[1]);
    expect(tooLong).toContain(first);
    expect(message).toBe(
      `Size of sample #${first} is invalid (=(${test.srcSizes[first]}, ${test.tgtSizes![first]})) since max_positions=(20, 20), skip this example with --skip-invalid-size-inputs-valid-test`,
    );
    const warnings: string[] = [];
    const itr = task.getBatchIterator(test, { ...opts, ignoreInvalidInputs: true, warn: (w) => warnings.push(w) });
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(
      new RegExp(`^${tooLong.length} samples have invalid sizes and will be skipped, max_positions=\\(20, 20\\), first few sample ids=\\[`),
    );
    let seen = 0;
    for (const s of itr.nextEpochItr({ shuffle: false }))
      if (s)
        for (const id of s.id) {
          expect(tooLong).not.toContain(id);
          seen++;
        }
    expect(seen).toBe(test.length - tooLong.length);
  });
});

describe("language_modeling's size check (eval-lm: fairseq passes the model's max positions and skips)", () => {
  it("blocks longer than the limit raise fairseq's message, or are skipped with its warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-lm-sizes-"));
    // sentences of 2, 9, 4 and 12 words: with --sample-break-mode eos each is a block of words + eos
    writeFileSync(join(dir, "train.txt"), ["a b", "a b c d e f g h i", "a b c d", "a b c d e f g h i j k l"].join("\n") + "\n");
    await preprocess({ onlySource: true, trainpref: join(dir, "train.txt"), destdir: join(dir, "bin"), log: () => {} });
    const task = await LanguageModelingTask.setup({ data: join(dir, "bin"), tokensPerSample: 512, sampleBreakMode: "eos" });
    const ds = task.loadDataset("train");
    expect(Array.from(ds.sizes)).toEqual([3, 10, 5, 13]);
    expect(() => task.getBatchIterator(ds, { maxSentences: 2, maxPositions: 8 })).toThrow(
      "Size of sample #1 is invalid (=10) since max_positions=8, skip this example with --skip-invalid-size-inputs-valid-test",
    );
    const warnings: string[] = [];
    const itr = task.getBatchIterator(ds, { maxSentences: 2, maxPositions: 8, ignoreInvalidInputs: true, warn: (w) => warnings.push(w) });
    expect(warnings).toEqual(["2 samples have invalid sizes and will be skipped, max_positions=8, first few sample ids=[1, 3]"]);
    const ids = [...itr.nextEpochItr({ shuffle: false })].flatMap((s) => (s ? Array.from(s.id) : []));
    expect(ids.sort()).toEqual([0, 2]);
  });
});
