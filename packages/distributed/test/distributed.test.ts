import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { workerExecArgv } from "../src/coordinator.js";
import { LocalProcessGroup, weightsChecksum } from "../src/index.js";

const RUN = join(dirname(fileURLToPath(import.meta.url)), "fixtures/run.mjs");

function launch(scenario: string, env: Record<string, string> = {}, onStdout?: (line: string, kill: (sig: NodeJS.Signals) => void) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [RUN], { env: { ...process.env, SCENARIO: scenario, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => {
      const s = d.toString();
      stdout += s;
      for (const line of s.split("\n")) if (line) onStdout?.(line, (sig) => p.kill(sig));
    });
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("cluster process group", () => {
  it("allReduce sums in rank order (identical to float32 accumulation) across chunks; broadcast, allGather, barrier", async () => {
    for (const [world, transport] of [
      [2, "shm"],
      [3, "shm"],
      [2, "sockets"],
      [3, "sockets"],
      [2, "coordinator"],
      [3, "coordinator"],
    ] as const) {
      const r = await launch("collectives", { WORLD: String(world), FAIRSEQ_TS_TRANSPORT: transport });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const lines = r.stdout.split("\n").filter((l) => l.startsWith("rank "));
      expect(lines).toHaveLength(world);
      for (const line of lines) {
        const res = JSON.parse(line.slice(line.indexOf(":") + 1));
        expect(res.maxErr).toBe(0);
        const n = world;
        expect(res.stats[0]).toBe((n * (n + 1)) / 2);
        expect(res.stats[1]).toBeCloseTo((0.1 * n * (n + 1)) / 2, 12);
        expect(res.bcast).toEqual(new Array(5).fill(world - 1));
        expect(res.gathered).toEqual([...Array(world).keys()].map((k) => k * 10));
        expect(res.comm.collectives).toBe(4);
        expect(res.comm.bytesSent).toBeGreaterThan(3_000_001 * 4);
        expect(res.execArgv).toContain("--initial-old-space-size=256"); // workerExecArgv reached the worker
      }
      expect(r.stdout).toContain("coordinator: ok");
    }
  });

  it.each([
    ["hang (direct links)", /rank 1 did not reach collective #2 \(allReduce\) within 1\.5 s of rank 0/],
    ["hang (shared memory)", /rank 1 did not reach collective #2 \(allReduce\) within 1\.5 s of rank 0/],
    ["die", /rank 1 \(pid \d+\) exited with code 3/],
    ["kill", /rank 1 \(pid \d+\) was killed by SIGKILL/],
    ["fail", /rank 1 failed: checkpoint_last\.pt: disk full/],
    ["hang", /rank 1 did not reach collective #2 \(allReduce\) within 1\.5 s of rank 0/],
    ["shm gone", /rank \d failed: rank \d: shared-memory allReduce: \S+\.bin: ENOENT.*FAIRSEQ_TS_TRANSPORT=coordinator/],
    ["diverge", /collective #2: rank \d called (allReduce|barrier) .* but another rank called (allReduce|barrier) .*diverged/],
  ])("a worker that does '%s' stops the run with an error naming rank and cause", async (scenario, re) => {
    const transport = scenario.includes("direct") ? "sockets" : scenario.includes("shared") || scenario.includes("shm") ? "shm" : "coordinator";
    const r = await launch(scenario, { TIMEOUT_MS: "1500", FAIRSEQ_TS_TRANSPORT: transport });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(re);
    expect(r.stdout).not.toContain("must not get here");
  });

  it("Ctrl-C (SIGINT to the launcher) stops every rank after the same collective", async () => {
    let sent = false;
    const r = await launch("sigint", {}, (line, kill) => {
      if (!sent && line.includes("ready")) {
        sent = true;
        kill("SIGINT");
      }
    });
    expect(r.code).toBe(0);
    const stops = [...r.stdout.matchAll(/rank (\d): stopped at (\d+)/g)].map((m) => Number(m[2]));
    expect(stops).toHaveLength(2);
    expect(stops[0]).toBe(stops[1]);
    expect(r.stderr).toMatch(/Ctrl-C: every worker stops/);
  });
});

describe("workerExecArgv", () => {
  it("adds a 256 MB initial old space (fewer full GCs for lockstep ranks to wait on) unless the user set the heap", () => {
    expect(workerExecArgv(["--enable-source-maps"])).toEqual(["--enable-source-maps", "--initial-old-space-size=256"]);
    expect(workerExecArgv(["--initial-old-space-size=64"])).toEqual(["--initial-old-space-size=64"]);
    expect(workerExecArgv(["--initial-heap-size=100"])).toEqual(["--initial-heap-size=100"]);
  });
});

describe("LocalProcessGroup and weightsChecksum", () => {
  it("world size 1 collectives are identities", async () => {
    const pg = new LocalProcessGroup();
    const b = Float32Array.from([1, 2]);
    await pg.allReduce([b]);
    expect(Array.from(b)).toEqual([1, 2]);
    expect((await pg.allGather(Float64Array.from([7])))[0]![0]).toBe(7);
  });
  it("checksum: FNV-1a of the float bits (hand-checked value); any bit flip changes it", () => {
    // FNV-1a 32 over one word 0 then word 0x3f800000 (1.0f), computed by hand with 32-bit arithmetic.
    let h = 0x811c9dc5;
    for (const w of [0, 0x3f800000]) h = Math.imul(h ^ w, 0x01000193) >>> 0;
    expect(weightsChecksum([Float32Array.from([0, 1])])).toBe(h);
    const a = Float32Array.from([0.1, 0.2, 0.3]);
    const base = weightsChecksum([a]);
    const b = a.slice();
    new Uint32Array(b.buffer)[1]! ^= 1;
    expect(weightsChecksum([b])).not.toBe(base);
    expect(weightsChecksum([a.subarray(0, 1), a.subarray(1)])).toBe(base);
  });
});
