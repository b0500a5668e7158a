import { RandomState } from "../rng/mt19937.js";

/** What the iterator needs from a dataset: items by index and a collater. */
export interface CollatableDataset<Item, Batch> {
  get(index: number): Item;
  collater(items: readonly Item[]): Batch | null;
  /** Told the epoch before it is read, as fairseq's `dataset.set_epoch` (noising datasets seed by it). */
  setEpoch?(epoch: number): void;
}

/** fairseq's iterator state: resume at `iterationsInEpoch` of `epoch`. */
export interface EpochBatchIteratorState {
  version: 2;
  epoch: number;
  iterationsInEpoch: number;
  shuffle: boolean;
}

export interface EpochBatchIteratorOptions {
  seed?: number;
  numShards?: number;
  shardId?: number;
  /** 1-based epoch to start at. */
  epoch?: number;
  /**
   * Every shard reads the whole group of N batches that fairseq's sharding deals to the N shards at
   * each position (batches kN … kN+N-1), so the consumer can divide their work itself (e.g. with
   * `balanceSamples`). An update still trains on fairseq's sentences and the iterator state is the
   * same; read it with `nextEpochPieces`.
   */
  shareBatchGroups?: boolean;
}

/** One pass over a list of batches, counting how many were consumed (fairseq's CountingIterator). */
export class CountingIterator<T> implements IterableIterator<T> {
  n: number;
  private pos: number;
  constructor(
    private readonly items: readonly T[],
    start = 0,
  ) {
    this.n = start;
    this.pos = 0;
  }
  /** Total length including the skipped start. */
  get total(): number {
    return this.n - this.pos + this.items.length;
  }
  hasNext(): boolean {
    return this.pos < this.items.length;
  }
  next(): IteratorResult<T> {
    if (this.pos >= this.items.length) return { done: true, value: undefined };
    this.n++;
    return { done: false, value: this.items[this.pos++]! };
  }
  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

/**
 * fairseq's `ShardedIterator` over a batch list: shard k takes batches k, k+N, k+2N, …, padded with
 * empty batches so every shard has ceil(len / N).
 */
export function shardBatches(batches: readonly Int32Array[], numShards: number, shardId: number): Int32Array[] {
  if (shardId < 0 || shardId >= numShards) throw new RangeError("shard_id must be between 0 and num_shards");
  const len = Math.ceil(batches.length / numShards);
  const out: Int32Array[] = [];
  for (let k = 0; k < len; k++) out.push(batches[shardId + k * numShards] ?? new Int32Array(0));
  return out;
}

/**
 * fairseq's `EpochBatchIterator`: a fixed list of batches (from `batchBySize`), shuffled per epoch with
 * numpy's generator seeded by `seed + epoch`, sharded across workers, resumable mid-epoch.
 */
export class EpochBatchIterator<Item, Batch> {
  readonly seed: number;
  readonly numShards: number;
  readonly shardId: number;
  readonly shareBatchGroups: boolean;
  epoch: number;
  shuffle = true;
  /** per position: the index lists this shard collates (one batch, or the group of N batches) */
  private cur: CountingIterator<Int32Array[]> | null = null;
  private nextItr: CountingIterator<Int32Array[]> | null = null;

  constructor(
    readonly dataset: CollatableDataset<Item, Batch>,
    readonly frozenBatches: readonly Int32Array[],
    options: EpochBatchIteratorOptions = {},
  ) {
    this.seed = options.seed ?? 1;
    this.numShards = options.numShards ?? 1;
    this.shardId = options.shardId ?? 0;
    this.shareBatchGroups = options.shareBatchGroups ?? false;
    this.epoch = Math.max(options.epoch ?? 1, 1);
  }

  /** Batches per epoch for this shard. */
  get length(): number {
    return Math.ceil(this.frozenBatches.length / this.numShards);
  }

  /** The epoch that `nextEpochItr` will return. */
  get nextEpochIdx(): number {
    if (this.nextItr) return this.epoch;
    if (this.cur && this.endOfEpoch()) return this.epoch + 1;
    return this.epoch;
  }

  /** Start (or resume) the next epoch; yields collated batches (null for a shard's padding batch). */
  nextEpochItr(options: { shuffle?: boolean } = {}): EpochIterator<Batch | null> {
    if (this.shareBatchGroups) throw new Error("EpochBatchIterator: every shard reads whole batch groups; read them with nextEpochPieces()");
    return new EpochIterator(this.startEpoch(options.shuffle ?? true), (p) => this.collate(p[0]!));
  }

