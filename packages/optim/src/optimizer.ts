import * as tf from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";

/** Gradients by parameter name (the trainer's accumulated, normalised gradients). */
export type Grads = Map<string, tf.Tensor>;

/** Serialisable optimizer state: per-parameter buffers as plain arrays plus scalars. */
export interface OptimizerState {
  name: string;
  lr: number;
  step: number;
  buffers: Record<string, Record<string, { shape: number[]; data: number[] | Float32Array }>>;
  /** Optimizer-specific scalars (JSON values), e.g. NAG's `lr_old`; absent when there are none. */
  extra?: Record<string, unknown>;
}

/** fairseq's FairseqOptimizer surface: step over named parameters, lr get/set, state_dict. */
export interface Optimizer {
  readonly name: string;
  getLr(): number;
  setLr(lr: number): void;
  /** Apply one update with these gradients (already normalised/clipped). */
  step(params: Map<string, tf.Variable>, grads: Grads): void;
  stateDict(): OptimizerState;
  loadStateDict(state: OptimizerState, params: Map<string, tf.Variable>): void;
  dispose(): void;
}

/**
 * Parse a Python tuple literal of `n` numbers as fairseq `eval`s its tuple flags (`--adam-betas
 * '(0.9, 0.98)'`, `--adafactor-eps '(1e-30, 1e-3)'`); arrays pass through (length checked).
 */
export function parseFloatTuple(flag: string, s: string | readonly number[], n: number, example: string): number[] {
  let xs: number[];
  if (typeof s !== "string") {
    xs = [...s];
  } else {
    const m = /^\s*[([]\s*(.*?)\s*[)\]]\s*$/.exec(s);
    const parts = m ? m[1]!.split(",").map((x) => x.trim()) : [];
    if (parts.length === n + 1 && parts[n] === "") parts.pop();
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
    if (!m || parts.length !== n || !parts.every((x) => num.test(x))) {
      throw new Error(`${flag}: expected a tuple of ${n} numbers like '${example}', got '${s}'`);
    }
    xs = parts.map(Number);
  }
  if (xs.length !== n || xs.some((x) => !Number.isFinite(x)))
    throw new Error(`${flag}: expected ${n} finite numbers like '${example}', got [${xs.join(", ")}]`);
  return xs;
}

/** Parse fairseq's `--adam-betas '(0.9, 0.98)'` (a Python tuple literal). */
export function parseBetas(s: string | [number, number]): [number, number] {
  const b = parseFloatTuple("--adam-betas", s, 2, "(0.9, 0.98)") as [number, number];
  if (b.some((x) => x < 0 || x >= 1)) throw new Error(`--adam-betas: betas must be in [0, 1), got '${String(s)}'`);
  return b;
}

/** Throw naming `flag` unless `x` is a finite number >= `min`. */
export function checkNumber(flag: string, x: number, min = 0): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x < min) throw new Error(`${flag}: expected a finite number >= ${min}, got ${String(x)}`);
  return x;
}

