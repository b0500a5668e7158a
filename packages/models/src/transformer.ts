import * as tf from "@tensorflow/tfjs-core";
import type {
  DecoderForwardOptions,
  DecoderOutput,
  EncoderDecoderModel,
  EncoderOut,
  FairseqDecoder,
  FairseqEncoder,
  IncrementalState,
  LanguageModel,
} from "./interfaces.js";
import { MultiheadAttention, NEG_INF } from "./multihead-attention.js";
import {
  Embedding,
  LayerNorm,
  Linear,
  ParamStore,
  SeededRandom,
  activation,
  dropout,
  logSoftmax,
  makePositions,
  sinusoidalTable,
  type ActivationFn,
  type ModuleContext,
} from "./modules.js";
import { BaseModel } from "./base-model.js";
import { AdaptiveInput, AdaptiveSoftmax, parseCutoff } from "./adaptive.js";
import { checkpointed, checkpointing, paramsUnder } from "./checkpoint-activations.js";

/** fairseq's transformer hyperparameters (snake_case, exactly its argument names). */
export interface TransformerArgs {
  encoder_embed_dim: number;
  encoder_ffn_embed_dim: number;
  encoder_layers: number;
  encoder_attention_heads: number;
  encoder_normalize_before: boolean;
  encoder_learned_pos: boolean;
  decoder_embed_dim: number;
  decoder_ffn_embed_dim: number;
  decoder_layers: number;
  decoder_attention_heads: number;
  decoder_normalize_before: boolean;
  decoder_learned_pos: boolean;
  decoder_output_dim: number;
  decoder_input_dim: number;
  attention_dropout: number;
  activation_dropout: number;
  activation_fn: ActivationFn;
  dropout: number;
  share_decoder_input_output_embed: boolean;
  share_all_embeddings: boolean;
  no_token_positional_embeddings: boolean;
  no_scale_embedding: boolean;
  layernorm_embedding: boolean;
  max_source_positions: number;
  max_target_positions: number;
  no_cross_attention: boolean;
  /** Language models: no final layer norm even with pre-norm layers. */
  no_decoder_final_norm?: boolean;
  /** Adaptive softmax cutoffs ("20000,60000" or a list; null/absent: a plain output projection). */
  adaptive_softmax_cutoff?: string | number[] | null;
  adaptive_softmax_dropout?: number;
  /** fairseq's transformer_lm default 4 (the translation transformer has no flag for it). */
  adaptive_softmax_factor?: number;
  /** Language models: adaptive input embeddings. */
  adaptive_input?: boolean;
  adaptive_input_factor?: number;
  adaptive_input_cutoff?: string | number[] | null;
  tie_adaptive_weights?: boolean;
  tie_adaptive_proj?: boolean;
  /** Recompute each layer in the backward pass instead of keeping its intermediates (training memory). */
  checkpoint_activations?: boolean;
}

/** transformer_align's additions (fairseq's TransformerAlignModel). */
export interface TransformerAlignArgs extends TransformerArgs {
  alignment_heads: number;
  alignment_layer: number;
  full_context_alignment: boolean;
}

/** What a decoder embeds tokens with: a plain embedding table or fairseq's AdaptiveInput. */
export type TokenEmbedder = Embedding | AdaptiveInput;
const embeddingDimOf = (e: TokenEmbedder) => (e instanceof Embedding ? e.weight.shape[1]! : e.embeddingDim);

/** Positions: fairseq's sinusoidal (fixed, computed to the needed length) or learned embeddings. */
class PositionalEmbedding {
  private table: tf.Tensor2D | null = null;
  private learned: Embedding | null = null;
  constructor(
    ctx: ModuleContext,
    name: string,
    maxPositions: number,
    private readonly dim: number,
    private readonly paddingIdx: number,
    learned: boolean,
  ) {
    if (learned) this.learned = new Embedding(ctx, name, maxPositions + paddingIdx + 1, dim, paddingIdx);
  }
  private weights(n: number): tf.Tensor2D {
    if (this.learned) return this.learned.weight as unknown as tf.Tensor2D;
    if (!this.table || this.table.shape[0] < n) {
      this.table?.dispose();
      const rows = Math.max(n, this.paddingIdx + 1 + 256);
      this.table = tf.keep(tf.tensor2d(sinusoidalTable(rows, this.dim, this.paddingIdx), [rows, this.dim]));
    }
    return this.table;
  }
  /**
   * Positions for tokens B x T; in incremental mode only the last step's, as [1, 1, C] (the same for
   * every row: decoding prefixes are unpadded), which the caller's add broadcasts over the batch.
   */
  apply(tokens: tf.Tensor2D, incremental: boolean): tf.Tensor3D {
    const t = tokens.shape[1];
    if (incremental) {
      const pos = this.paddingIdx + t;
      return tf.reshape(tf.slice(this.weights(pos + 1), [pos, 0], [1, this.dim]), [1, 1, this.dim]);
    }
    const positions = makePositions(tokens, this.paddingIdx);
    return tf.gather(this.weights(this.paddingIdx + t! + 1), positions) as unknown as tf.Tensor3D;
  }
  dispose(): void {
    this.table?.dispose();
    this.table = null;
  }
}

