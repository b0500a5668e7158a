/**
 * The names and shapes of a transformer's trainable parameters, from its args alone (nothing allocated): what a
 * model of a big preset holds before building it (a 1.5B-parameter GPT-2 does not fit in a wasm heap), to size a
 * checkpoint or check one's shapes. Tests hold it equal to the built model's `namedParameters()`.
 */
import { adaptiveCutoff, bandDim, parseCutoff } from "./adaptive.js";
import type { TransformerArgs } from "./transformer.js";

export type ParameterShapes = Map<string, number[]>;

const linear = (out: ParameterShapes, name: string, inF: number, outF: number, bias = true) => {
  out.set(`${name}.weight`, [outF, inF]);
  if (bias) out.set(`${name}.bias`, [outF]);
};
const layerNorm = (out: ParameterShapes, name: string, d: number) => {
  out.set(`${name}.weight`, [d]);
  out.set(`${name}.bias`, [d]);
};
const attention = (out: ParameterShapes, name: string, d: number, kdim = d) => {
  linear(out, `${name}.k_proj`, kdim, d);
  linear(out, `${name}.v_proj`, kdim, d);
  linear(out, `${name}.q_proj`, d, d);
  linear(out, `${name}.out_proj`, d, d);
};

function encoderShapes(out: ParameterShapes, a: TransformerArgs, padIdx: number): void {
  const d = a.encoder_embed_dim;
  if (!a.no_token_positional_embeddings && a.encoder_learned_pos) out.set("encoder.embed_positions.weight", [a.max_source_positions + padIdx + 1, d]);
  if (a.layernorm_embedding) layerNorm(out, "encoder.layernorm_embedding", d);
  for (let i = 0; i < a.encoder_layers; i++) {
    const p = `encoder.layers.${i}`;
    attention(out, `${p}.self_attn`, d);
    layerNorm(out, `${p}.self_attn_layer_norm`, d);
    linear(out, `${p}.fc1`, d, a.encoder_ffn_embed_dim);
    linear(out, `${p}.fc2`, a.encoder_ffn_embed_dim, d);
    layerNorm(out, `${p}.final_layer_norm`, d);
  }
  if (a.encoder_normalize_before) layerNorm(out, "encoder.layer_norm", d);
}

/** The decoder's parameters; `inputEmbedDim` is its token embedding's output size. */
function decoderShapes(
  out: ParameterShapes,
  a: TransformerArgs,
  padIdx: number,
  inputEmbedDim: number,
  vocabSize: number,
  encoderAttn: boolean,
  adaptiveInput: number[] | null,
): void {
  const d = a.decoder_embed_dim;
  if (d !== inputEmbedDim) linear(out, "decoder.project_in_dim", inputEmbedDim, d, false);
  if (!a.no_token_positional_embeddings && a.decoder_learned_pos) out.set("decoder.embed_positions.weight", [a.max_target_positions + padIdx + 1, d]);
  if (a.layernorm_embedding) layerNorm(out, "decoder.layernorm_embedding", d);
  for (let i = 0; i < a.decoder_layers; i++) {
    const p = `decoder.layers.${i}`;
    attention(out, `${p}.self_attn`, d);
    layerNorm(out, `${p}.self_attn_layer_norm`, d);
    if (encoderAttn) {
      attention(out, `${p}.encoder_attn`, d, a.encoder_embed_dim);
      layerNorm(out, `${p}.encoder_attn_layer_norm`, d);
    }
    linear(out, `${p}.fc1`, d, a.decoder_ffn_embed_dim);
    linear(out, `${p}.fc2`, a.decoder_ffn_embed_dim, d);
    layerNorm(out, `${p}.final_layer_norm`, d);
  }
  if (a.decoder_normalize_before && !a.no_decoder_final_norm) layerNorm(out, "decoder.layer_norm", d);
  if (d !== a.decoder_output_dim && !a.tie_adaptive_weights) linear(out, "decoder.project_out_dim", d, a.decoder_output_dim, false);
  const softmaxCutoff = parseCutoff(a.adaptive_softmax_cutoff, "--adaptive-softmax-cutoff");
  if (softmaxCutoff) {
    const cutoff = adaptiveCutoff(softmaxCutoff, vocabSize, "--adaptive-softmax-cutoff");
    const inputDim = a.decoder_output_dim;
    const name = "decoder.adaptive_softmax";
    const tied = a.tie_adaptive_weights ? adaptiveInput : null;
    if (tied) {
      const embDim = bandDim(a.decoder_input_dim, a.adaptive_input_factor ?? 4, 0);
      if (inputDim !== embDim) out.set(`${name}.head.word_proj.0.weight`, [embDim, inputDim]);
      out.set(`${name}.head.class_proj.weight`, [cutoff.length - 1, inputDim]);
    } else {
      out.set(`${name}.head.weight`, [cutoff[0]! + cutoff.length - 1, inputDim]);
    }
    for (let i = 0; i + 1 < cutoff.length; i++) {
      if (tied) {
        if (!a.tie_adaptive_proj)
          out.set(`${name}.tail.${i}.0.weight`, [bandDim(a.decoder_input_dim, a.adaptive_input_factor ?? 4, i + 1), a.decoder_embed_dim]);
      } else {
        const dim = bandDim(inputDim, a.adaptive_softmax_factor ?? 4, i + 1);
        out.set(`${name}.tail.${i}.0.weight`, [dim, inputDim]);
        out.set(`${name}.tail.${i}.2.weight`, [cutoff[i + 1]! - cutoff[i]!, dim]);
      }
    }
  } else if (!a.share_decoder_input_output_embed) {
    out.set("decoder.output_projection.weight", [vocabSize, a.decoder_output_dim]);
  }
}

