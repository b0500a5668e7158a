import * as tf from "@tensorflow/tfjs-core";
import { BufferedOptimizer, checkNumber, parseFloatTuple, type Grads } from "./optimizer.js";

export interface AdafactorOptions {
  /** External lr; must be null/undefined with `relativeStep` (fairseq: "Cannot combine manual lr and relative_step"). */
  lr?: number | null;
  /** `--adafactor-eps '(1e-30, 1e-3)'`: added to g², and the floor of the parameter RMS. */
  eps?: string | [number, number];
  /** `--clip-threshold`, 1.0: the update's RMS is clipped to it. */
  clipThreshold?: number;
  /** `--decay-rate`, -0.8: beta2 at step t is 1 - t^decayRate. */
  decayRate?: number;
  /** `--beta1`, default null (no first moment). */
  beta1?: number | null;
  /** `--weight-decay`, 0. */
  weightDecay?: number;
  /** `--scale-parameter` (fairseq's flag, default false): lr ·= max(eps[1], RMS(p)). */
  scaleParameter?: boolean;
  /** `--relative-step` (default false): lr = min(1e-2, 1/sqrt(t)) (or 1e-6·t with warmupInit). */
  relativeStep?: boolean;
  /** `--warmup-init` (needs relativeStep). */
  warmupInit?: boolean;
}

const factoredKeys = new Set(["exp_avg_sq_row", "exp_avg_sq_col"]);

/**
 * fairseq's `adafactor` (fairseq/optim/adafactor.py, Shazeer & Stern 2018), per parameter with step t:
 *
 *     lr = (relative_step ? min(warmup_init ? 1e-6·t : 1e-2, 1/sqrt(t)) : group lr)
 *          · (scale_parameter ? max(eps2, RMS(p)) : 1)            -> written back as the group lr
 *     beta2t = 1 - t^decay_rate;  u = g² + eps1
 *     ≥2-D: row = beta2t·row + (1-beta2t)·mean_-1(u); col = beta2t·col + (1-beta2t)·mean_-2(u)
 *           u = rsqrt(row/mean(row))[..., None] · rsqrt(col)[..., None, :] · g
 *     else: v = beta2t·v + (1-beta2t)·u;  u = rsqrt(v)·g
 *     u /= max(RMS(u)/clip_threshold, 1);  u ·= lr
 *     beta1: m = beta1·m + (1-beta1)·u;  u = m
 *     p -= wd·lr·p;  p -= u
 *
 * As in fairseq 0.10.2, the computed lr overwrites the group lr, so with scale_parameter and no
 * relative_step the next parameter (and the next step, unless a scheduler sets the lr again) starts
 * from the scaled lr; getLr() returns the last computed lr.
 */
export class Adafactor extends BufferedOptimizer {
  readonly name = "adafactor";
  readonly eps: [number, number];
  readonly clipThreshold: number;
  readonly decayRate: number;
  readonly beta1: number | null;
  readonly weightDecay: number;
  readonly scaleParameter: boolean;
  readonly relativeStep: boolean;
  readonly warmupInit: boolean;
  /** Per-parameter step counts (fairseq's state["step"]). */
  private readonly steps = new Map<string, number>();
  constructor(o: AdafactorOptions) {
    const relativeStep = o.relativeStep ?? false;
    if (o.lr != null && relativeStep) throw new Error("--relative-step: Adafactor computes its own learning rate; it cannot be combined with a manual --lr");
    if (o.lr == null && !relativeStep) throw new Error("--lr: Adafactor needs an external learning rate unless --relative-step is set");
    super(o.lr == null ? 0 : checkNumber("--lr", o.lr));
    this.eps = parseFloatTuple("--adafactor-eps", o.eps ?? [1e-30, 1e-3], 2, "(1e-30, 1e-3)") as [number, number];
    if (this.eps.some((e) => e < 0)) throw new Error(`--adafactor-eps: epsilons must be >= 0, got (${this.eps.join(", ")})`);
    this.clipThreshold = checkNumber("--clip-threshold", o.clipThreshold ?? 1.0, Number.MIN_VALUE);
    this.decayRate = o.decayRate ?? -0.8;
    if (!Number.isFinite(this.decayRate) || this.decayRate > 0) throw new Error(`--decay-rate: expected a finite number <= 0, got ${this.decayRate}`);
    this.beta1 = o.beta1 ?? null;
    if (this.beta1 !== null && !(this.beta1 >= 0 && this.beta1 < 1)) throw new Error(`--beta1: expected a number in [0, 1), got ${this.beta1}`);
    this.weightDecay = checkNumber("--weight-decay", o.weightDecay ?? 0);
    this.scaleParameter = o.scaleParameter ?? false;
    this.relativeStep = relativeStep;
    this.warmupInit = o.warmupInit ?? false;
    if (this.warmupInit && !relativeStep) throw new Error("--warmup-init requires --relative-step");
  }

