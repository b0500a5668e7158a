import * as tf from "@tensorflow/tfjs-core";
import { KernelNames } from "@fairseq-ts/runtime";

/** Log-probs at the target ids: lprobs [N, V], target [N] -> [N] (a flat gather, no one-hot). */
export function gatherTargets(lprobs: tf.Tensor2D, target: tf.Tensor1D): tf.Tensor1D {
  const [n, v] = lprobs.shape;
  const idx = tf.add(tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(v, "int32")), target);
  return tf.gather(tf.reshape(lprobs, [-1]), idx) as tf.Tensor1D;
}

// KernelNames.SmoothedNllGrad: a backward kernel for `nllAndSmoothRows` (inputs dy [N, 2], target int32 [N];
// attrs vocab, hasIgnore, ignoreIndex) that a backend may register (`@fairseq-ts/kernels-native` does): dlprobs
// in one write pass, where autodiff scatters the gather's gradient into [N, V] and adds the sum's broadcast to it.

/** Per row [nll, smooth] = [-lprobs[target], -Σ_v lprobs[v]], both 0 where target is ignoreIndex: [N, 2]. */
export function nllAndSmoothRows(lprobs: tf.Tensor2D, target: tf.Tensor1D, ignoreIndex: number | null): tf.Tensor2D {
  const forward = (lp: tf.Tensor2D) => {
    let rows = tf.neg(tf.stack([gatherTargets(lp, target), tf.sum(lp, -1)], 1));
    if (ignoreIndex !== null) rows = tf.mul(rows, tf.expandDims(tf.cast(tf.notEqual(target, tf.scalar(ignoreIndex, "int32")), "float32"), 1));
    return rows as tf.Tensor2D;
  };
  if (lprobs.dtype !== "float32" || !tf.getKernel(KernelNames.SmoothedNllGrad, tf.getBackend())) return forward(lprobs);
  const vocab = lprobs.shape[1];
  const attrs = { vocab, hasIgnore: ignoreIndex !== null, ignoreIndex: ignoreIndex ?? 0 };
  // target is saved, not only captured: tf.grad disposes the forward's tensors that no kernel saved
  const op = tf.customGrad(((lp: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([target]);
    return {
      value: forward(lp),
      gradFunc: (dy: tf.Tensor, [t]: tf.Tensor[]) => tf.engine().runKernel(KernelNames.SmoothedNllGrad, { dy, target: t! }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(lprobs) as tf.Tensor2D;
}

export interface SmoothedLoss {
  loss: tf.Scalar;
  nllLoss: tf.Scalar;
}

/** The weights of Σnll and Σsmooth in the label-smoothed loss over a vocabulary of v (see labelSmoothedNllLoss). */
function smoothingWeights(epsilon: number, v: number, epsSplit: "v0.10" | "v0.12"): { nllWeight: number; epsI: number } {
  const epsI = epsSplit === "v0.10" ? epsilon / v : epsilon / (v - 1);
  return { nllWeight: epsSplit === "v0.10" ? 1 - epsilon : 1 - epsilon - epsI, epsI };
}

/**
 * fairseq's `label_smoothed_nll_loss`, summed over non-ignored positions:
 * loss = (1 - eps) * nll + eps/V * smooth (v0.10.2), or (1 - eps - eps_i) * nll + eps_i * smooth with
 * eps_i = eps/(V-1) (`epsSplit: "v0.12"`), where nll = -lprob[target] and smooth = -sum_v lprob[v].
 */
export function labelSmoothedNllLoss(
  lprobs: tf.Tensor2D,
  target: tf.Tensor1D,
  epsilon: number,
  ignoreIndex: number | null,
  epsSplit: "v0.10" | "v0.12" = "v0.10",
): SmoothedLoss {
  return tf.tidy(() => {
    const v = lprobs.shape[1];
    const [nllSum, smoothSum] = tf.unstack(tf.sum(nllAndSmoothRows(lprobs, target, ignoreIndex), 0)) as [tf.Scalar, tf.Scalar];
    const { nllWeight, epsI } = smoothingWeights(epsilon, v, epsSplit);
    const loss = tf.add(tf.mul(nllSum, nllWeight), tf.mul(smoothSum, epsI)) as tf.Scalar;
    return { loss, nllLoss: nllSum };
  });
}

// KernelNames.LinearSmoothedNll: a kernel computing the output layer and the label-smoothed loss together
// (inputs x [N, C], weight [V, C], int32 target [N]; attrs nllWeight, smoothWeight, hasIgnore, ignoreIndex,
// withGrad) that a backend may register (`@fairseq-ts/kernels-native` does). Outputs stats [4] (Σnll, Σsmooth,
// argmax hits, rows counted) and, with withGrad, d(loss)/dx and d(loss)/dweight.

/** Whether {@link linearLabelSmoothedNllLoss} can run here (its kernel is registered for the current backend). */
export function hasLinearLabelSmoothedNllLoss(): boolean {
  return tf.getKernel(KernelNames.LinearSmoothedNll, tf.getBackend()) !== undefined;
}

export interface ProjectedSmoothedLoss extends SmoothedLoss {
  /** Rows whose highest logit is the target (the first index among equal logits, as tf.argMax). */
  nCorrect: tf.Scalar;
  /** Rows counted: target not the ignored index. */
  total: tf.Scalar;
}

/**
 * `labelSmoothedNllLoss(logSoftmax(features · weightᵀ), target, …)` without the [N, V] logits: the
 * kernel computes them a block of rows at a time, so the output layer's softmax passes stay in cache
 * (and the training step holds no [N, V] tensor for the backward). With `withGrad` the kernel also
 * computes the gradients of `loss` w.r.t. features and weight, and `loss` carries them to autodiff;
 * nllLoss, nCorrect and total are values only (not differentiable). Needs the kernel
 * ({@link hasLinearLabelSmoothedNllLoss}).
 */
export function linearLabelSmoothedNllLoss(
  features: tf.Tensor2D,
  weight: tf.Tensor2D,
  target: tf.Tensor1D,
  epsilon: number,
  ignoreIndex: number | null,
  epsSplit: "v0.10" | "v0.12" = "v0.10",
  withGrad = true,
): ProjectedSmoothedLoss {
  if (!hasLinearLabelSmoothedNllLoss())
    throw new Error(`linearLabelSmoothedNllLoss: kernel ${KernelNames.LinearSmoothedNll} is not registered for backend ${tf.getBackend()}`);
  const { nllWeight, epsI } = smoothingWeights(epsilon, weight.shape[0], epsSplit);
  const attrs = { nllWeight, smoothWeight: epsI, hasIgnore: ignoreIndex !== null, ignoreIndex: ignoreIndex ?? 0 };
  const run = (x: tf.Tensor, w: tf.Tensor, grad: boolean) =>
    tf.engine().runKernel(KernelNames.LinearSmoothedNll, { x, weight: w, target }, { ...attrs, withGrad: grad } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  // loss = Σnll·a + Σsmooth·b in float32, as labelSmoothedNllLoss
  const lossOf = (stats: tf.Tensor) =>
    tf.tidy(() => {
      const [nll, smooth] = tf.unstack(tf.slice(stats, 0, 2)) as [tf.Scalar, tf.Scalar];
      return tf.add(tf.mul(nll, nllWeight), tf.mul(smooth, epsI)) as tf.Scalar;
    });
  let stats: tf.Tensor;
  let loss: tf.Scalar;
  if (!withGrad) {
    stats = run(features, weight, false)[0]!;
    loss = lossOf(stats);
  } else {
    let kept: tf.Tensor | null = null;
    const op = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const [st, dx, dw] = run(x, w, true);
      save([dx!, dw!]);
      kept = tf.keep(st!); // the forward runs in a tidy: keep the stats for the values below
      return { value: lossOf(st!), gradFunc: (dy: tf.Tensor, [gx, gw]: tf.Tensor[]) => [tf.mul(gx!, dy), tf.mul(gw!, dy)] };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    loss = op(features, weight) as tf.Scalar;
    stats = kept!;
  }
  const [nllLoss, , nCorrect, total] = tf.unstack(stats) as [tf.Scalar, tf.Scalar, tf.Scalar, tf.Scalar];
  stats.dispose();
  return { loss, nllLoss, nCorrect, total };
}

/** `F.nll_loss(lprobs, target, ignore_index, reduction="sum")`. */
export function nllLoss(lprobs: tf.Tensor2D, target: tf.Tensor1D, ignoreIndex: number | null): tf.Scalar {
  return tf.tidy(() => {
    let nll = tf.neg(gatherTargets(lprobs, target));
    if (ignoreIndex !== null) nll = tf.mul(nll, tf.cast(tf.notEqual(target, tf.scalar(ignoreIndex, "int32")), "float32"));
    return tf.sum(nll) as tf.Scalar;
  });
}
