import { Registry, type AnyOptionGroup } from "@fairseq-ts/config";
import type { EncoderDecoderModel, LanguageModel } from "./interfaces.js";
import { bartOptions, lstmOptions, transformerAlignOptions, transformerLmOptions, transformerOptions } from "./options.js";
import {
  TransformerAlignModel,
  TransformerLanguageModel,
  TransformerModel,
  upgradeTransformerStateDict,
  type TransformerAlignArgs,
  type TransformerArgs,
} from "./transformer.js";
import { BARTModel, bartBase, bartLarge, mbartBase, mbartBaseWmt20, mbartLarge, upgradeBartStateDict, type BartArgs } from "./bart.js";
import type { WeightValues } from "./checkpoint-codec.js";
import { transformerLmParameterShapes, transformerParameterShapes, type ParameterShapes } from "./param-shapes.js";
import { LSTMModel, lstmBase, lstmLuongWmtEnDe, lstmWisemanIwsltDeEn, type LSTMArgs } from "./lstm.js";

/** fairseq-style args: snake_case names as in fairseq's argparse Namespace (`encoder_embed_dim`, …). */
export type ModelArgs = Record<string, unknown> & { arch: string };

/** What a model needs from the task: vocabulary sizes and the padding id. */
export interface ModelVocab {
  srcVocabSize?: number;
  tgtVocabSize?: number;
  /** Language models. */
  vocabSize?: number;
  padIdx: number;
}

export interface ModelSpec {
  /** Build from complete args (the architecture preset has filled the defaults). */
  build(args: ModelArgs, vocab: ModelVocab, seed: number): EncoderDecoderModel | LanguageModel;
  /**
   * The model's options (fairseq's `add_args`), snake_case keys defaulting to unset so that the architecture
   * preset fills them; the CLI offers them as flags for every architecture of this model.
   */
  options?: AnyOptionGroup;
  /**
   * fairseq's `upgrade_state_dict_named`: adapt a state dict about to be loaded (renamed or resized weights, mutated in
   * place) for the args the architecture preset has filled; returns args to add to the checkpoint's (e.g. the
   * classification heads a BART checkpoint holds), or nothing.
   */
  upgradeStateDict?(args: Readonly<ModelArgs>, state: Map<string, WeightValues>, vocab: Partial<ModelVocab>): Partial<ModelArgs> | void;
  /** The trainable parameters' names and shapes for complete args, without building the model. */
  parameterShapes?(args: ModelArgs, vocab: ModelVocab): ParameterShapes;
  /**
   * The dictionary size whose model has embeddings of `embeddingRows` rows (what a `.pt` import reads the vocabulary
   * sizes from), for complete args. Absent: the same number (fairseq's build_embedding takes len(dictionary)); the
   * pointer-generator's embeddings leave out its <unk-N> source position markers.
   */
  dictionarySize?(args: Readonly<ModelArgs>, embeddingRows: number): number;
}

/** A preset fills missing args with the architecture's defaults (fairseq's `getattr(args, k, default)`). */
export type ArchitecturePreset = (args: ModelArgs) => void;

// fairseq's MODEL_REGISTRY and ARCH_MODEL_REGISTRY; the built-ins are registered on first use, never at import
const models = new Registry<ModelSpec>("model", () => ensureBuiltins());
const architectures = new Registry<{ model: string; preset: ArchitecturePreset }>("architecture", () => ensureBuiltins());

export function registerModel(name: string, spec: ModelSpec): void {
  if (models.has(name)) throw new Error(`model ${name} is already registered`);
  models.register(name, spec);
}

export function registerArchitecture(modelName: string, archName: string, preset: ArchitecturePreset): void {
  if (architectures.has(archName)) throw new Error(`architecture ${archName} is already registered`);
  architectures.register(archName, { model: modelName, preset });
}

/** Registered architecture names (fairseq's ARCH_MODEL_REGISTRY keys). */
export function listArchitectures(): string[] {
  return architectures.names();
}

function architecture(arch: string): { model: string; preset: ArchitecturePreset } {
  if (!architectures.has(arch)) throw new Error(`--arch: unknown architecture '${arch}' (known: ${architectures.names().join(", ")})`);
  return architectures.get(arch);
}

