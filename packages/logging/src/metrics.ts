import { AverageMeter, defaultClock, StopwatchMeter, TimeMeter, type Clock, type Meter, type MeterState } from "./meters.js";

/** A meter computed from the others at read time (fairseq's `log_derived`, e.g. ppl from nll_loss). */
export class DerivedMeter {
  constructor(readonly fn: (meters: MetersDict) => number | null) {}
}

/** Ordered values as a log line shows them (insertion order = fairseq's priority order). */
export type SmoothedValues = Map<string, number | null>;

/** Meters kept in priority order (fairseq's MetersDict). */
export class MetersDict {
  private entries: { priority: number; seq: number; key: string; meter: Meter | DerivedMeter }[] = [];
  private seq = 0;

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }
  get(key: string): Meter | DerivedMeter | undefined {
    return this.entries.find((e) => e.key === key)?.meter;
  }
  add(key: string, meter: Meter | DerivedMeter, priority: number): void {
    if (this.has(key)) throw new Error(`MetersDict: meter ${key} already exists`);
    this.entries.push({ priority, seq: this.seq++, key, meter });
    this.entries.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  }
  keys(): string[] {
    return this.entries.map((e) => e.key);
  }
  /** The value a log line shows for one meter. */
  smoothedValue(key: string): number | null {
    const m = this.get(key);
    if (m === undefined) throw new Error(`no meter named ${key}`);
    return m instanceof DerivedMeter ? m.fn(this) : m.smoothedValue;
  }
  /** All values except keys starting with `_`, in priority order. */
  smoothedValues(): SmoothedValues {
    const out: SmoothedValues = new Map();
    for (const e of this.entries) if (!e.key.startsWith("_")) out.set(e.key, this.smoothedValue(e.key));
    return out;
  }
  reset(): void {
    for (const e of this.entries) if (!(e.meter instanceof DerivedMeter)) e.meter.reset();
  }
  stateDict(): [number, string, string, MeterState][] {
    return this.entries
      .filter((e) => !(e.meter instanceof DerivedMeter))
      .map((e) => [e.priority, e.key, (e.meter as Meter).constructor.name, (e.meter as Meter).stateDict()]);
  }
  loadStateDict(state: [number, string, string, MeterState][], clock: Clock): void {
    this.entries = [];
    for (const [priority, key, cls, s] of state) {
      const meter = cls === "TimeMeter" ? new TimeMeter(null, clock) : cls === "StopwatchMeter" ? new StopwatchMeter(null, clock) : new AverageMeter();
      meter.loadStateDict(s);
      this.add(key, meter, priority);
    }
  }
}

export interface ScalarOptions {
  /** Weight of this value in the average (fairseq: sample_size for loss, 0 for lr/num_updates). */
  weight?: number;
  priority?: number;
  round?: number | null;
}

/**
 * fairseq's `metrics` module as an object: named aggregation contexts that every logged value goes
 * into while they are active. "default" is always active. Not a global: a trainer owns one.
 */
export class Metrics {
  private readonly aggregators = new Map<string, MetersDict>();
  private active: string[] = ["default"];
  private anon = 0;

  constructor(private readonly clock: Clock = defaultClock) {
    this.aggregators.set("default", new MetersDict());
  }

  /**
   * Run `fn` with aggregator `name` active (created on first use). `newRoot` makes it the only active
   * one (besides nothing: fairseq's `new_root=True` for validation). Works with async `fn`.
   */
  aggregate<T>(name: string | null, fn: (agg: MetersDict) => T, options: { newRoot?: boolean } = {}): T {
    const key = name ?? `_anon_${this.anon++}`;
    let agg = this.aggregators.get(key);
    if (!agg) {
      agg = new MetersDict();
      this.aggregators.set(key, agg);
    }
    const saved = this.active;
    this.active = options.newRoot ? [key] : [...saved, key];
    const restore = () => {
      this.active = saved;
      if (name === null) this.aggregators.delete(key);
    };
    try {
      const out = fn(agg);
      if (out instanceof Promise) {
        return out.finally(restore) as T;
      }
      restore();
      return out;
    } catch (err) {
      restore();
      throw err;
    }
  }

  private activeAggs(): MetersDict[] {
    return this.active.map((k) => this.aggregators.get(k)!);
  }

  logScalar(key: string, value: number | null, options: ScalarOptions = {}): void {
    const { weight = 1, priority = 10, round = null } = options;
    for (const agg of this.activeAggs()) {
      if (!agg.has(key)) agg.add(key, new AverageMeter(round), priority);
      (agg.get(key) as AverageMeter).update(value, weight);
    }
  }

  logDerived(key: string, fn: (meters: MetersDict) => number | null, priority = 20): void {
    for (const agg of this.activeAggs()) if (!agg.has(key)) agg.add(key, new DerivedMeter(fn), priority);
  }

  /** Events per second (wps, ups); the first call only starts the clock, as in fairseq. */
  logSpeed(key: string, value: number, options: { priority?: number; round?: number | null } = {}): void {
    const { priority = 30, round = null } = options;
    for (const agg of this.activeAggs()) {
      if (!agg.has(key)) {
        const m = new TimeMeter(round, this.clock);
        agg.add(key, m, priority);
        m.reset();
      } else {
        (agg.get(key) as TimeMeter).update(value);
      }
    }
  }

  logStartTime(key: string, options: { priority?: number; round?: number | null } = {}): void {
    const { priority = 40, round = null } = options;
    for (const agg of this.activeAggs()) {
      if (!agg.has(key)) agg.add(key, new StopwatchMeter(round, this.clock), priority);
      (agg.get(key) as StopwatchMeter).start();
    }
  }

  logStopTime(key: string, weight = 0): void {
    for (const agg of this.activeAggs()) {
      const m = agg.get(key);
      if (m instanceof StopwatchMeter) m.stop(weight);
    }
  }

  getMeters(name: string): MetersDict | undefined {
    return this.aggregators.get(name);
  }
  getMeter(name: string, key: string): Meter | DerivedMeter | undefined {
    return this.aggregators.get(name)?.get(key);
  }
  getSmoothedValues(name: string): SmoothedValues {
    return this.aggregators.get(name)?.smoothedValues() ?? new Map<string, number | null>();
  }
  resetMeters(name: string): void {
    this.aggregators.get(name)?.reset();
  }

  /** Meter states of every named aggregator (derived meters are re-created when next logged). */
  stateDict(): Record<string, ReturnType<MetersDict["stateDict"]>> {
    const out: Record<string, ReturnType<MetersDict["stateDict"]>> = {};
    for (const [k, v] of this.aggregators) if (!k.startsWith("_anon_")) out[k] = v.stateDict();
    return out;
  }
  loadStateDict(state: Record<string, ReturnType<MetersDict["stateDict"]>>): void {
    for (const [k, s] of Object.entries(state)) {
      const agg = new MetersDict();
      agg.loadStateDict(s, this.clock);
      this.aggregators.set(k, agg);
    }
  }
}
