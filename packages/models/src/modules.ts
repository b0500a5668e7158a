import * as tf from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";

/**
 * Where a model's parameters live: fairseq state_dict names → variables. Modules register their
 * parameters under a prefix (`encoder.layers.0.self_attn.`), so names match fairseq one to one.
 */
export class ParamStore {
  readonly params = new Map<string, tf.Variable>();
  /** Names that are stored in fairseq's state_dict as copies of another parameter (tied weights). */
  readonly aliases = new Map<string, string>();

  add(name: string, init: tf.Tensor): tf.Variable {
    if (this.params.has(name)) throw new Error(`duplicate parameter ${name}`);
    const v = tf.variable(init, true, `${name}#${ParamStore.uid++}`);
    init.dispose();
    this.params.set(name, v);
    return v;
  }
  alias(name: string, target: string): void {
    this.aliases.set(name, target);
  }
  static uid = 0;
}

/** Seeded randomness for initialisation and dropout (tfjs ops take explicit seeds). */
export class SeededRandom {
  private counter = 0;
  constructor(public seed: number) {}
  /** Restart the stream (the trainer does this every update: fairseq seeds each step with seed + updates). */
  reset(seed: number): void {
    this.seed = seed;
    this.counter = 0;
  }
  next(): number {
    return this.seed * 1_000_003 + this.counter++;
  }
  /** How many seeds were drawn since the last reset: activation checkpointing replays a layer's dropout from here. */
  get position(): number {
    return this.counter;
  }
  seek(position: number): void {
    this.counter = position;
  }
}

/** What every module needs while building and running. */
export interface ModuleContext {
  store: ParamStore;
  rng: SeededRandom;
  /** True in training mode (dropout on). */
  training(): boolean;
  /**
   * Whether the dropout of `module` (fairseq's class name, as its FairseqDropout's module_name) stays on outside
   * training: generate's --retain-dropout (Monte Carlo dropout). Absent: never.
   */
  retainsDropout?(module: string): boolean;
}

export function xavierUniform(shape: [number, number], rng: SeededRandom, gain = 1): tf.Tensor {
  const [out, inp] = shape;
  const a = gain * Math.sqrt(6 / (inp + out));
  return tf.randomUniform(shape, -a, a, "float32", rng.next());
}

/** PyTorch's default nn.Linear init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
export function torchDefaultUniform(shape: number[], fanIn: number, rng: SeededRandom): tf.Tensor {
  const b = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -b, b, "float32", rng.next());
}

export type Init = "xavier" | "torch-default" | "xavier-gain-1/sqrt2";

/** A linear layer with PyTorch's weight layout [out, in] (so weights map 1:1 to fairseq). */
export class Linear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(ctx: ModuleContext, name: string, inFeatures: number, outFeatures: number, options: { bias?: boolean; init?: Init } = {}) {
    const init = options.init ?? "xavier";
    const w =
      init === "xavier"
        ? xavierUniform([outFeatures, inFeatures], ctx.rng)
        : init === "xavier-gain-1/sqrt2"
          ? xavierUniform([outFeatures, inFeatures], ctx.rng, 1 / Math.sqrt(2))
          : torchDefaultUniform([outFeatures, inFeatures], inFeatures, ctx.rng);
    this.weight = ctx.store.add(`${name}.weight`, w);
    this.bias =
      options.bias === false
        ? null
        : ctx.store.add(`${name}.bias`, init === "xavier" ? tf.zeros([outFeatures]) : torchDefaultUniform([outFeatures], inFeatures, ctx.rng));
  }
  /** x [..., in] -> [..., out] */
  apply(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export function linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  const shape = x.shape;
  const inF = shape[shape.length - 1]!;
  const x2 = tf.reshape(x, [-1, inF]) as tf.Tensor2D;
  let y: tf.Tensor;
  if (x.dtype === "float32" && tf.getKernel(KernelNames.Linear, tf.getBackend())) {
    y = fusedLinear(x2, weight, bias);
  } else {
    y = tf.matMul(x2, weight, false, true);
    if (bias) y = tf.add(y, bias);
  }
  return tf.reshape(y, [...shape.slice(0, -1), weight.shape[0]!]);
}

// KernelNames.Linear: a fused linear kernel (inputs x [M, K], weight [N, K], optional bias [N]; y = x · weightᵀ + bias)
// that a backend may register: `@fairseq-ts/kernels-native` does, under this name.

/** tf.customGrad for ops with several inputs (its typing only admits one). */
function customOp(f: (...args: never[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] }) {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (...inputs: tf.Tensor[]) => tf.Tensor;
}

const runLinear = (inputs: Record<string, tf.Tensor>) => tf.engine().runKernel(KernelNames.Linear, inputs, {}) as tf.Tensor;

