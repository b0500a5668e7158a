import type { Optimizer } from "./optimizer.js";

/** fairseq's LR scheduler surface: `step(epoch, valLoss)` at epoch ends, `stepUpdate(n)` after each update. */
export interface LrScheduler {
  readonly name: string;
  step(epoch: number, valLoss?: number | null): number;
  stepUpdate(numUpdates: number): number;
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

/** Options with fairseq's names (camelCase); `lr` is fairseq's `--lr` list. */
export interface LrSchedulerOptions {
  lr: number[];
  warmupUpdates?: number;
  warmupInitLr?: number;
  forceAnneal?: number | null;
  lrShrink?: number;
  maxLr?: number;
  tMult?: number;
  lrPeriodUpdates?: number;
  maxUpdate?: number;
  endLearningRate?: number;
  power?: number;
  totalNumUpdate?: number;
}

abstract class Base implements LrScheduler {
  abstract readonly name: string;
  best: number | null = null;
  constructor(
    protected readonly opt: Optimizer,
    protected readonly o: LrSchedulerOptions,
  ) {}
  step(_epoch: number, valLoss?: number | null): number {
    if (valLoss != null) this.best = this.best === null ? valLoss : Math.min(this.best, valLoss);
    return this.opt.getLr();
  }
  abstract stepUpdate(numUpdates: number): number;
  stateDict(): Record<string, unknown> {
    return { best: this.best };
  }
  loadStateDict(state: Record<string, unknown>): void {
    this.best = (state.best as number | null) ?? null;
  }
}

/** fairseq's `inverse_sqrt`: linear warmup from warmup_init_lr to lr, then lr·sqrt(warmup/num_updates). */
export class InverseSquareRootSchedule extends Base {
  readonly name = "inverse_sqrt";
  private readonly warmupInitLr: number;
  private readonly lrStep: number;
  private readonly decayFactor: number;
  constructor(opt: Optimizer, o: LrSchedulerOptions) {
    super(opt, o);
    if (o.lr.length > 1) throw new Error("--lr: inverse_sqrt takes a single learning rate");
    const warmup = o.warmupUpdates ?? 4000;
    const end = o.lr[0]!;
    const init = o.warmupInitLr !== undefined && o.warmupInitLr >= 0 ? o.warmupInitLr : warmup > 0 ? 0 : end;
    this.warmupInitLr = init;
    this.lrStep = (end - init) / warmup;
    this.decayFactor = end * Math.sqrt(warmup);
    opt.setLr(init);
  }
  stepUpdate(n: number): number {
    const warmup = this.o.warmupUpdates ?? 4000;
    const lr = n < warmup ? this.warmupInitLr + n * this.lrStep : this.decayFactor * n ** -0.5;
    this.opt.setLr(lr);
    return lr;
  }
}

/** fairseq's `fixed`: lr per epoch from the --lr list (or annealed by lr_shrink after force_anneal), with warmup. */
export class FixedSchedule extends Base {
  readonly name = "fixed";
  private lr: number;
  private warmupFactor: number;
  constructor(opt: Optimizer, o: LrSchedulerOptions) {
    super(opt, o);
    this.lr = o.lr[0]!;
    this.warmupFactor = (o.warmupUpdates ?? 0) > 0 ? 1 / o.warmupUpdates! : 1;
  }
  private nextLr(epoch: number): number {
    const lrs = this.o.lr;
    if (this.o.forceAnneal == null || epoch < this.o.forceAnneal) return lrs[Math.min(epoch, lrs.length - 1)]!;
    return lrs[lrs.length - 1]! * (this.o.lrShrink ?? 0.1) ** (epoch + 1 - this.o.forceAnneal);
  }
  override step(epoch: number, valLoss?: number | null): number {
    super.step(epoch, valLoss);
    this.lr = this.nextLr(epoch);
    this.opt.setLr(this.warmupFactor * this.lr);
    return this.opt.getLr();
  }
  stepUpdate(n: number): number {
    const w = this.o.warmupUpdates ?? 0;
    if (w > 0 && n < w) {
      this.warmupFactor = (n + 1) / w;
      this.opt.setLr(this.warmupFactor * this.lr);
    } else {
      this.opt.setLr(this.lr);
    }
    return this.opt.getLr();
  }
}

/** fairseq's `polynomial_decay`: warmup, then (lr - end)·(1 - progress)^power + end. */
export class PolynomialDecaySchedule extends Base {
  readonly name = "polynomial_decay";
  private lr: number;
  private warmupFactor: number;
  constructor(opt: Optimizer, o: LrSchedulerOptions) {
    super(opt, o);
    if (!(o.totalNumUpdate && o.totalNumUpdate > 0)) throw new Error("--total-num-update must be set for polynomial_decay");
    this.lr = o.lr[0]!;
    this.warmupFactor = (o.warmupUpdates ?? 0) > 0 ? 1 / o.warmupUpdates! : 1;
    opt.setLr(this.warmupFactor * this.lr);
  }
  override step(epoch: number, valLoss?: number | null): number {
    super.step(epoch, valLoss);
    const lrs = this.o.lr;
    this.lr = this.o.forceAnneal == null || epoch < this.o.forceAnneal ? lrs[Math.min(epoch, lrs.length - 1)]! : this.opt.getLr();
    this.opt.setLr(this.warmupFactor * this.lr);
    return this.opt.getLr();
  }
  stepUpdate(n: number): number {
    const w = this.o.warmupUpdates ?? 0;
    const end = this.o.endLearningRate ?? 0;
    const total = this.o.totalNumUpdate!;
    let lr: number;
    if (w > 0 && n <= w) {
      this.warmupFactor = n / w;
      lr = this.warmupFactor * this.lr;
    } else if (n >= total) {
      lr = end;
    } else {
      const pct = 1 - (n - w) / (total - w);
      lr = (this.lr - end) * pct ** (this.o.power ?? 1) + end;
    }
    this.opt.setLr(lr);
    return lr;
  }
}

/** fairseq's `cosine` (SGDR): warmup, then cosine cycles between lr and max_lr with t_mult and lr_shrink. */
export class CosineSchedule extends Base {
  readonly name = "cosine";
  private readonly minLr: number;
  private readonly maxLr: number;
  private readonly period: number;
  private readonly lrStep: number;
  private readonly warmupInitLr: number;
  constructor(opt: Optimizer, o: LrSchedulerOptions) {
    super(opt, o);
    if (o.lr.length > 1) throw new Error("--lr: cosine takes a single learning rate");
    this.minLr = o.lr[0]!;
    this.maxLr = o.maxLr ?? o.lr[0]!;
    if (!(this.maxLr > this.minLr)) throw new Error("--max-lr must be more than --lr for the cosine schedule");
    this.warmupInitLr = o.warmupInitLr !== undefined && o.warmupInitLr >= 0 ? o.warmupInitLr : this.minLr;
    const warmup = o.warmupUpdates ?? 0;
    let period = o.lrPeriodUpdates ?? -1;
    if (period <= 0) {
      if (!(o.maxUpdate && o.maxUpdate > 0)) throw new Error("cosine: either --max-update or --lr-period-updates must be set");
      period = o.maxUpdate - warmup;
    }
    this.period = period;
    this.lrStep = warmup > 0 ? (this.maxLr - this.warmupInitLr) / warmup : 1;
    opt.setLr(this.warmupInitLr);
  }
  stepUpdate(n: number): number {
    const warmup = this.o.warmupUpdates ?? 0;
    const tMult = this.o.tMult ?? 1;
    let lr: number;
    if (n < warmup) {
      lr = this.warmupInitLr + n * this.lrStep;
    } else {
      const cur = n - warmup;
      let i: number;
      let ti: number;
      let tcur: number;
      if (tMult !== 1) {
        i = Math.floor(Math.log(1 - (cur / this.period) * (1 - tMult)) / Math.log(tMult));
        ti = tMult ** i * this.period;
        tcur = cur - ((1 - tMult ** i) / (1 - tMult)) * this.period;
      } else {
        i = Math.floor(cur / this.period);
        ti = this.period;
        tcur = cur - this.period * i;
      }
      const shrink = (this.o.lrShrink ?? 0.1) ** i;
      const lo = this.minLr * shrink;
      const hi = this.maxLr * shrink;
      lr = lo + 0.5 * (hi - lo) * (1 + Math.cos((Math.PI * tcur) / ti));
    }
    this.opt.setLr(lr);
    return lr;
  }
}

type SchedulerFactory = (opt: Optimizer, o: LrSchedulerOptions) => LrScheduler;
const schedulers = new Map<string, SchedulerFactory>([
  ["inverse_sqrt", (opt, o) => new InverseSquareRootSchedule(opt, o)],
  ["fixed", (opt, o) => new FixedSchedule(opt, o)],
  ["polynomial_decay", (opt, o) => new PolynomialDecaySchedule(opt, o)],
  ["cosine", (opt, o) => new CosineSchedule(opt, o)],
]);

export function registerLrScheduler(name: string, factory: SchedulerFactory): void {
  if (schedulers.has(name)) throw new Error(`lr scheduler ${name} is already registered`);
  schedulers.set(name, factory);
}

export function buildLrScheduler(name: string, opt: Optimizer, o: LrSchedulerOptions): LrScheduler {
  const f = schedulers.get(name);
  if (!f) throw new Error(`--lr-scheduler: unknown scheduler '${name}' (known: ${[...schedulers.keys()].join(", ")})`);
  return f(opt, o);
}
