import * as tf from "@tensorflow/tfjs-core";

/** Log-probs at the target ids: lprobs [N, V], target [N] -> [N] (a flat gather, no one-hot). */
export function gatherTargets(lprobs: tf.Tensor2D, target: tf.Tensor1D): tf.Tensor1D {
  const [n, v] = lprobs.shape;
  const idx = tf.add(tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(v, "int32")), target);
  return tf.gather(tf.reshape(lprobs, [-1]), idx) as tf.Tensor1D;
}

/**
 * A backward kernel for `nllAndSmoothRows` (inputs dy [N, 2], target int32 [N]; attrs vocab,
 * hasIgnore, ignoreIndex) that a backend may register (`@fairseq-ts/kernels-native` does): dlprobs in one write
 * pass, where autodiff scatters the gather's gradient into [N, V] and adds the sum's broadcast to it.
 */
export const SMOOTHED_NLL_GRAD_KERNEL = "FairseqSmoothedNllGrad";

/** Per row [nll, smooth] = [-lprobs[target], -Σ_v lprobs[v]], both 0 where target is ignoreIndex: [N, 2]. */
export function nllAndSmoothRows(lprobs: tf.Tensor2D, target: tf.Tensor1D, ignoreIndex: number | null): tf.Tensor2D {
  const forward = (lp: tf.Tensor2D) => {
    let rows = tf.neg(tf.stack([gatherTargets(lp, target), tf.sum(lp, -1)], 1));
    if (ignoreIndex !== null) rows = tf.mul(rows, tf.expandDims(tf.cast(tf.notEqual(target, tf.scalar(ignoreIndex, "int32")), "float32"), 1));
    return rows as tf.Tensor2D;
  };
  if (lprobs.dtype !== "float32" || !tf.getKernel(SMOOTHED_NLL_GRAD_KERNEL, tf.getBackend())) return forward(lprobs);
  const vocab = lprobs.shape[1];
  const attrs = { vocab, hasIgnore: ignoreIndex !== null, ignoreIndex: ignoreIndex ?? 0 };
  // target is saved, not only captured: tf.grad disposes the forward's tensors that no kernel saved
  const op = tf.customGrad(((lp: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([target]);
    return {
      value: forward(lp),
      gradFunc: (dy: tf.Tensor, [t]: tf.Tensor[]) => tf.engine().runKernel(SMOOTHED_NLL_GRAD_KERNEL, { dy, target: t! }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(lprobs) as tf.Tensor2D;
}

export interface SmoothedLoss {
  loss: tf.Scalar;
  nllLoss: tf.Scalar;
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
    const epsI = epsSplit === "v0.10" ? epsilon / v : epsilon / (v - 1);
    const nllWeight = epsSplit === "v0.10" ? 1 - epsilon : 1 - epsilon - epsI;
    const loss = tf.add(tf.mul(nllSum, nllWeight), tf.mul(smoothSum, epsI)) as tf.Scalar;
    return { loss, nllLoss: nllSum };
  });
}

/** `F.nll_loss(lprobs, target, ignore_index, reduction="sum")`. */
export function nllLoss(lprobs: tf.Tensor2D, target: tf.Tensor1D, ignoreIndex: number | null): tf.Scalar {
  return tf.tidy(() => {
    let nll = tf.neg(gatherTargets(lprobs, target));
    if (ignoreIndex !== null) nll = tf.mul(nll, tf.cast(tf.notEqual(target, tf.scalar(ignoreIndex, "int32")), "float32"));
    return tf.sum(nll) as tf.Scalar;
  });
}
