import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = join(here, "../node_modules/.bin/tsx");
const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(here, "../../../../shared");
const R = join(SHARED, "reference/fairseq/multi30k-de-en");

function example(script: string, args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const p = spawn(tsx, [join(here, "../src/library", script), ...args]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += String(d)));
    p.stderr.on("data", (d) => (err += String(d)));
    p.on("close", (status) => done({ status, out, err }));
  });
}

describe("library examples (no CLI)", () => {
  it("data-only: dictionary + .bin/.idx + batches with just @fairseq-ts/dictionary and @fairseq-ts/data", async () => {
    const out = mkdtempSync(join(tmpdir(), "fsts-lib-data-"));
    const text = join(SHARED, "data/multi30k/test.de");
    const r = await example("data-only.ts", [text, out]);
    expect(r.status, r.err).toBe(0);
    const res = JSON.parse(r.out.trim().split("\n").pop()!) as { lines: number; vocabulary: number; tokens: number; batches: number; firstLine: string };
    const lines = readFileSync(text, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const words = lines.map((l) => l.split(/\s+/).filter(Boolean));
    expect(res.lines).toBe(lines.length);
    expect(res.tokens).toBe(words.reduce((a, w) => a + w.length + 1, 0)); // + eos per line
    expect(res.vocabulary).toBe(Math.ceil((4 + new Set(words.flat()).size) / 8) * 8); // specials + words, padded to 8
    expect(res.firstLine).toBe(lines[0]);
    expect(res.batches).toBeGreaterThanOrEqual(Math.ceil(res.tokens / 1024));
    for (const f of ["dict.txt", "train.bin", "train.idx"]) expect(existsSync(join(out, f))).toBe(true);
  }, 60_000);

  it("hub: fromPretrained(fairseq .pt).translate / score / sample on raw text", async () => {
    const r = await example("hub.ts", [join(R, "model.pt"), join(R, "bin"), "zwei männer sitzen in einem restaurant.", "--tokenizer", "moses"]);
    expect(r.status, r.err).toBe(0);
    const res = JSON.parse(r.out.trim().split("\n").pop()!) as { translation: string; score: number; sample: string };
    const ref = readFileSync(join(R, "gen-beam5.txt"), "utf8");
    const h = /^H-592\t(\S+)\t(.*)$/m.exec(ref)!;
    expect(res.translation).toBe(h[2]!.replace(/ \.$/, "."));
    expect(res.score).toBeCloseTo(Number(h[1]) * Math.LN2, 3); // fairseq prints base 2
    expect(typeof res.sample).toBe("string");
  }, 60_000);
});