// The fused kernel forward; the backward as for matMul + add (dx = dy·W, dW = dyᵀ·x, db = Σ dy).
// Built once: these run for every linear layer of every step.
const fusedLinearBias = customOp((a: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, w]);
  return { value: runLinear({ x: a, weight: w, bias: b }), gradFunc: (dy, [as, ws]) => [tf.matMul(dy, ws!), tf.matMul(dy, as!, true, false), tf.sum(dy, 0)] };
});
const fusedLinearNoBias = customOp((a: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, w]);
  return { value: runLinear({ x: a, weight: w }), gradFunc: (dy, [as, ws]) => [tf.matMul(dy, ws!), tf.matMul(dy, as!, true, false)] };
});

function fusedLinear(x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  return bias ? fusedLinearBias(x, weight, bias) : fusedLinearNoBias(x, weight);
}

export class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    ctx: ModuleContext,
    name: string,
    dim: number,
    readonly eps = 1e-5,
  ) {
    this.weight = ctx.store.add(`${name}.weight`, tf.ones([dim]));
    this.bias = ctx.store.add(`${name}.bias`, tf.zeros([dim]));
  }
  apply(x: tf.Tensor): tf.Tensor {
    if (x.dtype === "float32" && x.rank > 0 && tf.getKernel(KernelNames.LayerNorm, tf.getBackend())) return this.fused(x);
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps))), this.weight), this.bias);
  }

  /** One kernel forward; the backward from the usual formula (only needed when training). Built on first use. */
  private fusedOp: ((...inputs: tf.Tensor[]) => tf.Tensor) | null = null;
  private fused(x: tf.Tensor): tf.Tensor {
    const eps = this.eps;
    this.fusedOp ??= customOp((input: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
      save([input, gamma]);
      const value = tf.engine().runKernel(KernelNames.LayerNorm, { x: input, gamma, beta }, { eps }) as tf.Tensor;
      return {
        value,
        gradFunc: (dy: tf.Tensor, [xs, g]: tf.Tensor[]) => {
          if (tf.getKernel(KernelNames.LayerNormGrad, tf.getBackend())) {
            return tf.engine().runKernel(KernelNames.LayerNormGrad, { x: xs!, gamma: g!, dy }, { eps }) as tf.Tensor[];
          }
          const { mean, variance } = tf.moments(xs!, -1, true);
          const rstd = tf.rsqrt(tf.add(variance, eps));
          const xhat = tf.mul(tf.sub(xs!, mean), rstd);
          const dxhat = tf.mul(dy, g!);
          const dx = tf.mul(rstd, tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), -1, true))));
          const outer = Array.from({ length: dy.rank - 1 }, (_, i) => i);
          return [dx, tf.sum(tf.mul(dy, xhat), outer), tf.sum(dy, outer)];
        },
      };
    });
    return this.fusedOp(x, this.weight, this.bias);
  }
}

// KernelNames.LayerNorm: a fused layer-norm kernel (inputs x, gamma, beta; attr eps) that a backend may
// register: `@fairseq-ts/kernels-native` does, under this name. tfjs itself has none.

// KernelNames.LayerNormGrad: its backward (inputs x, gamma, dy; attr eps; outputs dx, dgamma, dbeta), used when registered.

export class Embedding {
  readonly weight: tf.Variable;
  constructor(
    ctx: ModuleContext,
    name: string,
    num: number,
    dim: number,
    readonly paddingIdx: number | null,
  ) {
    // fairseq's Embedding: N(0, dim^-0.5), padding row zero.
    // tidy: the index, one-hot and 1 - mask intermediates outlived the model's dispose() before
    const w = tf.tidy(() => {
      const drawn = tf.randomNormal([num, dim], 0, dim ** -0.5, "float32", ctx.rng.next());
      if (paddingIdx === null) return drawn;
      const mask = tf.reshape(tf.oneHot(tf.tensor1d([paddingIdx], "int32"), num), [num, 1]);
      return tf.mul(drawn, tf.sub(1, mask));
    });
    this.weight = ctx.store.add(`${name}.weight`, w);
  }
  apply(tokens: tf.Tensor): tf.Tensor {
    return tf.gather(this.weight, tokens.dtype === "int32" ? tokens : tf.cast(tokens, "int32"));
  }
}

export type ActivationFn = "relu" | "gelu" | "gelu_accurate" | "tanh" | "linear";

export function activation(name: ActivationFn, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case "relu":
      return tf.relu(x);
    case "gelu": {
      // x * 0.5 * (1 + erf(x / sqrt(2)))
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
    }
    case "gelu_accurate": {
      const c = Math.sqrt(2 / Math.PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
    }
    case "tanh":
      return tf.tanh(x);
    case "linear":
      return x;
    default:
      throw new Error(`unknown activation ${name as string}`);
  }
}

