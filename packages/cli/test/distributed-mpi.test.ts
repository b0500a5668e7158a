import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "@fairseq-ts/trainer";
import { BIN, runCli } from "./cli.js";
import { REF_BIN, TINY_TRANSFORMER_FLAGS } from "./shared.js";

// Open MPI refuses root unless told (CI runs as root); the same kernels everywhere (wasm, no native BLAS threads).
const MPI_ENV = { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", FAIRSEQ_TS_NATIVE: "0" };

const trainArgs = (saveDir: string, maxUpdate: number) => [
  "train",
  REF_BIN,
  ...TINY_TRANSFORMER_FLAGS,
  ...["--dropout", "0", "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--lr", "0.001", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "10"],
  ..."--criterion label_smoothed_cross_entropy --label-smoothing 0.1 --max-tokens 1000 --log-format simple --log-interval 1 --no-epoch-checkpoints --disable-validation".split(
    " ",
  ),
  ...["--max-update", String(maxUpdate), "--save-dir", saveDir],
];

interface Run {
  status: number | null;
  out: string;
}

/**
 * `mpirun -np N fairseq-ts ARGS` (ranks oversubscribe the 2 cores); `onLine` sees the output and mpirun's pid.
 * `launcher` runs mpirun itself through another command (`ip netns exec NS`) with extra mpirun options.
 */
function mpirun(
  np: number,
  args: string[],
  onLine?: (line: string, mpirunPid: number) => void,
  launcher: { prefix: string[]; options: string[] } = { prefix: [], options: [] },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const cmd = [
      ...launcher.prefix,
      "mpirun",
      "-np",
      String(np),
      "--oversubscribe",
      ...launcher.options,
      "-x",
      "FAIRSEQ_TS_NATIVE",
      process.execPath,
      BIN,
      ...args,
    ];
    const p = spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...MPI_ENV } });
    let out = "";
    const take = (d: Buffer) => {
      const s = String(d);
      out += s;
      if (onLine) for (const l of s.split("\n")) if (l) onLine(l, p.pid!);
    };
    p.stdout.on("data", take);
    p.stderr.on("data", take);
    p.on("error", reject);
    p.on("close", (status) => resolve({ status, out }));
  });
}

/** One process with --update-freq N, 2 updates: the reference of the N-rank runs (computed once per N for this file). */
const baselines = new Map<number, Promise<{ out: string; checkpoint: string }>>();
function updateFreqBaseline(n: number): Promise<{ out: string; checkpoint: string }> {
  if (!baselines.has(n)) {
    const dir = mkdtempSync(join(tmpdir(), `fsts-mpi-uf${n}-`));
    baselines.set(
      n,
      runCli([...trainArgs(dir, 2), "--update-freq", String(n)], { env: MPI_ENV }).then((r) => {
        if (r.status !== 0) throw new Error(`--update-freq ${n} run failed:\n${r.out}`);
        return { out: r.out, checkpoint: join(dir, "checkpoint_last.safetensors") };
      }),
    );
  }
  return baselines.get(n)!;
}

async function weightBytes(path: string): Promise<Map<string, Uint8Array>> {
  const ck = await readCheckpointFile(path);
  return new Map([...ck.model].map(([k, t]) => [k, Uint8Array.from(t.data)]));
}

const epochLine = (out: string) =>
  out
    .split("\n")
    .find((l) => l.includes("| train | epoch"))!
    .replace(/ \| (wps|ups|train_wall|wall) [\d.]+/g, "")
    .replace(/^.*\| train \|/, "");