/** Fill defaults for `args.arch` (mutates and returns args) and say which model it belongs to. */
export function applyArchitecture(args: ModelArgs): { model: string; args: ModelArgs } {
  const a = architecture(args.arch);
  a.preset(args);
  return { model: a.model, args };
}

/** The options of the model behind architecture `arch` (null: it declares none); an unknown arch is an Error naming --arch. */
export function modelOptionsOf(arch: string): AnyOptionGroup | null {
  const model = architecture(arch).model;
  return models.has(model) ? (models.get(model).options ?? null) : null;
}

/** Build a model by architecture name, fairseq's `ARCH_MODEL_REGISTRY[args.arch].build_model`. */
export function buildModel(args: ModelArgs, vocab: ModelVocab, options: { seed?: number } = {}): EncoderDecoderModel | LanguageModel {
  const { model } = applyArchitecture(args);
  if (!models.has(model)) throw new Error(`--arch ${args.arch}: its model '${model}' is not registered`);
  return models.get(model).build(args, vocab, options.seed ?? 1);
}

/**
 * The names and shapes of the trainable parameters `buildModel(args, vocab)` would create, computed without
 * allocating them (so big presets can be sized); `args` gets the architecture's defaults. An Error when the model
 * cannot say.
 */
export function modelParameterShapes(args: ModelArgs, vocab: ModelVocab): ParameterShapes {
  const { model } = applyArchitecture(args);
  const spec = models.has(model) ? models.get(model) : undefined;
  if (!spec?.parameterShapes) throw new Error(`--arch ${args.arch}: model '${model}' cannot list its parameter shapes without being built`);
  return spec.parameterShapes(args, vocab);
}

/**
 * Upgrade a checkpoint's state dict for the model its args name (fairseq does this in `load_state_dict`): `state` is
 * mutated, and the returned args are the checkpoint's with the model's additions (the preset is not applied to them).
 */
export function upgradeStateDict(args: ModelArgs, state: Map<string, WeightValues>, vocab: Partial<ModelVocab> = {}): ModelArgs {
  const { model, args: filled } = applyArchitecture({ ...args });
  const added = models.has(model) ? models.get(model).upgradeStateDict?.(filled, state, vocab) : undefined;
  return added ? { ...args, ...added } : args;
}

/** The dictionary size behind a checkpoint's `embeddingRows` embedding rows for `args` (see ModelSpec.dictionarySize). */
export function dictionarySizeOf(args: ModelArgs, embeddingRows: number): number {
  const { model, args: filled } = applyArchitecture({ ...args });
  const spec = models.has(model) ? models.get(model) : undefined;
  return spec?.dictionarySize ? spec.dictionarySize(filled, embeddingRows) : embeddingRows;
}

const def = (args: ModelArgs, key: string, value: unknown) => {
  if (args[key] === undefined || args[key] === null) args[key] = value;
};

/** fairseq's transformer `base_architecture`. */
export function transformerBase(a: ModelArgs): void {
  def(a, "encoder_embed_dim", 512);
  def(a, "encoder_ffn_embed_dim", 2048);
  def(a, "encoder_layers", 6);
  def(a, "encoder_attention_heads", 8);
  def(a, "encoder_normalize_before", false);
  def(a, "encoder_learned_pos", false);
  def(a, "decoder_embed_dim", a.encoder_embed_dim);
  def(a, "decoder_ffn_embed_dim", a.encoder_ffn_embed_dim);
  def(a, "decoder_layers", 6);
  def(a, "decoder_attention_heads", 8);
  def(a, "decoder_normalize_before", false);
  def(a, "decoder_learned_pos", false);
  def(a, "attention_dropout", 0.0);
  def(a, "activation_dropout", 0.0);
  def(a, "activation_fn", "relu");
  def(a, "dropout", 0.1);
  def(a, "adaptive_softmax_cutoff", null);
  def(a, "adaptive_softmax_dropout", 0);
  def(a, "share_decoder_input_output_embed", false);
  def(a, "share_all_embeddings", false);
  def(a, "no_token_positional_embeddings", false);
  def(a, "adaptive_input", false);
  def(a, "no_cross_attention", false);
  def(a, "decoder_output_dim", a.decoder_embed_dim);
  def(a, "decoder_input_dim", a.decoder_embed_dim);
  def(a, "no_scale_embedding", false);
  def(a, "layernorm_embedding", false);
  def(a, "tie_adaptive_weights", false);
  // fairseq's build_model: DEFAULT_MAX_SOURCE_POSITIONS / DEFAULT_MAX_TARGET_POSITIONS
  def(a, "max_source_positions", 1024);
  def(a, "max_target_positions", 1024);
}