/** A non-trainable variable holding `init`'s values; `init` itself is disposed (no stray tensor). */
function ownedVariable(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

/**
 * Base of the optimizers: lr, a global step count and per-parameter buffers (tf.Variables, created
 * zero-filled on first use) with stateDict/loadStateDict. Subclasses add scalar state via
 * `extraState`/`loadExtraState` and buffers of other shapes via `bufferShape`.
 */
export abstract class BufferedOptimizer implements Optimizer {
  abstract readonly name: string;
  protected lr: number;
  protected stepCount = 0;
  protected buffers = new Map<string, Record<string, tf.Variable>>();
  constructor(lr: number) {
    this.lr = lr;
  }
  getLr(): number {
    return this.lr;
  }
  setLr(lr: number): void {
    this.lr = lr;
  }
  abstract step(params: Map<string, tf.Variable>, grads: Grads): void;
  /** Buffer `key` of parameter `name`, created on first use filled with `fill` (default 0). */
  protected buffer(name: string, key: string, like: tf.Tensor, fill = 0): tf.Variable {
    let b = this.buffers.get(name);
    if (!b) this.buffers.set(name, (b = {}));
    if (!b[key]) b[key] = ownedVariable(tf.fill(this.bufferShape(key, like.shape), fill, "float32"));
    return b[key]!;
  }
  /** Shape of buffer `key` for a parameter of `paramShape` (default: the parameter's shape). */
  protected bufferShape(_key: string, paramShape: number[]): number[] {
    return paramShape;
  }
  /** Scalar state beyond lr/step (JSON values); undefined when there is none. */
  protected extraState(): Record<string, unknown> | undefined {
    return undefined;
  }
  /** Restore `extraState()` (called after buffers are loaded; `extra` is undefined when absent). */
  protected loadExtraState(_extra: Record<string, unknown> | undefined): void {}
  stateDict(): OptimizerState {
    const buffers: OptimizerState["buffers"] = {};
    for (const [name, b] of this.buffers) {
      buffers[name] = {};
      for (const [k, v] of Object.entries(b)) buffers[name]![k] = { shape: v.shape, data: v.dataSync() as Float32Array };
    }
    const extra = this.extraState();
    return extra === undefined
      ? { name: this.name, lr: this.lr, step: this.stepCount, buffers }
      : { name: this.name, lr: this.lr, step: this.stepCount, buffers, extra };
  }
  loadStateDict(state: OptimizerState, params: Map<string, tf.Variable>): void {
    if (state.name !== this.name) throw new Error(`optimizer state is for ${state.name}, not ${this.name} (use --reset-optimizer)`);
    this.dispose();
    this.lr = state.lr;
    this.stepCount = state.step;
    for (const [name, b] of Object.entries(state.buffers)) {
      const p = params.get(name);
      if (!p) throw new Error(`optimizer state has a buffer for unknown parameter ${name} (use --reset-optimizer)`);
      const rec: Record<string, tf.Variable> = {};
      for (const [k, v] of Object.entries(b)) {
        const want = this.bufferShape(k, p.shape);
        if (!tf.util.arraysEqual(v.shape, want)) throw new Error(`optimizer state ${name}.${k}: shape [${v.shape}] != [${want}]`);
        rec[k] = ownedVariable(tf.tensor(Float32Array.from(v.data), v.shape, "float32"));
      }
      this.buffers.set(name, rec);
    }
    this.loadExtraState(state.extra);
  }
  dispose(): void {
    for (const b of this.buffers.values()) for (const v of Object.values(b)) v.dispose();
    this.buffers.clear();
  }
}

// KernelNames.Adam: a one-pass Adam kernel (inputs p, g, m, v; outputs p', m', v') that a backend may register:
// `@fairseq-ts/kernels-native` does (its `AdamAttrs` documents the attributes the two steps below pass),
// computing the same float32 operations in the same order as the composite, so results do not depend on whether it is there.

/** Assign p, m, v their next values through KernelNames.Adam; false (nothing done) when it is not registered. */
function adamKernelStep(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, attrs: tf.NamedAttrMap): boolean {
  if (p.dtype !== "float32" || g.dtype !== "float32" || !tf.getKernel(KernelNames.Adam, tf.getBackend())) return false;
  tf.tidy(() => {
    const [p1, m1, v1] = tf.engine().runKernel(KernelNames.Adam, { p, g, m, v }, attrs) as tf.Tensor[];
    p.assign(p1!);
    m.assign(m1!);
    v.assign(v1!);
  });
  return true;
}

export interface AdamOptions {
  lr: number;
  betas?: [number, number] | string;
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

/**
 * fairseq's Adam (fairseq/optim/adam.py): bias-corrected step size lr·sqrt(1-b2^t)/(1-b1^t), denominator
 * sqrt(v)+eps, and weight decay applied to the parameter as p -= wd·lr·p before the update.
 */
export class Adam extends BufferedOptimizer {
  readonly name: string = "adam";
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  constructor(o: AdamOptions) {
    super(o.lr);
    this.betas = parseBetas(o.betas ?? [0.9, 0.999]);
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.amsgrad = o.amsgrad ?? false;
  }
  step(params: Map<string, tf.Variable>, grads: Grads): void {
    this.stepCount++;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** this.stepCount;
    const bc2 = 1 - b2 ** this.stepCount;
    const stepSize = (this.lr * Math.sqrt(bc2)) / bc1;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.buffer(name, "exp_avg", p);
      const v = this.buffer(name, "exp_avg_sq", p);
      const vmax = this.amsgrad ? this.buffer(name, "max_exp_avg_sq", p) : null;
      const decay = this.weightDecay * this.lr;
      const attrs = {
        mode: "adam",
        b1,
        c1: 1 - b1,
        b2,
        c2: 1 - b2,
        eps: this.eps,
        step: stepSize,
        decay,
        hasDecay: this.weightDecay !== 0,
        sqrtBc2: 1,
      } as const;
      if (!vmax && adamKernelStep(p, g, m, v, attrs)) continue;
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(m1);
        v.assign(v1);
        let denomBase: tf.Tensor = v1;
        if (vmax) {
          const mx = tf.maximum(vmax, v1);
          vmax.assign(mx);
          denomBase = mx;
        }
        const denom = tf.add(tf.sqrt(denomBase), this.eps);
        let pd: tf.Tensor = p;
        if (this.weightDecay !== 0) pd = tf.sub(pd, tf.mul(pd, decay));
        p.assign(tf.sub(pd, tf.mul(tf.div(m1, denom), stepSize)));
      });
    }
  }
}

export interface AdamWOptions {
  lr: number;
  /** Default (0.9, 0.999). */
  betas?: [number, number] | string;
  /** Default 1e-8. */
  eps?: number;
  /** PyTorch's AdamW default 1e-2. */
  weightDecay?: number;
  amsgrad?: boolean;
}