/** The pid of MPI rank `rank` among mpirun's children (Open MPI puts the rank in each one's environment). */
function rankPid(mpirunPid: number, rank: number): number | null {
  const kids = readFileSync(`/proc/${mpirunPid}/task/${mpirunPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  for (const pid of kids) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`OMPI_COMM_WORLD_RANK=${rank}`)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

describe("fairseq-ts train under mpirun (--distributed-backend mpi, chosen from the launcher's environment)", () => {
  for (const np of [2, 4]) {
    it(`mpirun -np ${np} = 1 process with --update-freq ${np}: identical weights, bit for bit, and the same epoch line`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "fsts-mpi-"));
      const one = await updateFreqBaseline(np);
      const mpi = await mpirun(np, trainArgs(join(dir, "mpi"), 2));
      expect(mpi.status, mpi.out).toBe(0);
      expect(mpi.out).toMatch(new RegExp(`distributed training on ${np} workers \\(MPI\\), rank 0 logs and saves`));
      // only rank 0 logs
      expect(mpi.out.split("\n").filter((l) => l.includes("| train | epoch")).length).toBe(1);
      expect(epochLine(mpi.out)).toBe(epochLine(one.out));
      const [a, b] = [await weightBytes(one.checkpoint), await weightBytes(join(dir, "mpi/checkpoint_last.safetensors"))];
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, x] of a) expect(Buffer.compare(Buffer.from(x), Buffer.from(b.get(k)!)), k).toBe(0);
    }, 240_000);
  }

  it("a killed rank stops the job naming it; checkpoints stay loadable; rerunning resumes and finishes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-mpi-kill-"));
    const save = join(dir, "ck");
    const args = [...trainArgs(save, 6), "--save-interval-updates", "2"];
    let killed: number | null = null;
    const first = await mpirun(2, args, (line, pid) => {
      if (killed === null && /saved checkpoint .* @ 2 updates/.test(line)) {
        killed = rankPid(pid, 1);
        if (killed) process.kill(killed, "SIGKILL");
      }
    });
    expect(killed).not.toBeNull();
    expect(first.status).not.toBe(0);
    // Open MPI's launcher names the rank that died (and kills the others)
    expect(first.out).toMatch(/process rank 1 with PID \d+ on node \S+ exited on signal 9 \(Killed\)/);
    expect(first.out).not.toMatch(/num_updates 6/);
    const last = join(save, "checkpoint_last.safetensors");
    expect(existsSync(last)).toBe(true);
    const ck = await readCheckpointFile(last);
    expect(ck.meta.numUpdates).toBeGreaterThanOrEqual(2);
    const again = await mpirun(2, args);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toMatch(/loaded checkpoint .*checkpoint_last\.safetensors \(epoch 1 @ \d+ updates\)/);
    expect(again.out).toMatch(/num_updates 6/);
  }, 240_000);

  it("a hung rank (SIGSTOP) stops every rank within --heartbeat-timeout, naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-mpi-hang-"));
    let stopped: number | null = null;
    const t0 = Date.now();
    let stoppedAt = 0;
    const r = await mpirun(2, [...trainArgs(join(dir, "ck"), 50), "--heartbeat-timeout", "3"], (line, pid) => {
      if (stopped === null && /num_updates=1\b/.test(line)) {
        stopped = rankPid(pid, 1);
        stoppedAt = Date.now();
        if (stopped) process.kill(stopped, "SIGSTOP");
      }
    });
    expect(stopped).not.toBeNull();
    expect(r.status).not.toBe(0);
    // (the collective it missed: the update's gradient allReduce, or the replica check's allGather after it)
    expect(r.out).toMatch(
      /fairseq-ts distributed: rank 1 did not reach collective #\d+ \((allReduce|allGather)\) within 3 s of rank 0: hung, dead or far too slow \(--heartbeat-timeout\); stopping all ranks/,
    );
    // 3 s of timeout plus the time to abort, not the default 30 minutes
    expect(Date.now() - stoppedAt).toBeLessThan(60_000);
    expect(Date.now() - t0).toBeGreaterThan(3000);
  }, 240_000);
});

/**
 * Two "hosts" on this machine: network namespaces joined by a veth pair (root only, as CI runs). mpirun runs in the
 * first; Open MPI starts the second host's daemon through its ssh agent, here a script that runs the command inside
 * the other namespace; TCP is restricted to the veth, so every byte between the ranks crosses it.
 */
describe("two hosts (network namespaces joined by a veth pair) under mpirun", () => {
  const tag = `${process.pid % 100000}`;
  const ns = [`fsts-a${tag}`, `fsts-b${tag}`];
  const dev = [`fsv${tag}a`, `fsv${tag}b`];
  const subnet = `10.${77 + (process.pid % 100)}.0`;
  const addr = [`${subnet}.1`, `${subnet}.2`];
  const dir = mkdtempSync(join(tmpdir(), "fsts-netns-"));
  const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  const cleanup = () => {
    for (const n of ns) {
      try {
        // anything left inside (a rank of a failed run) goes first, then the namespace and its veth end
        for (const pid of ip("netns", "pids", n).split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
        ip("netns", "del", n);
      } catch {
        // not created, or already gone
      }
    }
  };

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error("the two-host test creates network namespaces: it needs root (CI runs as root)");
    cleanup();
    ip("netns", "add", ns[0]!);
    ip("netns", "add", ns[1]!);
    ip("link", "add", dev[0]!, "type", "veth", "peer", "name", dev[1]!);
    for (const i of [0, 1]) {
      ip("link", "set", dev[i]!, "netns", ns[i]!);
      ip("-n", ns[i]!, "addr", "add", `${addr[i]}/24`, "dev", dev[i]!);
      ip("-n", ns[i]!, "link", "set", "lo", "up");
      ip("-n", ns[i]!, "link", "set", dev[i]!, "up");
    }
    writeFileSync(join(dir, "hosts"), addr.map((a) => `${a} slots=1\n`).join(""));
    // Open MPI calls its agent as ssh: AGENT HOST COMMAND... (a remote shell joins COMMAND's words)
    writeFileSync(
      join(dir, "agent.sh"),
      `#!/bin/sh\nhost="$1"; shift\ncase "$host" in\n  ${addr[0]}) ns=${ns[0]} ;;\n  ${addr[1]}) ns=${ns[1]} ;;\n  *) echo "netns agent: unknown host $host" >&2; exit 1 ;;\nesac\nexec ip netns exec "$ns" /bin/sh -c "$*"\n`,
    );
    chmodSync(join(dir, "agent.sh"), 0o755);
  });
  afterAll(cleanup);

  it("mpirun --hostfile over 2 namespaces = 1 process with --update-freq 2, bit for bit; the gradients crossed the veth", async () => {
    const one = await updateFreqBaseline(2);
    const launcher = {
      prefix: ["ip", "netns", "exec", ns[0]!],
      options: [
        ...["--hostfile", join(dir, "hosts"), "--mca", "plm_rsh_agent", join(dir, "agent.sh"), "--mca", "btl", "tcp,self"],
        ...["--mca", "btl_tcp_if_include", `${subnet}.0/24`, "--mca", "oob_tcp_if_include", `${subnet}.0/24`],
        ...["-x", "OMPI_ALLOW_RUN_AS_ROOT", "-x", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"],
      ],
    };
    const mpi = await mpirun(2, trainArgs(join(dir, "mpi"), 2), undefined, launcher);
    expect(mpi.status, mpi.out).toBe(0);
    expect(mpi.out).toMatch(/distributed training on 2 workers \(MPI\)/);
    expect(epochLine(mpi.out)).toBe(epochLine(one.out));
    const [a, b] = [await weightBytes(one.checkpoint), await weightBytes(join(dir, "mpi/checkpoint_last.safetensors"))];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, x] of a) expect(Buffer.compare(Buffer.from(x), Buffer.from(b.get(k)!)), k).toBe(0);
    // the model (2.6 MB) was broadcast and each update's gradients exchanged over the veth pair
    const tx = Number(/TX:[^\n]*\n\s*(\d+)/.exec(ip("-n", ns[0]!, "-s", "link", "show", dev[0]!))![1]);
    expect(tx).toBeGreaterThan(2.6e6);
  }, 240_000);
});