  /**
   * Start (or resume) the next epoch; each position yields this shard's collated batches: its one
   * batch, or with `shareBatchGroups` the group of N batches (null for an empty one).
   */
  nextEpochPieces(options: { shuffle?: boolean } = {}): EpochIterator<(Batch | null)[]> {
    return new EpochIterator(this.startEpoch(options.shuffle ?? true), (p) => p.map((b) => this.collate(b)));
  }

  private startEpoch(shuffle: boolean): CountingIterator<Int32Array[]> {
    this.epoch = this.nextEpochIdx;
    if (this.nextItr) {
      this.cur = this.nextItr;
      this.nextItr = null;
    } else {
      this.cur = this.iteratorForEpoch(this.epoch, shuffle, 0)!;
    }
    this.shuffle = shuffle;
    // fairseq's next_epoch_itr ends with dataset.set_epoch(epoch).
    this.dataset.setEpoch?.(this.epoch);
    return this.cur;
  }

  endOfEpoch(): boolean {
    return this.cur ? !this.cur.hasNext() : false;
  }

  get iterationsInEpoch(): number {
    if (this.cur) return this.cur.n;
    if (this.nextItr) return this.nextItr.n;
    return 0;
  }

  stateDict(): EpochBatchIteratorState {
    if (this.cur && this.endOfEpoch()) return { version: 2, epoch: this.epoch + 1, iterationsInEpoch: 0, shuffle: this.shuffle };
    return { version: 2, epoch: this.epoch, iterationsInEpoch: this.iterationsInEpoch, shuffle: this.shuffle };
  }

  loadStateDict(state: EpochBatchIteratorState): void {
    this.epoch = state.epoch;
    const pos = state.iterationsInEpoch ?? 0;
    this.cur = null;
    if (pos > 0) {
      const itr = this.iteratorForEpoch(this.epoch, state.shuffle ?? true, pos);
      if (!itr) {
        throw new Error("Cannot resume training due to dataloader mismatch; relaunch with --reset-dataloader");
      }
      this.nextItr = itr;
    } else {
      this.nextItr = null;
    }
  }

  /** The batch index lists of an epoch for this shard, in order (for inspection and tests). */
  epochBatches(epoch: number, shuffle: boolean): Int32Array[] {
    return this.epochPositions(epoch, shuffle).map((p) => (p.length === 1 ? p[0]! : Int32Array.from(p.flatMap((b) => Array.from(b)))));
  }

  private epochPositions(epoch: number, shuffle: boolean): Int32Array[][] {
    const batches = [...this.frozenBatches];
    if (shuffle) new RandomState(this.seed + epoch).shuffle(batches);
    if (!this.shareBatchGroups) return shardBatches(batches, this.numShards, this.shardId).map((b) => [b]);
    const n = this.numShards;
    const positions: Int32Array[][] = [];
    // the batches fairseq's sharding gives the N shards at position k (empty past the end)
    for (let k = 0; k * n < batches.length; k++) positions.push(Array.from({ length: n }, (_, s) => batches[k * n + s] ?? new Int32Array(0)));
    return positions;
  }

  private iteratorForEpoch(epoch: number, shuffle: boolean, offset: number): CountingIterator<Int32Array[]> | null {
    const batches = this.epochPositions(epoch, shuffle);
    if (offset > 0 && offset >= batches.length) return null;
    return new CountingIterator(batches.slice(offset), offset);
  }

  private collate(indices: Int32Array): Batch | null {
    if (indices.length === 0) return null;
    return this.dataset.collater(Array.from(indices, (i) => this.dataset.get(i)));
  }
}

/** The iterator one epoch gives: collated batches (or pieces, see `nextEpochPieces`), with fairseq's counters. */
export class EpochIterator<T> implements IterableIterator<T> {
  constructor(
    private readonly inner: CountingIterator<Int32Array[]>,
    private readonly collate: (position: Int32Array[]) => T,
  ) {}
  get n(): number {
    return this.inner.n;
  }
  get total(): number {
    return this.inner.total;
  }
  hasNext(): boolean {
    return this.inner.hasNext();
  }
  next(): IteratorResult<T> {
    const r = this.inner.next();
    return r.done ? { done: true, value: undefined } : { done: false, value: this.collate(r.value) };
  }
  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
  /** fairseq's GroupedIterator: the rest of the epoch in groups of `size` (for --update-freq). */
  *grouped(size: number): Generator<T[]> {
    let group: T[] = [];
    for (const b of this) {
      group.push(b);
      if (group.length === size) {
        yield group;
        group = [];
      }
    }
    if (group.length > 0) yield group;
  }
}