/** fairseq's `transformer_vaswani_wmt_en_de_big` ("Attention Is All You Need"'s big model). */
export function transformerVaswaniWmtEnDeBig(a: ModelArgs): void {
  def(a, "encoder_embed_dim", 1024);
  def(a, "encoder_ffn_embed_dim", 4096);
  def(a, "encoder_attention_heads", 16);
  def(a, "encoder_normalize_before", false);
  def(a, "decoder_embed_dim", 1024);
  def(a, "decoder_ffn_embed_dim", 4096);
  def(a, "decoder_attention_heads", 16);
  def(a, "dropout", 0.3);
  transformerBase(a);
}

/** fairseq's `transformer_wmt_en_de_big`. */
export function transformerWmtEnDeBig(a: ModelArgs): void {
  def(a, "attention_dropout", 0.1);
  transformerVaswaniWmtEnDeBig(a);
}

/** fairseq's `transformer_align` (TransformerAlignModel's base) and `transformer_wmt_en_de_big_align`. */
export function transformerAlign(a: ModelArgs): void {
  def(a, "alignment_heads", 1);
  def(a, "alignment_layer", 4);
  def(a, "full_context_alignment", false);
  transformerBase(a);
}
export function transformerWmtEnDeBigAlign(a: ModelArgs): void {
  def(a, "alignment_heads", 1);
  def(a, "alignment_layer", 4);
  transformerWmtEnDeBig(a);
  // fairseq's TransformerAlignModel.build_model runs transformer_align(args) whatever the architecture
  transformerAlign(a);
}

/** fairseq's `base_lm_architecture` (decoder_normalize_before is forced on, as fairseq does). */
export function transformerLmBase(a: ModelArgs): void {
  // older checkpoints (fairseq's backward compatibility): --no-tie-adaptive-proj, then --decoder-final-norm
  if (a.no_tie_adaptive_proj !== undefined) {
    a.no_decoder_final_norm = true;
    if (a.no_tie_adaptive_proj === false) a.tie_adaptive_proj = true;
  }
  if (a.decoder_final_norm !== undefined) a.no_decoder_final_norm = !a.decoder_final_norm;
  def(a, "dropout", 0.1);
  def(a, "attention_dropout", 0.0);
  def(a, "decoder_embed_dim", 512);
  def(a, "decoder_ffn_embed_dim", 2048);
  def(a, "decoder_layers", 6);
  def(a, "decoder_attention_heads", 8);
  def(a, "adaptive_softmax_cutoff", null);
  def(a, "adaptive_softmax_dropout", 0);
  def(a, "adaptive_softmax_factor", 4);
  def(a, "decoder_learned_pos", false);
  def(a, "activation_fn", "relu");
  def(a, "activation_dropout", 0.0);
  def(a, "add_bos_token", false);
  def(a, "no_token_positional_embeddings", false);
  def(a, "share_decoder_input_output_embed", false);
  def(a, "decoder_output_dim", a.decoder_embed_dim);
  def(a, "decoder_input_dim", a.decoder_embed_dim);
  a.decoder_normalize_before = true;
  def(a, "no_decoder_final_norm", false);
  def(a, "adaptive_input", false);
  def(a, "adaptive_input_factor", 4);
  def(a, "adaptive_input_cutoff", null);
  def(a, "tie_adaptive_weights", false);
  def(a, "tie_adaptive_proj", false);
  def(a, "no_scale_embedding", false);
  def(a, "layernorm_embedding", false);
  def(a, "tokens_per_sample", 1024);
  def(a, "max_target_positions", a.tokens_per_sample);
}

