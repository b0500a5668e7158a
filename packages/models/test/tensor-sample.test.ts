import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { disposeTensorSample, sampleToTensors } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const PAD = 1;

describe("sampleToTensors", () => {
  const sample = (withTarget: boolean): Sample => ({
    id: Int32Array.from([4, 0]),
    nsentences: 2,
    ntokens: 5,
    netInput: {
      srcTokens: { data: Int32Array.from([PAD, 5, 2, 6, 7, 2]), rows: 2, cols: 3 },
      srcLengths: Int32Array.from([2, 3]),
      prevOutputTokens: withTarget ? { data: Int32Array.from([2, 8, PAD, 2, 9, 8]), rows: 2, cols: 3 } : null,
    },
    target: withTarget ? { data: Int32Array.from([8, 2, PAD, 9, 8, 2]), rows: 2, cols: 3 } : null,
  });

  it("gives int32 tensors of the collated matrices; without a target the source is the target; dispose frees all", () => {
    const before = tf.memory().numTensors;
    const ts = sampleToTensors(sample(true));
    expect([ts.netInput.srcTokens.dtype, ts.netInput.srcLengths.dtype, ts.netInput.prevOutputTokens!.dtype, ts.target.dtype]).toEqual([
      "int32",
      "int32",
      "int32",
      "int32",
    ]);
    expect(ts.netInput.srcTokens.arraySync()).toEqual([
      [PAD, 5, 2],
      [6, 7, 2],
    ]);
    expect(Array.from(ts.netInput.srcLengths.dataSync())).toEqual([2, 3]);
    expect(ts.netInput.prevOutputTokens!.arraySync()).toEqual([
      [2, 8, PAD],
      [2, 9, 8],
    ]);
    expect(ts.target.arraySync()).toEqual([
      [8, 2, PAD],
      [9, 8, 2],
    ]);
    expect([Array.from(ts.id), ts.nsentences, ts.ntokens]).toEqual([[4, 0], 2, 5]);
    disposeTensorSample(ts);
    const lm = sampleToTensors(sample(false));
    expect(lm.netInput.prevOutputTokens).toBeNull();
    expect(lm.target.arraySync()).toEqual([
      [PAD, 5, 2],
      [6, 7, 2],
    ]);
    disposeTensorSample(lm);
    expect(tf.memory().numTensors).toBe(before);
  });
});
