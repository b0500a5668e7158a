import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import {
  CheckpointError,
  buildModel,
  decodeCheckpoint,
  decodeSafetensors,
  encodeCheckpoint,
  encodeSafetensors,
  f32,
  loadModelCheckpointBytes,
  loadModelWeights,
  weightsOnlyCheckpoint,
  type EncoderDecoderModel,
  type FairseqModel,
  type SafeTensor,
} from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const PAD = 1;
const args = {
  arch: "lstm",
  encoder_embed_dim: 3,
  encoder_hidden_size: 2,
  encoder_layers: 1,
  decoder_embed_dim: 3,
  decoder_hidden_size: 4,
  decoder_out_embed_dim: 3,
  decoder_layers: 1,
  dropout: 0,
};
const vocab = { srcVocabSize: 9, tgtVocabSize: 10, padIdx: PAD };
const build = (seed: number) => buildModel(args, vocab, { seed }) as EncoderDecoderModel;
const values = (m: FairseqModel) => new Map([...m.namedParameters()].map(([k, v]) => [k, Array.from(v.dataSync())]));

describe("the fairseq-ts checkpoint codec", () => {
  it("writes model.<name> weights in parameter order, the writer's tensors after them, and {format, version, ...metadata} under fairseq_ts", () => {
    const m = build(3);
    const extra = new Map<string, SafeTensor>([["optimizer.x.exp_avg", f32([2], Float32Array.from([0.5, -1]))]]);
    const bytes = encodeCheckpoint(m, { args, numUpdates: 7 }, extra);
    // the same file assembled from the safetensors primitive by the format's rules
    const expected = new Map<string, SafeTensor>();
    for (const [k, v] of m.namedParameters()) expected.set(`model.${k}`, f32(v.shape, v.dataSync() as Float32Array));
    expected.set("optimizer.x.exp_avg", extra.get("optimizer.x.exp_avg")!);
    expect(bytes).toEqual(encodeSafetensors(expected, { fairseq_ts: `{"format":"fairseq-ts","version":1,"args":${JSON.stringify(args)},"numUpdates":7}` }));
    const d = decodeCheckpoint(bytes, "ck.safetensors");
    expect(d.metadata).toEqual({ format: "fairseq-ts", version: 1, args, numUpdates: 7 });
    expect([...d.weights.keys()]).toEqual([...m.namedParameters().keys()]);
    expect([...d.extraTensors.keys()]).toEqual(["optimizer.x.exp_avg"]);
    expect(() => encodeCheckpoint(m, { args }, new Map([["model.encoder.embed_tokens.weight", f32([1], new Float32Array(1))]]))).toThrow(
      /collides with the model's weights/,
    );
    m.dispose();
  });

  it("loads what it wrote: the same parameters, in a new model or an existing one", () => {
    const m = build(3);
    const bytes = encodeCheckpoint(m, { args });
    const { model, args: back } = loadModelCheckpointBytes(bytes, vocab, "ck.safetensors");
    expect(back).toEqual(args);
    expect(values(model)).toEqual(values(m));
    const other = build(4);
    expect(values(other)).not.toEqual(values(m));
    loadModelWeights(other, decodeCheckpoint(bytes).weights, "ck.safetensors");
    expect(values(other)).toEqual(values(m));
    [m, model, other].forEach((x) => x.dispose());
  });

  it("names the file in every error and leaves no tensor behind when the weights do not fit", () => {
    const m = build(3);
    const bytes = encodeCheckpoint(m, { args });
    m.dispose();
    const before = tf.memory().numTensors;
    // a dictionary of another size: the embedding's shape no longer matches
    expect(() => loadModelCheckpointBytes(bytes, { ...vocab, srcVocabSize: 11 }, "--path ck.safetensors")).toThrow(CheckpointError);
    expect(() => loadModelCheckpointBytes(bytes, { ...vocab, srcVocabSize: 11 }, "--path ck.safetensors")).toThrow(
      "--path ck.safetensors: state dict does not fit the model:\n  encoder.embed_tokens.weight: shape [9,3] in the checkpoint, [11,3] in the model",
    );
    expect(tf.memory().numTensors).toBe(before);
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, 5), /^ck: too short for a safetensors file/],
      [encodeSafetensors(new Map(), { other: "x" }), /^ck: not a fairseq-ts checkpoint \(no fairseq_ts metadata\)/],
      [encodeSafetensors(new Map(), { fairseq_ts: "{oops" }), /^ck: corrupt checkpoint metadata/],
      [encodeSafetensors(new Map(), { fairseq_ts: "[1]" }), /^ck: corrupt checkpoint metadata \(not a JSON object\)/],
    ];
    for (const [b, message] of cases) {
      expect(() => decodeCheckpoint(b, "ck")).toThrow(CheckpointError);
      expect(() => decodeCheckpoint(b, "ck")).toThrow(message);
    }
    expect(() => loadModelCheckpointBytes(encodeSafetensors(new Map(), { fairseq_ts: "{}" }), vocab, "ck")).toThrow(/^ck: checkpoint metadata has no args/);
    expect(() => loadModelCheckpointBytes(encodeSafetensors(new Map(), { fairseq_ts: '{"args":{"arch":"nope"}}' }), vocab, "ck")).toThrow(
      /^ck: --arch: unknown architecture 'nope'/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a weights-only copy drops the writer's tensors and keeps the metadata string as it was", () => {
    const m = build(3);
    const bytes = encodeCheckpoint(m, { args, numUpdates: 2 }, new Map([["optimizer.w.exp_avg", f32([1], Float32Array.from([3]))]]));
    const slim = weightsOnlyCheckpoint(bytes, "ck");
    const { tensors, metadata } = decodeSafetensors(slim);
    expect([...tensors.keys()]).toEqual([...m.namedParameters().keys()].map((k) => `model.${k}`));
    expect(metadata).toEqual(decodeSafetensors(bytes).metadata);
    expect(() => weightsOnlyCheckpoint(encodeSafetensors(new Map()), "ck")).toThrow(/^ck: not a fairseq-ts checkpoint/);
    m.dispose();
  });
});

