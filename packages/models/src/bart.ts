import * as tf from "@tensorflow/tfjs-core";
import { TransformerModel, type TransformerArgs, type Vocabularies } from "./transformer.js";
import { Linear, activation, dropout, type ActivationFn } from "./modules.js";
import type { WeightValues } from "./checkpoint-codec.js";
import type { ModelArgs, ModelVocab } from "./registry.js";

/** One classification head's sizes, as fairseq reads them off a state dict (`out_proj` rows, `dense` rows). */
export interface ClassificationHeadSpec {
  num_classes: number;
  inner_dim: number;
}

/** fairseq's BART args: the transformer's, the pooler's, and the heads a checkpoint brings. */
export interface BartArgs extends TransformerArgs {
  pooler_dropout: number;
  pooler_activation_fn: ActivationFn;
  spectral_norm_classification_head?: boolean;
  /**
   * Classification heads to build (fairseq registers them with `register_classification_head`; a checkpoint's heads
   * are registered on load, as fairseq's hub does with `load_checkpoint_heads`). Filled from the weights by
   * {@link upgradeBartStateDict}.
   */
  classification_heads?: Record<string, ClassificationHeadSpec>;
}

/** fairseq's BARTClassificationHead: dropout, dense, activation, dropout, out_proj (parameters `dense.*`, `out_proj.*`). */
export class BARTClassificationHead {
  readonly dense: Linear;
  readonly outProj: Linear;
  constructor(
    private readonly model: BARTModel,
    name: string,
    inputDim: number,
    innerDim: number,
    numClasses: number,
    private readonly activationFn: ActivationFn,
    private readonly poolerDropout: number,
  ) {
    // registered after init_bert_params ran, so PyTorch's default nn.Linear init, as in fairseq
    this.dense = new Linear(model.context, `classification_heads.${name}.dense`, inputDim, innerDim, { init: "torch-default" });
    this.outProj = new Linear(model.context, `classification_heads.${name}.out_proj`, innerDim, numClasses, { init: "torch-default" });
  }
  /** features B x C -> logits B x numClasses */
  apply(features: tf.Tensor2D): tf.Tensor2D {
    const ctx = this.model.context;
    let x: tf.Tensor = dropout(ctx, features, this.poolerDropout);
    x = activation(this.activationFn, this.dense.apply(x));
    x = dropout(ctx, x, this.poolerDropout);
    return this.outProj.apply(x) as tf.Tensor2D;
  }
}

const BERT_STD = 0.02;

/**
 * fairseq's BARTModel: a TransformerModel (learned positions, layernorm_embedding, shared embeddings and GELU come
 * from the presets) initialised as BERT (`init_bert_params`), with named classification heads.
 */
export class BARTModel extends TransformerModel {
  readonly classificationHeads = new Map<string, BARTClassificationHead>();

  constructor(
    override readonly args: BartArgs,
    vocab: Vocabularies,
    seed = 1,
  ) {
    super(args, vocab, seed);
    this.initBertParams(vocab.padIdx);
    for (const [name, h] of Object.entries(args.classification_heads ?? {})) this.registerClassificationHead(name, h.num_classes, h.inner_dim);
  }

  /** The module context heads build their parameters in (the model's own). */
  get context() {
    return this.ctx;
  }

  /**
   * fairseq's `init_bert_params`, applied to every module built so far: Linear and Embedding weights N(0, 0.02)
   * (embedding padding rows zero), Linear biases zero, LayerNorms as they are (ones, zeros).
   */
  private initBertParams(padIdx: number): void {
    for (const [name, v] of this.store.params) {
      if (name.includes("layer_norm") || name.includes("layernorm_embedding")) continue;
      if (v.rank === 1) tf.tidy(() => v.assign(tf.zerosLike(v)));
      else {
        const isEmbedding = name.endsWith("embed_tokens.weight") || name.endsWith("embed_positions.weight");
        tf.tidy(() => {
          const w = tf.randomNormal(v.shape, 0, BERT_STD, "float32", this.rng.next());
          const rows = v.shape[0]!;
          v.assign(isEmbedding ? tf.mul(w, tf.sub(1, tf.reshape(tf.oneHot(tf.tensor1d([padIdx], "int32"), rows), [rows, 1]))) : w);
        });
      }
    }
  }