class EncoderLayer {
  readonly selfAttn: MultiheadAttention;
  readonly selfAttnLayerNorm: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly finalLayerNorm: LayerNorm;
  private params: tf.Variable[] | null = null;
  constructor(
    private readonly ctx: ModuleContext,
    readonly name: string,
    private readonly a: TransformerArgs,
  ) {
    const d = a.encoder_embed_dim;
    this.selfAttn = new MultiheadAttention(ctx, `${name}.self_attn`, d, a.encoder_attention_heads, a.attention_dropout);
    this.selfAttnLayerNorm = new LayerNorm(ctx, `${name}.self_attn_layer_norm`, d);
    this.fc1 = new Linear(ctx, `${name}.fc1`, d, a.encoder_ffn_embed_dim, { init: "torch-default" });
    this.fc2 = new Linear(ctx, `${name}.fc2`, a.encoder_ffn_embed_dim, d, { init: "torch-default" });
    this.finalLayerNorm = new LayerNorm(ctx, `${name}.final_layer_norm`, d);
  }
  apply(x: tf.Tensor3D, keyBias: tf.Tensor | null): tf.Tensor3D {
    if (!checkpointing(this.ctx, this.a.checkpoint_activations)) return this.run(x, keyBias);
    this.params ??= paramsUnder(this.ctx, this.name);
    return checkpointed(this.ctx, this.params, ([h], [kb]) => this.run(h as tf.Tensor3D, kb ?? null), [x], [keyBias]) as tf.Tensor3D;
  }
  private run(x: tf.Tensor3D, keyBias: tf.Tensor | null): tf.Tensor3D {
    const pre = this.a.encoder_normalize_before;
    let residual = x;
    let h = pre ? this.selfAttnLayerNorm.apply(x) : x;
    h = this.selfAttn.apply(h as tf.Tensor3D, null, keyBias, null, undefined, false)[0];
    h = tf.add(residual, dropout(this.ctx, h, this.a.dropout, "TransformerEncoderLayer"));
    if (!pre) h = this.selfAttnLayerNorm.apply(h);
    residual = h as tf.Tensor3D;
    if (pre) h = this.finalLayerNorm.apply(h);
    h = dropout(this.ctx, activation(this.a.activation_fn, this.fc1.apply(h)), this.a.activation_dropout, "TransformerEncoderLayer");
    h = tf.add(residual, dropout(this.ctx, this.fc2.apply(h), this.a.dropout, "TransformerEncoderLayer"));
    if (!pre) h = this.finalLayerNorm.apply(h);
    return h as tf.Tensor3D;
  }
}

