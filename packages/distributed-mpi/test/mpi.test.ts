import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadMpiBinding } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Environment for mpirun: CI runs as root, which Open MPI refuses unless told. */
const mpiEnv = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", OMPI_MCA_orte_base_help_aggregate: "0" };

function mpirun(np: number, env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(
      "mpirun",
      ["-np", String(np), "--oversubscribe", ...Object.keys(env).flatMap((k) => ["-x", k]), "node", join(here, "fixtures", "collectives.mjs")],
      {
        env: { ...mpiEnv, ...env },
      },
    );
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += String(d)));
    p.stderr.on("data", (d: Buffer) => (err += String(d)));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - t0 });
    });
  });
}

function lines(out: string): Map<number, unknown> {
  const m = new Map<number, unknown>();
  for (const l of out.split("\n")) {
    const x = /^rank (\d+): (.*)$/.exec(l);
    if (x) m.set(Number(x[1]), JSON.parse(x[2]!));
  }
  return m;
}

describe("MPI transport (mpirun on this machine)", () => {
  it("the binding was built here (CI installs openmpi-bin and libopenmpi-dev) and loads", () => {
    const r = loadMpiBinding();
    expect(r.ok, r.ok ? "" : r.reason).toBe(true);
  });

  for (const np of [2, 4]) {
    it(`${np} ranks: allReduce equals the float32 sum in rank order bit for bit on every rank (3M floats + float64 stats); broadcast, allGather, barrier`, async () => {
      const r = await mpirun(np, { SCENARIO: "collectives" });
      expect(r.code, r.err).toBe(0);
      const res = lines(r.out) as Map<number, { mismatches: number; stats: number[]; small: number[]; bcast: number[]; gathered: number[][] }>;
      expect(res.size).toBe(np);
      const ranks = [...Array(np).keys()];
      // float64 stats in rank order: 1+2+...+np, and 0.1·(1+...) summed left to right as the coordinator does
      const stats1 = ranks.reduce((a, k) => a + 0.1 * (k + 1), 0);
      for (const k of ranks) {
        const x = res.get(k)!;
        expect(x.mismatches).toBe(0);
        expect(x.stats).toEqual([(np * (np + 1)) / 2, stats1]);
        expect(x.small).toEqual([(np * (np - 1)) / 2, np, 2 * np]);
        expect(x.bcast).toEqual(Array(5).fill(np - 1));
        expect(x.gathered).toEqual(ranks.map((q) => [q * 10, q]));
      }
    });
  }

  it("a stop asked on one rank is seen by every rank after the same collective", async () => {
    const r = await mpirun(2, { SCENARIO: "stop" });
    expect(r.code, r.err).toBe(0);
    for (const x of lines(r.out).values()) expect(x).toEqual({ seen: [false, true, true, true] });
  });

  it("a hung rank: every other rank names it within the timeout and the job stops (MPI_Abort)", async () => {
    const r = await mpirun(3, { SCENARIO: "hang", TIMEOUT_MS: "2000" });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/rank 1 did not reach collective #2 \(allReduce\) within 2 s of rank [02]: hung, dead or far too slow \(--heartbeat-timeout\)/);
    expect(r.out).not.toMatch(/must not get here/);
    expect(r.ms).toBeLessThan(30_000);
  });

  it("a rank that fails stops the job with its message; diverging programs are named", async () => {
    const f = await mpirun(2, { SCENARIO: "fail" });
    expect(f.code).not.toBe(0);
    expect(f.err).toMatch(/rank 1 \(.*pid \d+\) failed: checkpoint_last.safetensors: disk full; stopping all ranks/);
    expect(f.out).not.toMatch(/must not get here/);
    const d = await mpirun(2, { SCENARIO: "diverge" });
    expect(d.code).not.toBe(0);
    expect(d.err).toMatch(/the ranks' programs diverged/);
  });
});
