import cluster from "node:cluster";
import { performance } from "node:perf_hooks";
import { DistributedError, type CommStats, type FloatBuffer, type ProcessGroup } from "./process-group.js";
import {
  CHUNK_ELEMENTS,
  DIRECT_MIN_BYTES,
  ENV_PEER_DIR,
  ENV_TRANSPORT,
  transportFromEnv,
  ENV_RANK,
  ENV_THREADS,
  ENV_WORLD_SIZE,
  type CollectiveKind,
  type ToCoordinator,
  type ToWorker,
} from "./protocol.js";
import { PeerMesh } from "./peer-mesh.js";
import { ShmExchange } from "./shm-exchange.js";
import type { DirectExchange } from "./sum.js";

/** True in a process started by `runCoordinator` (a cluster worker with a rank). */
export function isDistributedWorker(): boolean {
  return cluster.isWorker && process.env[ENV_RANK] !== undefined;
}

/** This process's share of the cores: FAIRSEQ_TS_THREADS, set by the coordinator for its workers (or by hand). */
export function workerThreads(): number | undefined {
  const v = Number(process.env[ENV_THREADS]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

interface Pending {
  parts: number;
  received: number;
  onPart: (part: number, m: Extract<ToWorker, { t: "res" }>) => void;
  resolve: () => void;
}

/**
 * The worker side of the cluster transport: collectives are messages to the coordinator (the cluster
 * primary) over the IPC channel with V8 serialization, so typed arrays travel as binary.
 */
class ClusterProcessGroup implements ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  stopRequested = false;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly counters: CommStats = { collectives: 0, bytesSent: 0, waitMs: 0 };
  private failure: DistributedError | null = null;
  private closed = false;
  private readonly rejecters = new Set<(e: Error) => void>();
  /** allReduce data outside the IPC channel (shared memory or sockets), null: through the coordinator */
  private readonly direct: DirectExchange | null;

  constructor(rank: number, worldSize: number) {
    this.rank = rank;
    this.worldSize = worldSize;
    const dir = process.env[ENV_PEER_DIR];
    const transport = transportFromEnv(process.env[ENV_TRANSPORT]);
    this.direct =
      !dir || worldSize === 1 || transport === "coordinator"
        ? null
        : transport === "shm"
          ? new ShmExchange(dir, rank, worldSize)
          : new PeerMesh(dir, rank, worldSize);
    process.on("message", (m: ToWorker) => this.onMessage(m));
    process.on("disconnect", () => {
      if (this.closed) return;
      this.fail(new DistributedError(`rank ${rank}: lost the connection to the launcher (it exited or was killed)`, rank));
      // Nothing can complete without the coordinator: leave now rather than hang.
      process.stderr.write(`fairseq-ts: ${this.failure!.message}\n`);
      process.exit(1);
    });
    // The terminal sends Ctrl-C to the whole process group; the coordinator decides for every rank
    // together (a stop flag delivered with a collective), so a worker ignores it.
    process.on("SIGINT", () => {});
  }

  private onMessage(m: ToWorker): void {
    if (m.t === "abort") {
      this.fail(new DistributedError(m.message, this.rank));
      return;
    }
    if (m.t !== "res") return;
    const p = this.pending.get(m.seq);
    if (!p) return;
    if (m.stop) this.stopRequested = true;
    p.onPart(m.part, m);
    if (++p.received === p.parts) {
      this.pending.delete(m.seq);
      p.resolve();
    }
  }

  private fail(e: DistributedError): void {
    this.failure ??= e;
    for (const r of this.rejecters) r(e);
    this.rejecters.clear();
    this.pending.clear();
  }

  private run(kind: CollectiveKind, pieces: { data: FloatBuffer | null }[], root: number, onPart: Pending["onPart"]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new DistributedError(`rank ${this.rank}: process group is closed`, this.rank));
    const seq = ++this.seq;
    const t0 = performance.now();
    this.counters.collectives++;
    return new Promise<void>((resolve, reject) => {
      const rejecter = (e: Error) => reject(e);
      this.rejecters.add(rejecter);
      this.pending.set(seq, {
        parts: pieces.length,
        received: 0,
        onPart,
        resolve: () => {
          this.rejecters.delete(rejecter);
          this.counters.waitMs += performance.now() - t0;
          resolve();
        },
      });
      pieces.forEach((piece, part) => {
        const msg: ToCoordinator = { t: "coll", kind, seq, part, parts: pieces.length, root, data: piece.data };
        if (piece.data) this.counters.bytesSent += piece.data.byteLength;
        process.send!(msg);
      });
    });
  }

  async allReduce(buffers: readonly FloatBuffer[]): Promise<void> {
    const bytes = buffers.reduce((a, b) => a + b.byteLength, 0);
    if (this.direct && bytes >= DIRECT_MIN_BYTES) {
      // The coordinator still sequences the call; the data goes over the direct transport.
      const before = this.counters.waitMs;
      const t0 = performance.now();
      await this.direct.allReduce(buffers, () => this.run("sum-direct", [{ data: null }], bytes, () => {}));
      this.counters.waitMs = before + (performance.now() - t0);
      this.counters.bytesSent += bytes * (this.worldSize - 1);
      return;
    }
    return this.viaCoordinator(buffers);
  }

  private viaCoordinator(buffers: readonly FloatBuffer[]): Promise<void> {
    // Split into chunks; `slice` copies, because serializing a view would send its whole ArrayBuffer.
    const targets: { buf: FloatBuffer; offset: number }[] = [];
    const pieces: { data: FloatBuffer }[] = [];
    for (const buf of buffers) {
      for (let off = 0; off < buf.length || (off === 0 && buf.length === 0); off += CHUNK_ELEMENTS) {
        targets.push({ buf, offset: off });
        pieces.push({ data: buf.slice(off, off + CHUNK_ELEMENTS) });
        if (buf.length === 0) break;
      }
    }
    if (pieces.length === 0) return this.barrier();
    return this.run("sum", pieces, 0, (part, m) => {
      const t = targets[part]!;
      t.buf.set(m.data as FloatBuffer, t.offset);
    });
  }

  broadcast(buffer: FloatBuffer, root = 0): Promise<void> {
    if (root < 0 || root >= this.worldSize) throw new RangeError(`broadcast: root ${root} is not a rank of a world of ${this.worldSize}`);
    const pieces: { data: FloatBuffer | null; offset: number }[] = [];
    for (let off = 0; off < buffer.length; off += CHUNK_ELEMENTS) {
      pieces.push({ data: this.rank === root ? buffer.slice(off, off + CHUNK_ELEMENTS) : null, offset: off });
    }
    if (pieces.length === 0) return this.barrier();
    return this.run("broadcast", pieces, root, (part, m) => {
      if (this.rank !== root) buffer.set(m.data as FloatBuffer, pieces[part]!.offset);
    });
  }

  async allGather(buffer: Float64Array): Promise<Float64Array[]> {
    let out: Float64Array[] = [];
    await this.run("gather", [{ data: buffer.slice() }], 0, (_part, m) => {
      out = m.gathered as Float64Array[];
    });
    return out;
  }

  barrier(): Promise<void> {
    return this.run("barrier", [{ data: null }], 0, () => {});
  }

  stats(): CommStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.direct?.close();
    return new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      process.send!({ t: "done" } satisfies ToCoordinator, undefined, {}, () => {
        process.disconnect();
        resolve();
      });
    });
  }

  /** Report a failure of this rank to the coordinator (it stops every rank and names this one). */
  reportFailure(message: string): Promise<void> {
    this.closed = true;
    return new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      process.send!({ t: "fail", message } satisfies ToCoordinator, undefined, {}, () => {
        process.disconnect();
        resolve();
      });
    });
  }
}

let joined: ClusterProcessGroup | null = null;

/** The process group of this cluster worker (one per process). Throws outside a distributed run. */
export function joinProcessGroup(): ProcessGroup & { reportFailure(message: string): Promise<void> } {
  if (joined) return joined;
  if (!isDistributedWorker()) throw new DistributedError("joinProcessGroup: not a worker started by runCoordinator");
  const rank = Number(process.env[ENV_RANK]);
  const worldSize = Number(process.env[ENV_WORLD_SIZE]);
  if (!Number.isInteger(rank) || !Number.isInteger(worldSize) || rank < 0 || rank >= worldSize) {
    throw new DistributedError(`bad ${ENV_RANK}=${process.env[ENV_RANK]} / ${ENV_WORLD_SIZE}=${process.env[ENV_WORLD_SIZE]}`);
  }
  joined = new ClusterProcessGroup(rank, worldSize);
  return joined;
}
