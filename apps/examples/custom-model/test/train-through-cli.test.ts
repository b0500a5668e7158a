import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readCheckpointFile } from "@fairseq-ts/trainer";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const BIN = join(pkg, "node_modules/@fairseq-ts/cli/dist/bin.js");

function run(args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args]);
    let out = "";
    p.stdout.on("data", (d) => (out += String(d)));
    p.stderr.on("data", (d) => (out += String(d)));
    p.on("close", (status) => resolve({ status, out }));
  });
}

describe("a custom model package, trained through the CLI with --user-dir", () => {
  it.each(["transformer_pocket", "lstm_pocket"])("%s: unknown without the package; trains, saves its args and translates with it", async (arch) => {
    const dir = mkdtempSync(join(tmpdir(), `fsts-${arch}-`));
    // a toy task: copy three-word sentences
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`);
    const lines = Array.from({ length: 200 }, (_, i) => [words[i % 12], words[(i * 5) % 12], words[(i * 7) % 12]].join(" "));
    for (const l of ["src", "tgt"]) {
      writeFileSync(join(dir, `train.${l}`), lines.join("\n") + "\n");
      writeFileSync(join(dir, `valid.${l}`), lines.slice(0, 20).join("\n") + "\n");
    }
    const pre = await run([
      "preprocess",
      "-s",
      "src",
      "-t",
      "tgt",
      "--trainpref",
      join(dir, "train"),
      "--validpref",
      join(dir, "valid"),
      "--destdir",
      join(dir, "bin"),
    ]);
    expect(pre.status, pre.out).toBe(0);
    const common = [
      join(dir, "bin"),
      "--arch",
      arch,
      "--optimizer",
      "adam",
      "--lr",
      "0.005",
      "--max-tokens",
      "400",
      "--max-update",
      "15",
      "--save-dir",
      join(dir, "ck"),
      "--log-format",
      "simple",
      "--log-interval",
      "5",
      "--no-epoch-checkpoints",
      "--backend",
      "cpu",
    ];
    const without = await run(["train", ...common]);
    expect(without.status).toBe(1);
    expect(without.out).toMatch(new RegExp(`--arch: unknown architecture '${arch}'`));
    const train = await run(["train", ...common, "--user-dir", pkg]);
    expect(train.status, train.out).toBe(0);
    const losses = [...train.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const ck = await readCheckpointFile(join(dir, "ck/checkpoint_last.safetensors"));
    expect(ck.meta.args.arch).toBe(arch);
    const gen = await run([
      "generate",
      join(dir, "bin"),
      "--path",
      join(dir, "ck/checkpoint_last.safetensors"),
      "--gen-subset",
      "valid",
      "--batch-size",
      "20",
      "--user-dir",
      pkg,
      "--max-len-b",
      "6",
      "--backend",
      "cpu",
    ]);
    expect(gen.status, gen.out).toBe(0);
    expect(gen.out.split("\n").filter((l) => l.startsWith("H-")).length).toBe(20);
  });
});
