/** A buffer that collectives move: binary Float32/Float64 data, never JSON. */
export type FloatBuffer = Float32Array | Float64Array;

/** Counters of one rank's communication (for benchmarks and the end-of-run log line). */
export interface CommStats {
  /** Collective calls made. */
  collectives: number;
  /** Bytes this rank sent. */
  bytesSent: number;
  /** Milliseconds spent between starting a collective and having its result. */
  waitMs: number;
}

/**
 * torch.distributed's process group, reduced to what data-parallel training needs. Every rank must
 * call the same collectives in the same order with buffers of the same sizes.
 */
export interface ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** What carries the collectives, for the log ("MPI"); unset: the node cluster transport. */
  readonly transport?: string;
  /**
   * Sum every buffer element-wise across ranks, in place. The sum is taken in rank order on one
   * process, so every rank receives identical bits.
   */
  allReduce(buffers: readonly FloatBuffer[]): Promise<void>;
  /** Overwrite `buffer` on every rank with `root`'s. */
  broadcast(buffer: FloatBuffer, root?: number): Promise<void>;
  /** Every rank's `buffer`, indexed by rank. */
  allGather(buffer: Float64Array): Promise<Float64Array[]>;
  barrier(): Promise<void>;
  /**
   * True once the launcher asked the run to stop (Ctrl-C). It changes only when a collective
   * completes, and on every rank at the same collective, so ranks that test it at the same point of
   * their loop agree.
   */
  readonly stopRequested: boolean;
  stats(): CommStats;
  /** Tell the launcher this rank finished normally and release the channel. */
  close(): Promise<void>;
}

/** World size 1: every collective is the identity. */
export class LocalProcessGroup implements ProcessGroup {
  readonly rank = 0;
  readonly worldSize = 1;
  stopRequested = false;
  async allReduce(_buffers: readonly FloatBuffer[]): Promise<void> {}
  async broadcast(_buffer: FloatBuffer, _root?: number): Promise<void> {}
  allGather(buffer: Float64Array): Promise<Float64Array[]> {
    return Promise.resolve([buffer.slice()]);
  }
  async barrier(): Promise<void> {}
  stats(): CommStats {
    return { collectives: 0, bytesSent: 0, waitMs: 0 };
  }
  async close(): Promise<void> {}
}

/** A distributed run failed: names the rank and the cause. */
export class DistributedError extends Error {
  override name = "DistributedError";
  constructor(
    message: string,
    readonly rank: number | null = null,
  ) {
    super(message);
  }
}
