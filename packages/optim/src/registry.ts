import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import { Adafactor } from "./adafactor.js";
import { adafactorOptions, adagradOptions, adamOptions, adamwOptions, nagOptions, sgdOptions } from "./options.js";
import { Adagrad } from "./adagrad.js";
import { Nag } from "./nag.js";
import { Adam, AdamW, Sgd, type Optimizer } from "./optimizer.js";

/** Options with fairseq's flag names (camelCase); each optimizer reads the ones it knows. */
export interface OptimizerOptions {
  /** `--lr` (the first value of fairseq's list). */
  lr: number;
  /** `--adam-betas '(0.9, 0.999)'` (adam, adamw). */
  adamBetas?: string | [number, number];
  /** `--adam-eps` (adam, adamw; default 1e-8). */
  adamEps?: number;
  /** `--weight-decay` (default 0; adamw: PyTorch's 1e-2). */
  weightDecay?: number;
  /** `--momentum` (sgd default 0, nag default 0.99). */
  momentum?: number;
  nesterov?: boolean;
  /** `--amsgrad` (adam, adamw). */
  amsgrad?: boolean;
  /** adafactor: `--adafactor-eps '(1e-30, 1e-3)'`. */
  adafactorEps?: string | [number, number];
  /** adafactor: `--clip-threshold` (1.0). */
  clipThreshold?: number;
  /** adafactor: `--decay-rate` (-0.8). */
  decayRate?: number;
  /** adafactor: `--beta1` (default None: no first moment). */
  beta1?: number | null;
  /** adafactor: `--scale-parameter`. */
  scaleParameter?: boolean;
  /** adafactor: `--relative-step` (then `lr` is ignored: Adafactor computes its own). */
  relativeStep?: boolean;
  /** adafactor: `--warmup-init` (needs relativeStep). */
  warmupInit?: boolean;
}

type OptimizerFactory = (o: OptimizerOptions) => Optimizer;
const BUILTIN_OPTIMIZERS: [string, OptimizerFactory, AnyOptionGroup][] = [
  [
    "adam",
    (o) => new Adam({ lr: o.lr, betas: o.adamBetas ?? "(0.9, 0.999)", eps: o.adamEps ?? 1e-8, weightDecay: o.weightDecay ?? 0, amsgrad: o.amsgrad }),
    adamOptions,
  ],
  [
    "adamw",
    (o) => new AdamW({ lr: o.lr, betas: o.adamBetas ?? "(0.9, 0.999)", eps: o.adamEps ?? 1e-8, weightDecay: o.weightDecay ?? 1e-2, amsgrad: o.amsgrad }),
    adamwOptions,
  ],
  ["sgd", (o) => new Sgd({ lr: o.lr, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 }), sgdOptions],
  ["nag", (o) => new Nag({ lr: o.lr, momentum: o.momentum ?? 0.99, weightDecay: o.weightDecay ?? 0 }), nagOptions],
  ["adagrad", (o) => new Adagrad({ lr: o.lr, weightDecay: o.weightDecay ?? 0 }), adagradOptions],
  [
    "adafactor",
    // fairseq 0.10.2 always passes --lr, so its --relative-step fails ("Cannot combine manual lr and
    // relative_step options"); here --lr is ignored under --relative-step.
    (o) =>
      new Adafactor({
        lr: o.relativeStep ? null : o.lr,
        eps: o.adafactorEps ?? "(1e-30, 1e-3)",
        clipThreshold: o.clipThreshold ?? 1.0,
        decayRate: o.decayRate ?? -0.8,
        beta1: o.beta1 ?? null,
        weightDecay: o.weightDecay ?? 0,
        scaleParameter: o.scaleParameter ?? false,
        relativeStep: o.relativeStep ?? false,
        warmupInit: o.warmupInit ?? false,
      }),
    adafactorOptions,
  ],
];

/** An optimizer entry: the factory and the optimizer's own options (null: none declared). */
interface OptimizerEntry {
  build: OptimizerFactory;
  options: AnyOptionGroup | null;
}

// fairseq's OPTIMIZER_REGISTRY; built-ins registered on first use
const optimizers = new Registry<OptimizerEntry>("optimizer", (r) => {
  for (const [name, build, options] of BUILTIN_OPTIMIZERS) r.register(name, { build, options });
});

function entry(name: string): OptimizerEntry {
  if (!optimizers.has(name)) throw new Error(`--optimizer: unknown optimizer '${name}' (known: ${optimizers.names().join(", ")})`);
  return optimizers.get(name);
}

/** Register an optimizer under `name`, with the options it reads (the CLI offers them as flags). */
export function registerOptimizer(name: string, factory: OptimizerFactory, options: AnyOptionGroup | null = null): void {
  if (optimizers.has(name)) throw new Error(`optimizer ${name} is already registered`);
  optimizers.register(name, { build: factory, options });
}

export function buildOptimizer(name: string, o: OptimizerOptions): Optimizer {
  return entry(name).build(o);
}

/** The options of the optimizer called `name` (null: none declared); an unknown name is an Error naming --optimizer. */
export function optimizerOptionsOf(name: string): AnyOptionGroup | null {
  return entry(name).options;
}