const translationShapes = (args: ModelArgs, vocab: ModelVocab) =>
  transformerParameterShapes(args as unknown as TransformerArgs, {
    srcVocabSize: vocab.srcVocabSize!,
    tgtVocabSize: vocab.tgtVocabSize!,
    padIdx: vocab.padIdx,
  });

let builtinsRegistered = false;

/** Register fairseq's built-in models and architectures (done on first use, not at import). */
export function ensureBuiltins(): void {
  if (builtinsRegistered) return;
  builtinsRegistered = true;
  registerModel("transformer", {
    build: (args, vocab, seed) =>
      new TransformerModel(
        args as unknown as TransformerArgs,
        { srcVocabSize: vocab.srcVocabSize!, tgtVocabSize: vocab.tgtVocabSize!, padIdx: vocab.padIdx },
        seed,
      ),
    options: transformerOptions,
    upgradeStateDict: (args, state) => upgradeTransformerStateDict(args, state),
    parameterShapes: translationShapes,
  });
  registerArchitecture("transformer", "transformer", transformerBase);
  registerArchitecture("transformer", "transformer_iwslt_de_en", (a) => {
    def(a, "encoder_embed_dim", 512);
    def(a, "encoder_ffn_embed_dim", 1024);
    def(a, "encoder_attention_heads", 4);
    def(a, "encoder_layers", 6);
    def(a, "decoder_embed_dim", 512);
    def(a, "decoder_ffn_embed_dim", 1024);
    def(a, "decoder_attention_heads", 4);
    def(a, "decoder_layers", 6);
    transformerBase(a);
  });
  registerArchitecture("transformer", "transformer_wmt_en_de", transformerBase);
  registerArchitecture("transformer", "transformer_vaswani_wmt_en_de_big", transformerVaswaniWmtEnDeBig);
  registerArchitecture("transformer", "transformer_vaswani_wmt_en_fr_big", (a) => {
    def(a, "dropout", 0.1);
    transformerVaswaniWmtEnDeBig(a);
  });
  registerArchitecture("transformer", "transformer_wmt_en_de_big", transformerWmtEnDeBig);
  registerArchitecture("transformer", "transformer_wmt_en_de_big_t2t", (a) => {
    def(a, "encoder_normalize_before", true);
    def(a, "decoder_normalize_before", true);
    def(a, "attention_dropout", 0.1);
    def(a, "activation_dropout", 0.1);
    transformerVaswaniWmtEnDeBig(a);
  });
  registerModel("transformer_align", {
    build: (args, vocab, seed) =>
      new TransformerAlignModel(
        args as unknown as TransformerAlignArgs,
        { srcVocabSize: vocab.srcVocabSize!, tgtVocabSize: vocab.tgtVocabSize!, padIdx: vocab.padIdx },
        seed,
      ),
    options: transformerAlignOptions,
    upgradeStateDict: (args, state) => upgradeTransformerStateDict(args, state),
    parameterShapes: translationShapes,
  });
  registerArchitecture("transformer_align", "transformer_align", transformerAlign);
  registerArchitecture("transformer_align", "transformer_wmt_en_de_big_align", transformerWmtEnDeBigAlign);
  registerModel("bart", {
    build: (args, vocab, seed) =>
      new BARTModel(args as unknown as BartArgs, { srcVocabSize: vocab.srcVocabSize!, tgtVocabSize: vocab.tgtVocabSize!, padIdx: vocab.padIdx }, seed),
    options: bartOptions,
    upgradeStateDict: (args, state, vocab) => {
      upgradeTransformerStateDict(args, state);
      return upgradeBartStateDict(state, vocab);
    },
  });
  registerArchitecture("bart", "bart_large", bartLarge);
  registerArchitecture("bart", "bart_base", bartBase);
  registerArchitecture("bart", "mbart_large", mbartLarge);
  registerArchitecture("bart", "mbart_base", mbartBase);
  registerArchitecture("bart", "mbart_base_wmt20", mbartBaseWmt20);
  registerModel("lstm", {
    build: (args, vocab, seed) =>
      new LSTMModel(args as unknown as LSTMArgs, { srcVocabSize: vocab.srcVocabSize!, tgtVocabSize: vocab.tgtVocabSize!, padIdx: vocab.padIdx }, seed),
    options: lstmOptions,
  });
  registerArchitecture("lstm", "lstm", lstmBase);
  registerArchitecture("lstm", "lstm_wiseman_iwslt_de_en", lstmWisemanIwsltDeEn);
  registerArchitecture("lstm", "lstm_luong_wmt_en_de", lstmLuongWmtEnDe);
  registerModel("transformer_lm", {
    build: (args, vocab, seed) => new TransformerLanguageModel(args as unknown as TransformerArgs, vocab.vocabSize!, vocab.padIdx, seed),
    options: transformerLmOptions,
    parameterShapes: (args, vocab) => transformerLmParameterShapes(args as unknown as TransformerArgs, vocab.vocabSize!, vocab.padIdx),
  });
  registerArchitecture("transformer_lm", "transformer_lm", transformerLmBase);
  registerArchitecture("transformer_lm", "transformer_lm_big", transformerLmBig);
  registerArchitecture("transformer_lm", "transformer_lm_wiki103", transformerLmBaevskiWiki103);
  registerArchitecture("transformer_lm", "transformer_lm_baevski_wiki103", transformerLmBaevskiWiki103);
  registerArchitecture("transformer_lm", "transformer_lm_gbw", transformerLmBaevskiGbw);
  registerArchitecture("transformer_lm", "transformer_lm_baevski_gbw", transformerLmBaevskiGbw);
  registerArchitecture("transformer_lm", "transformer_lm_gpt", gptPreset(768, 3072, 12, 12));
  registerArchitecture("transformer_lm", "transformer_lm_gpt2_small", gptPreset(1024, 4096, 24, 16));
  registerArchitecture("transformer_lm", "transformer_lm_gpt2_medium", gptPreset(1280, 5120, 36, 20));
  registerArchitecture("transformer_lm", "transformer_lm_gpt2_big", gptPreset(1600, 6400, 48, 25));
}