describe("loadModelCheckpointBytes tells the formats apart", () => {
  it("a safetensors checkpoint whose header length starts with the bytes 'PK' (19,280 + 65,536·k) is not taken for a zip", () => {
    const vocab = { srcVocabSize: 12, tgtVocabSize: 10, padIdx: 1 };
    const args = { arch: "transformer", encoder_layers: 1, decoder_layers: 1, encoder_embed_dim: 8, decoder_embed_dim: 8, encoder_ffn_embed_dim: 16 };
    const more = { decoder_ffn_embed_dim: 16, encoder_attention_heads: 2, decoder_attention_heads: 2 };
    const model = buildModel({ ...args, ...more }, vocab);
    // pad the metadata until the header is 0x4B50 bytes long: its length then reads "PK\0\0..."
    let pad = "";
    let bytes = encodeCheckpoint(model, { args: { ...args, ...more, note: pad } });
    const headerLength = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true);
    pad = "x".repeat(0x4b50 - headerLength(bytes));
    bytes = encodeCheckpoint(model, { args: { ...args, ...more, note: pad } });
    for (let extra = 0; headerLength(bytes) !== 0x4b50 && extra < 16; extra++) {
      pad += "x".repeat(0x4b50 - headerLength(bytes));
      bytes = encodeCheckpoint(model, { args: { ...args, ...more, note: pad } });
    }
    expect([bytes[0], bytes[1]]).toEqual([0x50, 0x4b]);
    const loaded = loadModelCheckpointBytes(bytes, vocab).model;
    expect(loaded.numParameters()).toBe(model.numParameters());
    loaded.dispose();
    model.dispose();
  });
});