class DecoderLayer {
  readonly selfAttn: MultiheadAttention;
  readonly selfAttnLayerNorm: LayerNorm;
  readonly encoderAttn: MultiheadAttention | null;
  readonly encoderAttnLayerNorm: LayerNorm | null;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly finalLayerNorm: LayerNorm;
  private params: tf.Variable[] | null = null;
  constructor(
    private readonly ctx: ModuleContext,
    readonly name: string,
    private readonly a: TransformerArgs,
    noEncoderAttn: boolean,
  ) {
    const d = a.decoder_embed_dim;
    this.selfAttn = new MultiheadAttention(ctx, `${name}.self_attn`, d, a.decoder_attention_heads, a.attention_dropout);
    this.selfAttnLayerNorm = new LayerNorm(ctx, `${name}.self_attn_layer_norm`, d);
    if (noEncoderAttn) {
      this.encoderAttn = null;
      this.encoderAttnLayerNorm = null;
    } else {
      this.encoderAttn = new MultiheadAttention(ctx, `${name}.encoder_attn`, d, a.decoder_attention_heads, a.attention_dropout, {
        kdim: a.encoder_embed_dim,
        vdim: a.encoder_embed_dim,
      });
      this.encoderAttnLayerNorm = new LayerNorm(ctx, `${name}.encoder_attn_layer_norm`, d);
    }
    this.fc1 = new Linear(ctx, `${name}.fc1`, d, a.decoder_ffn_embed_dim, { init: "torch-default" });
    this.fc2 = new Linear(ctx, `${name}.fc2`, a.decoder_ffn_embed_dim, d, { init: "torch-default" });
    this.finalLayerNorm = new LayerNorm(ctx, `${name}.final_layer_norm`, d);
  }
  apply(
    x: tf.Tensor3D,
    enc: EncoderOut | null,
    encKeyBias: tf.Tensor | null,
    futureMask: tf.Tensor | null,
    selfKeyBias: tf.Tensor | null,
    state: IncrementalState | undefined,
    needAttn: boolean,
    alignmentHeads?: number,
  ): [tf.Tensor3D, tf.Tensor3D | null] {
    // a layer whose attention weights are asked for (the alignment layer) keeps its intermediates: the weights are an output
    if (state !== undefined || needAttn || !checkpointing(this.ctx, this.a.checkpoint_activations))
      return this.run(x, enc, encKeyBias, futureMask, selfKeyBias, state, needAttn, alignmentHeads);
    this.params ??= paramsUnder(this.ctx, this.name);
    const withEnc = this.encoderAttn !== null && enc !== null;
    const out = checkpointed(
      this.ctx,
      this.params,
      ([h, encoderOut], [ekb, fm, skb]) =>
        this.run(
          h as tf.Tensor3D,
          withEnc ? { ...enc!, encoderOut: encoderOut as tf.Tensor3D } : enc,
          ekb ?? null,
          fm ?? null,
          skb ?? null,
          undefined,
          false,
        )[0],
      withEnc ? [x, enc!.encoderOut] : [x],
      [encKeyBias, futureMask, selfKeyBias],
    );
    return [out as tf.Tensor3D, null];
  }
  private run(
    x: tf.Tensor3D,
    enc: EncoderOut | null,
    encKeyBias: tf.Tensor | null,
    futureMask: tf.Tensor | null,
    selfKeyBias: tf.Tensor | null,
    state: IncrementalState | undefined,
    needAttn: boolean,
    alignmentHeads?: number,
  ): [tf.Tensor3D, tf.Tensor3D | null] {
    const pre = this.a.decoder_normalize_before;
    let residual = x;
    let h: tf.Tensor = pre ? this.selfAttnLayerNorm.apply(x) : x;
    h = this.selfAttn.apply(h as tf.Tensor3D, null, selfKeyBias, futureMask, state, false)[0];
    h = tf.add(residual, dropout(this.ctx, h, this.a.dropout, "TransformerDecoderLayer"));
    if (!pre) h = this.selfAttnLayerNorm.apply(h);
    let attn: tf.Tensor3D | null = null;
    if (this.encoderAttn && enc) {
      residual = h as tf.Tensor3D;
      if (pre) h = this.encoderAttnLayerNorm!.apply(h);
      const [o, w] = this.encoderAttn.apply(h as tf.Tensor3D, enc.encoderOut, encKeyBias, null, state, needAttn, alignmentHeads);
      attn = w;
      h = tf.add(residual, dropout(this.ctx, o, this.a.dropout, "TransformerDecoderLayer"));
      if (!pre) h = this.encoderAttnLayerNorm!.apply(h);
    }
    residual = h as tf.Tensor3D;
    if (pre) h = this.finalLayerNorm.apply(h);
    h = dropout(this.ctx, activation(this.a.activation_fn, this.fc1.apply(h)), this.a.activation_dropout, "TransformerDecoderLayer");
    h = tf.add(residual, dropout(this.ctx, this.fc2.apply(h), this.a.dropout, "TransformerDecoderLayer"));
    if (!pre) h = this.finalLayerNorm.apply(h);
    return [h as tf.Tensor3D, attn];
  }
  reorder(state: IncrementalState, newOrder: tf.Tensor1D): void {
    this.selfAttn.reorder(state, newOrder, false);
    this.encoderAttn?.reorder(state, newOrder, true);
  }
}

/** Additive key mask B x 1 x 1 x S from a padding mask, or null when nothing is padded. */
function keyBiasFromTokens(tokens: tf.Tensor2D, padIdx: number): tf.Tensor | null {
  const mask = tf.equal(tokens, padIdx);
  const any = tf.any(mask).dataSync()[0];
  if (!any) return null;
  const [b, s] = tokens.shape;
  return tf.reshape(tf.mul(tf.cast(mask, "float32"), NEG_INF), [b!, 1, 1, s!]);
}

