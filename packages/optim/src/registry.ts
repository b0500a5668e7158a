import { Adam, Sgd, type Optimizer } from "./optimizer.js";

export interface OptimizerOptions {
  lr: number;
  adamBetas?: string | [number, number];
  adamEps?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  amsgrad?: boolean;
}

type OptimizerFactory = (o: OptimizerOptions) => Optimizer;
const optimizers = new Map<string, OptimizerFactory>([
  ["adam", (o) => new Adam({ lr: o.lr, betas: o.adamBetas ?? "(0.9, 0.999)", eps: o.adamEps ?? 1e-8, weightDecay: o.weightDecay ?? 0, amsgrad: o.amsgrad })],
  ["sgd", (o) => new Sgd({ lr: o.lr, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 })],
]);

export function registerOptimizer(name: string, factory: OptimizerFactory): void {
  if (optimizers.has(name)) throw new Error(`optimizer ${name} is already registered`);
  optimizers.set(name, factory);
}

export function buildOptimizer(name: string, o: OptimizerOptions): Optimizer {
  const f = optimizers.get(name);
  if (!f) throw new Error(`--optimizer: unknown optimizer '${name}' (known: ${[...optimizers.keys()].join(", ")})`);
  return f(o);
}
