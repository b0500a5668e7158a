import { performance } from "node:perf_hooks";
import { addInto, DistributedError, type CommStats, type FloatBuffer, type ProcessGroup } from "@fairseq-ts/distributed";
import { loadMpiBinding, type MpiBinding, type MpiInfo } from "./binding.js";

export interface MpiProcessGroupOptions {
  /**
   * A collective that has not completed this long after this rank entered it stops the run, naming the ranks
   * whose messages are missing (default 30 min, torch's). `--heartbeat-timeout`.
   */
  timeoutMs?: number;
  /**
   * Signals that ask every rank to stop after the current update (the request travels with the next collective,
   * so all ranks see it together). Default SIGINT, SIGTERM and SIGUSR1 (Open MPI's mpirun forwards SIGUSR1 to
   * every rank; Slurm sends SIGTERM before it kills a job). [] installs no handler.
   */
  stopSignals?: readonly NodeJS.Signals[];
}

/** The largest piece of a buffer in one MPI message (MPI counts are int: 2^31-1 bytes). */
const MAX_MESSAGE_BYTES = 1 << 30;

/** One message: `round` (0-3) separates the messages of one collective in the tag. */
type Op = { send: boolean; view: FloatBuffer; peer: number; round: number };

/** One element type's part of an allReduce: its messages, and the steps between and after them. */
interface ReduceGroup {
  scatter: Op[];
  gather: Op[];
  sum(): void;
  finish(): void;
}

/** Collective kinds, in error messages and in the message tag (ranks that diverge never match a message). */
const KINDS = ["allReduce", "broadcast", "allGather", "barrier"] as const;
type Kind = (typeof KINDS)[number];

/**
 * `@fairseq-ts/distributed`'s `ProcessGroup` over MPI, for ranks started by `mpirun` or `srun` on one or many
 * hosts. Only point-to-point messages cross MPI: allReduce is a reduce-scatter then an all-gather in which the
 * owner of each slice sums the ranks' contributions itself, in rank order, with the same loop as the cluster
 * transport; so every rank receives the same bits, and N ranks equal one process with `--update-freq N`, whatever
 * algorithm the MPI library would have chosen. Every wait has a deadline: a rank whose message does not arrive in
 * time is named, and the whole job is stopped with MPI_Abort.
 */
