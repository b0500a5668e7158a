import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

const here = dirname(fileURLToPath(import.meta.url));

const run = (args: string[]) => runCli(args);

describe("--user-dir: a custom architecture from a user's package, trained through the CLI", () => {
  it("registers and trains transformer_plugin_tiny; without the plugin the arch is unknown", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-plugin-"));
    const lines = Array.from({ length: 64 }, (_, i) => `a${i % 7} b${i % 5} c${i % 3}`);
    for (const l of ["x", "y"]) writeFileSync(join(dir, `train.${l}`), lines.join("\n") + "\n");
    const pre = await run([
      "preprocess",
      "-s",
      "x",
      "-t",
      "y",
      "--trainpref",
      join(dir, "train"),
      "--validpref",
      join(dir, "train"),
      "--destdir",
      join(dir, "bin"),
    ]);
    expect(pre.status, pre.out).toBe(0);
    const common = [
      join(dir, "bin"),
      "--arch",
      "transformer_plugin_tiny",
      "--optimizer",
      "adam",
      "--lr",
      "1e-3",
      "--max-tokens",
      "256",
      "--max-update",
      "2",
      "--save-dir",
      join(dir, "ck"),
      "--log-format",
      "simple",
      "--backend",
      "cpu",
    ];
    const without = await run(["train", ...common]);
    expect(without.status).toBe(1);
    expect(without.out).toMatch(/--arch: unknown architecture 'transformer_plugin_tiny'/);
    const withPlugin = await run(["train", ...common, "--user-dir", join(here, "fixtures/plugin-arch")]);
    expect(withPlugin.status, withPlugin.out).toBe(0);
    expect(withPlugin.out).toMatch(/model: transformer_plugin_tiny/);
    expect(withPlugin.out).toMatch(/done training/);
  }, 120_000);
});
