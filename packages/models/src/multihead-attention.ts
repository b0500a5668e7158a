import * as tf from "@tensorflow/tfjs-core";
import type { IncrementalState } from "./interfaces.js";
import { Linear, dropout, linear, type ModuleContext } from "./modules.js";

/** Additive masks use a large negative number rather than -inf so a fully masked row cannot become NaN. */
export const NEG_INF = -1e9;

/**
 * fairseq's MultiheadAttention (k_proj/v_proj/q_proj/out_proj, q scaled by head_dim^-0.5 after its
 * bias), batch-first. Self-attention projects q, k and v with one fused matmul.
 */
export class MultiheadAttention {
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly qProj: Linear;
  readonly outProj: Linear;
  readonly headDim: number;
  readonly scaling: number;

  constructor(
    private readonly ctx: ModuleContext,
    readonly name: string,
    readonly embedDim: number,
    readonly numHeads: number,
    readonly dropoutP: number,
    options: { kdim?: number; vdim?: number } = {},
  ) {
    this.headDim = embedDim / numHeads;
    if (!Number.isInteger(this.headDim)) throw new Error(`${name}: embed_dim ${embedDim} must be divisible by num_heads ${numHeads}`);
    this.scaling = this.headDim ** -0.5;
    const same = (options.kdim ?? embedDim) === embedDim && (options.vdim ?? embedDim) === embedDim;
    const init = same ? "xavier-gain-1/sqrt2" : "xavier";
    // fairseq creates k, v, q, out in this order.
    this.kProj = new Linear(ctx, `${name}.k_proj`, options.kdim ?? embedDim, embedDim, { init: init === "xavier" ? "xavier" : "xavier-gain-1/sqrt2" });
    this.vProj = new Linear(ctx, `${name}.v_proj`, options.vdim ?? embedDim, embedDim, { init: init === "xavier" ? "xavier" : "xavier-gain-1/sqrt2" });
    this.qProj = new Linear(ctx, `${name}.q_proj`, embedDim, embedDim, { init: init === "xavier" ? "xavier" : "xavier-gain-1/sqrt2" });
    this.outProj = new Linear(ctx, `${name}.out_proj`, embedDim, embedDim);
    // q/k/v biases keep PyTorch's default init in fairseq; their values are re-drawn here for that.
    for (const l of [this.kProj, this.vProj, this.qProj]) {
      const b = 1 / Math.sqrt(embedDim);
      const drawn = tf.randomUniform([embedDim], -b, b, "float32", ctx.rng.next());
      l.bias!.assign(drawn);
      drawn.dispose(); // assign copies: without this, 3 tensors per attention outlived the model's dispose()
    }
  }

  /** [B, T, C] -> [B, H, T, d] (a decoding step, T = 1, needs no transpose: the layout is the same) */
  private heads(x: tf.Tensor): tf.Tensor4D {
    const [b, t] = x.shape;
    if (t === 1) return tf.reshape(x, [b!, this.numHeads, 1, this.headDim]);
    return tf.transpose(tf.reshape(x, [b!, t!, this.numHeads, this.headDim]), [0, 2, 1, 3]) as tf.Tensor4D;
  }

  /**
   * @param query B x T x C
   * @param key B x S x C (null for self-attention)
   * @param keyBias additive B x 1 x 1 x S mask (padding), or null
   * @param attnBias additive T x S mask (future mask), or null
   * @param state incremental state (decoding): self-attention appends k/v; encoder attention caches them
   * @param averageHeads average the weights over the first N heads only (fairseq's `attn[:alignment_heads].mean(0)`; default all)
   * @returns [B x T x C, head-averaged weights B x T x S if needWeights]
   */
  apply(
    query: tf.Tensor3D,
    key: tf.Tensor3D | null,
    keyBias: tf.Tensor | null,
    attnBias: tf.Tensor | null,
    state: IncrementalState | undefined,
    needWeights: boolean,
    averageHeads?: number,
  ): [tf.Tensor3D, tf.Tensor3D | null] {
    const [b, t] = query.shape;
    let q: tf.Tensor4D;
    let k: tf.Tensor4D;
    let v: tf.Tensor4D;
    const saved = state?.get(this.name);
    if (key === null) {
      // Self-attention: one matmul for q, k, v.
      const w = tf.concat([this.qProj.weight, this.kProj.weight, this.vProj.weight], 0);
      const bias = tf.concat([this.qProj.bias!, this.kProj.bias!, this.vProj.bias!], 0);
      const qkv = linear(query, w, bias);
      const [q0, k0, v0] = tf.split(qkv, 3, -1);
      q = this.heads(tf.mul(q0!, this.scaling));
      k = this.heads(k0!);
      v = this.heads(v0!);
      if (state) {
        if (saved) {
          k = tf.concat([saved.prev_key!, k], 2) as tf.Tensor4D;
          v = tf.concat([saved.prev_value!, v], 2) as tf.Tensor4D;
          saved.prev_key!.dispose();
          saved.prev_value!.dispose();
        }
        state.set(this.name, { prev_key: tf.keep(k), prev_value: tf.keep(v) });
      }
    } else {
      q = this.heads(tf.mul(this.qProj.apply(query), this.scaling));
      if (saved) {
        // Encoder-decoder attention: k and v depend only on the source; computed once per sentence.
        k = saved.prev_key as tf.Tensor4D;
        v = saved.prev_value as tf.Tensor4D;
      } else {
        const w = tf.concat([this.kProj.weight, this.vProj.weight], 0);
        const bias = tf.concat([this.kProj.bias!, this.vProj.bias!], 0);
        const [k0, v0] = tf.split(linear(key, w, bias), 2, -1);
        k = this.heads(k0!);
        v = this.heads(v0!);
        if (state) state.set(this.name, { prev_key: tf.keep(k), prev_value: tf.keep(v) });
      }
    }
    // [B, H, T, S]
    let scores = tf.matMul(q, k, false, true);
    if (attnBias) scores = tf.add(scores, attnBias);
    if (keyBias) scores = tf.add(scores, keyBias);
    const probs = tf.softmax(scores, -1);
    const attn = tf.matMul(dropout(this.ctx, probs, this.dropoutP, "MultiheadAttention"), v); // [B, H, T, d]
    const merged = tf.reshape(t === 1 ? attn : tf.transpose(attn, [0, 2, 1, 3]), [b!, t!, this.embedDim]);
    const out = this.outProj.apply(merged) as tf.Tensor3D;
    if (!needWeights) return [out, null];
    const heads = averageHeads === undefined || averageHeads >= this.numHeads ? probs : tf.slice(probs, [0, 0, 0, 0], [-1, averageHeads, -1, -1]);
    return [out, tf.mean(heads, 1) as tf.Tensor3D];
  }

  /**
   * Beam search: keep the cached rows `newOrder`. Encoder-attention caches only change when the batch
   * shrinks (every beam of a sentence shares them), as fairseq does.
   */
  reorder(state: IncrementalState, newOrder: tf.Tensor1D, encoderAttention: boolean): void {
    const saved = state.get(this.name);
    if (!saved) return;
    if (encoderAttention && Object.values(saved)[0]!.shape[0] === newOrder.shape[0]) return;
    const next: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(saved)) {
      next[k] = tf.keep(tf.gather(t, newOrder, 0));
      t.dispose();
    }
    state.set(this.name, next);
  }
}
