import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { readCheckpointFile } from "@fairseq-ts/trainer";
import { REF_BIN } from "./shared.js";

const run = (args: string[]) => runCli(args);

describe("--config FILE (YAML or JSON)", () => {
  it("a hydra-style YAML config trains like the same flags; the command line overrides it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-config-"));
    const yaml = join(dir, "train.yaml");
    writeFileSync(
      yaml,
      [
        `data: ${REF_BIN}`,
        "model:",
        "  _name: transformer",
        "  encoder_layers: 1",
        "  decoder_layers: 1",
        "  encoder_embed_dim: 16",
        "  decoder_embed_dim: 16",
        "  encoder_ffn_embed_dim: 32",
        "  decoder_ffn_embed_dim: 32",
        "  encoder_attention_heads: 2",
        "  decoder_attention_heads: 2",
        "  share_decoder_input_output_embed: true",
        "optimizer:",
        "  _name: adam",
        "  adam_betas: [0.9, 0.98]",
        "lr_scheduler:",
        "  _name: inverse_sqrt",
        "  warmup_updates: 4",
        "optimization:",
        "  lr: [0.002]",
        "  max_update: 5",
        "dataset:",
        "  max_tokens: 800",
        "checkpoint:",
        `  save_dir: ${join(dir, "ck")}`,
        "  save: true",
        "  no_epoch_checkpoints: true",
        "common:",
        "  log_format: simple",
        "  log_interval: 1",
        "disable_validation: true",
      ].join("\n") + "\n",
    );
    const r = await run(["train", "--config", yaml, "--max-update", "3"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/model: transformer/);
    // inverse_sqrt with warmup 4 to lr 0.002: 0.0005, 0.001, 0.0015 at updates 1..3; stopped by the command line's 3
    expect([...r.out.matchAll(/num_updates=(\d+), lr=([\d.e-]+)/g)].map((m) => [Number(m[1]), Number(m[2])])).toEqual([
      [1, 0.0005],
      [2, 0.001],
      [3, 0.0015],
    ]);
    const ck = await readCheckpointFile(join(dir, "ck/checkpoint_last.safetensors"));
    expect(ck.meta.numUpdates).toBe(3);
    expect(ck.meta.args.share_decoder_input_output_embed).toBe(true);

    const json = join(dir, "train.json");
    writeFileSync(
      json,
      JSON.stringify({
        arch: "transformer",
        "encoder-layers": 1,
        "decoder-layers": 1,
        "encoder-embed-dim": 16,
        "decoder-embed-dim": 16,
        optimizer: "sgd",
        lr: [0.1],
        "max-update": 1,
        "max-tokens": 800,
        "save-dir": join(dir, "ck2"),
        "disable-validation": true,
        "log-format": "simple",
      }),
    );
    const j = await run(["train", REF_BIN, "--config", json]);
    expect(j.status, j.out).toBe(0);
    expect((await readCheckpointFile(join(dir, "ck2/checkpoint_last.safetensors"))).meta.numUpdates).toBe(1);
  }, 120_000);

  it("bad config files are errors that name the file and the keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-config-bad-"));
    writeFileSync(join(dir, "a.yaml"), "arch: transformer\nfp16: true\nbogus_key: 3\n");
    const a = await run(["train", REF_BIN, "--config", join(dir, "a.yaml")]);
    expect(a.status).toBe(1);
    expect(a.out).toMatch(/--config .*a\.yaml: unknown option\(s\) for train: 'fp16', 'bogus-key'/);
    writeFileSync(join(dir, "b.yaml"), "arch: [unclosed\n");
    const b = await run(["train", REF_BIN, "--config", join(dir, "b.yaml")]);
    expect(b.status).toBe(1);
    expect(b.out).toMatch(/--config .*b\.yaml: not valid YAML/);
    const c = await run(["train", REF_BIN, "--config", join(dir, "missing.json")]);
    expect(c.out).toMatch(/--config .*missing\.json: cannot read \(ENOENT\)/);
    // a mapping where a flag's value belongs is named as it is written, not as "[object Object]"
    writeFileSync(join(dir, "d.yaml"), "optimizer:\n  _name: { adam: 1 }\n");
    const d = await run(["train", REF_BIN, "--config", join(dir, "d.yaml")]);
    expect(d.status).toBe(1);
    expect(d.out).toMatch(/--config .*d\.yaml: 'optimizer' takes a value, not \{"adam":1\}/);
  }, 60_000);
});
