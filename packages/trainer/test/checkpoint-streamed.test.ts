import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, encodeSafetensors, type SafeTensor } from "@fairseq-ts/models";
import { buildOptimizer } from "@fairseq-ts/optim";
import { checkpointFile, encodeCheckpoint, readCheckpointFile, writeCheckpointFiles } from "../src/index.js";

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

describe("streamed checkpoints (written one tensor at a time, read with positioned reads)", () => {
  it("checkpointFile streams exactly encodeCheckpoint's bytes; the files written and read back hold the same state", async () => {
    const m = buildModel(args, { srcVocabSize: 9, tgtVocabSize: 10, padIdx: 1 }, { seed: 5 });
    const params = m.namedParameters();
    const opt = buildOptimizer("adam", { lr: 0.1 });
    const grads = new Map([...params].map(([k, v]) => [k, tf.onesLike(v)] as [string, tf.Tensor]));
    opt.step(params, grads);
    tf.dispose([...grads.values()]);
    const meta = { args, numUpdates: 1, lrScheduler: { lr: 0.1 }, extraState: { best: 2.5 } };
    const bytes = encodeCheckpoint(m, opt, meta);
    const file = checkpointFile(m, opt, meta);
    expect(file.size).toBe(bytes.length);
    const streamed = new Uint8Array(file.size);
    const positions: number[] = [];
    file.write((chunk, position) => {
      positions.push(position);
      streamed.set(chunk, position);
    });
    expect(streamed).toEqual(bytes);
    // one chunk for the header, then one per weight and one per optimizer buffer
    const nBuffers = Object.values(opt.stateDict().buffers).reduce((a, b) => a + Object.keys(b).length, 0);
    expect(positions.length).toBe(1 + params.size + nBuffers);

    const dir = mkdtempSync(join(tmpdir(), "fsts-stream-"));
    try {
      const paths = [join(dir, "checkpoint_last.safetensors"), join(dir, "checkpoint1.safetensors")];
      const before = tf.memory().numTensors;
      await writeCheckpointFiles(paths, checkpointFile(m, opt, meta));
      expect(tf.memory().numTensors).toBe(before);
      for (const p of paths) expect(new Uint8Array(readFileSync(p))).toEqual(bytes);
      const back = await readCheckpointFile(paths[0]!);
      expect(back.meta.numUpdates).toBe(1);
      for (const [k, v] of params) expect(Array.from(toF32(back.model.get(k)!)), k).toEqual(Array.from(v.dataSync()));
      const st = opt.stateDict();
      for (const [p, bufs] of Object.entries(st.buffers))
        for (const [k, b] of Object.entries(bufs)) expect(Array.from(back.optimizer!.buffers[p]![k]!.data), `${p}.${k}`).toEqual(Array.from(b.data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      m.dispose();
    }
  });

  it("readCheckpointFile checks every offset against the file: a truncated checkpoint is an error naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-stream-"));
    try {
      const full = encodeSafetensors(new Map([["model.w", { dtype: "F32", shape: [4], data: new Uint8Array(16) } as SafeTensor]]), {
        fairseq_ts: JSON.stringify({ args }),
      });
      const path = join(dir, "cut.safetensors");
      writeFileSync(path, full.subarray(0, full.length - 4));
      await expect(readCheckpointFile(path)).rejects.toThrow(/cut\.safetensors: model\.w: data offsets out of range/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function toF32(t: SafeTensor): Float32Array {
  return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}
