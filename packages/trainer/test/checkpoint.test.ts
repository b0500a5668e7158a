import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { CheckpointError, buildModel, encodeSafetensors, f32, type SafeTensor } from "@fairseq-ts/models";
import { buildOptimizer } from "@fairseq-ts/optim";
import { decodeCheckpoint, encodeCheckpoint, readCheckpointFile } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

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

describe("the trainer's checkpoint (models' codec + optimizer state)", () => {
  it("stores optimizer buffers as optimizer.<param>.<buffer> after the weights and its scalars after the training state", () => {
    const m = buildModel(args, { srcVocabSize: 9, tgtVocabSize: 10, padIdx: 1 }, { seed: 5 });
    const params = m.namedParameters();
    const opt = buildOptimizer("adam", { lr: 0.1 });
    const grads = new Map([...params].map(([k, v]) => [k, tf.onesLike(v)] as [string, tf.Tensor]));
    opt.step(params, grads);
    tf.dispose([...grads.values()]);
    const meta = { args, numUpdates: 1, lrScheduler: { lr: 0.1 }, extraState: { best: 2.5 } };
    const bytes = encodeCheckpoint(m, opt, meta);
    // the layout written out by hand from the safetensors primitive
    const st = opt.stateDict();
    const expected = new Map<string, SafeTensor>();
    for (const [k, v] of params) expected.set(`model.${k}`, f32(v.shape, v.dataSync() as Float32Array));
    for (const [p, bufs] of Object.entries(st.buffers))
      for (const [k, b] of Object.entries(bufs)) expected.set(`optimizer.${p}.${k}`, f32(b.shape, Float32Array.from(b.data)));
    const json = { format: "fairseq-ts", version: 1, ...meta, optimizer: { name: st.name, lr: st.lr, step: st.step } };
    expect(bytes).toEqual(encodeSafetensors(expected, { fairseq_ts: JSON.stringify(json) }));
    const back = decodeCheckpoint(bytes, "ck");
    expect(back.meta).toEqual(json);
    expect([...back.model.keys()]).toEqual([...params.keys()]);
    expect(back.optimizer!.step).toBe(1);
    expect(Object.keys(back.optimizer!.buffers)).toEqual(Object.keys(st.buffers));
    const [p0, b0] = Object.entries(st.buffers)[0]!;
    expect(Array.from(back.optimizer!.buffers[p0]!.exp_avg!.data)).toEqual(Array.from(b0.exp_avg!.data));
    m.dispose();
  });

  it("errors are the codec's CheckpointError and name the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-ckpt-"));
    await expect(readCheckpointFile(join(dir, "none.safetensors"))).rejects.toThrow(CheckpointError);
    await expect(readCheckpointFile(join(dir, "none.safetensors"))).rejects.toThrow(/none\.safetensors: cannot read \(ENOENT\)/);
    writeFileSync(join(dir, "junk.safetensors"), "not a checkpoint");
    await expect(readCheckpointFile(join(dir, "junk.safetensors"))).rejects.toThrow(/junk\.safetensors: header length \d+ exceeds the file/);
    // an optimizer buffer in another dtype than float32
    const odd = encodeSafetensors(new Map([["optimizer.w.exp_avg", { dtype: "I32", shape: [1], data: new Uint8Array(4) } as SafeTensor]]), {
      fairseq_ts: JSON.stringify({ args, optimizer: { name: "adam", lr: 1, step: 1 } }),
    });
    expect(() => decodeCheckpoint(odd, "odd.safetensors")).toThrow(/^odd\.safetensors: optimizer\.w\.exp_avg: expected F32, got I32/);
  });
});