/**
 * PyTorch's AdamW (torch.optim.AdamW, "Decoupled Weight Decay Regularization"): p *= 1 - lr·wd, then
 * m = b1·m + (1-b1)·g, v = b2·v + (1-b2)·g², denom = sqrt(v)/sqrt(1-b2^t) + eps (sqrt(max v) with
 * amsgrad), p -= lr/(1-b1^t) · m/denom. fairseq 0.10.2 has no `adamw` (its `adam` already decays
 * decoupled, but adds eps to sqrt(v) before the bias correction, which it folds into the step size);
 * the name follows PyTorch.
 */
export class AdamW extends BufferedOptimizer {
  readonly name: string = "adamw";
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  constructor(o: AdamWOptions) {
    super(checkNumber("--lr", o.lr));
    this.betas = parseBetas(o.betas ?? [0.9, 0.999]);
    this.eps = checkNumber("--adam-eps", o.eps ?? 1e-8);
    this.weightDecay = checkNumber("--weight-decay", o.weightDecay ?? 1e-2);
    this.amsgrad = o.amsgrad ?? false;
  }
  step(params: Map<string, tf.Variable>, grads: Grads): void {
    this.stepCount++;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** this.stepCount;
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.stepCount);
    const stepSize = this.lr / bc1;
    const decay = 1 - this.lr * this.weightDecay;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.buffer(name, "exp_avg", p);
      const v = this.buffer(name, "exp_avg_sq", p);
      const vmax = this.amsgrad ? this.buffer(name, "max_exp_avg_sq", p) : null;
      const attrs = { mode: "adamw", b1, c1: 1 - b1, b2, c2: 1 - b2, eps: this.eps, step: stepSize, decay, hasDecay: this.weightDecay !== 0, sqrtBc2 } as const;
      if (!vmax && adamKernelStep(p, g, m, v, attrs)) continue;
      tf.tidy(() => {
        const pd = this.weightDecay !== 0 ? tf.mul(p, decay) : p;
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(m1);
        v.assign(v1);
        let vd: tf.Tensor = v1;
        if (vmax) {
          vd = tf.maximum(vmax, v1);
          vmax.assign(vd);
        }
        const denom = tf.add(tf.div(tf.sqrt(vd), sqrtBc2), this.eps);
        p.assign(tf.sub(pd, tf.mul(tf.div(m1, denom), stepSize)));
      });
    }
  }
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** PyTorch's SGD (fairseq's `sgd`): d = g + wd·p; buf = μ·buf + d; p -= lr·(nesterov ? d + μ·buf : buf). */
export class Sgd extends BufferedOptimizer {
  readonly name = "sgd";
  constructor(readonly o: SgdOptions) {
    super(o.lr);
  }
  step(params: Map<string, tf.Variable>, grads: Grads): void {
    this.stepCount++;
    const mu = this.o.momentum ?? 0;
    const wd = this.o.weightDecay ?? 0;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const buf = mu !== 0 ? this.buffer(name, "momentum_buffer", p) : null;
      const first = buf !== null && this.stepCount === 1;
      tf.tidy(() => {
        let d: tf.Tensor = wd !== 0 ? tf.add(g, tf.mul(p, wd)) : g;
        if (buf) {
          const nb = first ? d : tf.add(tf.mul(buf, mu), d);
          buf.assign(nb);
          d = this.o.nesterov ? tf.add(d, tf.mul(nb, mu)) : nb;
        }
        p.assign(tf.sub(p, tf.mul(d, this.lr)));
      });
    }
  }
}

/**
 * fairseq's `clip_grad_norm_`: the L2 norm of all gradients together (returned, as fairseq logs it as
 * gnorm); when maxNorm > 0 and the norm exceeds it, every gradient is scaled by maxNorm/(norm + 1e-6).
 */
export function clipGradNorm(grads: Grads, maxNorm: number): { norm: number; grads: Grads } {
  const norm = tf.tidy(() => {
    const sq = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return sq.length ? tf.sqrt(tf.addN(sq)).dataSync()[0]! : 0;
  });
  if (!(maxNorm > 0)) return { norm, grads };
  const coef = Math.min(maxNorm / (norm + 1e-6), 1);
  if (coef >= 1) return { norm, grads };
  const out: Grads = new Map();
  for (const [k, g] of grads) {
    out.set(k, tf.mul(g, coef));
    g.dispose();
  }
  return { norm, grads: out };
}

/** Multiply every gradient by `c` (fairseq's multiply_grads: normalising by the sample size). */
export function multiplyGrads(grads: Grads, c: number): Grads {
  if (c === 1) return grads;
  const out: Grads = new Map();
  for (const [k, g] of grads) {
    out.set(k, tf.mul(g, c));
    g.dispose();
  }
  return out;
}

/** Non-finite gradient norm: fairseq's FloatingPointError("gradients are Nan/Inf"), naming the update. */
export class NonFiniteGradientError extends Error {
  override name = "NonFiniteGradientError";
  constructor(readonly update: number) {
    super(`gradients are Nan/Inf at update ${update}`);
  }
}