export class TransformerEncoder implements FairseqEncoder {
  readonly embedTokens: Embedding;
  readonly embedPositions: PositionalEmbedding | null;
  readonly layernormEmbedding: LayerNorm | null;
  readonly layers: EncoderLayer[];
  readonly layerNorm: LayerNorm | null;
  readonly embedScale: number;
  constructor(
    private readonly ctx: ModuleContext,
    private readonly a: TransformerArgs,
    readonly paddingIdx: number,
    embedTokens: Embedding,
  ) {
    this.embedTokens = embedTokens;
    const d = a.encoder_embed_dim;
    this.embedScale = a.no_scale_embedding ? 1 : Math.sqrt(d);
    this.embedPositions = a.no_token_positional_embeddings
      ? null
      : new PositionalEmbedding(ctx, "encoder.embed_positions", a.max_source_positions, d, paddingIdx, a.encoder_learned_pos);
    this.layernormEmbedding = a.layernorm_embedding ? new LayerNorm(ctx, "encoder.layernorm_embedding", d) : null;
    this.layers = Array.from({ length: a.encoder_layers }, (_, i) => new EncoderLayer(ctx, `encoder.layers.${i}`, a));
    this.layerNorm = a.encoder_normalize_before ? new LayerNorm(ctx, "encoder.layer_norm", d) : null;
  }
  forward(srcTokens: tf.Tensor2D, _srcLengths: tf.Tensor1D): EncoderOut {
    let x = tf.mul(this.embedTokens.apply(srcTokens), this.embedScale);
    if (this.embedPositions) x = tf.add(x, this.embedPositions.apply(srcTokens, false));
    if (this.layernormEmbedding) x = this.layernormEmbedding.apply(x);
    x = dropout(this.ctx, x, this.a.dropout, "TransformerEncoder");
    const keyBias = keyBiasFromTokens(srcTokens, this.paddingIdx);
    let h = x as tf.Tensor3D;
    // Without gradients, each layer's intermediates (a long source's attention maps: heads x S x S per sentence) are
    // freed when the layer is done rather than when the caller's scope ends.
    const scoped = !tf.engine().isTapeOn();
    for (const layer of this.layers) h = scoped ? tf.tidy(() => layer.apply(h, keyBias)) : layer.apply(h, keyBias);
    if (this.layerNorm) h = this.layerNorm.apply(h) as tf.Tensor3D;
    const extra: Record<string, tf.Tensor> = {};
    if (keyBias) extra.keyBias = keyBias;
    return { encoderOut: h, encoderPaddingMask: keyBias ? (tf.equal(srcTokens, this.paddingIdx) as tf.Tensor2D) : null, extra };
  }
  reorderEncoderOut(out: EncoderOut, newOrder: tf.Tensor1D): EncoderOut {
    const extra: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(out.extra ?? {})) extra[k] = tf.gather(v, newOrder, 0);
    return {
      encoderOut: tf.gather(out.encoderOut, newOrder, 0),
      encoderPaddingMask: out.encoderPaddingMask ? tf.gather(out.encoderPaddingMask, newOrder, 0) : null,
      extra,
    };
  }
  maxPositions(): number {
    return this.embedPositions ? this.a.max_source_positions : Number.MAX_SAFE_INTEGER;
  }
  dispose(): void {
    this.embedPositions?.dispose();
  }
}

/** `E`: what embeds the tokens (the translation transformer's is always a plain Embedding; a language model's may be adaptive). */
export class TransformerDecoder<E extends TokenEmbedder = TokenEmbedder> implements FairseqDecoder {
  readonly embedTokens: E;
  readonly embedPositions: PositionalEmbedding | null;
  readonly layernormEmbedding: LayerNorm | null;
  readonly layers: DecoderLayer[];
  readonly layerNorm: LayerNorm | null;
  readonly projectInDim: Linear | null;
  readonly projectOutDim: Linear | null;
  /** The output layer's weight (V x C); undefined with an adaptive softmax. */
  readonly outputProjection: tf.Variable<tf.Rank.R2> | undefined;
  /** fairseq's `adaptive_softmax` (`--adaptive-softmax-cutoff`): forward then returns features. */
  readonly adaptiveSoftmax: AdaptiveSoftmax | null = null;
  readonly embedScale: number;
  private futureMaskCache: tf.Tensor2D | null = null;

