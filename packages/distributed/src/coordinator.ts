import cluster, { type Worker } from "node:cluster";
import { accessSync, constants, mkdtempSync, rmSync, statfsSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { DistributedError, type FloatBuffer } from "./process-group.js";
import { addInto } from "./sum.js";
import {
  COLLECTIVE_NAME,
  ENV_PEER_DIR,
  ENV_TRANSPORT,
  transportFromEnv,
  ENV_RANK,
  ENV_THREADS,
  ENV_WORLD_SIZE,
  isToCoordinator,
  type CollectiveKind,
  type ToCoordinator,
  type ToWorker,
} from "./protocol.js";

export interface CoordinatorOptions {
  worldSize: number;
  /** Script every worker runs (default: this process's script, `process.argv[1]`). */
  exec?: string;
  /** Its arguments (default: this process's, `process.argv.slice(2)`). */
  args?: string[];
  /** Extra environment for the workers. */
  env?: Record<string, string>;
  /** Each worker's share of the cores (default: floor(cores / worldSize), at least 1); workers read it with `workerThreads()`. */
  threadsPerWorker?: number;
  /** A collective whose last rank has not arrived this long after its first fails the run (default 30 min, torch's). */
  timeoutMs?: number;
  /** Ctrl-C asks every rank to stop after the current collective (twice: kill). Default true. */
  handleSignals?: boolean;
  /** Where the coordinator's own messages go (default stderr). */
  log?: (message: string) => void;
}

interface Collective {
  kind: CollectiveKind;
  parts: number;
  root: number;
  /** part -> contribution per rank */
  contributions: Map<number, (FloatBuffer | null | undefined)[]>;
  arrived: Set<number>;
  partsDone: number;
  timer: NodeJS.Timeout | null;
}

/**
 * The cluster primary of a data-parallel run: forks `worldSize` workers (each gets its rank in the
 * environment), performs their collectives (sums in rank order, so all ranks get identical bits),
 * and watches them: a worker that dies, fails or hangs stops the whole run with a `DistributedError`
 * naming the rank and the cause. Resolves when every rank has finished normally.
 */
export function runCoordinator(o: CoordinatorOptions): Promise<void> {
  const n = o.worldSize;
  if (!Number.isInteger(n) || n < 1) throw new DistributedError(`--distributed-world-size must be a positive integer, got ${n}`);
  if (!cluster.isPrimary) throw new DistributedError("runCoordinator must run in the cluster primary");
  const log = o.log ?? ((m: string) => process.stderr.write(`fairseq-ts distributed: ${m}\n`));
  const timeoutMs = o.timeoutMs ?? 30 * 60 * 1000;
  const threads = o.threadsPerWorker ?? Math.max(1, Math.floor(availableParallelism() / n));

  // Large allReduce data moves through files in a RAM-backed directory (default), or Unix sockets in a
  // temp directory; FAIRSEQ_TS_TRANSPORT=coordinator sends everything through this process.
  const transport = transportFromEnv(process.env[ENV_TRANSPORT]);
  const peerDir = n > 1 && transport !== "coordinator" ? mkdtempSync(join(transport === "shm" ? ramDir() : tmpdir(), "fsts-mesh-")) : null;
  cluster.setupPrimary({
    exec: o.exec ?? process.argv[1],
    args: o.args ?? process.argv.slice(2),
    serialization: "advanced",
    execArgv: workerExecArgv(process.execArgv),
  });

  return new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    const done = new Set<number>();
    const exited = new Set<number>();
    const collectives = new Map<number, Collective>();
    let stopping = false;
    let failure: DistributedError | null = null;
    let killTimer: NodeJS.Timeout | null = null;

    const send = (rank: number, m: ToWorker) => {
      const w = workers[rank];
      if (w && w.isConnected()) w.send(m);
    };

    const finish = () => {
      if (exited.size < n) return;
      for (const c of collectives.values()) if (c.timer) clearTimeout(c.timer);
      if (killTimer) clearTimeout(killTimer);
      if (o.handleSignals !== false) process.removeListener("SIGINT", onSigint);
      if (peerDir) rmSync(peerDir, { recursive: true, force: true });
      if (failure) reject(failure);
      else resolve();
    };

    const fail = (message: string, rank: number | null) => {
      if (failure) return;
      failure = new DistributedError(message, rank);
      log(`${message}; stopping all workers`);
      for (let r = 0; r < n; r++) {
        if (exited.has(r)) continue;
        send(r, { t: "abort", message });
        workers[r]?.process.kill("SIGTERM");
      }
      killTimer = setTimeout(() => {
        for (let r = 0; r < n; r++) if (!exited.has(r)) workers[r]?.process.kill("SIGKILL");
      }, 5000);
      finish();
    };

    const onSigint = () => {
      if (!stopping) {
        stopping = true;
        log("Ctrl-C: every worker stops after the current update and saves checkpoint_last (Ctrl-C again to kill)");
      } else {
        fail("interrupted (Ctrl-C twice)", null);
      }
    };
    if (o.handleSignals !== false) process.on("SIGINT", onSigint);

    const complete = (seq: number, c: Collective, part: number) => {
      const contribs = c.contributions.get(part)!;
      c.contributions.delete(part);
      let data: FloatBuffer | null = null;
      let gathered: FloatBuffer[] | null = null;
      if (c.kind === "sum") {
        const first = contribs[0]!;
        for (let r = 1; r < n; r++) {
          const b = contribs[r]!;
          if (!b || b.length !== first.length || b.constructor !== first.constructor) {
            return fail(
              `collective #${seq}: rank ${r} passed a ${b?.constructor.name}[${b?.length}] to allReduce but rank 0 a ${first.constructor.name}[${first.length}]`,
              r,
            );
          }
        }
        // Rank order, starting from rank 0's values: identical to accumulating the batches in one process.
        const out = first.slice();
        for (let r = 1; r < n; r++) addInto(out, contribs[r]!);
        data = out;
      } else if (c.kind === "broadcast") {
        data = contribs[c.root]!;
      } else if (c.kind === "gather") {
        gathered = contribs as FloatBuffer[];
      }
      for (let r = 0; r < n; r++) send(r, { t: "res", seq, part, data, gathered, stop: stopping });
      if (++c.partsDone === c.parts) {
        if (c.timer) clearTimeout(c.timer);
        collectives.delete(seq);
      }
    };

    const onCollective = (rank: number, m: Extract<ToCoordinator, { t: "coll" }>) => {
      let c = collectives.get(m.seq);
      if (!c) {
        c = { kind: m.kind, parts: m.parts, root: m.root, contributions: new Map(), arrived: new Set(), partsDone: 0, timer: null };
        collectives.set(m.seq, c);
        const seq = m.seq;
        const col = c;
        c.timer = setTimeout(() => {
          const missing = [...Array(n).keys()].filter((r) => !col.arrived.has(r));
          fail(
            `rank ${missing.join(", ")} did not reach collective #${seq} (${COLLECTIVE_NAME[col.kind]}) within ${timeoutMs / 1000} s of rank ${[...col.arrived][0]}: hung or far too slow (--heartbeat-timeout)`,
            missing[0] ?? null,
          );
        }, timeoutMs);
      }
      if (c.kind !== m.kind || c.parts !== m.parts || c.root !== m.root) {
        return fail(
          `collective #${m.seq}: rank ${rank} called ${COLLECTIVE_NAME[m.kind]} (${m.parts} parts) but another rank called ${COLLECTIVE_NAME[c.kind]} (${c.parts} parts): the ranks' programs diverged`,
          rank,
        );
      }
      c.arrived.add(rank);
      let contribs = c.contributions.get(m.part);
      if (!contribs) c.contributions.set(m.part, (contribs = new Array<FloatBuffer | null | undefined>(n).fill(undefined)));
      contribs[rank] = m.data;
      if (contribs.every((x) => x !== undefined)) complete(m.seq, c, m.part);
    };

    for (let rank = 0; rank < n; rank++) {
      const w = cluster.fork({
        ...o.env,
        [ENV_RANK]: String(rank),
        [ENV_WORLD_SIZE]: String(n),
        [ENV_THREADS]: String(threads),
        [ENV_TRANSPORT]: transport,
        ...(peerDir ? { [ENV_PEER_DIR]: peerDir } : {}),
      });
      workers.push(w);
      let failMessage: string | null = null;
      w.on("message", (m: unknown) => {
        if (!isToCoordinator(m) || failure) return;
        if (m.t === "coll") onCollective(rank, m);
        else if (m.t === "done") done.add(rank);
        else if (m.t === "fail") failMessage = m.message;
      });
      w.on("error", (e) => fail(`rank ${rank}: ${e.message}`, rank));
      w.on("exit", (code, signal) => {
        exited.add(rank);
        if (!failure) {
          if (failMessage !== null) fail(`rank ${rank} failed: ${failMessage}`, rank);
          else if (signal) fail(`rank ${rank} (pid ${w.process.pid}) was killed by ${signal}`, rank);
          else if (code !== 0) fail(`rank ${rank} (pid ${w.process.pid}) exited with code ${code}`, rank);
          else if (!done.has(rank)) fail(`rank ${rank} (pid ${w.process.pid}) exited before the run finished`, rank);
        }
        finish();
      });
    }
  });
}

/**
 * /dev/shm when this system has a writable one with room (Linux), else the temp directory (its page
 * cache still serves it). A container's /dev/shm is often 64 MB: each rank keeps two copies of its
 * gradients there, so less than 1 GiB free means the temp directory.
 */
function ramDir(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    const fs = statfsSync("/dev/shm");
    return fs.bavail * fs.bsize >= 2 ** 30 ? "/dev/shm" : tmpdir();
  } catch {
    return tmpdir();
  }
}

/**
 * The workers' Node flags: this process's, plus a 256 MB initial old space unless one is given. Ranks
 * run in lockstep, so a V8 full GC on one rank is waited for by all: with the default (small) initial
 * old space a training worker ran about one mark-compact per tiny update, and a 2-worker tiny run
 * trained ~12% faster with 3.4× fewer of them. The cost is up to that much more garbage held per worker.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const given = execArgv.some((a) => /^--(initial-old-space-size|initial-heap-size)(=|$)/.test(a));
  return given ? [...execArgv] : [...execArgv, "--initial-old-space-size=256"];
}
