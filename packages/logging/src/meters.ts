import { pyRound } from "./format.js";

/** A clock in seconds; injectable so tests and resumed runs control time. */
export type Clock = () => number;
export const defaultClock: Clock = () => performance.now() / 1000;

export type MeterState = Record<string, number | null | undefined>;

/** fairseq's `Meter` interface. */
export interface Meter {
  reset(): void;
  /** The value a log line shows (rounded to the meter's `round`). */
  readonly smoothedValue: number | null;
  stateDict(): MeterState;
  loadStateDict(state: MeterState): void;
}

function maybeRound(v: number | null, round: number | null): number | null {
  return v != null && round != null ? pyRound(v, round) : v;
}

/** Weighted running average (fairseq's AverageMeter); a weight of 0 just records the latest value. */
export class AverageMeter implements Meter {
  val: number | null = null;
  sum = 0;
  count = 0;
  constructor(readonly round: number | null = null) {}
  reset(): void {
    this.val = null;
    this.sum = 0;
    this.count = 0;
  }
  update(val: number | null, n = 1): void {
    if (val == null) return;
    this.val = val;
    if (n > 0) {
      this.sum += val * n;
      this.count += n;
    }
  }
  get avg(): number | null {
    return this.count > 0 ? this.sum / this.count : this.val;
  }
  get smoothedValue(): number | null {
    return maybeRound(this.avg, this.round);
  }
  stateDict(): MeterState {
    return { val: this.val, sum: this.sum, count: this.count, round: this.round };
  }
  loadStateDict(s: MeterState): void {
    this.val = s.val ?? null;
    this.sum = s.sum ?? 0;
    this.count = s.count ?? 0;
    (this as { round: number | null }).round = s.round ?? null;
  }
}

/** Events per second since reset (fairseq's TimeMeter: wps, ups). */
export class TimeMeter implements Meter {
  init = 0;
  start = 0;
  n = 0;
  i = 0;
  constructor(
    readonly round: number | null = null,
    private readonly clock: Clock = defaultClock,
  ) {
    this.reset();
  }
  reset(init = 0, n = 0): void {
    this.init = init;
    this.start = this.clock();
    this.n = n;
    this.i = 0;
  }
  update(val = 1): void {
    this.n += val;
    this.i += 1;
  }
  get elapsedTime(): number {
    return this.init + (this.clock() - this.start);
  }
  get avg(): number {
    return this.n / this.elapsedTime;
  }
  get smoothedValue(): number | null {
    return maybeRound(this.avg, this.round);
  }
  stateDict(): MeterState {
    return { init: this.elapsedTime, n: this.n, round: this.round };
  }
  loadStateDict(s: MeterState): void {
    this.reset(s.init ?? 0, s.n ?? 0);
    (this as { round: number | null }).round = s.round ?? null;
  }
}

/** Accumulated duration of start/stop intervals (fairseq's StopwatchMeter: train_wall, wall). */
export class StopwatchMeter implements Meter {
  sum = 0;
  n = 0;
  startTime: number | null = null;
  constructor(
    readonly round: number | null = null,
    private readonly clock: Clock = defaultClock,
  ) {}
  start(): void {
    this.startTime = this.clock();
  }
  stop(n = 1): void {
    if (this.startTime == null) return;
    this.sum += this.clock() - this.startTime;
    this.n += n;
  }
  reset(): void {
    this.sum = 0;
    this.n = 0;
    this.start();
  }
  get avg(): number {
    return this.n > 0 ? this.sum / this.n : this.sum;
  }
  get elapsedTime(): number {
    return this.startTime == null ? 0 : this.clock() - this.startTime;
  }
  get smoothedValue(): number | null {
    return maybeRound(this.sum > 0 ? this.sum : this.elapsedTime, this.round);
  }
  stateDict(): MeterState {
    return { sum: this.sum, n: this.n, round: this.round };
  }
  loadStateDict(s: MeterState): void {
    this.sum = s.sum ?? 0;
    this.n = s.n ?? 0;
    this.startTime = null;
    (this as { round: number | null }).round = s.round ?? null;
  }
}