  constructor(
    private readonly ctx: ModuleContext,
    private readonly a: TransformerArgs,
    readonly paddingIdx: number,
    embedTokens: E,
    vocabSize: number,
    noEncoderAttn = false,
  ) {
    this.embedTokens = embedTokens;
    const inputEmbedDim = embeddingDimOf(embedTokens);
    const d = a.decoder_embed_dim;
    this.embedScale = a.no_scale_embedding ? 1 : Math.sqrt(d);
    this.projectInDim = d !== inputEmbedDim ? new Linear(ctx, "decoder.project_in_dim", inputEmbedDim, d, { bias: false }) : null;
    this.embedPositions = a.no_token_positional_embeddings
      ? null
      : new PositionalEmbedding(ctx, "decoder.embed_positions", a.max_target_positions, d, paddingIdx, a.decoder_learned_pos);
    this.layernormEmbedding = a.layernorm_embedding ? new LayerNorm(ctx, "decoder.layernorm_embedding", d) : null;
    this.layers = Array.from({ length: a.decoder_layers }, (_, i) => new DecoderLayer(ctx, `decoder.layers.${i}`, a, noEncoderAttn));
    this.layerNorm = a.decoder_normalize_before && !a.no_decoder_final_norm ? new LayerNorm(ctx, "decoder.layer_norm", d) : null;
    // fairseq: no project_out_dim when the adaptive weights are tied (the softmax takes the layers' output as is)
    this.projectOutDim =
      d !== a.decoder_output_dim && !a.tie_adaptive_weights ? new Linear(ctx, "decoder.project_out_dim", d, a.decoder_output_dim, { bias: false }) : null;
    const cutoff = parseCutoff(a.adaptive_softmax_cutoff, "--adaptive-softmax-cutoff");
    if (cutoff !== null) {
      let tied: AdaptiveInput | null = null;
      if (a.tie_adaptive_weights) {
        if (!(embedTokens instanceof AdaptiveInput)) throw new Error("--tie-adaptive-weights requires --adaptive-input");
        tied = embedTokens;
      }
      this.outputProjection = undefined;
      this.adaptiveSoftmax = new AdaptiveSoftmax(
        ctx,
        "decoder.adaptive_softmax",
        vocabSize,
        a.decoder_output_dim,
        cutoff,
        a.adaptive_softmax_dropout ?? 0,
        a.adaptive_softmax_factor ?? 4,
        tied,
        a.tie_adaptive_proj ?? false,
      );
    } else if (a.share_decoder_input_output_embed) {
      if (!(embedTokens instanceof Embedding)) throw new Error("--share-decoder-input-output-embed: adaptive input embeddings cannot be the output layer");
      this.outputProjection = embedTokens.weight as tf.Variable<tf.Rank.R2>;
      ctx.store.alias("decoder.output_projection.weight", "decoder.embed_tokens.weight");
    } else {
      this.outputProjection = ctx.store.add(
        "decoder.output_projection.weight",
        tf.randomNormal([vocabSize, a.decoder_output_dim], 0, a.decoder_output_dim ** -0.5, "float32", ctx.rng.next()),
      ) as tf.Variable<tf.Rank.R2>;
    }
  }

  private futureMask(t: number): tf.Tensor2D {
    if (!this.futureMaskCache || this.futureMaskCache.shape[0] < t) {
      this.futureMaskCache?.dispose();
      const n = Math.max(t, 64);
      const m = new Float32Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = NEG_INF;
      this.futureMaskCache = tf.keep(tf.tensor2d(m, [n, n]));
    }
    return tf.slice(this.futureMaskCache, [0, 0], [t, t]);
  }

