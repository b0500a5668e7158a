import * as tf from "@tensorflow/tfjs-core";

/** Log-probs at the target ids: lprobs [N, V], target [N] -> [N] (a flat gather, no one-hot). */
export function gatherTargets(lprobs: tf.Tensor2D, target: tf.Tensor1D): tf.Tensor1D {
  const [n, v] = lprobs.shape;
  const idx = tf.add(tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(v, "int32")), target);
  return tf.gather(tf.reshape(lprobs, [-1]), idx) as tf.Tensor1D;
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
    let nll = tf.neg(gatherTargets(lprobs, target));
    let smooth = tf.neg(tf.sum(lprobs, -1));
    if (ignoreIndex !== null) {
      const keep = tf.cast(tf.notEqual(target, tf.scalar(ignoreIndex, "int32")), "float32");
      nll = tf.mul(nll, keep);
      smooth = tf.mul(smooth, keep);
    }
    const nllSum = tf.sum(nll) as tf.Scalar;
    const smoothSum = tf.sum(smooth);
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
