import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { SHARED, TINY_TRANSFORMER_FLAGS } from "./shared.js";

describe("fairseq-ts train --task denoising", () => {
  it("pretrains a tiny transformer as a denoising autoencoder on WikiText-2 lines: loss falls, checkpoint written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-denoising-"));
    const lines = readFileSync(join(SHARED, "data/wikitext-2/valid.txt"), "utf8").split("\n");
    writeFileSync(join(dir, "train.txt"), lines.slice(0, 300).join("\n") + "\n");
    writeFileSync(join(dir, "valid.txt"), lines.slice(300, 360).join("\n") + "\n");
    const pre = await runCli([
      "preprocess",
      "--only-source",
      "--trainpref",
      join(dir, "train.txt"),
      "--validpref",
      join(dir, "valid.txt"),
      "--destdir",
      join(dir, "bin"),
      "--nwordssrc",
      "500",
    ]);
    expect(pre.status, pre.out).toBe(0);
    const flags =
      "--task denoising --tokens-per-sample 64 --sample-break-mode complete --mask 0.3 --mask-random 0.1 --poisson-lambda 3.5 " +
      "--mask-length span-poisson --replace-length 1 --rotate 0 --permute-sentences 0.5 --insert 0.05 " +
      "--optimizer adam --lr 0.005 --max-tokens 1024 --max-update 20 --dropout 0 --criterion cross_entropy " +
      "--log-format simple --log-interval 5 --no-epoch-checkpoints --backend cpu";
    const tr = await runCli(["train", join(dir, "bin"), ...TINY_TRANSFORMER_FLAGS, ...flags.split(" "), "--save-dir", join(dir, "ck")]);
    expect(tr.status, tr.out).toBe(0);
    const losses = [...tr.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(losses.length, tr.out).toBe(4);
    expect(losses.at(-1)!, tr.out).toBeLessThan(losses[0]! - 1);
    expect(tr.out).toContain("task: denoising");
    expect(existsSync(join(dir, "ck/checkpoint_last.safetensors"))).toBe(true);
  }, 300_000);

  it("names a bad denoising flag", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-denoising-"));
    const r = await runCli(["train", dir, "--task", "denoising", "--arch", "transformer", "--mask-length", "sentence"]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/--mask-length/);
  });
});
