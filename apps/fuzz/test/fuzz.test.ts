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
    const report = await runFuzz(targets, {
      seconds: 27,
      seed: 20261124,
      slowMs: 2000,
      minIterations: 100,
      crashDir: mkdtempSync(join(tmpdir(), "fsts-fuzz-")),
    }).finally(() => {
      for (const t of targets) t.dispose?.();
    });
    // every target ran: at least minIterations inputs each, however busy the machine (a CI run with
    // parallel test tasks once starved the --config slice to 12 inputs in its 2.7 s; ~6000 when quiet)
    for (const t of targets) expect(report.iterations[t.name], t.name).toBeGreaterThanOrEqual(100);
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
    // a slice with no time left still runs minIterations inputs
    const quiet = await runFuzz([{ ...broken, name: "fine", allowed: () => true }], { seconds: 0, seed: 7, minIterations: 25 });
    expect(quiet).toEqual({ iterations: { fine: 25 }, findings: [] });
  });
});
