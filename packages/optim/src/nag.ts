import * as tf from "@tensorflow/tfjs-core";
import { BufferedOptimizer, checkNumber, type Grads } from "./optimizer.js";

export interface NagOptions {
  lr: number;
  /** `--momentum`, fairseq's NAG default 0.99. */
  momentum?: number;
  /** `--weight-decay`, default 0. */
  weightDecay?: number;
}

/**
 * fairseq's `nag` (fairseq/optim/nag.py, FairseqNAG): Nesterov momentum in the "Sutskever" form with
 * a correction for a changing lr. With lr_correct = lr / lr_old (lr_old: the lr of the previous
 * step, initially the constructor's lr):
 *
 *     p *= 1 - lr·wd
 *     p += μ²·lr_correct·buf - (1+μ)·lr·g
 *     buf = μ·lr_correct·buf - lr·g
 *
 * fairseq 0.10.2 divides by zero when the previous lr was 0 (inverse_sqrt's first update); later fairseq
 * uses lr_correct = lr then, which changes nothing (buf is 0 after an lr-0 step) but does not crash: so do we.
 */
export class Nag extends BufferedOptimizer {
  readonly name = "nag";
  readonly momentum: number;
  readonly weightDecay: number;
  /** fairseq's group["lr_old"]. */
  lrOld: number;
  constructor(o: NagOptions) {
    super(checkNumber("--lr", o.lr));
    this.momentum = checkNumber("--momentum", o.momentum ?? 0.99);
    this.weightDecay = checkNumber("--weight-decay", o.weightDecay ?? 0);
    this.lrOld = o.lr;
  }
  step(params: Map<string, tf.Variable>, grads: Grads): void {
    this.stepCount++;
    const lr = this.lr;
    const mu = this.momentum;
    const wd = this.weightDecay;
    const lrCorrect = this.lrOld > 0 ? lr / this.lrOld : lr;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const buf = this.buffer(name, "momentum_buffer", p);
      tf.tidy(() => {
        const pd = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(tf.add(pd, tf.mul(buf, mu * mu * lrCorrect)), tf.mul(g, (1 + mu) * lr)));
        buf.assign(tf.sub(tf.mul(buf, mu * lrCorrect), tf.mul(g, lr)));
      });
    }
    this.lrOld = lr;
  }
  protected override extraState(): Record<string, unknown> {
    return { lr_old: this.lrOld };
  }
  /** A state without `lr_old` (e.g. a checkpoint that kept only lr/step) resumes with lr_old = its lr. */
  protected override loadExtraState(extra: Record<string, unknown> | undefined): void {
    const v = extra?.lr_old;
    if (v !== undefined && typeof v !== "number") throw new Error(`nag optimizer state: lr_old must be a number, got ${JSON.stringify(v)}`);
    this.lrOld = v ?? this.lr;
  }
}