  /**
   * fairseq's `load_state_dict`, which runs BARTModel's `upgrade_state_dict_named` first: embeddings one row longer
   * than this model's dictionary (a pretraining checkpoint's `<mask>`) lose their last row, and classification heads
   * this model does not have (or has with other sizes) are left out, as fairseq deletes them when it does not load
   * the checkpoint's heads. So a denoising-pretrained BART fine-tunes on translation (`--finetune-from-model`).
   */
  override loadStateDict(state: Map<string, tf.Tensor>, options: { strict?: boolean } = {}): void {
    const rows = this.store.params.get("encoder.embed_tokens.weight")?.shape[0];
    const upgraded = new Map(state);
    const made: tf.Tensor[] = [];
    for (const key of ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "encoder.output_projection.weight", "decoder.output_projection.weight"]) {
      const t = state.get(key);
      if (t && rows !== undefined && t.rank === 2 && t.shape[0] === rows + 1) {
        const cut = tf.slice(t, [0, 0], [rows, t.shape[1]!]);
        made.push(cut);
        upgraded.set(key, cut);
      }
    }
    for (const key of state.keys()) {
      const m = /^classification_heads\.([^.]+)\./.exec(key);
      if (!m) continue;
      const head = this.classificationHeads.get(m[1]!);
      const out = state.get(`classification_heads.${m[1]}.out_proj.weight`);
      const dense = state.get(`classification_heads.${m[1]}.dense.weight`);
      const fits = head && out?.shape[0] === head.outProj.weight.shape[0] && dense?.shape[0] === head.dense.weight.shape[0];
      if (!fits) upgraded.delete(key);
    }
    try {
      super.loadStateDict(upgraded, options);
    } finally {
      tf.dispose(made);
    }
  }

  /** fairseq's `register_classification_head` (a head of that name must not exist yet). */
  registerClassificationHead(name: string, numClasses: number, innerDim?: number): BARTClassificationHead {
    if (this.classificationHeads.has(name)) throw new Error(`classification head ${name} is already registered`);
    if (this.args.spectral_norm_classification_head) throw new Error("--spectral-norm-classification-head: not supported by fairseq-ts");
    const d = this.args.encoder_embed_dim;
    const head = new BARTClassificationHead(this, name, d, innerDim ?? d, numClasses, this.args.pooler_activation_fn ?? "tanh", this.args.pooler_dropout ?? 0);
    this.classificationHeads.set(name, head);
    return head;
  }

  /**
   * fairseq's `forward(..., classification_head_name=name)`: the decoder's features at each row's last source eos
   * (BART feeds the same sequence, shifted, to the decoder) through the head; logits B x numClasses.
   */
  classify(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, headName: string, eos: number): tf.Tensor2D {
    const head = this.classificationHeads.get(headName);
    if (!head) throw new Error(`no classification head '${headName}' (heads: ${[...this.classificationHeads.keys()].join(", ") || "none"})`);
    return tf.tidy(() => {
      const [features] = this.forward(srcTokens, srcLengths, prevOutputTokens, { featuresOnly: true });
      const [b, t] = srcTokens.shape;
      const src = srcTokens.dataSync();
      const at = new Int32Array(b);
      for (let r = 0; r < b; r++) {
        let last = -1;
        for (let c = 0; c < t; c++) if (src[r * t + c] === eos) last = c;
        if (last < 0) throw new Error(`classify: source row ${r} has no eos`);
        at[r] = r * features.shape[1] + last;
      }
      const rows = tf.gather(tf.reshape(features, [-1, features.shape[2]]), tf.tensor1d(at, "int32")) as tf.Tensor2D;
      return head.apply(rows);
    });
  }
}

const def = (args: ModelArgs, key: string, value: unknown) => {
  if (args[key] === undefined || args[key] === null) args[key] = value;
};

