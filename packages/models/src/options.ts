/**
 * The models' options, declared once with fairseq's argument names (snake_case keys: they are the model args
 * presets and `.pt` files use). As in fairseq's `add_args`, a model flag defaults to unset (null) and the
 * selected architecture's preset fills it; each model in the registry carries its group, so the CLI offers the
 * flags of the model behind `--arch` (also for an architecture a `--user-dir` plugin registers).
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

/** fairseq's "Model configuration" group: the architecture. */
export const modelSelectionOptions = defineOptions("model", {
  arch: opt.str(null, "model architecture (transformer, transformer_iwslt_de_en, lstm, transformer_lm, ...)", { aliases: ["-a"], metavar: "ARCH" }),
});

const ACTIVATIONS = ["relu", "gelu", "gelu_accurate", "tanh", "linear"] as const;
const PRETRAINED_EMBED = "initializing embeddings from a pretrained file is not implemented";
const LAYERDROP = "LayerDrop (structured dropout of layers) is not implemented";
const QUANT_NOISE = "quantization noise (Quant-Noise) is not implemented";
const LSTM_ADAPTIVE_SOFTMAX = "adaptive softmax in the LSTM decoder is not implemented (the transformer and transformer_lm have it)";
const adaptiveSoftmaxCutoff = () =>
  opt.str(null, "comma separated list of adaptive softmax cutoff points. Must be used with adaptive_loss criterion", { metavar: "EXPR" });
const adaptiveSoftmaxDropout = () => float("sets adaptive softmax dropout for the tail projections");

const int = (help: string) => opt.int(null, help, { metavar: "N" });
const float = (help: string) => opt.float(null, help, { metavar: "D" });

/** `--arch transformer` and its presets (fairseq's TransformerModel.add_args). */
export const transformerOptions = defineOptions("model", {
  activation_fn: opt.choice(ACTIVATIONS, null, "activation function to use", { metavar: "FN" }),
  dropout: float("dropout probability"),
  attention_dropout: float("dropout probability for attention weights"),
  activation_dropout: opt.float(null, "dropout probability after activation in FFN", { aliases: ["--relu-dropout"], metavar: "D" }),
  encoder_embed_path: opt.refused(PRETRAINED_EMBED),
  encoder_embed_dim: int("encoder embedding dimension"),
  encoder_ffn_embed_dim: int("encoder embedding dimension for FFN"),
  encoder_layers: int("num encoder layers"),
  encoder_attention_heads: int("num encoder attention heads"),
  encoder_normalize_before: opt.presetFlag("apply layernorm before each encoder block"),
  encoder_learned_pos: opt.presetFlag("use learned positional embeddings in the encoder"),
  decoder_embed_path: opt.refused(PRETRAINED_EMBED),
  decoder_embed_dim: int("decoder embedding dimension"),
  decoder_ffn_embed_dim: int("decoder embedding dimension for FFN"),
  decoder_layers: int("num decoder layers"),
  decoder_attention_heads: int("num decoder attention heads"),
  decoder_learned_pos: opt.presetFlag("use learned positional embeddings in the decoder"),
  decoder_normalize_before: opt.presetFlag("apply layernorm before each decoder block"),
  decoder_output_dim: int("decoder output dimension (extra linear layer if different from decoder embed dim)"),
  share_decoder_input_output_embed: opt.presetFlag("share decoder input and output embeddings"),
  share_all_embeddings: opt.presetFlag("share encoder, decoder and output embeddings (requires shared dictionary and embed dim)"),
  no_token_positional_embeddings: opt.flag("if set, disables positional embeddings (outside self attention)"),
  adaptive_softmax_cutoff: adaptiveSoftmaxCutoff(),
  adaptive_softmax_dropout: adaptiveSoftmaxDropout(),
  layernorm_embedding: opt.presetFlag("add layernorm to embedding"),
  no_scale_embedding: opt.presetFlag("if True, dont scale embeddings"),
  no_cross_attention: opt.refused("decoders without encoder attention are not implemented", "flag"),
  cross_self_attention: opt.refused("cross+self-attention is not implemented", "flag"),
  encoder_layerdrop: opt.refused(LAYERDROP),
  decoder_layerdrop: opt.refused(LAYERDROP),
  encoder_layers_to_keep: opt.refused(LAYERDROP),
  decoder_layers_to_keep: opt.refused(LAYERDROP),
  quant_noise_pq: opt.refused(QUANT_NOISE),
  quant_noise_pq_block_size: opt.refused(QUANT_NOISE),
  quant_noise_scalar: opt.refused(QUANT_NOISE),
  /** fairseq-ts (later fairseq's flag): not in fairseq v0.10.2. */
  checkpoint_activations: opt.flag(
    "fairseq-ts: recompute each encoder/decoder layer in the backward pass instead of keeping its activations (less training memory for long inputs, one more forward pass per layer)",
  ),
});
export type TransformerOptions = OptionsOf<typeof transformerOptions.declarations>;

/** `--arch transformer_align` and `transformer_wmt_en_de_big_align` (fairseq's TransformerAlignModel.add_args). */
export const transformerAlignOptions = defineOptions("model", {
  ...transformerOptions.declarations,
  alignment_heads: opt.int(null, "Number of cross attention heads per layer to supervised with alignments", { metavar: "D" }),
  alignment_layer: opt.int(null, "Layer number which has to be supervised. 0 corresponding to the bottommost layer.", { metavar: "D" }),
  full_context_alignment: opt.presetFlag("Whether or not alignment is supervised conditioned on the full target context."),
});
export type TransformerAlignOptions = OptionsOf<typeof transformerAlignOptions.declarations>;