  /**
   * Hidden states before the output projection, and the alignment layer's attention (the last layer's unless
   * `options.alignmentLayer` says otherwise; null when that layer does not exist, as in fairseq).
   */
  extractFeatures(prev: tf.Tensor2D, enc: EncoderOut | null, state?: IncrementalState, options?: DecoderForwardOptions): [tf.Tensor3D, tf.Tensor3D | null] {
    const incremental = state !== undefined;
    let positions = this.embedPositions ? this.embedPositions.apply(prev, incremental) : null;
    let tokens = prev;
    if (incremental) {
      const [b, t] = prev.shape;
      tokens = tf.slice(prev, [0, t - 1], [b, 1]);
      if (positions && positions.shape[1] !== 1) positions = tf.slice(positions, [0, t - 1, 0], [-1, 1, -1]);
    }
    let x = tf.mul(this.embedTokens.apply(tokens), this.embedScale);
    if (this.projectInDim) x = this.projectInDim.apply(x);
    if (positions) x = tf.add(x, positions);
    if (this.layernormEmbedding) x = this.layernormEmbedding.apply(x);
    x = dropout(this.ctx, x, this.a.dropout, "TransformerDecoder");
    const selfKeyBias = incremental ? null : keyBiasFromTokens(tokens, this.paddingIdx);
    const futureMask = incremental || options?.fullContextAlignment ? null : this.futureMask(tokens.shape[1]);
    const encKeyBias = enc?.extra?.keyBias ?? null;
    let h = x as tf.Tensor3D;
    let attn: tf.Tensor3D | null = null;
    const alignAt = options?.alignmentLayer ?? this.layers.length - 1;
    this.layers.forEach((layer, i) => {
      const [o, w] = layer.apply(h, enc, encKeyBias, futureMask, selfKeyBias, state, i === alignAt, options?.alignmentHeads);
      h = o;
      if (i === alignAt) attn = w;
    });
    if (this.layerNorm) h = this.layerNorm.apply(h) as tf.Tensor3D;
    if (this.projectOutDim) h = this.projectOutDim.apply(h) as tf.Tensor3D;
    return [h, attn];
  }

  forward(prev: tf.Tensor2D, enc: EncoderOut | null, state?: IncrementalState, options?: DecoderForwardOptions): DecoderOutput {
    const [h, attn] = this.extractFeatures(prev, enc, state, options);
    // fairseq's output_layer: with an adaptive softmax the features are the output (getNormalizedProbs maps them)
    if (options?.featuresOnly || this.adaptiveSoftmax) return [h, { attn }];
    const [b, t, c] = h.shape;
    const logits = tf.reshape(tf.matMul(tf.reshape(h, [b! * t!, c!]), this.outputProjection!, false, true), [b!, t!, -1]) as tf.Tensor3D;
    return [logits, { attn }];
  }

  getNormalizedProbs(out: DecoderOutput, logProbs: boolean): tf.Tensor3D {
    if (this.adaptiveSoftmax) {
      // fairseq's get_log_prob without a target: every word's log-probability (head, or cluster prior + tail)
      const lp = this.adaptiveSoftmax.getLogProb(out[0]);
      if (logProbs) return lp;
      const p = tf.exp(lp) as tf.Tensor3D;
      lp.dispose();
      return p;
    }
    return logProbs ? logSoftmax(out[0]) : (tf.softmax(out[0], -1) as tf.Tensor3D);
  }

  reorderIncrementalState(state: IncrementalState, newOrder: tf.Tensor1D): void {
    for (const l of this.layers) l.reorder(state, newOrder);
  }

  maxPositions(): number {
    return this.embedPositions ? this.a.max_target_positions : Number.MAX_SAFE_INTEGER;
  }

  dispose(): void {
    this.embedPositions?.dispose();
    this.futureMaskCache?.dispose();
    this.futureMaskCache = null;
  }
}

/**
 * fairseq's `TransformerEncoder/Decoder.upgrade_state_dict_named` (and their layers'), on a state dict about to be
 * loaded (mutated in place): older checkpoints' `decoder.embed_out` (or, when shared, nothing) becomes
 * `decoder.output_projection.weight`, and `layers.N.layer_norms.K` become the named layer norms.
 */
export function upgradeTransformerStateDict<W>(args: Readonly<Record<string, unknown>>, state: Map<string, W>): void {
  if (!state.has("decoder.output_projection.weight")) {
    const shared = args.share_decoder_input_output_embed === true;
    const from = shared ? "decoder.embed_tokens.weight" : "decoder.embed_out";
    const w = state.get(from);
    if (w !== undefined) {
      state.set("decoder.output_projection.weight", w);
      if (!shared) state.delete(from);
    }
  }
  const renames: Record<string, Record<string, string>> = {
    encoder: { "0": "self_attn_layer_norm", "1": "final_layer_norm" },
    decoder: { "0": "self_attn_layer_norm", "1": "encoder_attn_layer_norm", "2": "final_layer_norm" },
  };
  for (const k of [...state.keys()]) {
    const m = /^(encoder|decoder)\.layers\.(\d+)\.layer_norms\.(\d)\.(weight|bias)$/.exec(k);
    const to = m ? renames[m[1]!]![m[3]!] : undefined;
    if (!m || !to) continue;
    state.set(`${m[1]}.layers.${m[2]}.${to}.${m[4]}`, state.get(k)!);
    state.delete(k);
  }
}

