import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors, f32, toFloat32 } from "@fairseq-ts/models";
import { describe, expect, it } from "vitest";
import { stageModel } from "../scripts/stage-model.js";

/** A data-bin as preprocess writes it (dicts + train.SRC-TGT.* names) and a checkpoint with Adam state. */
function fixture(): { data: string; checkpoint: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "fsts-stage-"));
  const data = join(dir, "data-bin");
  mkdirSync(data);
  writeFileSync(join(data, "dict.de.txt"), "hund 2\n");
  writeFileSync(join(data, "dict.en.txt"), "dog 2\n");
  writeFileSync(join(data, "train.de-en.de.idx"), "");
  const weight = (...v: number[]) => f32([v.length], Float32Array.from(v));
  const tensors = new Map([
    ["model.encoder.w", weight(1, 2)],
    ["optimizer.state.0.exp_avg", weight(3, 4)],
    ["model.decoder.w", weight(5)],
  ]);
  const checkpoint = join(dir, "checkpoint_last.safetensors");
  writeFileSync(checkpoint, encodeSafetensors(tensors, { fairseq_ts: '{"args":{"arch":"transformer"}}' }));
  return { data, checkpoint, out: join(dir, "model") };
}

describe("stage-model", () => {
  it("writes the weights (no optimizer state) with the args, and the dictionaries by direction", () => {
    const f = fixture();
    const r = stageModel(f);
    expect(r.files).toEqual(["checkpoint.safetensors", "dict.src.txt", "dict.tgt.txt"]);
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(f.out, "checkpoint.safetensors")));
    expect([...tensors.keys()]).toEqual(["model.encoder.w", "model.decoder.w"]);
    expect(Array.from(toFloat32(tensors.get("model.encoder.w")!))).toEqual([1, 2]);
    expect(Array.from(toFloat32(tensors.get("model.decoder.w")!))).toEqual([5]);
    expect(metadata).toEqual({ fairseq_ts: '{"args":{"arch":"transformer"}}' });
    expect(r.bytes).toBe(readFileSync(join(f.out, "checkpoint.safetensors")).length);
    expect(r.droppedBytes).toBe(readFileSync(f.checkpoint).length - r.bytes);
    // languages inferred from train.de-en.*: de is the source
    expect(readFileSync(join(f.out, "dict.src.txt"), "utf8")).toBe("hund 2\n");
    expect(readFileSync(join(f.out, "dict.tgt.txt"), "utf8")).toBe("dog 2\n");
    stageModel({ ...f, source: "en", target: "de" });
    expect(readFileSync(join(f.out, "dict.src.txt"), "utf8")).toBe("dog 2\n");
  });

  it("names the flag when a file is missing or not a fairseq-ts checkpoint", () => {
    const f = fixture();
    expect(() => stageModel({ ...f, checkpoint: join(f.out, "nope.safetensors") })).toThrow(
      /^--path .*nope\.safetensors: cannot read \(ENOENT\); train a model first/,
    );
    expect(() => stageModel({ ...f, source: "fr", target: "en" })).toThrow(/^--data .*: dict\.fr\.txt not found \(check -s\/-t\)$/);
    writeFileSync(f.checkpoint, encodeSafetensors(new Map(), {}));
    expect(() => stageModel(f)).toThrow(/not a fairseq-ts checkpoint/);
  });
});
