import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { initBackend } from "@fairseq-ts/backend";
import { readCheckpointFile } from "@fairseq-ts/trainer";
import { REF_BIN, TINY_TRANSFORMER_FLAGS } from "./shared.js";

const run = (args: string[], env: Record<string, string> = {}, onLine?: (line: string, pid: number) => void) => runCli(args, { env, onLine });

const trainArgs = (saveDir: string, maxUpdate: number) => [
  "train",
  REF_BIN,
  ...TINY_TRANSFORMER_FLAGS,
  ...["--dropout", "0", "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--lr", "0.001", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "10"],
  ..."--criterion label_smoothed_cross_entropy --label-smoothing 0.1 --max-tokens 1000 --log-format simple --log-interval 2 --no-epoch-checkpoints".split(" "),
  ...["--max-update", String(maxUpdate), "--save-dir", saveDir],
];

async function weights(path: string): Promise<Map<string, Float32Array>> {
  const ck = await readCheckpointFile(path);
  return new Map([...ck.model].map(([k, t]) => [k, new Float32Array(Uint8Array.from(t.data).buffer)]));
}

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

const epochLine = (out: string) =>
  out
    .split("\n")
    .find((l) => l.includes("| train | epoch"))!
    .replace(/ \| (wps|ups|train_wall|wall) [\d.]+/g, "")
    .replace(/^.*\| train \|/, "");

