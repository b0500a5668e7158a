import { existsSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { DistributedError, type FloatBuffer } from "./process-group.js";
import { addInto, type DirectExchange } from "./sum.js";

/**
 * Direct worker-to-worker links (Unix domain sockets, raw bytes: no serialization, no coordinator hop)
 * for the bulk data of allReduce. Every rank sends its buffers to every other rank and sums all
 * contributions itself in rank order, so every rank computes identical bits.
 */
export class PeerMesh implements DirectExchange {
  private server: Server | null = null;
  private readonly peers = new Map<number, Socket>();
  /** per peer: bytes received and not yet consumed */
  private readonly inbox = new Map<number, { chunks: Buffer[]; bytes: number }>();
  private waiter: (() => void) | null = null;
  private failure: DistributedError | null = null;
  private closing = false;
  private ready: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    readonly rank: number,
    readonly worldSize: number,
  ) {}

  private path(r: number): string {
    return join(this.dir, `${r}.sock`);
  }

  private attach(peer: number, s: Socket): void {
    this.peers.set(peer, s);
    this.inbox.set(peer, { chunks: [], bytes: 0 });
    s.setNoDelay?.(true);
    s.resume();
    s.on("data", (d: Buffer) => {
      const box = this.inbox.get(peer)!;
      box.chunks.push(d);
      box.bytes += d.length;
      this.waiter?.();
    });
    s.on("close", () => {
      if (!this.closing) this.fail(new DistributedError(`rank ${this.rank}: the link to rank ${peer} closed (rank ${peer} died?)`, peer));
    });
    s.on("error", () => {});
  }

  private fail(e: DistributedError): void {
    this.failure ??= e;
    this.waiter?.();
  }

  /** Listen, then connect to every lower rank (higher ranks connect to us). */
  async connect(timeoutMs = 60_000): Promise<void> {
    this.server = createServer((s) => {
      // the first 4 bytes a connecting peer sends are its rank
      const onReadable = () => {
        const head = s.read(4) as Buffer | null;
        if (!head) return; // fewer than 4 bytes so far: wait for more
        s.removeListener("readable", onReadable);
        const peer = head.readUInt32LE(0);
        // take what is buffered before switching to 'data' events (read() in flowing mode would emit it again)
        const rest = s.read() as Buffer | null;
        this.attach(peer, s);
        if (rest) {
          const box = this.inbox.get(peer)!;
          box.chunks.push(rest);
          box.bytes += rest.length;
        }
        this.waiter?.();
      };
      s.on("readable", onReadable);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.path(this.rank), () => resolve());
    });
    const deadline = Date.now() + timeoutMs;
    for (let peer = 0; peer < this.rank; peer++) {
      for (;;) {
        if (existsSync(this.path(peer))) {
          const s = await new Promise<Socket | null>((resolve) => {
            const c = createConnection(this.path(peer));
            c.once("connect", () => resolve(c));
            c.once("error", () => resolve(null));
          });
          if (s) {
            const head = Buffer.alloc(4);
            head.writeUInt32LE(this.rank, 0);
            s.write(head);
            this.attach(peer, s);
            break;
          }
        }
        if (Date.now() > deadline) throw new DistributedError(`rank ${this.rank}: could not connect to rank ${peer} at ${this.path(peer)}`, peer);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // wait until every higher rank has connected to us
    await this.until(() => this.peers.size === this.worldSize - 1, deadline);
  }

  private until(cond: () => boolean, deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        // the data may all be here although the peer has since closed (it finished first): data wins
        if (cond()) {
          this.waiter = null;
          clearTimeout(timer);
          return resolve();
        }
        if (this.failure) {
          this.waiter = null;
          clearTimeout(timer);
          return reject(this.failure);
        }
      };
      const timer = setTimeout(
        () => {
          this.waiter = null;
          reject(new DistributedError(`rank ${this.rank}: peers did not answer in time`));
        },
        Math.max(1, deadline - Date.now()),
      );
      this.waiter = check;
      check();
    });
  }

  private take(peer: number, n: number): Buffer {
    const box = this.inbox.get(peer)!;
    const all = box.chunks.length === 1 ? box.chunks[0]! : Buffer.concat(box.chunks, box.bytes);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    box.chunks = rest.length ? [rest] : [];
    box.bytes = rest.length;
    return out;
  }

  /** Sum `buffers` across ranks in place (rank order); connects on the first call. */
  async allReduce(buffers: readonly FloatBuffer[], sequence: () => Promise<void>): Promise<void> {
    // announced first, so a rank that never arrives is reported by the coordinator's timeout
    const sequenced = sequence();
    this.ready ??= this.connect();
    await Promise.all([sequenced, this.ready.then(() => this.exchange(buffers, 24 * 3600 * 1000))]);
  }

  private async exchange(buffers: readonly FloatBuffer[], timeoutMs: number): Promise<void> {
    const total = buffers.reduce((a, b) => a + b.byteLength, 0);
    // A copy of our contribution: the originals are overwritten with the sum before the writes drain.
    const mine = Buffer.allocUnsafe(total);
    let off = 0;
    for (const b of buffers) {
      mine.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), off);
      off += b.byteLength;
    }
    for (const s of this.peers.values()) s.write(mine);
    await this.until(() => [...this.inbox.values()].every((box) => box.bytes >= total), Date.now() + timeoutMs);
    const contrib: Buffer[] = [];
    for (let r = 0; r < this.worldSize; r++) contrib.push(r === this.rank ? mine : this.take(r, total));
    off = 0;
    for (const b of buffers) {
      const view = (c: Buffer) => {
        // copy into an aligned array when the received bytes are not aligned for the element size
        const bytes = c.subarray(off, off + b.byteLength);
        const ab = bytes.byteOffset % b.BYTES_PER_ELEMENT === 0 ? bytes : Buffer.from(bytes);
        return b instanceof Float32Array ? new Float32Array(ab.buffer, ab.byteOffset, b.length) : new Float64Array(ab.buffer, ab.byteOffset, b.length);
      };
      const parts = contrib.map(view);
      b.set(parts[0]!);
      for (let r = 1; r < this.worldSize; r++) {
        addInto(b, parts[r]!);
      }
      off += b.byteLength;
    }
  }

  /** End the links once everything written has been flushed (a peer may still be reading our last data). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.peers.values()].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))));
    this.server?.close();
  }
}