  protected override bufferShape(key: string, paramShape: number[]): number[] {
    if (key === "exp_avg_sq_row") return paramShape.slice(0, -1);
    if (key === "exp_avg_sq_col") return [...paramShape.slice(0, -2), ...paramShape.slice(-1)];
    return paramShape;
  }

  step(params: Map<string, tf.Variable>, grads: Grads): void {
    this.stepCount++;
    const [eps1, eps2] = this.eps;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const t = (this.steps.get(name) ?? 0) + 1;
      this.steps.set(name, t);
      const factored = p.rank >= 2;
      let rel = this.lr;
      if (this.relativeStep) rel = Math.min(this.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t));
      let scale = 1;
      if (this.scaleParameter) {
        const rms = tf.tidy(() => tf.div(tf.sqrt(tf.sum(tf.square(p))), Math.sqrt(p.size)));
        scale = Math.max(eps2, rms.dataSync()[0]!);
        rms.dispose();
      }
      this.lr = scale * rel;
      const lr = this.lr;
      const beta2t = 1 - t ** this.decayRate;
      const row = factored ? this.buffer(name, "exp_avg_sq_row", p) : null;
      const col = factored ? this.buffer(name, "exp_avg_sq_col", p) : null;
      const v = factored ? null : this.buffer(name, "exp_avg_sq", p);
      const m = this.beta1 !== null ? this.buffer(name, "exp_avg", p) : null;
      tf.tidy(() => {
        const sq = tf.add(tf.square(g), eps1);
        let u: tf.Tensor;
        if (row && col) {
          const r1 = tf.add(tf.mul(row, beta2t), tf.mul(tf.mean(sq, -1), 1 - beta2t));
          const c1 = tf.add(tf.mul(col, beta2t), tf.mul(tf.mean(sq, p.rank - 2), 1 - beta2t));
          row.assign(r1);
          col.assign(c1);
          const rFactor = tf.expandDims(tf.rsqrt(tf.div(r1, tf.mean(r1, -1, true))), -1);
          const cFactor = tf.expandDims(tf.rsqrt(c1), -2);
          u = tf.mul(tf.mul(rFactor, cFactor), g);
        } else {
          const v1 = tf.add(tf.mul(v!, beta2t), tf.mul(sq, 1 - beta2t));
          v!.assign(v1);
          u = tf.mul(tf.rsqrt(v1), g);
        }
        const rmsU = tf.div(tf.sqrt(tf.sum(tf.square(u))), Math.sqrt(u.size));
        u = tf.mul(tf.div(u, tf.maximum(tf.div(rmsU, this.clipThreshold), 1)), lr);
        if (m) {
          const m1 = tf.add(tf.mul(m, this.beta1!), tf.mul(u, 1 - this.beta1!));
          m.assign(m1);
          u = m1;
        }
        const pd = this.weightDecay !== 0 ? tf.add(p, tf.mul(p, -this.weightDecay * lr)) : p;
        p.assign(tf.sub(pd, u));
      });
    }
  }

  override dispose(): void {
    super.dispose();
    this.steps.clear();
  }

  /** Per-parameter steps, only for parameters whose count differs from the optimizer's step. */
  protected override extraState(): Record<string, unknown> | undefined {
    const odd = Object.fromEntries([...this.steps].filter(([, n]) => n !== this.stepCount));
    return Object.keys(odd).length ? { steps: odd } : undefined;
  }
  protected override loadExtraState(extra: Record<string, unknown> | undefined): void {
    const odd = (extra?.steps ?? {}) as Record<string, unknown>;
    this.steps.clear();
    for (const name of this.buffers.keys()) {
      const n = odd[name] ?? this.stepCount;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
        throw new Error(`adafactor optimizer state: step of ${name} must be an integer, got ${JSON.stringify(n)}`);
      this.steps.set(name, n);
    }
    for (const [name, b] of this.buffers) {
      const hasFactored = Object.keys(b).some((k) => factoredKeys.has(k));
      if (hasFactored && !("exp_avg_sq_row" in b && "exp_avg_sq_col" in b))
        throw new Error(`adafactor optimizer state: ${name} has only one of exp_avg_sq_row/exp_avg_sq_col`);
    }
  }
}
