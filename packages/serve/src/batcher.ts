/**
 * Dynamic batching: sentences that arrive within `waitMs` of the first waiting one are taken together, sorted by
 * length (as fairseq orders a data split) and cut into batches bounded by `maxTokens` (rows × longest source, as
 * fairseq-interactive counts) and `batchSize`. Generation is synchronous, so the queue yields to the event loop
 * between batches: requests keep arriving (and are refused with 429 when the queue is full) while a long run of
 * batches translates, and they join the next round.
 */
import type { ServedHypothesis, TranslationEngine } from "./engine.js";

export interface BatchBounds {
  /** At most this many padded source tokens in a batch (null: no bound). */
  maxTokens: number | null;
  /** At most this many sentences in a batch (null: no bound). */
  batchSize: number | null;
  /** How long the first waiting sentence waits for others (milliseconds). */
  waitMs: number;
}

/** The sentences of one request, answered together. */
export class Job {
  readonly promise: Promise<ServedHypothesis[][]>;
  private readonly results: ServedHypothesis[][];
  private remaining: number;
  private settle!: { resolve: (r: ServedHypothesis[][]) => void; reject: (err: unknown) => void };
  /** Set when the answer is no longer wanted (time limit, client gone): its sentences leave the queue untranslated. */
  cancelled = false;
  done = false;

  constructor(readonly sources: readonly Int32Array[]) {
    this.results = sources.map(() => []);
    this.remaining = sources.length;
    this.promise = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    if (this.remaining === 0) this.finish();
  }

  deliver(index: number, hyps: ServedHypothesis[]): void {
    if (this.done) return;
    this.results[index] = hyps;
    if (--this.remaining === 0) this.finish();
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.settle.reject(err);
  }

  private finish(): void {
    this.done = true;
    this.settle.resolve(this.results);
  }
}

interface Waiting {
  job: Job;
  index: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Rows in sorted order cut into batches, as fairseq-interactive cuts its buffer (padded rows × longest ≤ maxTokens). */
export function cutBatches<T>(sorted: readonly T[], lengthOf: (x: T) => number, bounds: Pick<BatchBounds, "maxTokens" | "batchSize">): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let longest = 0;
  for (const x of sorted) {
    const wider = Math.max(longest, lengthOf(x));
    const { batchSize, maxTokens } = bounds;
    if (batch.length && ((batchSize !== null && batch.length + 1 > batchSize) || (maxTokens !== null && (batch.length + 1) * wider > maxTokens))) {
      out.push(batch);
      batch = [];
      longest = 0;
    }
    batch.push(x);
    longest = Math.max(longest, lengthOf(x));
  }
  if (batch.length) out.push(batch);
  return out;
}

/** One model's queue. */
export class BatchQueue {
  private waiting: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  /** Batches translated so far and their sizes (for tests and /health). */
  readonly batchSizes: number[] = [];

  constructor(
    private readonly engine: TranslationEngine,
    private readonly bounds: BatchBounds,
  ) {}

  /** Sentences waiting (not yet in a batch). */
  get length(): number {
    return this.waiting.length;
  }

  submit(job: Job): void {
    job.sources.forEach((_, index) => this.waiting.push({ job, index }));
    if (job.sources.length > 0 && !this.running && this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.run();
      }, this.bounds.waitMs);
    }
  }

  /** Resolves once nothing waits and nothing translates. */
  idle(): Promise<void> {
    if (!this.running && this.timer === null && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let round = 0; this.waiting.length > 0; round++) {
        // Between rounds, --batch-wait-ms again: requests that arrived on new connections while the last round
        // computed need a few turns of the event loop (accept, read, parse) before they reach the queue, and a
        // single turn would leave them for rounds of their own (measured: 32 simultaneous new connections behind a
        // long batch became 28 batches, on open keep-alive connections 2).
        if (round > 0) await new Promise<void>((resolve) => setTimeout(resolve, this.bounds.waitMs));
        const taken = this.waiting.filter((w) => !w.job.cancelled);
        this.waiting = [];
        // (a stable sort: equal lengths keep their arrival order)
        taken.sort((a, b) => a.job.sources[a.index]!.length - b.job.sources[b.index]!.length);
        for (const batch of cutBatches(taken, (w) => w.job.sources[w.index]!.length, this.bounds)) {
          const live = batch.filter((w) => !w.job.cancelled && !w.job.done);
          if (live.length > 0) {
            try {
              const hyps = this.engine.translate(live.map((w) => w.job.sources[w.index]!));
              this.batchSizes.push(live.length);
              live.forEach((w, i) => w.job.deliver(w.index, hyps[i]!));
            } catch (err) {
              for (const w of live) w.job.fail(err);
            }
          }
          await yieldToEventLoop();
        }
      }
    } finally {
      this.running = false;
      if (this.waiting.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
