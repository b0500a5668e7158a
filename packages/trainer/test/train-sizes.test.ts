import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeReversalTask } from "./reversal-task.js";
import { initBackend } from "@fairseq-ts/backend";
import { TranslationTask } from "@fairseq-ts/tasks";
import { train, type TrainOptions } from "../src/index.js";

let dataDir: string;
/** Per split, the ids of the examples whose source (words + eos) is longer than 6 tokens. */
const longer: Record<string, number[]> = {};

// Sources of 2-9 words; the target is the source reversed (so the same length).
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  const made = await makeReversalTask({
    seed: 11,
    vocab: 20,
    minWords: 2,
    wordSpread: 8,
    splits: [
      ["train", 120],
      ["valid", 20],
    ],
  });
  dataDir = made.dataDir;
  for (const [split, lengths] of Object.entries(made.words)) longer[split] = lengths.flatMap((n, i) => (n + 1 > 6 ? [i] : []));
});

const options = (saveDir: string, sink: (name: string, msg: string) => void, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  model: {
    arch: "transformer",
    encoder_layers: 1,
    decoder_layers: 1,
    encoder_embed_dim: 8,
    decoder_embed_dim: 8,
    encoder_ffn_embed_dim: 16,
    decoder_ffn_embed_dim: 16,
    encoder_attention_heads: 2,
    decoder_attention_heads: 2,
  },
  criterion: "cross_entropy",
  optimizer: "adam",
  lr: [1e-3],
  lrScheduler: "fixed",
  maxTokens: 200,
  maxUpdate: 1,
  noSave: true,
  saveDir,
  logFormat: "none",
  sink,
  ...extra,
});

describe("size checks in training (fairseq v0.10.2: train skips with a warning, valid raises unless told to skip)", () => {
  it("--max-source-positions 6: train skips the longer examples with fairseq's warning; validation stops with fairseq's message", async () => {
    expect(longer.train!.length).toBeGreaterThan(10);
    expect(longer.valid!.length).toBeGreaterThan(0);
    const task = await TranslationTask.setup({ data: dataDir, maxSourcePositions: 6 });
    const lines: string[] = [];
    const run = train(
      task,
      options(mkdtempSync(join(tmpdir(), "fsts-sizes-ck-")), (name, msg) => lines.push(`${name} | ${msg}`)),
    );
    // the first validation example that does not fit, in the order fairseq filters (ordered by size: the valid
    // split is shuffled then sorted by target and source length, so the first ignored is the shortest longer one)
    await expect(run).rejects.toThrow(
      /^Size of sample #\d+ is invalid \(=\(\d+, \d+\)\) since max_positions=\(6, 1024\), skip this example with --skip-invalid-size-inputs-valid-test$/,
    );
    await run.catch((e: Error) => {
      const id = Number(/#(\d+)/.exec(e.message)![1]);
      expect(longer.valid).toContain(id);
    });
    const warning = lines.find((l) => l.includes("samples have invalid sizes"));
    expect(warning).toBeDefined();
    const m =
      /^fairseq\.tasks\.fairseq_task \| (\d+) samples have invalid sizes and will be skipped, max_positions=\(6, 1024\), first few sample ids=\[([\d, ]+)\]$/.exec(
        warning!,
      )!;
    expect(m).not.toBeNull();
    expect(Number(m[1])).toBe(longer.train!.length);
    const firstFew = m[2]!.split(", ").map(Number);
    expect(firstFew.length).toBe(Math.min(10, longer.train!.length));
    for (const id of firstFew) expect(longer.train).toContain(id);
  }, 120_000);

  it("with skipInvalidSizeInputsValidTest validation skips too (a second warning), and training completes", async () => {
    const task = await TranslationTask.setup({ data: dataDir, maxSourcePositions: 6 });
    const lines: string[] = [];
    const r = await train(
      task,
      options(mkdtempSync(join(tmpdir(), "fsts-sizes-ck-")), (name, msg) => lines.push(`${name} | ${msg}`), { skipInvalidSizeInputsValidTest: true }),
    );
    expect(r.numUpdates).toBe(1);
    const warnings = lines.filter((l) => l.includes("samples have invalid sizes"));
    expect(warnings.length).toBe(2);
    expect(warnings[1]).toContain(`${longer.valid!.length} samples have invalid sizes and will be skipped, max_positions=(6, 1024)`);
  }, 120_000);

  it("the model's limit counts too (fairseq's resolve_max_positions): max_source_positions 6 in the model args", async () => {
    const task = await TranslationTask.setup({ data: dataDir });
    const lines: string[] = [];
    const o = options(mkdtempSync(join(tmpdir(), "fsts-sizes-ck-")), (name, msg) => lines.push(`${name} | ${msg}`), { skipInvalidSizeInputsValidTest: true });
    o.model = { ...o.model, max_source_positions: 6 };
    await train(task, o);
    expect(lines.find((l) => l.includes("samples have invalid sizes"))).toContain(
      `${longer.train!.length} samples have invalid sizes and will be skipped, max_positions=(6, 1024)`,
    );
  }, 120_000);
});