/**
 * `--arch bart_base` and the other BART presets (fairseq's BARTModel.add_args): the transformer's options and
 * the classification heads' pooler.
 */
export const bartOptions = defineOptions("model", {
  ...transformerOptions.declarations,
  pooler_dropout: float("dropout probability in the masked_lm pooler layers"),
  pooler_activation_fn: opt.choice(ACTIVATIONS, null, "activation function to use for pooler layer", { metavar: "FN" }),
  spectral_norm_classification_head: opt.refused("spectral normalization of the classification head is not implemented", "flag"),
});
export type BartOptions = OptionsOf<typeof bartOptions.declarations>;

const CHAR_INPUTS = "character-level input embeddings are not implemented";

/** `--arch transformer_lm` and its presets (fairseq's TransformerLanguageModel.add_args). */
export const transformerLmOptions = defineOptions("model", {
  activation_fn: opt.choice(ACTIVATIONS, null, "activation function to use", { metavar: "FN" }),
  dropout: float("dropout probability"),
  attention_dropout: float("dropout probability for attention weights"),
  activation_dropout: float("dropout probability after activation in FFN"),
  relu_dropout: float("dropout probability after activation in FFN (used when --activation-dropout is 0)"),
  decoder_embed_dim: int("decoder embedding dimension"),
  decoder_output_dim: int("decoder output dimension"),
  decoder_input_dim: int("decoder input dimension"),
  decoder_ffn_embed_dim: int("decoder embedding dimension for FFN"),
  decoder_layers: int("num decoder layers"),
  decoder_attention_heads: int("num decoder attention heads"),
  decoder_normalize_before: opt.presetFlag("apply layernorm before each decoder block"),
  no_decoder_final_norm: opt.presetFlag("don't add an extra layernorm after the last decoder block"),
  adaptive_softmax_cutoff: adaptiveSoftmaxCutoff(),
  adaptive_softmax_dropout: adaptiveSoftmaxDropout(),
  adaptive_softmax_factor: float("adaptive input factor"),
  no_token_positional_embeddings: opt.presetFlag("if set, disables positional embeddings (outside self attention)"),
  share_decoder_input_output_embed: opt.presetFlag("share decoder input and output embeddings"),
  character_embeddings: opt.refused(CHAR_INPUTS, "flag"),
  character_filters: opt.refused(CHAR_INPUTS),
  character_embedding_dim: opt.refused(CHAR_INPUTS),
  char_embedder_highway_layers: opt.refused(CHAR_INPUTS),
  adaptive_input: opt.presetFlag("if set, uses adaptive input"),
  adaptive_input_factor: float("adaptive input factor"),
  adaptive_input_cutoff: opt.str(null, "comma separated list of adaptive input cutoff points.", { metavar: "EXPR" }),
  tie_adaptive_weights: opt.presetFlag("if set, ties the weights of adaptive softmax and adaptive input"),
  tie_adaptive_proj: opt.presetFlag("if set, ties the projection weights of adaptive softmax and adaptive input"),
  decoder_learned_pos: opt.presetFlag("use learned positional embeddings in the decoder"),
  decoder_layerdrop: opt.refused(LAYERDROP),
  decoder_layers_to_keep: opt.refused(LAYERDROP),
  layernorm_embedding: opt.presetFlag("add layernorm to embedding"),
  no_scale_embedding: opt.presetFlag("if True, dont scale embeddings"),
  quant_noise_pq: opt.refused(QUANT_NOISE),
  quant_noise_pq_block_size: opt.refused(QUANT_NOISE),
  quant_noise_scalar: opt.refused(QUANT_NOISE),
});
export type TransformerLmOptions = OptionsOf<typeof transformerLmOptions.declarations>;

const FREEZE = "freezing embeddings is not implemented";

/** `--arch lstm` and its presets (fairseq's LSTMModel.add_args). */
export const lstmOptions = defineOptions("model", {
  dropout: float("dropout probability"),
  encoder_embed_dim: int("encoder embedding dimension"),
  encoder_embed_path: opt.refused(PRETRAINED_EMBED),
  encoder_freeze_embed: opt.refused(FREEZE, "flag"),
  encoder_hidden_size: int("encoder hidden size"),
  encoder_layers: int("number of encoder layers"),
  encoder_bidirectional: opt.presetFlag("make all layers of encoder bidirectional"),
  decoder_embed_dim: int("decoder embedding dimension"),
  decoder_embed_path: opt.refused(PRETRAINED_EMBED),
  decoder_freeze_embed: opt.refused(FREEZE, "flag"),
  decoder_hidden_size: int("decoder hidden size"),
  decoder_layers: int("number of decoder layers"),
  decoder_out_embed_dim: int("decoder output embedding dimension"),
  decoder_attention: opt.str(null, "decoder attention (a bool: '1'/'True' or '0'/'False')", { metavar: "BOOL" }),
  adaptive_softmax_cutoff: opt.refused(LSTM_ADAPTIVE_SOFTMAX),
  share_decoder_input_output_embed: opt.flag("share decoder input and output embeddings"),
  share_all_embeddings: opt.flag("share encoder, decoder and output embeddings (requires shared dictionary and embed dim)"),
  encoder_dropout_in: float("dropout probability for encoder input embedding"),
  encoder_dropout_out: float("dropout probability for encoder output"),
  decoder_dropout_in: float("dropout probability for decoder input embedding"),
  decoder_dropout_out: float("dropout probability for decoder output"),
});
export type LstmOptions = OptionsOf<typeof lstmOptions.declarations>;
