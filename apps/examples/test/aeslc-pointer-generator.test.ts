import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runPointerGenerator } from "../src/recipes/aeslc/pointer-generator.js";

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(here, "../../../../shared");
const cli = join(here, "../../../packages/cli/dist/bin.js");

describe("AESLC with the pointer-generator (pipeline check with tiny settings on the first lines of each split)", () => {
  it("returns one lowercase detokenized subject per test line, with copied source words put back", async () => {
    const raw = mkdtempSync(join(tmpdir(), "fsts-aeslc-pg-raw-"));
    const counts = { train: 300, valid: 20, test: 12 } as const;
    for (const [split, n] of Object.entries(counts)) {
      for (const side of ["src", "tgt"]) {
        const lines = readFileSync(join(SHARED, `data/aeslc/${split}.${side}`), "utf8")
          .split("\n")
          .slice(0, n);
        writeFileSync(join(raw, `${split}.${side}`), lines.join("\n") + "\n");
      }
    }
    const work = mkdtempSync(join(tmpdir(), "fsts-aeslc-pg-"));
    const hyps = await runPointerGenerator({ raw, work, cli, tiny: true, maxUpdate: 12 });
    expect(hyps).toHaveLength(counts.test);
    for (const h of hyps) {
      expect(h).toBe(h.toLowerCase());
      expect(h).not.toMatch(/<unk-\d+>/);
    }
    // the tiny vocabulary leaves most words of these 300 emails out: the sources carry markers, and a marker in a
    // hypothesis came back as a source word
    const src = readFileSync(join(work, "text/test.pg.src"), "utf8");
    expect(src).toMatch(/<unk-\d+>/);
    expect(readFileSync(join(work, "test.hyp"), "utf8").trim().split("\n")).toEqual(hyps);
  });
});
