import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { mutate, prng, runFuzz } from "../src/fuzz.js";
import { fuzzTargets } from "../src/targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(here, "../../../../shared");

describe("fuzzing the readers (a short, seeded run; `pnpm fuzz --seconds N` for long ones)", () => {
  it("every reader either parses a mutated file or throws its own error, quickly", async () => {
    const targets = fuzzTargets(SHARED);
    const report = await runFuzz(targets, { seconds: 27, seed: 20261124, slowMs: 2000, crashDir: mkdtempSync(join(tmpdir(), "fsts-fuzz-")) }).finally(() => {
      for (const t of targets) t.dispose?.();
    });
    // a floor that still proves every target ran (a CI machine at load ~12 managed 175 for the slowest in 21 s; ~1000 when quiet)
    for (const t of targets) expect(report.iterations[t.name], t.name).toBeGreaterThan(100);
    expect(report.findings).toEqual([]);
  }, 120_000);

  it("the harness itself: reports an engine error with the input saved, and replays by seed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-fuzz-self-"));
    const seed = new TextEncoder().encode("abcdefgh");
    const broken = {
      name: "broken",
      seeds: [seed],
      read: (b: Uint8Array) => {
        if (b.length < 8) throw new TypeError("short input not handled");
      },
      allowed: () => false,
    };
    const report = await runFuzz([broken], { seconds: 0.5, seed: 7, crashDir: dir });
    expect(report.findings.length).toBeGreaterThan(0);
    const f = report.findings[0]!;
    expect(f.message).toBe("TypeError: short input not handled");
    expect(existsSync(f.file!)).toBe(true);
    expect(readFileSync(f.file!).length).toBeLessThan(8);
    // deterministic: the same seed gives the same mutations
    const a = prng(3);
    const b = prng(3);
    expect(Array.from(mutate(seed, a))).toEqual(Array.from(mutate(seed, b)));
  });
});
