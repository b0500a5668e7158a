import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import { parseFloatTuple, type Optimizer } from "./optimizer.js";
import {
  cosineScheduleOptions,
  fixedScheduleOptions,
  inverseSqrtScheduleOptions,
  polynomialDecayScheduleOptions,
  reduceLrOnPlateauScheduleOptions,
  stepScheduleOptions,
  triStageScheduleOptions,
} from "./options.js";

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
  /** reduce_lr_on_plateau: `--lr-threshold` (1e-4, relative). */
  lrThreshold?: number;
  /** reduce_lr_on_plateau: `--lr-patience` (0 epochs). */
  lrPatience?: number;
  /** reduce_lr_on_plateau: `--maximize-best-checkpoint-metric` (mode "max" instead of "min"). */
  maximizeBestCheckpointMetric?: boolean;
  /** tri_stage: `--warmup-steps` (fairseq 0.10.2 default 4000). */
  warmupSteps?: number;
  /** tri_stage: `--hold-steps` (20000). */
  holdSteps?: number;
  /** tri_stage: `--decay-steps` (60000). */
  decaySteps?: number;
  /** tri_stage: `--phase-ratio '(0.1, 0.4, 0.5)'`: warmup/hold/decay steps as shares of --max-update. */
  phaseRatio?: string | [number, number, number] | null;
  /** tri_stage: `--init-lr-scale` (0.01). */
  initLrScale?: number;
  /** tri_stage: `--final-lr-scale` (0.01). */
  finalLrScale?: number;
  /** step: `--lr-deacy-period` (sic, fairseq's spelling; 25000). */
  lrDeacyPeriod?: number;
  /** step: `--lr-decay-period`, the same (either spelling is accepted). */
  lrDecayPeriod?: number;
  /** step: `--lr-decay` (0.5). */
  lrDecay?: number;
  /** step: the scheduler's `--min-lr` floor (0; later fairseq's name, not 0.10.2's stop-training --min-lr). */
  minLr?: number;
}

function isInt(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x);
}