describe("fairseq-ts train --distributed-world-size (node cluster)", () => {
  it("2 workers = 1 process with --update-freq 2: same weights (bitwise for whole batches with the same kernels, <= 1e-5 otherwise), same logs", async () => {
    await initBackend({ backend: "cpu", log: null });
    const dir = mkdtempSync(join(tmpdir(), "fsts-dist-"));
    const plain = { FAIRSEQ_TS_NATIVE: "0" };
    const one = await run([...trainArgs(join(dir, "uf2"), 6), "--update-freq", "2"], plain);
    expect(one.status, one.out).toBe(0);
    // fairseq's sharding (default): each worker trains on one whole batch of the pair
    const whole = await run([...trainArgs(join(dir, "ws2w"), 6), "--distributed-world-size", "2"], plain);
    expect(whole.status, whole.out).toBe(0);
    expect(whole.out).toMatch(/distributed training on 2 workers/);
    expect(whole.out).toMatch(/distributed: \d+ collectives, [\d.]+ MB sent by rank 0, [\d.]+ ms in communication per update/);
    // only rank 0 logs: one epoch summary line
    expect(whole.out.split("\n").filter((l) => l.includes("| train | epoch")).length).toBe(1);
    expect(epochLine(whole.out)).toBe(epochLine(one.out));
    const uf2 = await weights(join(dir, "uf2/checkpoint_last.safetensors"));
    expect(maxAbsDiff(uf2, await weights(join(dir, "ws2w/checkpoint_last.safetensors")))).toBe(0);
    // --distributed-split-batches: both workers read both batches and divide their micro-batches (here
    // of <= 300 tokens) between them. The same sentences per update, summed in another grouping:
    // equal up to float rounding; the logged sums (wpb, bsz, ...) show each sentence counted once.
    const split = await run(
      [...trainArgs(join(dir, "ws2"), 6), "--distributed-world-size", "2", "--distributed-split-batches", "--micro-batch-tokens", "300"],
      plain,
    );
    expect(split.status, split.out).toBe(0);
    const splitDiff = maxAbsDiff(uf2, await weights(join(dir, "ws2/checkpoint_last.safetensors")));
    expect(splitDiff).toBeGreaterThan(0); // the split did happen
    expect(splitDiff).toBeLessThanOrEqual(1e-5);
    const values = (line: string) => Object.fromEntries([...line.matchAll(/(\w+) ([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
    const [a, b] = [values(epochLine(one.out)), values(epochLine(split.out))];
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(Math.abs(a[k]! - b[k]!), k).toBeLessThanOrEqual(0.0011);
    // Default kernels: the native BLAS runs with each worker's share of the threads, which changes
    // float summation order a little, not more.
    const nat1 = await run([...trainArgs(join(dir, "nuf2"), 6), "--update-freq", "2"]);
    const nat2 = await run([...trainArgs(join(dir, "nws2"), 6), "--distributed-world-size", "2"]);
    expect(nat1.status, nat1.out).toBe(0);
    expect(nat2.status, nat2.out).toBe(0);
    expect(
      maxAbsDiff(await weights(join(dir, "nuf2/checkpoint_last.safetensors")), await weights(join(dir, "nws2/checkpoint_last.safetensors"))),
    ).toBeLessThanOrEqual(1e-5);
  }, 300_000);

  it("a killed worker stops the run naming its rank; checkpoints stay loadable; rerunning resumes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-dist-kill-"));
    const save = join(dir, "ck");
    let killed = 0;
    const args = [...trainArgs(save, 40), "--distributed-world-size", "2", "--save-interval-updates", "4"];
    const first = await run(args, {}, (line, pid) => {
      if (killed === 0 && /saved checkpoint .* @ 8 updates/.test(line)) {
        const kids = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
          .trim()
          .split("\n")
          .map(Number);
        // the second forked worker is rank 1
        killed = kids.sort((a, b) => a - b)[1]!;
        process.kill(killed, "SIGKILL");
      }
    });
    expect(killed).toBeGreaterThan(0);
    expect(first.status).toBe(1);
    expect(first.out).toContain(`rank 1 (pid ${killed}) was killed by SIGKILL`);
    const last = join(save, "checkpoint_last.safetensors");
    expect(existsSync(last)).toBe(true);
    const ck = await readCheckpointFile(last);
    expect(ck.meta.numUpdates).toBeGreaterThanOrEqual(8);
    const again = await run(args);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toMatch(/loaded checkpoint .*checkpoint_last\.safetensors \(epoch 1 @ \d+ updates\)/);
    expect(again.out).toMatch(/num_updates 40/);
  }, 240_000);

  // Fault injection at a seeded-random point (FAIRSEQ_TS_FAULT_SEED replays or varies it): which rank, which update.
  const faultSeed = Number(process.env.FAIRSEQ_TS_FAULT_SEED ?? 20261201);
  const faultRng = (k: number) => {
    let a = (faultSeed + k * 0x9e3779b9) >>> 0;
    a = Math.imul(a ^ (a >>> 16), 0x45d9f3b) >>> 0;
    return (Math.imul(a ^ (a >>> 16), 0x45d9f3b) >>> 0) / 4294967296;
  };
  /** Every checkpoint file in `save` loads; returns their update counts by name. */
  const allCheckpointsLoad = async (save: string) => {
    const files = readdirSync(save).filter((f) => f.endsWith(".safetensors"));
    const updates: Record<string, number> = {};
    for (const f of files) updates[f] = (await readCheckpointFile(join(save, f))).meta.numUpdates;
    return updates;
  };
  /** The forked workers of the launcher `pid`, by rank (cluster forks rank 0 first). */
  const workerPids = (pid: number) =>
    execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map(Number)
      .sort((a, b) => a - b);

  it("SIGKILL of a random rank at a random update between saves: the error names rank and signal, every checkpoint loads, rerunning finishes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-dist-rkill-"));
    const save = join(dir, "ck");
    const rank = faultRng(1) < 0.5 ? 0 : 1;
    const at = 5 + Math.floor(faultRng(2) * 7); // 5..11: after the first save (4), never on a save point's line
    let killed = 0;
    const args = [...trainArgs(save, 16), "--distributed-world-size", "2", "--save-interval-updates", "4", "--log-interval", "1"];
    const first = await run(args, {}, (line, pid) => {
      if (killed === 0 && new RegExp(`num_updates=${at},`).test(line)) {
        killed = workerPids(pid)[rank]!;
        process.kill(killed, "SIGKILL");
      }
    });
    expect(killed, `seed ${faultSeed}: rank ${rank} at update ${at}`).toBeGreaterThan(0);
    expect(first.status).toBe(1);
    expect(first.out).toContain(`rank ${rank} (pid ${killed}) was killed by SIGKILL`);
    const updates = await allCheckpointsLoad(save);
    expect(updates["checkpoint_last.safetensors"]).toBeGreaterThanOrEqual(4);
    expect(updates["checkpoint_last.safetensors"]).toBeLessThanOrEqual(at + 1);
    expect(updates["checkpoint_1_4.safetensors"]).toBe(4);
    const again = await run(args);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toMatch(
      new RegExp(`loaded checkpoint .*checkpoint_last\\.safetensors \\(epoch 1 @ ${updates["checkpoint_last.safetensors"]} updates\\)`),
    );
    expect(again.out).toMatch(/num_updates 16/);
    expect((await allCheckpointsLoad(save))["checkpoint_last.safetensors"]).toBe(16);
  }, 240_000);

  it("a worker stalled (SIGSTOP) past --heartbeat-timeout: the run stops naming the rank and the timeout, checkpoints load, rerunning finishes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-dist-stall-"));
    const save = join(dir, "ck");
    const rank = faultRng(3) < 0.5 ? 0 : 1;
    let stopped = 0;
    const args = [...trainArgs(save, 16), "--distributed-world-size", "2", "--save-interval-updates", "4", "--heartbeat-timeout", "3"];
    const t0 = Date.now();
    let stoppedAt = 0;
    try {
      const first = await run(args, {}, (line, pid) => {
        if (stopped === 0 && /saved checkpoint .* @ 4 updates/.test(line)) {
          stopped = workerPids(pid)[rank]!;
          stoppedAt = Date.now();
          process.kill(stopped, "SIGSTOP");
        }
      });
      expect(stopped, `seed ${faultSeed}: rank ${rank}`).toBeGreaterThan(0);
      expect(first.status).toBe(1);
      expect(first.out).toMatch(
        new RegExp(`rank ${rank} did not reach collective #\\d+ \\([\\w-]+\\) within 3 s of rank ${1 - rank}: hung or far too slow \\(--heartbeat-timeout\\)`),
      );
      // stopped: the timeout, then SIGTERM (held while stopped) and SIGKILL 5 s later; not the 30 min default
      expect(Date.now() - stoppedAt).toBeLessThan(60_000);
      expect(Date.now() - t0).toBeLessThan(200_000);
    } finally {
      // never leave a stopped process behind, whatever failed above
      if (stopped) {
        try {
          process.kill(stopped, "SIGKILL");
        } catch {
          // already gone (the coordinator killed it)
        }
      }
    }
    const updates = await allCheckpointsLoad(save);
    expect(updates["checkpoint_last.safetensors"]).toBe(4);
    // the rerun keeps the default timeout: with 3 s, rank 0 writing a checkpoint on a loaded CI machine can
    // itself exceed it while rank 1 waits at the next collective
    const again = await run(args.filter((a, i) => a !== "--heartbeat-timeout" && args[i - 1] !== "--heartbeat-timeout"));
    expect(again.status, again.out).toBe(0);
    expect(again.out).toMatch(/loaded checkpoint .*checkpoint_last\.safetensors \(epoch 1 @ 4 updates\)/);
    expect(again.out).toMatch(/num_updates 16/);
  }, 240_000);

  it("Ctrl-C stops both workers after the same update and saves checkpoint_last", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-dist-int-"));
    const save = join(dir, "ck");
    let sent = false;
    const r = await run([...trainArgs(save, 60), "--distributed-world-size", "2", "--log-interval", "1"], {}, (line, pid) => {
      if (!sent && /num_updates=3,/.test(line)) {
        sent = true;
        process.kill(pid, "SIGINT");
      }
    });
    expect(sent).toBe(true);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Ctrl-C: every worker stops after the current update/);
    const ck = await readCheckpointFile(join(save, "checkpoint_last.safetensors"));
    expect(ck.meta.numUpdates).toBeGreaterThanOrEqual(3);
    expect(ck.meta.numUpdates).toBeLessThan(1000);
  }, 240_000);
});
