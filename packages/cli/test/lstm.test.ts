import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { REF_BIN } from "./shared.js";

const run = (args: string[]) => runCli(args);

describe("--arch lstm_wiseman_iwslt_de_en through the CLI", () => {
  it("trains (loss falls), checkpoints, and beam-searches with alignments", async () => {
    const save = mkdtempSync(join(tmpdir(), "fsts-lstm-"));
    const tr = await run([
      "train",
      REF_BIN,
      "--arch",
      "lstm_wiseman_iwslt_de_en",
      "--encoder-embed-dim",
      "32",
      "--decoder-embed-dim",
      "32",
      "--decoder-out-embed-dim",
      "32",
      "--encoder-bidirectional",
      "--max-tokens",
      "1000",
      "--max-update",
      "12",
      "--optimizer",
      "adam",
      "--lr",
      "0.005",
      "--log-format",
      "simple",
      "--log-interval",
      "4",
      "--save-dir",
      save,
      "--no-epoch-checkpoints",
      "--disable-validation",
    ]);
    expect(tr.status, tr.out).toBe(0);
    const losses = [...tr.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(losses.length).toBe(3);
    expect(losses[2]!).toBeLessThan(losses[0]!);
    const gen = await run([
      "generate",
      REF_BIN,
      "--path",
      join(save, "checkpoint_last.safetensors"),
      "--batch-size",
      "64",
      "--max-len-b",
      "8",
      "--print-alignment",
      "--gen-subset",
      "valid",
    ]);
    expect(gen.status, gen.out).toBe(0);
    const h = gen.out.split("\n").filter((l) => l.startsWith("H-"));
    const a = gen.out.split("\n").filter((l) => l.startsWith("A-"));
    expect(h.length).toBe(1014);
    expect(a.length).toBe(h.length);
    expect(gen.out).toMatch(/Generate valid with beam=5: BLEU4 = [\d.]+/);
  }, 240_000);
});