function needNumber(flag: string, x: number, ok: (x: number) => boolean, what: string): number {
  if (typeof x !== "number" || !Number.isFinite(x) || !ok(x)) throw new Error(`${flag}: expected ${what}, got ${String(x)}`);
  return x;
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

/**
 * fairseq's `reduce_lr_on_plateau`: torch's ReduceLROnPlateau(factor=--lr-shrink, patience=--lr-patience,
 * threshold=--lr-threshold, threshold_mode "rel", mode "min" or "max" with
 * --maximize-best-checkpoint-metric) on the validation loss at epoch ends, after an optional linear
 * warmup from --warmup-init-lr to --lr over --warmup-updates (epochs ending during warmup only set
 * last_epoch). Improvement: loss < best·(1 - threshold) ("min") or > best·(1 + threshold) ("max");
 * after more than `patience` epochs without one, lr = lr·shrink (when that lowers it by more than 1e-8).
 */
export class ReduceLROnPlateauSchedule implements LrScheduler {
  readonly name = "reduce_lr_on_plateau";
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly warmupUpdates: number;
  readonly warmupInitLr: number;
  private readonly lrStep: number;
  /** torch's best (inf/-inf before the first validation). */
  best: number;
  lastEpoch = 0;
  numBadEpochs = 0;
  warmupEnd: boolean;
  constructor(
    private readonly opt: Optimizer,
    o: LrSchedulerOptions,
  ) {
    if (o.lr.length > 1) throw new Error("--lr: reduce_lr_on_plateau takes a single learning rate (use --lr-scheduler fixed for a list)");
    const end = o.lr[0]!;
    this.mode = o.maximizeBestCheckpointMetric ? "max" : "min";
    this.factor = needNumber("--lr-shrink", o.lrShrink ?? 0.1, (x) => x >= 0 && x < 1, "a factor in [0, 1) (torch: 'Factor should be < 1.0')");
    this.patience = needNumber("--lr-patience", o.lrPatience ?? 0, (x) => isInt(x) && x >= 0, "an integer >= 0");
    this.threshold = needNumber("--lr-threshold", o.lrThreshold ?? 1e-4, (x) => x >= 0, "a number >= 0");
    this.warmupUpdates = needNumber("--warmup-updates", o.warmupUpdates ?? 0, (x) => isInt(x), "an integer");
    const init = o.warmupInitLr ?? -1;
    this.warmupInitLr = init < 0 ? (this.warmupUpdates > 0 ? 0 : end) : init;
    this.lrStep = this.warmupUpdates > 0 ? (end - this.warmupInitLr) / this.warmupUpdates : 0;
    this.warmupEnd = this.warmupUpdates <= 0;
    this.best = this.worst();
    // fairseq 0.10.2 starts at warmup_init_lr even without warmup (later fairseq: --lr then)
    opt.setLr(this.warmupInitLr);
  }
  private worst(): number {
    return this.mode === "min" ? Infinity : -Infinity;
  }
  private isBetter(a: number): boolean {
    return this.mode === "min" ? a < this.best * (1 - this.threshold) : a > this.best * (1 + this.threshold);
  }
  step(epoch: number, valLoss?: number | null): number {
    if (valLoss != null && this.warmupEnd) {
      this.lastEpoch += 1;
      if (this.isBetter(valLoss)) {
        this.best = valLoss;
        this.numBadEpochs = 0;
      } else {
        this.numBadEpochs += 1;
      }
      if (this.numBadEpochs > this.patience) {
        const old = this.opt.getLr();
        const lr = Math.max(old * this.factor, 0);
        if (old - lr > 1e-8) this.opt.setLr(lr);
        this.numBadEpochs = 0;
      }
    } else {
      this.lastEpoch = epoch;
    }
    return this.opt.getLr();
  }
  stepUpdate(n: number): number {
    if (this.warmupUpdates > 0) {
      if (n <= this.warmupUpdates) this.opt.setLr(this.warmupInitLr + n * this.lrStep);
      else this.warmupEnd = true;
    }
    return this.opt.getLr();
  }
  /**
   * fairseq's {best, last_epoch} (best null while infinite, JSON has no Infinity) plus the patience
   * counter and warmup flag, so a resumed run continues exactly; states without them (fairseq's)
   * load with 0 bad epochs, as fairseq resumes.
   */
  stateDict(): Record<string, unknown> {
    return { best: Number.isFinite(this.best) ? this.best : null, last_epoch: this.lastEpoch, num_bad_epochs: this.numBadEpochs, warmup_end: this.warmupEnd };
  }
  loadStateDict(state: Record<string, unknown>): void {
    const { best, last_epoch: lastEpoch, num_bad_epochs: bad, warmup_end: warmupEnd } = state;
    if (best != null && typeof best !== "number") throw new Error(`reduce_lr_on_plateau state: best must be a number, got ${JSON.stringify(best)}`);
    this.best = best ?? this.worst();
    if (lastEpoch !== undefined) this.lastEpoch = needNumber("reduce_lr_on_plateau state last_epoch", lastEpoch as number, isInt, "an integer");
    this.numBadEpochs = bad === undefined ? 0 : needNumber("reduce_lr_on_plateau state num_bad_epochs", bad as number, isInt, "an integer");
    if (warmupEnd !== undefined) this.warmupEnd = warmupEnd === true;
  }
}

/**
 * fairseq's `tri_stage` (arXiv 1904.08779): from lr·init_lr_scale linearly up to lr over warmup steps,
 * hold lr, decay exponentially to lr·final_lr_scale over decay steps (lr·exp(-k·s), k =
 * -ln(final_lr_scale)/decay_steps), then stay there. Steps come from --phase-ratio × --max-update
 * (later fairseq) or --warmup-steps/--hold-steps/--decay-steps (0.10.2 defaults 4000/20000/60000).
 */
export class TriStageSchedule extends Base {
  readonly name = "tri_stage";
  readonly peakLr: number;
  readonly initLr: number;
  readonly finalLr: number;
  readonly warmupSteps: number;
  readonly holdSteps: number;
  readonly decaySteps: number;
  private readonly warmupRate: number;
  private readonly decayFactor: number;
  constructor(opt: Optimizer, o: LrSchedulerOptions) {
    super(opt, o);
    if (o.lr.length > 1) throw new Error("--lr: tri_stage takes a single learning rate (use --lr-scheduler fixed for a list)");
    const initScale = needNumber("--init-lr-scale", o.initLrScale ?? 0.01, (x) => x >= 0, "a number >= 0");
    const finalScale = needNumber("--final-lr-scale", o.finalLrScale ?? 0.01, (x) => x > 0, "a number > 0");
    this.peakLr = o.lr[0]!;
    this.initLr = initScale * this.peakLr;
    this.finalLr = finalScale * this.peakLr;
    if (o.phaseRatio != null) {
      const r = parseFloatTuple("--phase-ratio", o.phaseRatio, 3, "(0.1, 0.4, 0.5)");
      if (r.some((x) => x < 0) || Math.abs(r[0]! + r[1]! + r[2]! - 1) > 1e-9)
        throw new Error(`--phase-ratio: the ratios must be >= 0 and add up to 1, got (${r.join(", ")})`);
      if (!(o.maxUpdate && o.maxUpdate > 0)) throw new Error("--phase-ratio needs --max-update > 0 for tri_stage");
      [this.warmupSteps, this.holdSteps, this.decaySteps] = r.map((x) => Math.trunc(o.maxUpdate! * x)) as [number, number, number];
    } else {
      const steps = (flag: string, x: number) => needNumber(flag, x, (v) => isInt(v) && v >= 0, "an integer >= 0");
      this.warmupSteps = steps("--warmup-steps", o.warmupSteps ?? 4000);
      this.holdSteps = steps("--hold-steps", o.holdSteps ?? 20000);
      this.decaySteps = steps("--decay-steps", o.decaySteps ?? 60000);
    }
    // fairseq divides by decay_steps (ZeroDivisionError)
    if (!(this.decaySteps > 0)) throw new Error(`--decay-steps: tri_stage needs a decay stage of at least 1 step, got ${this.decaySteps}`);
    this.warmupRate = this.warmupSteps !== 0 ? (this.peakLr - this.initLr) / this.warmupSteps : 0;
    this.decayFactor = -Math.log(finalScale) / this.decaySteps;
    opt.setLr(this.initLr);
  }
  stepUpdate(n: number): number {
    let lr: number;
    const holdEnd = this.warmupSteps + this.holdSteps;
    if (n < this.warmupSteps) lr = this.initLr + this.warmupRate * n;
    else if (n < holdEnd) lr = this.peakLr;
    else if (n <= holdEnd + this.decaySteps) lr = this.peakLr * Math.exp(-this.decayFactor * (n - holdEnd));
    else lr = this.finalLr;
    this.opt.setLr(lr);
    return lr;
  }
}

/**
 * fairseq's `step` (StepLRSchedule, after 0.10.2): warmup from --warmup-init-lr (default --min-lr) to
 * --lr over --warmup-updates, then lr·lr_decay^floor((n - warmup)/period), floored at --min-lr.
 */
export class StepSchedule extends Base {
  readonly name = "step";
  readonly maxLr: number;
  readonly minLr: number;
  readonly period: number;
  readonly decay: number;
  readonly warmupUpdates: number;
  readonly warmupInitLr: number;
  private readonly warmupLrStep: number;
  constructor(opt: Optimizer, o: LrSchedulerOptions) {
    super(opt, o);
    this.maxLr = o.lr[0]!;
    if (o.lrDeacyPeriod !== undefined && o.lrDecayPeriod !== undefined && o.lrDeacyPeriod !== o.lrDecayPeriod) {
      throw new Error(`--lr-deacy-period (${o.lrDeacyPeriod}) and --lr-decay-period (${o.lrDecayPeriod}) disagree`);
    }
    const flag = o.lrDeacyPeriod !== undefined ? "--lr-deacy-period" : "--lr-decay-period";
    this.period = needNumber(flag, o.lrDeacyPeriod ?? o.lrDecayPeriod ?? 25000, (x) => isInt(x) && x > 0, "an integer > 0");
    this.decay = needNumber("--lr-decay", o.lrDecay ?? 0.5, (x) => x <= 1, "a factor <= 1");
    this.minLr = needNumber("--min-lr", o.minLr ?? 0, (x) => x >= 0, "a number >= 0 (the step scheduler's floor)");
    if (!(this.maxLr > this.minLr)) throw new Error(`--lr (${this.maxLr}) must be more than --min-lr (${this.minLr}) for the step scheduler`);
    this.warmupUpdates = needNumber("--warmup-updates", o.warmupUpdates ?? 0, (x) => isInt(x), "an integer");
    this.warmupInitLr = o.warmupInitLr !== undefined && o.warmupInitLr >= 0 ? o.warmupInitLr : this.minLr;
    this.warmupLrStep = this.warmupUpdates > 0 ? (this.maxLr - this.warmupInitLr) / this.warmupUpdates : 1;
    opt.setLr(this.warmupInitLr);
  }
  stepUpdate(n: number): number {
    const lr =
      n < this.warmupUpdates
        ? this.warmupInitLr + n * this.warmupLrStep
        : Math.max(this.maxLr * this.decay ** Math.floor((n - this.warmupUpdates) / this.period), this.minLr);
    this.opt.setLr(lr);
    return lr;
  }
}

type SchedulerFactory = (opt: Optimizer, o: LrSchedulerOptions) => LrScheduler;
const BUILTIN_SCHEDULERS: [string, SchedulerFactory, AnyOptionGroup][] = [
  ["inverse_sqrt", (opt, o) => new InverseSquareRootSchedule(opt, o), inverseSqrtScheduleOptions],
  ["fixed", (opt, o) => new FixedSchedule(opt, o), fixedScheduleOptions],
  ["polynomial_decay", (opt, o) => new PolynomialDecaySchedule(opt, o), polynomialDecayScheduleOptions],
  ["cosine", (opt, o) => new CosineSchedule(opt, o), cosineScheduleOptions],
  ["reduce_lr_on_plateau", (opt, o) => new ReduceLROnPlateauSchedule(opt, o), reduceLrOnPlateauScheduleOptions],
  ["tri_stage", (opt, o) => new TriStageSchedule(opt, o), triStageScheduleOptions],
  ["step", (opt, o) => new StepSchedule(opt, o), stepScheduleOptions],
];

// fairseq's LR_SCHEDULER_REGISTRY; built-ins registered on first use
const schedulers = new Registry<{ build: SchedulerFactory; options: AnyOptionGroup | null }>("lr scheduler", (r) => {
  for (const [name, build, options] of BUILTIN_SCHEDULERS) r.register(name, { build, options });
});

function schedulerEntry(name: string): { build: SchedulerFactory; options: AnyOptionGroup | null } {
  if (!schedulers.has(name)) throw new Error(`--lr-scheduler: unknown scheduler '${name}' (known: ${schedulers.names().join(", ")})`);
  return schedulers.get(name);
}

/** Register a scheduler under `name`, with the options it reads (the CLI offers them as flags). */
export function registerLrScheduler(name: string, factory: SchedulerFactory, options: AnyOptionGroup | null = null): void {
  if (schedulers.has(name)) throw new Error(`lr scheduler ${name} is already registered`);
  schedulers.register(name, { build: factory, options });
}

export function buildLrScheduler(name: string, opt: Optimizer, o: LrSchedulerOptions): LrScheduler {
  return schedulerEntry(name).build(opt, o);
}

/** The options of the scheduler called `name` (null: none declared); an unknown name is an Error naming --lr-scheduler. */
export function lrSchedulerOptionsOf(name: string): AnyOptionGroup | null {
  return schedulerEntry(name).options;
}
