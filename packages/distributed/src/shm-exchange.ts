import { closeSync, openSync, readSync, writevSync } from "node:fs";
import { join } from "node:path";
import { DistributedError, type FloatBuffer } from "./process-group.js";
import { addInto, type DirectExchange } from "./sum.js";

/**
 * allReduce data through files in a RAM-backed directory (/dev/shm): each rank writes its
 * contribution to its own file with one `writev`, the ranks meet at a barrier, and each rank reads
 * the others' files and sums in rank order, so every rank computes identical bits. Two memory copies
 * per contribution instead of a socket stream through the event loop: on this machine a 36 MB
 * allReduce between 2 workers drops from ~230 ms (Unix sockets) / ~160 ms (through the cluster
 * primary) to ~47 ms (bench-results/distributed.md).
 *
 * Files alternate between two slots per rank: a rank overwrites slot k % 2 at call k + 2 only after
 * the barrier of call k + 1, which every rank reaches after it finished reading call k.
 */
export class ShmExchange implements DirectExchange {
  private calls = 0;
  private readonly fds = new Map<string, number>();
  /** per buffer position: space to read a peer's contribution into */
  private readonly scratch: FloatBuffer[] = [];

  constructor(
    readonly dir: string,
    readonly rank: number,
    readonly worldSize: number,
  ) {}

  private path(rank: number, slot: number): string {
    return join(this.dir, `${rank}.${slot}.bin`);
  }

  private fd(rank: number, slot: number, write: boolean): number {
    const key = `${rank}.${slot}`;
    let fd = this.fds.get(key);
    if (fd === undefined) {
      // the peer's file exists once the barrier of the call that wrote it has passed
      fd = this.io(rank, slot, () => openSync(this.path(rank, slot), write ? "w+" : "r"));
      this.fds.set(key, fd);
    }
    return fd;
  }

  /** Run a file operation; a failure (/dev/shm full, removed) names the file and the way out. */
  private io<T>(rank: number, slot: number, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw new DistributedError(
        `rank ${this.rank}: shared-memory allReduce: ${this.path(rank, slot)}: ${(e as Error).message} (FAIRSEQ_TS_TRANSPORT=coordinator avoids shared memory)`,
        this.rank,
      );
    }
  }

  private scratchFor(i: number, b: FloatBuffer): FloatBuffer {
    const s = this.scratch[i];
    if (s && s.length === b.length && s.constructor === b.constructor) return s;
    const fresh = b instanceof Float32Array ? new Float32Array(b.length) : new Float64Array(b.length);
    this.scratch[i] = fresh;
    return fresh;
  }

  /**
   * Sum `buffers` across ranks in place. `barrier` must resolve once every rank has called
   * allReduce for this call (i.e. finished writing).
   */
  async allReduce(buffers: readonly FloatBuffer[], barrier: () => Promise<void>): Promise<void> {
    const slot = this.calls++ & 1;
    const own = this.fd(this.rank, slot, true);
    this.io(this.rank, slot, () => writeAll(own, buffers));
    await barrier();
    const read = (rank: number, into: (b: FloatBuffer, i: number) => FloatBuffer) => {
      const fd = this.fd(rank, slot, false);
      let pos = 0;
      buffers.forEach((b, i) => {
        const dst = into(b, i);
        this.io(rank, slot, () => readFully(fd, dst, pos));
        pos += b.byteLength;
      });
    };
    if (this.rank === 0 || this.worldSize === 2) {
      // Rank 0 holds c0 and adds c1, c2, ... in order. With two ranks, rank 1 computes c1 + c0, the
      // same bits as c0 + c1 (IEEE addition is commutative).
      for (let r = 0; r < this.worldSize; r++) {
        if (r === this.rank) continue;
        read(r, (b, i) => this.scratchFor(i, b));
        buffers.forEach((b, i) => addInto(b, this.scratch[i]!));
      }
      return;
    }
    // ((c0 + c1) + c2) + ...: keep our contribution aside, start from rank 0's.
    const mine = buffers.map((b) => b.slice());
    read(0, (b) => b);
    for (let r = 1; r < this.worldSize; r++) {
      if (r === this.rank) buffers.forEach((b, i) => addInto(b, mine[i]!));
      else {
        read(r, (b, i) => this.scratchFor(i, b));
        buffers.forEach((b, i) => addInto(b, this.scratch[i]!));
      }
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

function writeAll(fd: number, buffers: readonly FloatBuffer[]): void {
  const views = buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  const total = views.reduce((a, v) => a + v.byteLength, 0);
  let written = writevSync(fd, views, 0);
  // writev may write less than asked (large buffers): continue from where it stopped
  while (written < total) {
    let skip = written;
    const rest: Uint8Array[] = [];
    for (const v of views) {
      if (skip >= v.byteLength) skip -= v.byteLength;
      else {
        rest.push(skip ? v.subarray(skip) : v);
        skip = 0;
      }
    }
    const n = writevSync(fd, rest, written);
    if (n <= 0) throw new Error(`shared-memory allReduce: could not write ${total} bytes (${written} written)`);
    written += n;
  }
}

function readFully(fd: number, dst: FloatBuffer, position: number): void {
  const bytes = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
  let got = 0;
  while (got < bytes.byteLength) {
    const n = readSync(fd, bytes, got, bytes.byteLength - got, position + got);
    if (n <= 0) throw new Error(`shared-memory allReduce: a peer's file ended after ${position + got} bytes`);
    got += n;
  }
}