/** fairseq's `bart_large_architecture` (it does not call the transformer's base_architecture). */
export function bartLarge(a: ModelArgs): void {
  def(a, "encoder_embed_dim", 1024);
  def(a, "encoder_ffn_embed_dim", 4 * 1024);
  def(a, "encoder_layers", 12);
  def(a, "encoder_attention_heads", 16);
  def(a, "encoder_normalize_before", false);
  def(a, "encoder_learned_pos", true);
  def(a, "decoder_embed_dim", a.encoder_embed_dim);
  def(a, "decoder_ffn_embed_dim", a.encoder_ffn_embed_dim);
  def(a, "decoder_layers", 12);
  def(a, "decoder_attention_heads", 16);
  def(a, "decoder_normalize_before", false);
  def(a, "decoder_learned_pos", true);
  def(a, "attention_dropout", 0.0);
  def(a, "relu_dropout", 0.0);
  def(a, "dropout", 0.1);
  def(a, "max_target_positions", 1024);
  def(a, "max_source_positions", 1024);
  def(a, "adaptive_softmax_cutoff", null);
  def(a, "adaptive_softmax_dropout", 0);
  def(a, "share_decoder_input_output_embed", true);
  def(a, "share_all_embeddings", true);
  def(a, "decoder_output_dim", a.decoder_embed_dim);
  def(a, "decoder_input_dim", a.decoder_embed_dim);
  def(a, "no_scale_embedding", true);
  def(a, "layernorm_embedding", true);
  def(a, "activation_fn", "gelu");
  def(a, "pooler_activation_fn", "tanh");
  def(a, "pooler_dropout", 0.0);
  // what fairseq's modules read with getattr defaults when the preset leaves them unset: the FFN's dropout is
  // activation_dropout, or relu_dropout when that is 0 (older args), and the rest of the transformer's switches
  if (!a.activation_dropout) a.activation_dropout = a.relu_dropout ?? 0;
  def(a, "no_token_positional_embeddings", false);
  def(a, "no_cross_attention", false);
}

/** fairseq's `bart_base_architecture`. */
export function bartBase(a: ModelArgs): void {
  def(a, "encoder_embed_dim", 768);
  def(a, "encoder_ffn_embed_dim", 4 * 768);
  def(a, "encoder_layers", 6);
  def(a, "encoder_attention_heads", 12);
  def(a, "decoder_layers", 6);
  def(a, "decoder_attention_heads", 12);
  bartLarge(a);
}

/** fairseq's `mbart_large_architecture`: bart_large with scaled embeddings. */
export function mbartLarge(a: ModelArgs): void {
  def(a, "no_scale_embedding", false);
  bartLarge(a);
}

/** fairseq's `mbart_base_architecture`. */
export function mbartBase(a: ModelArgs): void {
  def(a, "no_scale_embedding", false);
  bartBase(a);
}

/** fairseq's `mbart_base_wmt20_architecture`: mbart_base without layernorm_embedding. */
export function mbartBaseWmt20(a: ModelArgs): void {
  def(a, "layernorm_embedding", false);
  mbartBase(a);
}

/** A weight with its first `rows` rows (lazy, like the original). */
function firstRows(w: WeightValues, rows: number): WeightValues {
  const cols = w.shape[1]!;
  return { shape: [rows, ...w.shape.slice(1)], values: () => w.values().subarray(0, rows * cols) };
}

/**
 * fairseq's `BARTModel.upgrade_state_dict_named`, on a state dict about to be loaded (mutated in place):
 * - a pretrained checkpoint's embeddings have one row more than the dictionary (the denoising task's `<mask>`): when
 *   the dictionary is one symbol shorter, the last row of every embedding / output projection is dropped, as fairseq
 *   does when fine-tuning on translation;
 * - the classification heads it holds are returned as `classification_heads` args (fairseq's hub registers them:
 *   `load_checkpoint_heads`), sized from `out_proj.weight` and `dense.weight`.
 */
export function upgradeBartStateDict(
  state: Map<string, WeightValues>,
  vocab: Partial<ModelVocab>,
): { classification_heads?: Record<string, ClassificationHeadSpec> } {
  const emb = state.get("encoder.embed_tokens.weight");
  const dictSize = vocab.srcVocabSize ?? vocab.vocabSize;
  if (emb && dictSize !== undefined && emb.shape[0] === dictSize + 1) {
    for (const key of ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "encoder.output_projection.weight", "decoder.output_projection.weight"]) {
      const w = state.get(key);
      if (w) state.set(key, firstRows(w, dictSize));
    }
  }
  const heads: Record<string, ClassificationHeadSpec> = {};
  for (const k of state.keys()) {
    const m = /^classification_heads\.([^.]+)\./.exec(k);
    if (!m || heads[m[1]!]) continue;
    const name = m[1]!;
    const out = state.get(`classification_heads.${name}.out_proj.weight`);
    const dense = state.get(`classification_heads.${name}.dense.weight`);
    if (!out || !dense) throw new Error(`classification head ${name}: the checkpoint lacks its out_proj.weight or dense.weight`);
    heads[name] = { num_classes: out.shape[0]!, inner_dim: dense.shape[0]! };
  }
  return Object.keys(heads).length > 0 ? { classification_heads: heads } : {};
}