export interface Vocabularies {
  srcVocabSize: number;
  tgtVocabSize: number;
  padIdx: number;
}

/** fairseq's TransformerModel. */
export class TransformerModel extends BaseModel implements EncoderDecoderModel {
  readonly kind = "encoder-decoder" as const;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder<Embedding>;

  constructor(
    readonly args: TransformerArgs,
    vocab: Vocabularies,
    seed = 1,
  ) {
    super(new ParamStore(), new SeededRandom(seed));
    const ctx = this.ctx;
    if (args.share_all_embeddings) {
      if (vocab.srcVocabSize !== vocab.tgtVocabSize) throw new Error("--share-all-embeddings requires a joined dictionary");
      if (args.encoder_embed_dim !== args.decoder_embed_dim) throw new Error("--share-all-embeddings requires encoder_embed_dim == decoder_embed_dim");
      // fairseq's build_model sets share_decoder_input_output_embed too: one matrix for both embeddings and the output layer
      args.share_decoder_input_output_embed = true;
    }
    const encEmb = new Embedding(ctx, "encoder.embed_tokens", vocab.srcVocabSize, args.encoder_embed_dim, vocab.padIdx);
    let decEmb: Embedding;
    if (args.share_all_embeddings) {
      decEmb = encEmb;
      ctx.store.alias("decoder.embed_tokens.weight", "encoder.embed_tokens.weight");
    } else {
      decEmb = new Embedding(ctx, "decoder.embed_tokens", vocab.tgtVocabSize, args.decoder_input_dim, vocab.padIdx);
    }
    this.encoder = new TransformerEncoder(ctx, args, vocab.padIdx, encEmb);
    this.decoder = new TransformerDecoder(ctx, args, vocab.padIdx, decEmb, vocab.tgtVocabSize);
  }

  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, options?: DecoderForwardOptions): DecoderOutput {
    const enc = this.encoder.forward(srcTokens, srcLengths);
    return this.decoder.forward(prevOutputTokens, enc, undefined, options);
  }
  getNormalizedProbs(out: DecoderOutput, logProbs: boolean): tf.Tensor3D {
    return this.decoder.getNormalizedProbs(out, logProbs);
  }
  maxPositions(): [number, number] {
    return [this.encoder.maxPositions(), this.decoder.maxPositions()];
  }
  maxDecoderPositions(): number {
    return this.decoder.maxPositions();
  }
  override dropoutModules(): readonly string[] {
    return [
      "TransformerEncoder",
      "TransformerEncoderLayer",
      "TransformerDecoder",
      "TransformerDecoderLayer",
      "MultiheadAttention",
      ...adaptiveName(this.decoder),
    ];
  }
  override dispose(): void {
    this.encoder.dispose();
    this.decoder.dispose();
    super.dispose();
  }
}

/** fairseq's AdaptiveSoftmax has a FairseqDropout of its own (used in training only: its get_log_prob applies none). */
const adaptiveName = (decoder: TransformerDecoder): string[] => (decoder.adaptiveSoftmax ? ["AdaptiveSoftmax"] : []);

/** fairseq's build_model asserts for `--tie-adaptive-weights`, as errors naming the flags. */
function checkAdaptiveTie(a: TransformerArgs): void {
  const same = (x: unknown, y: unknown) => JSON.stringify(parseCutoff(x, "")) === JSON.stringify(parseCutoff(y, ""));
  if (!a.adaptive_input) throw new Error("--tie-adaptive-weights requires --adaptive-input");
  if ((a.adaptive_input_factor ?? 4) !== (a.adaptive_softmax_factor ?? 4))
    throw new Error(
      `--tie-adaptive-weights requires --adaptive-input-factor (${a.adaptive_input_factor}) == --adaptive-softmax-factor (${a.adaptive_softmax_factor})`,
    );
  if (!same(a.adaptive_softmax_cutoff, a.adaptive_input_cutoff))
    throw new Error(
      `--tie-adaptive-weights requires --adaptive-softmax-cutoff (${a.adaptive_softmax_cutoff}) == --adaptive-input-cutoff (${a.adaptive_input_cutoff})`,
    );
  if (a.decoder_input_dim !== a.decoder_output_dim)
    throw new Error(`--tie-adaptive-weights requires --decoder-input-dim (${a.decoder_input_dim}) == --decoder-output-dim (${a.decoder_output_dim})`);
}