/**
 * Dropout with probability `p`, on in training. `module` names the fairseq module whose FairseqDropout this is
 * (`TransformerEncoderLayer`, `MultiheadAttention`, ...): such a dropout also stays on at inference when the model
 * retains it (--retain-dropout); without `module` (fairseq's plain nn.Dropout, nn.LSTM's own) it never does.
 */
export function dropout(ctx: ModuleContext, x: tf.Tensor, p: number, module?: string): tf.Tensor {
  if (p <= 0 || !(ctx.training() || (module !== undefined && ctx.retainsDropout?.(module) === true))) return x;
  const seed = ctx.rng.next();
  if (x.dtype !== "float32" || p >= 1 || !Number.isSafeInteger(seed) || !tf.getKernel(KernelNames.Dropout, tf.getBackend())) {
    return tf.dropout(x, p, undefined, seed);
  }
  // y = x ⊙ mask(seed)/(1 − p) is linear in x with a fixed mask: the backward is the same kernel on dy
  const attrs = { rate: p, seed };
  const op = customOp((input: tf.Tensor) => ({
    value: tf.engine().runKernel(KernelNames.Dropout, { x: input }, attrs) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(KernelNames.Dropout, { x: dy }, attrs) as tf.Tensor,
  }));
  return op(x);
}

// KernelNames.Dropout: a dropout kernel (input x; attrs rate, seed) whose mask is a function of the seed, so
// that it is also its own backward, which a backend may register: `@fairseq-ts/kernels-native` does.

/**
 * fairseq's sinusoidal table (SinusoidalPositionalEmbedding.get_embedding), in float32 like PyTorch:
 * row p = [sin(p·f_0..f_{h-1}), cos(p·f_0..f_{h-1})], f_k = exp(-k·ln(10000)/(h-1)), padding row zero.
 */
export function sinusoidalTable(numEmbeddings: number, dim: number, paddingIdx: number | null): Float32Array {
  const half = Math.floor(dim / 2);
  const step = Math.fround(-Math.log(10000) / (half - 1));
  const freqs = new Float32Array(half);
  for (let k = 0; k < half; k++) freqs[k] = Math.exp(Math.fround(k * step));
  const out = new Float32Array(numEmbeddings * dim);
  for (let p = 0; p < numEmbeddings; p++) {
    if (p === paddingIdx) continue;
    for (let k = 0; k < half; k++) {
      const a = Math.fround(p * freqs[k]!);
      out[p * dim + k] = Math.sin(a);
      out[p * dim + half + k] = Math.cos(a);
    }
  }
  return out;
}

/**
 * fairseq's `make_positions`: padding positions get `paddingIdx`, the others count from
 * `paddingIdx + 1` along the row (so left padding shifts nothing).
 */
export function makePositions(tokens: tf.Tensor2D, paddingIdx: number): tf.Tensor2D {
  return tf.tidy(() => {
    const mask = tf.cast(tf.notEqual(tokens, paddingIdx), "int32");
    return tf.add(tf.mul(tf.cumsum(mask, 1), mask), tf.scalar(paddingIdx, "int32")) as tf.Tensor2D;
  });
}

/**
 * Log-softmax over the last axis. tfjs's `tf.logSoftmax` runs seven kernels over the whole tensor;
 * where the backend has a fused `LogSoftmax` kernel (`@fairseq-ts/kernels-native` registers one)
 * this calls it, with the same gradient as tfjs (dy - sum(dy) · softmax). Float32 only.
 */
export function logSoftmax<T extends tf.Tensor>(x: T): T {
  if (x.dtype !== "float32" || x.rank === 0 || !tf.getKernel("LogSoftmax", tf.getBackend())) return tf.logSoftmax(x, -1);
  return fusedLogSoftmax(x) as T;
}

const fusedLogSoftmax = customOp((input: tf.Tensor, save: tf.GradSaveFunc) => {
  const value = tf.engine().runKernel("LogSoftmax", { logits: input }, { axis: input.rank - 1 }) as tf.Tensor;
  save([value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, [y]: tf.Tensor[]) =>
      tf.getKernel(KernelNames.LogSoftmaxGrad, tf.getBackend())
        ? (tf.engine().runKernel(KernelNames.LogSoftmaxGrad, { dy, y: y! }, {}) as tf.Tensor)
        : tf.sub(dy, tf.mul(tf.sum(dy, -1, true), tf.exp(y!))),
  };
});

// KernelNames.LogSoftmaxGrad: a fused log-softmax backward (inputs dy, y = the forward's output) that a backend may register.
