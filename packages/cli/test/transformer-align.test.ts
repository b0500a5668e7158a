/**
 * --arch transformer_align --full-context-alignment through the CLI: trains, and generate --print-alignment's A-
 * lines are fairseq's extract_hard_alignment of the model's full-context alignment attention over each hypothesis
 * (fairseq's SequenceGeneratorWithAlignment), computed here from the saved checkpoint.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { Dictionary } from "@fairseq-ts/dictionary";
import { extractHardAlignment } from "@fairseq-ts/generate";
import { TransformerAlignModel, loadModelCheckpointBytes } from "@fairseq-ts/models";
import { runCli } from "./cli.js";
import { MULTI30K, REF_BIN, TINY_TRANSFORMER_FLAGS } from "./shared.js";

describe("--arch transformer_align through the CLI", () => {
  it("trains, and --print-alignment prints the hard alignment of its full-context alignment attention", async () => {
    const save = mkdtempSync(join(tmpdir(), "fsts-align-"));
    const flags = [
      ...TINY_TRANSFORMER_FLAGS.slice(2),
      "--arch",
      "transformer_align",
      "--alignment-layer",
      "0",
      "--alignment-heads",
      "1",
      "--full-context-alignment",
    ];
    const tr = await runCli([
      "train",
      REF_BIN,
      ...flags,
      "--max-tokens",
      "1000",
      "--max-update",
      "6",
      "--optimizer",
      "adam",
      "--lr",
      "0.005",
      "--log-format",
      "simple",
      "--save-dir",
      save,
      "--no-epoch-checkpoints",
      "--disable-validation",
      "--backend",
      "cpu",
    ]);
    expect(tr.status, tr.out).toBe(0);
    expect(tr.out).toMatch(/model: transformer_align/);
    const ckpt = join(save, "checkpoint_last.safetensors");
    // 40 sentences of the test set as a raw dataset keep generation short
    const raw = mkdtempSync(join(tmpdir(), "fsts-align-raw-"));
    for (const l of ["de", "en"]) {
      copyFileSync(join(REF_BIN, `dict.${l}.txt`), join(raw, `dict.${l}.txt`));
      const text = readFileSync(join(MULTI30K, `test.${l}`), "utf8")
        .split("\n")
        .slice(0, 40);
      writeFileSync(join(raw, `test.de-en.${l}`), text.join("\n") + "\n");
    }
    const gen = await runCli([
      "generate",
      raw,
      "--path",
      ckpt,
      "--gen-subset",
      "test",
      "--batch-size",
      "16",
      "--max-len-b",
      "5",
      "--print-alignment",
      "--backend",
      "cpu",
    ]);
    expect(gen.status, gen.out).toBe(0);
    const lines = gen.out.split("\n");
    const byId = (p: string) => new Map(lines.filter((l) => l.startsWith(p)).map((l) => [Number(/^.-(\d+)/.exec(l)![1]), l.split("\t")] as const));
    const S = byId("S-");
    const H = byId("H-");
    const A = byId("A-");
    expect(A.size).toBe(H.size);

    await initBackend({ backend: "cpu", log: null });
    const src = await Dictionary.load(join(REF_BIN, "dict.de.txt"));
    const tgt = await Dictionary.load(join(REF_BIN, "dict.en.txt"));
    const { model } = loadModelCheckpointBytes(readFileSync(ckpt), { srcVocabSize: src.length, tgtVocabSize: tgt.length, padIdx: 1 });
    expect(model).toBeInstanceOf(TransformerAlignModel);
    const m = model as TransformerAlignModel;
    m.eval();
    let checked = 0;
    for (const [id, h] of H) {
      const srcIds = Array.from(src.encodeLine(S.get(id)![1]!, { addIfNotExist: false }));
      const hypIds = Array.from(tgt.encodeLine(h[2]!, { addIfNotExist: false }));
      const attn = tf.tidy(() =>
        m.alignmentAttention!(
          tf.tensor2d([srcIds], [1, srcIds.length], "int32"),
          tf.tensor1d([srcIds.length], "int32"),
          tf.tensor2d([[2, ...hypIds.slice(0, -1)]], [1, hypIds.length], "int32"),
        ).arraySync(),
      )[0]!;
      const want = extractHardAlignment(
        attn.map((r) => Float32Array.from(r)),
        srcIds,
        hypIds,
        1,
        2,
      )
        .map(([s, t]) => `${s}-${t}`)
        .join(" ");
      expect(A.get(id)![1] ?? "", `A-${id}`).toBe(want);
      checked++;
    }
    expect(checked).toBe(40);
    m.dispose();
  }, 240_000);
});
