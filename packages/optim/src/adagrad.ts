import * as tf from "@tensorflow/tfjs-core";
import { BufferedOptimizer, checkNumber, type Grads } from "./optimizer.js";

export interface AdagradOptions {
  lr: number;
  /** `--weight-decay`, default 0. */
  weightDecay?: number;
  /** PyTorch's lr_decay (fairseq leaves it at 0). */
  lrDecay?: number;
  /** PyTorch's eps, 1e-10 (fairseq leaves the default). */
  eps?: number;
  /** PyTorch's initial_accumulator_value, 0 (fairseq leaves the default). */
  initialAccumulatorValue?: number;
}

/**
 * fairseq's `adagrad` = torch.optim.Adagrad(lr, weight_decay): g += wd·p; sum += g²;
 * p -= lr/(1 + (t-1)·lr_decay) · g/(sqrt(sum) + eps). The step t is the optimizer's (every parameter
 * steps together in fairseq-ts), which only matters with a non-zero lrDecay.
 */
export class Adagrad extends BufferedOptimizer {
  readonly name = "adagrad";
  readonly weightDecay: number;
  readonly lrDecay: number;
  readonly eps: number;
  readonly initialAccumulatorValue: number;
  constructor(o: AdagradOptions) {
    super(checkNumber("--lr", o.lr));
    this.weightDecay = checkNumber("--weight-decay", o.weightDecay ?? 0);
    this.lrDecay = checkNumber("adagrad lr_decay", o.lrDecay ?? 0);
    this.eps = checkNumber("adagrad eps", o.eps ?? 1e-10);
    this.initialAccumulatorValue = checkNumber("adagrad initial_accumulator_value", o.initialAccumulatorValue ?? 0);
  }
  step(params: Map<string, tf.Variable>, grads: Grads): void {
    this.stepCount++;
    const clr = this.lr / (1 + (this.stepCount - 1) * this.lrDecay);
    const wd = this.weightDecay;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const sum = this.buffer(name, "sum", p, this.initialAccumulatorValue);
      tf.tidy(() => {
        const gd = wd !== 0 ? tf.add(g, tf.mul(p, wd)) : g;
        const s1 = tf.add(sum, tf.square(gd));
        sum.assign(s1);
        p.assign(tf.sub(p, tf.mul(tf.div(gd, tf.add(tf.sqrt(s1), this.eps)), clr)));
      });
    }
  }
}