/** fairseq's `transformer_lm_big`. */
export function transformerLmBig(a: ModelArgs): void {
  def(a, "decoder_layers", 12);
  def(a, "decoder_embed_dim", 1024);
  def(a, "decoder_ffn_embed_dim", 4096);
  def(a, "decoder_attention_heads", 16);
  transformerLmBase(a);
}

/** fairseq's `transformer_lm_baevski_wiki103` (= `transformer_lm_wiki103`): adaptive input and softmax, tied. */
export function transformerLmBaevskiWiki103(a: ModelArgs): void {
  def(a, "decoder_layers", 16);
  def(a, "decoder_attention_heads", 8);
  def(a, "dropout", 0.3);
  def(a, "adaptive_input", true);
  def(a, "tie_adaptive_weights", true);
  def(a, "adaptive_input_cutoff", "20000,60000");
  def(a, "adaptive_softmax_cutoff", "20000,60000");
  def(a, "adaptive_softmax_dropout", 0.2);
  def(a, "attention_dropout", 0.1);
  def(a, "activation_dropout", 0.1);
  def(a, "no_decoder_final_norm", true);
  def(a, "tie_adaptive_proj", true);
  transformerLmBig(a);
}

/** fairseq's `transformer_lm_baevski_gbw` (= `transformer_lm_gbw`). */
export function transformerLmBaevskiGbw(a: ModelArgs): void {
  def(a, "decoder_embed_dim", 512);
  def(a, "dropout", 0.1);
  def(a, "attention_dropout", 0.1);
  def(a, "no_decoder_final_norm", true);
  transformerLmBig(a);
}

/** fairseq's `transformer_lm_gpt` and `transformer_lm_gpt2_{small,medium,big}`: the same preset at four sizes. */
function gptPreset(embedDim: number, ffnDim: number, layers: number, heads: number): ArchitecturePreset {
  return (a) => {
    def(a, "decoder_embed_dim", embedDim);
    def(a, "decoder_ffn_embed_dim", ffnDim);
    def(a, "decoder_layers", layers);
    def(a, "decoder_attention_heads", heads);
    def(a, "dropout", 0.1);
    def(a, "attention_dropout", 0.1);
    def(a, "activation_fn", "gelu");
    transformerLmBase(a);
  };
}
