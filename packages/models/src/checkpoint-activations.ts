import * as tf from "@tensorflow/tfjs-core";
import type { ModuleContext } from "./modules.js";

/** A layer as activation checkpointing sees it: its differentiable inputs (first) and its masks (may be null). */
export type CheckpointedLayer = (inputs: readonly tf.Tensor[], masks: readonly (tf.Tensor | null)[]) => tf.Tensor;

/**
 * Activation checkpointing (`--checkpoint-activations`, as later fairseq's `checkpoint_wrapper` and
 * `torch.utils.checkpoint`): `layer` runs without recording its intermediates for the backward pass, which keeps only
 * its inputs; the backward pass runs it again, with the same dropout masks (the seed stream is replayed from the same
 * position), and takes the gradients of that recomputation. Training memory then holds one layer's intermediates at a
 * time instead of all of them (a 1024-token source's attention maps are 4 MB per head per layer), for one more forward
 * pass of each layer. Gradients are those of the plain layer (same kernels, same order).
 *
 * `inputs` are the tensors to differentiate (the layer input, the encoder output), `masks` constant tensors it reads,
 * `params` every parameter the layer uses (tfjs records no gradient for a variable read inside a custom op, so they
 * are passed in as inputs of the op).
 */
export function checkpointed(
  ctx: ModuleContext,
  params: readonly tf.Variable[],
  layer: CheckpointedLayer,
  inputs: readonly tf.Tensor[],
  masks: readonly (tf.Tensor | null)[],
): tf.Tensor {
  const start = ctx.rng.position;
  const present = masks.filter((m): m is tf.Tensor => m !== null);
  const n = inputs.length;
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    // the masks are saved too: the forward pass's tensors are gone when the backward pass runs
    save([...inputs, ...present]);
    return {
      value: layer(inputs, masks),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved.slice(0, n);
        let k = n;
        const savedMasks = masks.map((m) => (m === null ? null : saved[k++]!));
        const engine = tf.engine();
        const resume = ctx.rng.position;
        // engine.gradients at depth 0 starts a tape of its own and drops it at the end: the outer backward pass
        // still needs its tape (to dispose its saved tensors), so it is put back afterwards.
        const outerTape = engine.state.activeTape;
        ctx.rng.seek(start);
        try {
          const { value, grads } = engine.gradients(() => layer(xs, savedMasks), [...xs, ...params], dy, true);
          value.dispose();
          return grads.map((g, i) => g ?? tf.zerosLike(i < n ? xs[i]! : params[i - n]!));
        } finally {
          engine.state.activeTape = outerTape;
          ctx.rng.seek(resume);
        }
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...t: tf.Tensor[]) => tf.Tensor;
  return op(...inputs, ...params);
}

/** Whether a layer should be checkpointed now: asked for, and gradients are being recorded (training). */
export function checkpointing(ctx: ModuleContext, enabled: boolean | undefined): boolean {
  return enabled === true && ctx.training() && tf.engine().isTapeOn();
}

/** The parameters registered under `prefix.` (a layer's own). */
export function paramsUnder(ctx: ModuleContext, prefix: string): tf.Variable[] {
  return [...ctx.store.params].filter(([name]) => name.startsWith(`${prefix}.`)).map(([, v]) => v);
}