/** fairseq's TransformerModel (and TransformerAlignModel): args filled by the preset. */
export function transformerParameterShapes(a: TransformerArgs, vocab: { srcVocabSize: number; tgtVocabSize: number; padIdx: number }): ParameterShapes {
  const out: ParameterShapes = new Map();
  out.set("encoder.embed_tokens.weight", [vocab.srcVocabSize, a.encoder_embed_dim]);
  const shareAll = a.share_all_embeddings;
  if (!shareAll) out.set("decoder.embed_tokens.weight", [vocab.tgtVocabSize, a.decoder_input_dim]);
  encoderShapes(out, a, vocab.padIdx);
  const shared = { ...a, share_decoder_input_output_embed: a.share_decoder_input_output_embed || shareAll };
  decoderShapes(out, shared, vocab.padIdx, shareAll ? a.encoder_embed_dim : a.decoder_input_dim, vocab.tgtVocabSize, true, null);
  return out;
}

/** fairseq's TransformerLanguageModel: args filled by the preset. */
export function transformerLmParameterShapes(a: TransformerArgs, vocabSize: number, padIdx: number): ParameterShapes {
  const out: ParameterShapes = new Map();
  let inputEmbedDim = a.decoder_input_dim;
  let adaptive: number[] | null = null;
  if (a.adaptive_input) {
    adaptive = adaptiveCutoff(parseCutoff(a.adaptive_input_cutoff, "--adaptive-input-cutoff") ?? [], vocabSize, "--adaptive-input-cutoff");
    for (let i = 0; i < adaptive.length; i++) {
      const dim = bandDim(a.decoder_input_dim, a.adaptive_input_factor ?? 4, i);
      out.set(`decoder.embed_tokens.embeddings.${i}.0.weight`, [adaptive[i]! - (i > 0 ? adaptive[i - 1]! : 0), dim]);
      out.set(`decoder.embed_tokens.embeddings.${i}.1.weight`, [a.decoder_embed_dim, dim]);
    }
    inputEmbedDim = a.decoder_embed_dim;
  } else {
    out.set("decoder.embed_tokens.weight", [vocabSize, a.decoder_input_dim]);
  }
  decoderShapes(out, a, padIdx, inputEmbedDim, vocabSize, false, adaptive);
  return out;
}