export class MpiProcessGroup implements ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly transport = "MPI";
  /** The host this rank runs on and the MPI library (MPI_Get_processor_name, MPI_Get_library_version). */
  readonly host: string;
  readonly library: string;
  stopRequested = false;
  /** A stop asked on this rank (signal or `requestStop`), not yet sent with a collective. */
  private localStop = false;
  private seq = 0;
  private readonly counters: CommStats = { collectives: 0, bytesSent: 0, waitMs: 0 };
  private readonly timeoutMs: number;
  /** Collectives run one at a time, in call order (MPI is serialized: one wait in flight). */
  private tail: Promise<unknown> = Promise.resolve();
  private failure: DistributedError | null = null;
  private closed = false;
  private readonly tagSeqs: number;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  private staging32 = new Float32Array(0);
  private staging64 = new Float64Array(0);
  private scratch32 = new Float32Array(0);
  private scratch64 = new Float64Array(0);

  private constructor(
    private readonly mpi: MpiBinding,
    info: MpiInfo,
    o: MpiProcessGroupOptions,
  ) {
    this.rank = info.rank;
    this.worldSize = info.size;
    this.host = info.host;
    this.library = info.library;
    this.timeoutMs = o.timeoutMs ?? 30 * 60 * 1000;
    // tag = ((seq mod tagSeqs) · 4 + kind) · 64 + round · 16 + piece: messages of different collectives never match
    this.tagSeqs = Math.max(1, Math.floor((info.tagUb + 1) / 256));
    for (const sig of o.stopSignals ?? (["SIGINT", "SIGTERM", "SIGUSR1"] as const)) {
      const h = () => this.requestStop();
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    }
  }

  /** MPI_Init and this rank's process group. Throws a `DistributedError` saying what is missing when the binding was not built. */
  static join(o: MpiProcessGroupOptions = {}): MpiProcessGroup {
    const loaded = loadMpiBinding();
    if (!loaded.ok) throw new DistributedError(`--distributed-backend mpi: ${loaded.reason}`);
    return new MpiProcessGroup(loaded.binding, loaded.binding.init(), o);
  }

  /** Ask every rank to stop: `stopRequested` turns true on all of them after the next collective. */
  requestStop(): void {
    this.localStop = true;
  }

  allReduce(buffers: readonly FloatBuffer[]): Promise<void> {
    return this.serial(async (seq) => {
      const f32 = buffers.filter((b): b is Float32Array => b instanceof Float32Array);
      const f64 = buffers.filter((b): b is Float64Array => !(b instanceof Float32Array));
      // the stop flag rides as one extra element of the first group's sum (a count of ranks that asked)
      const groups: ReduceGroup[] = [];
      if (f32.reduce((a, b) => a + b.length, 0) > 0) groups.push(this.reduceGroup(f32, 32, true, 0));
      if (f64.reduce((a, b) => a + b.length, 0) > 0 || groups.length === 0) groups.push(this.reduceGroup(f64, 64, groups.length === 0, 2));
      // both groups' messages in the same two rounds: every wait costs a wake-up on a loaded machine
      await this.exchange(
        seq,
        "allReduce",
        groups.flatMap((g) => g.scatter),
      );
      for (const g of groups) g.sum();
      await this.exchange(
        seq,
        "allReduce",
        groups.flatMap((g) => g.gather),
      );
      for (const g of groups) g.finish();
    });
  }

  broadcast(buffer: FloatBuffer, root = 0): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      throw new RangeError(`broadcast: root ${root} is not a rank of a world of ${this.worldSize}`);
    }
    return this.serial(async (seq) => {
      const ops: Op[] = [];
      if (this.rank !== root) ops.push({ send: false, view: buffer, peer: root, round: 0 });
      else for (let r = 0; r < this.worldSize; r++) if (r !== root) ops.push({ send: true, view: buffer, peer: r, round: 0 });
      await this.exchange(seq, "broadcast", ops);
    });
  }

  allGather(buffer: Float64Array): Promise<Float64Array[]> {
    return this.serial((seq) => this.gather(seq, "allGather", buffer));
  }

  barrier(): Promise<void> {
    return this.serial(async (seq) => {
      await this.gather(seq, "barrier", new Float64Array(0));
    });
  }

  stats(): CommStats {
    return { ...this.counters };
  }

  /** Finish normally: MPI_Finalize (after every collective this rank started). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.tail.catch(() => {});
    this.closed = true;
    this.removeSignalHandlers();
    this.mpi.finalize();
  }

  /**
   * This rank failed (an exception in training): print the message naming the rank and stop every rank of
   * the job (MPI_Abort; the process ends here).
   */
  reportFailure(message: string): Promise<never> {
    this.removeSignalHandlers();
    const text = message.startsWith(`rank `) ? message : `rank ${this.rank} (${this.host}, pid ${process.pid}) failed: ${message}`;
    return this.mpi.abort(`fairseq-ts distributed: ${text}; stopping all ranks (MPI_Abort)`, 1);
  }

  private removeSignalHandlers(): void {
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    this.signalHandlers.length = 0;
  }

  private serial<T>(body: (seq: number) => Promise<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new DistributedError(`rank ${this.rank}: process group is closed`, this.rank));
    const seq = ++this.seq;
    const run = async () => {
      if (this.failure) throw this.failure;
      const t0 = performance.now();
      this.counters.collectives++;
      try {
        return await body(seq);
      } finally {
        this.counters.waitMs += performance.now() - t0;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => {});
    return p;
  }

  /**
   * Sum `buffers` (all of one type) across ranks. The concatenation (plus the stop flag) is cut into worldSize
   * slices; slice k goes to rank k (`scatter`), which adds the ranks' copies in rank order (rank 0's plus rank 1's
   * plus ..., the cluster transport's order: `sum`) and sends the sum back to every rank (`gather`). Each rank moves
   * 2·(N-1)/N of the data, as a ring all-reduce does. `round` keeps the groups' message tags apart.
   */
  private reduceGroup(buffers: readonly FloatBuffer[], bits: 32 | 64, withFlag: boolean, round: number): ReduceGroup {
    const n = this.worldSize;
    const total = buffers.reduce((a, b) => a + b.length, 0) + (withFlag ? 1 : 0);
    const staging = this.stagingOf(bits, total);
    let off = 0;
    for (const b of buffers) {
      staging.set(b, off);
      off += b.length;
    }
    if (withFlag) staging[total - 1] = this.localStop ? 1 : 0;
    const bound = (k: number) => Math.floor((k * total) / n);
    const mine = staging.subarray(bound(this.rank), bound(this.rank + 1));
    const m = mine.length;
    const scratch = this.scratchOf(bits, n * m);
    const contribution = (r: number) => (r === this.rank ? mine : scratch.subarray(r * m, (r + 1) * m));
    const scatter: Op[] = [];
    const gather: Op[] = [];
    for (let r = 0; r < n; r++) {
      if (r === this.rank) continue;
      scatter.push({ send: true, view: staging.subarray(bound(r), bound(r + 1)), peer: r, round });
      scatter.push({ send: false, view: contribution(r), peer: r, round });
      gather.push({ send: true, view: mine, peer: r, round: round + 1 });
      gather.push({ send: false, view: staging.subarray(bound(r), bound(r + 1)), peer: r, round: round + 1 });
    }
    return {
      scatter,
      gather,
      sum: () => {
        // Rank order from rank 0's values, one addition per element and rank: the coordinator's loop (sum.ts).
        const sum = scratch.subarray(this.rank * m, (this.rank + 1) * m);
        if (this.rank !== 0) sum.set(contribution(0));
        else sum.set(mine);
        for (let r = 1; r < n; r++) addInto(sum, contribution(r));
        mine.set(sum);
      },
      finish: () => {
        let at = 0;
        for (const b of buffers) {
          b.set(staging.subarray(at, at + b.length));
          at += b.length;
        }
        if (withFlag && staging[total - 1]! > 0) this.stopRequested = true;
      },
    };
  }

  /** Every rank's buffer; each message is [length, stop flag, ...values], so unequal lengths are an error, not a hang. */
  private async gather(seq: number, kind: Kind, buffer: Float64Array): Promise<Float64Array[]> {
    const n = this.worldSize;
    const len = buffer.length + 2;
    const all = this.scratchOf(64, n * len);
    const slot = (r: number) => all.subarray(r * len, (r + 1) * len);
    const own = slot(this.rank);
    own[0] = buffer.length;
    own[1] = this.localStop ? 1 : 0;
    own.set(buffer, 2);
    const ops: Op[] = [];
    for (let r = 0; r < n; r++) {
      if (r === this.rank) continue;
      ops.push({ send: true, view: own, peer: r, round: 0 });
      ops.push({ send: false, view: slot(r), peer: r, round: 0 });
    }
    await this.exchange(seq, kind, ops);
    const out: Float64Array[] = [];
    for (let r = 0; r < n; r++) {
      const s = slot(r);
      if (s[0] !== buffer.length) {
        throw this.fail(
          new DistributedError(
            `collective #${seq} (${kind}): rank ${r} passed ${s[0]} values but rank ${this.rank} ${buffer.length}: the ranks' programs diverged`,
            r,
          ),
        );
      }
      if (s[1]! > 0) this.stopRequested = true;
      out.push(s.slice(2));
    }
    return out;
  }

  /** Post the sends and receives (split into pieces MPI can count) and wait for all of them, with the deadline. */
  private async exchange(seq: number, kind: Kind, ops: Op[]): Promise<void> {
    const ids: number[] = [];
    const peerOf = new Map<number, { peer: number; send: boolean }>();
    const tagBase = ((seq % this.tagSeqs) * 4 + KINDS.indexOf(kind)) * 64;
    try {
      for (const op of ops) {
        const per = MAX_MESSAGE_BYTES / op.view.BYTES_PER_ELEMENT;
        let piece = 0;
        for (let off = 0; off < op.view.length || (off === 0 && piece === 0); off += per, piece++) {
          if (piece >= 16)
            throw new DistributedError(`collective #${seq} (${kind}): a buffer of ${op.view.byteLength} bytes is over the 16 GiB limit`, this.rank);
          const view = op.view.subarray(off, off + per);
          const tag = tagBase + op.round * 16 + piece;
          const id = op.send ? this.mpi.isend(view, op.peer, tag) : this.mpi.irecv(view, op.peer, tag);
          if (op.send) this.counters.bytesSent += view.byteLength;
          ids.push(id);
          peerOf.set(id, { peer: op.peer, send: op.send });
          if (op.view.length === 0) break;
        }
      }
    } catch (e) {
      throw this.fail(
        e instanceof DistributedError ? e : new DistributedError(`rank ${this.rank}: collective #${seq} (${kind}): ${(e as Error).message}`, this.rank),
      );
    }
    let pending: number[];
    try {
      pending = await this.mpi.waitAll(ids, this.timeoutMs);
    } catch (e) {
      const m = (e as Error).message;
      // a receive that got a longer message than posted: the ranks called different collectives or sizes
      const why = /TRUNCATE|IN_STATUS/.test(m) ? " (a message of another size arrived: the ranks' programs diverged or passed buffers of different sizes)" : "";
      throw this.fail(new DistributedError(`rank ${this.rank}: collective #${seq} (${kind}) failed in MPI: ${m}${why}`, this.rank));
    }
    if (pending.length === 0) return;
    // The ranks whose messages did not arrive are the missing ones (sends pending alone: their receiver).
    const recvs = new Set(
      pending
        .map((id) => peerOf.get(id)!)
        .filter((p) => !p.send)
        .map((p) => p.peer),
    );
    const missing = [...(recvs.size > 0 ? recvs : new Set(pending.map((id) => peerOf.get(id)!.peer)))].sort((a, b) => a - b);
    throw this.fail(
      new DistributedError(
        `rank ${missing.join(", ")} did not reach collective #${seq} (${kind}) within ${this.timeoutMs / 1000} s of rank ${this.rank}: hung, dead or far too slow (--heartbeat-timeout)`,
        missing[0]!,
      ),
    );
  }

  private fail(e: DistributedError): DistributedError {
    this.failure ??= e;
    return e;
  }

  private stagingOf(bits: 32 | 64, n: number): FloatBuffer {
    if (bits === 32) {
      if (this.staging32.length < n) this.staging32 = new Float32Array(n);
      return this.staging32.subarray(0, n);
    }
    if (this.staging64.length < n) this.staging64 = new Float64Array(n);
    return this.staging64.subarray(0, n);
  }

  private scratchOf(bits: 32, n: number): Float32Array;
  private scratchOf(bits: 64, n: number): Float64Array;
  private scratchOf(bits: 32 | 64, n: number): FloatBuffer;
  private scratchOf(bits: 32 | 64, n: number): FloatBuffer {
    if (bits === 32) {
      if (this.scratch32.length < n) this.scratch32 = new Float32Array(n);
      return this.scratch32.subarray(0, n);
    }
    if (this.scratch64.length < n) this.scratch64 = new Float64Array(n);
    return this.scratch64.subarray(0, n);
  }
}