/**
 * fairseq's TransformerAlignModel ("Jointly Learning to Align and Translate", Garg et al. 2019): a transformer whose
 * forward returns, as `attn`, the encoder attention of decoder layer `alignment_layer` averaged over its first
 * `alignment_heads` heads; with `full_context_alignment`, from a second pass without the future mask. Parameters
 * are the transformer's. Beam search reads the decoder directly (last layer, all heads), as fairseq's does; with
 * full-context alignment, generate's --print-alignment takes `alignmentAttention` of each hypothesis instead.
 */
export class TransformerAlignModel extends TransformerModel {
  readonly alignmentHeads: number;
  readonly alignmentLayer: number;
  readonly fullContextAlignment: boolean;
  /** Present only with full-context alignment (fairseq's SequenceGeneratorWithAlignment then calls forward_align). */
  readonly alignmentAttention?: (srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D) => tf.Tensor3D;

  constructor(args: TransformerAlignArgs, vocab: Vocabularies, seed = 1) {
    super(args, vocab, seed);
    this.alignmentHeads = args.alignment_heads;
    this.alignmentLayer = args.alignment_layer;
    this.fullContextAlignment = args.full_context_alignment;
    if (this.fullContextAlignment) {
      this.alignmentAttention = (src, len, prev) =>
        tf.tidy(() => {
          if (this.alignmentLayer < 0 || this.alignmentLayer >= this.args.decoder_layers)
            throw new Error(`--alignment-layer ${this.alignmentLayer}: the decoder has ${this.args.decoder_layers} layers (0 is the bottom one)`);
          const [out, extra] = this.forward(src, len, prev);
          out.dispose();
          return extra.attn!;
        });
    }
  }

  override forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, options?: DecoderForwardOptions): DecoderOutput {
    const enc = this.encoder.forward(srcTokens, srcLengths);
    const align = { alignmentLayer: this.alignmentLayer, alignmentHeads: this.alignmentHeads };
    const out = this.decoder.forward(prevOutputTokens, enc, undefined, { ...options, ...align });
    if (!this.fullContextAlignment) return out;
    const [features, full] = this.decoder.forward(prevOutputTokens, enc, undefined, { ...align, featuresOnly: true, fullContextAlignment: true });
    features.dispose();
    out[1].attn?.dispose();
    return [out[0], { ...out[1], attn: full.attn }];
  }
}

/** fairseq's TransformerLanguageModel: a decoder without encoder attention. */
export class TransformerLanguageModel extends BaseModel implements LanguageModel {
  readonly kind = "language-model" as const;
  readonly decoder: TransformerDecoder;
  constructor(
    readonly args: TransformerArgs,
    vocabSize: number,
    padIdx: number,
    seed = 1,
  ) {
    super(new ParamStore(), new SeededRandom(seed));
    let emb: TokenEmbedder;
    if (args.adaptive_input) {
      const cutoff = parseCutoff(args.adaptive_input_cutoff, "--adaptive-input-cutoff");
      if (cutoff === null) throw new Error("--adaptive-input requires --adaptive-input-cutoff");
      emb = new AdaptiveInput(
        this.ctx,
        "decoder.embed_tokens",
        vocabSize,
        padIdx,
        args.decoder_input_dim,
        args.adaptive_input_factor ?? 4,
        args.decoder_embed_dim,
        cutoff,
      );
    } else {
      emb = new Embedding(this.ctx, "decoder.embed_tokens", vocabSize, args.decoder_input_dim, padIdx);
    }
    if (args.tie_adaptive_weights) checkAdaptiveTie(args);
    this.decoder = new TransformerDecoder(this.ctx, args, padIdx, emb, vocabSize, true);
  }
  forward(srcTokens: tf.Tensor2D, state?: IncrementalState, options?: DecoderForwardOptions): DecoderOutput {
    return this.decoder.forward(srcTokens, null, state, options);
  }
  getNormalizedProbs(out: DecoderOutput, logProbs: boolean): tf.Tensor3D {
    return this.decoder.getNormalizedProbs(out, logProbs);
  }
  maxPositions(): number {
    return this.decoder.maxPositions();
  }
  maxDecoderPositions(): number {
    return this.decoder.maxPositions();
  }
  override dropoutModules(): readonly string[] {
    return ["TransformerDecoder", "TransformerDecoderLayer", "MultiheadAttention", ...adaptiveName(this.decoder)];
  }
  override dispose(): void {
    this.decoder.dispose();
    super.dispose();
  }
}
