import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const pnpm = ["-y", "pnpm@9.15.9"];
// Asynchronous: a minute-long blocking call starves vitest's worker messages ("Timeout calling onTaskUpdate").
const run = async (cmd: string, args: string[], cwd?: string) => (await promisify(execFile)(cmd, args, { cwd, encoding: "utf8", maxBuffer: 1 << 26 })).stdout;

/**
 * Release check: every package packs with only dist (ESM, CJS, types), README and LICENSE, and a
 * package installed from its tarball into an empty project (with the tarballs of its @fairseq-ts
 * dependencies, as the registry would provide them) imports in both module systems.
 */
describe("packaging", () => {
  it("tarballs hold dist + README + LICENSE; @fairseq-ts/data and @fairseq-ts/tokenizers install alone and import (ESM and CJS)", async () => {
    const packs = mkdtempSync(join(tmpdir(), "fsts-packs-"));
    const pkgs = readdirSync(join(root, "packages"));
    for (const p of pkgs) {
      // pnpm pack rewrites workspace:* to the real versions, as publishing does
      await run("npx", [...pnpm, "pack", "--pack-destination", packs], join(root, "packages", p));
    }
    const tarballs = readdirSync(packs);
    expect(tarballs.length).toBe(pkgs.length);
    for (const t of tarballs) {
      const files = (await run("tar", ["-tzf", join(packs, t)]))
        .trim()
        .split("\n")
        .map((f) => f.replace(/^package\//, ""));
      for (const f of files) expect(f, `${t}: ${f}`).toMatch(/^(dist\/|README\.md$|LICENSE$|package\.json$|native\/|scripts\/|build\/)/);
      expect(files, t).toContain("README.md");
      expect(files, t).toContain("LICENSE");
      expect(
        files.some((f) => f.endsWith(".d.ts")),
        t,
      ).toBe(true);
      expect(
        files.some((f) => f.endsWith(".map")),
        `${t} ships source maps`,
      ).toBe(false);
    }
    const tgz = (name: string) =>
      join(
        packs,
        tarballs.find((t) => t.startsWith(`fairseq-ts-${name}-`))!,
      );
    const app = mkdtempSync(join(tmpdir(), "fsts-consumer-"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    // data needs dictionary, logging, runtime and config (its option declarations), tokenizers needs config: the
    // registry would serve them; here their tarballs do
    await run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        tgz("data"),
        tgz("dictionary"),
        tgz("logging"),
        tgz("runtime"),
        tgz("config"),
        tgz("tokenizers"),
      ],
      app,
    );
    writeFileSync(
      join(app, "esm.mjs"),
      'import { Dictionary } from "@fairseq-ts/dictionary"; import { batchBySize } from "@fairseq-ts/data"; import { buildTokenizer } from "@fairseq-ts/tokenizers";\n' +
        'const d = new Dictionary(); d.addSymbol("hallo"); console.log(d.length, batchBySize(Int32Array.from([0, 1, 2]), () => 3, { maxTokens: 6 }).length, buildTokenizer("moses", {}).encode("Hi, there."));\n',
    );
    writeFileSync(
      join(app, "cjs.cjs"),
      'const { Dictionary } = require("@fairseq-ts/dictionary"); const { RandomState } = require("@fairseq-ts/data"); console.log(new Dictionary().length, new RandomState(1).randint(0, 10));\n',
    );
    expect((await run("node", ["esm.mjs"], app)).trim()).toBe("5 2 Hi , there .");
    expect((await run("node", ["cjs.cjs"], app)).trim()).toMatch(/^4 \d$/);
  }, 300_000);
});
