/**
 * fairseq v0.10.2's examples/pointer_generator (transformer_pg.py): a transformer whose output distribution mixes
 * the vocabulary softmax with the decoder's attention over the source tokens (See et al., 2017), so that words
 * outside the vocabulary, written as `<unk-N>` source position markers, can be copied from the source.
 *
 * Built from @fairseq-ts/models' public pieces: a `TransformerModel` over the first `len(dict) - markers` entries
 * (fairseq's embeddings have that many rows; the markers map to `<unk>`'s row), wrapped so that the encoder hands the
 * source tokens to the decoder and the decoder mixes in the attention. Parameter names are fairseq's.
 */
import * as tf from "@tensorflow/tfjs-core";
import { defineOptions, opt } from "@fairseq-ts/config";
import {
  ParamStore,
  TransformerModel,
  transformerBase,
  transformerOptions,
  type DecoderForwardOptions,
  type DecoderOutput,
  type EncoderDecoderModel,
  type EncoderOut,
  type FairseqDecoder,
  type FairseqEncoder,
  type IncrementalState,
  type ModelArgs,
  type ModelVocab,
  type TransformerArgs,
  type TransformerDecoder,
  type TransformerEncoder,
} from "@fairseq-ts/models";

/** fairseq's Dictionary layout: `<s> <pad> </s> <unk>` first, so `<unk>` is 3 when `<pad>` is 1. */
const FAIRSEQ_PAD = 1;
const FAIRSEQ_UNK = 3;

/** The model's flags (fairseq's TransformerPointerGeneratorModel.add_args): the transformer's plus four. */
export const pointerGeneratorOptions = defineOptions("model", {
  ...transformerOptions.declarations,
  alignment_heads: opt.int(null, "number of attention heads to be used for pointing", { metavar: "N" }),
  alignment_layer: opt.int(null, "layer number to be used for pointing (0 corresponding to the bottommost layer)", { metavar: "I" }),
  source_position_markers: opt.int(null, "dictionary includes N additional items that represent an OOV token at a particular input position", {
    metavar: "N",
  }),
  force_generation: opt.float(
    null,
    "set the vocabulary distribution weight to P, instead of predicting it from the input (1.0 corresponding to generation, 0.0 to pointing)",
    { metavar: "P" },
  ),
});

/** The transformer's args plus the pointer-generator's (after the architecture preset). */
export interface PointerGeneratorArgs extends TransformerArgs {
  alignment_heads: number;
  alignment_layer: number;
  source_position_markers?: number | null;
  force_generation?: number | null;
}

const def = (a: ModelArgs, key: string, value: unknown) => {
  if (a[key] === undefined || a[key] === null) a[key] = value;
};

/** fairseq's `transformer_pointer_generator` architecture: one head of the last decoder layer points. */
export function transformerPointerGenerator(a: ModelArgs): void {
  def(a, "alignment_heads", 1);
  def(a, "alignment_layer", -1);
  transformerBase(a);
  if ((a.alignment_layer as number) < 0) a.alignment_layer = (a.decoder_layers as number) + (a.alignment_layer as number);
}

export function transformerPointerGeneratorIwsltDeEn(a: ModelArgs): void {
  def(a, "encoder_embed_dim", 512);
  def(a, "encoder_ffn_embed_dim", 1024);
  def(a, "encoder_attention_heads", 4);
  def(a, "encoder_layers", 6);
  def(a, "decoder_embed_dim", 512);
  def(a, "decoder_ffn_embed_dim", 1024);
  def(a, "decoder_attention_heads", 4);
  def(a, "decoder_layers", 6);
  transformerPointerGenerator(a);
}

export function transformerPointerGeneratorVaswaniWmtEnDeBig(a: ModelArgs): void {
  def(a, "encoder_embed_dim", 1024);
  def(a, "encoder_ffn_embed_dim", 4096);
  def(a, "encoder_attention_heads", 16);
  def(a, "encoder_normalize_before", false);
  def(a, "decoder_embed_dim", 1024);
  def(a, "decoder_ffn_embed_dim", 4096);
  def(a, "decoder_attention_heads", 16);
  def(a, "dropout", 0.3);
  transformerPointerGenerator(a);
}

/** Every architecture fairseq v0.10.2 registers for the model, by name. */
export const pointerGeneratorArchitectures: Readonly<Record<string, (a: ModelArgs) => void>> = {
  transformer_pointer_generator: transformerPointerGenerator,
  transformer_pointer_generator_iwslt_de_en: transformerPointerGeneratorIwsltDeEn,
  transformer_pointer_generator_wmt_en_de: transformerPointerGenerator,
  transformer_pointer_generator_vaswani_wmt_en_de_big: transformerPointerGeneratorVaswaniWmtEnDeBig,
  transformer_pointer_generator_vaswani_wmt_en_fr_big: (a) => {
    def(a, "dropout", 0.1);
    transformerPointerGeneratorVaswaniWmtEnDeBig(a);
  },
  transformer_pointer_generator_wmt_en_de_big: (a) => {
    def(a, "attention_dropout", 0.1);
    transformerPointerGeneratorVaswaniWmtEnDeBig(a);
  },
  transformer_pointer_generator_wmt_en_de_big_t2t: (a) => {
    def(a, "encoder_normalize_before", true);
    def(a, "decoder_normalize_before", true);
    def(a, "attention_dropout", 0.1);
    def(a, "activation_dropout", 0.1);
    transformerPointerGeneratorVaswaniWmtEnDeBig(a);
  },
};

/** Token ids ≥ numEmbeddings (the `<unk-N>` markers) become `<unk>`, as fairseq's pointer-generator Embedding does. */
function markersToUnk(tokens: tf.Tensor2D, numEmbeddings: number, unk: number): tf.Tensor2D {
  return tf.where(tf.greaterEqual(tokens, numEmbeddings), tf.fill(tokens.shape, unk, "int32"), tokens) as tf.Tensor2D;
}

/**
 * `out[b, t, src[b, s]] += values[b, t, s]` into a zero [B, T, numTypes] tensor (torch's `scatter_add_` on dim 2),
 * differentiable in `values` (the gradient gathers the same positions).
 */
export function scatterAddOverSource(values: tf.Tensor3D, srcTokens: tf.Tensor2D, numTypes: number): tf.Tensor3D {
  const [b, t, s] = values.shape;
  const flatIndex = tf.tidy(() => {
    const rowBase = tf.reshape(tf.mul(tf.range(0, b * t, 1, "int32"), tf.scalar(numTypes, "int32")), [b, t, 1]);
    return tf.reshape(tf.add(rowBase, tf.reshape(srcTokens, [b, 1, s])), [b * t * s, 1]) as tf.Tensor2D;
  });
  // scatterND sums duplicate indices (a word occurring twice in the source gets both weights); tfjs has no gradient for it
  const scatter = tf.customGrad(((v: tf.Tensor, save: tf.GradSaveFunc) => {
    save([flatIndex]);
    const value = tf.reshape(tf.scatterND(flatIndex, tf.reshape(v, [-1]), [b * t * numTypes]), [b, t, numTypes]);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.reshape(tf.gatherND(tf.reshape(dy, [-1]), saved[0]!), [b, t, s]) };
  }) as Parameters<typeof tf.customGrad>[0]);
  const out = scatter(values) as tf.Tensor3D;
  flatIndex.dispose();
  return out;
}

/**
 * fairseq's `TransformerPointerGeneratorDecoder.output_layer` on the logits: `p_gen · softmax(logits)` over the
 * first numEmbeddings entries (zero for the markers) plus `(1 - p_gen) · attention` added at each source token's id.
 * Probabilities [B, T, numTypes].
 */
export function mixPointerDistribution(
  logits: tf.Tensor3D,
  attn: tf.Tensor3D,
  srcTokens: tf.Tensor2D,
  pGens: tf.Tensor | number,
  numTypes: number,
): tf.Tensor3D {
  return tf.tidy(() => {
    const numEmbeddings = logits.shape[2];
    if (numEmbeddings > numTypes) throw new Error(`pointer-generator: ${numEmbeddings} logits for a dictionary of ${numTypes} types`);
    const p = typeof pGens === "number" ? tf.scalar(pGens) : pGens;
    const gen = tf.mul(tf.softmax(logits, -1), p);
    const genDists =
      numTypes > numEmbeddings
        ? tf.pad(gen, [
            [0, 0],
            [0, 0],
            [0, numTypes - numEmbeddings],
          ])
        : gen;
    const attnDists = scatterAddOverSource(tf.mul(attn, tf.sub(1, p)) as tf.Tensor3D, srcTokens, numTypes);
    return tf.add(genDists, attnDists) as tf.Tensor3D;
  });
}

/** fairseq's TransformerPointerGeneratorEncoder: the transformer encoder, which also hands the source tokens on. */
export class PointerGeneratorEncoder implements FairseqEncoder {
  constructor(
    readonly inner: TransformerEncoder,
    private readonly numEmbeddings: number,
    private readonly unk: number,
  ) {}
  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D): EncoderOut {
    const mapped = markersToUnk(srcTokens, this.numEmbeddings, this.unk);
    const out = this.inner.forward(mapped, srcLengths);
    mapped.dispose();
    // extra tensors are reordered with the batch by reorderEncoderOut, so the tokens follow the beams
    return { ...out, extra: { ...out.extra, srcTokens: tf.clone(srcTokens) } };
  }
  reorderEncoderOut(encoderOut: EncoderOut, newOrder: tf.Tensor1D): EncoderOut {
    return this.inner.reorderEncoderOut(encoderOut, newOrder);
  }
  maxPositions(): number {
    return this.inner.maxPositions();
  }
}

/**
 * fairseq's TransformerPointerGeneratorDecoder: the transformer decoder's features, the attention of
 * `alignment_layer` averaged over its first `alignment_heads` heads, `p_gen = σ(project_p_gens([embed(prev) ·
 * scale; features]))`, and the mixed distribution. Its output is probabilities, not logits (fairseq's too), and it
 * has no `outputProjection`, so criterions take its normalized probabilities instead of fusing a projection.
 */
export class PointerGeneratorDecoder implements FairseqDecoder {
  constructor(
    readonly inner: TransformerDecoder,
    private readonly projectPGens: { weight: tf.Variable; bias: tf.Variable },
    private readonly o: {
      numTypes: number;
      numEmbeddings: number;
      unk: number;
      alignmentLayer: number;
      alignmentHeads: number;
      forceGeneration: number | null;
    },
  ) {}

  forward(prevOutputTokens: tf.Tensor2D, encoderOut: EncoderOut | null, incrementalState?: IncrementalState, options?: DecoderForwardOptions): DecoderOutput {
    const o = this.o;
    const mapped = markersToUnk(prevOutputTokens, o.numEmbeddings, o.unk);
    const [x, attn] = this.inner.extractFeatures(mapped, encoderOut, incrementalState, { alignmentLayer: o.alignmentLayer, alignmentHeads: o.alignmentHeads });
    if (options?.featuresOnly) {
      mapped.dispose();
      return [x, { attn }];
    }
    const srcTokens = encoderOut?.extra?.srcTokens as tf.Tensor2D | undefined;
    if (!srcTokens || !attn) throw new Error("pointer-generator decoder: needs the encoder's output (source tokens and attention)");
    const probs = tf.tidy(() => {
      const [b, t] = mapped.shape;
      const last = incrementalState !== undefined ? tf.slice(mapped, [0, t - 1], [b, 1]) : mapped;
      const prevEmbed = tf.mul(this.inner.embedTokens.apply(last), this.inner.embedScale);
      const predictors = tf.concat([prevEmbed, x], 2);
      const pGens =
        o.forceGeneration !== null
          ? o.forceGeneration
          : tf.sigmoid(tf.add(tf.matMul(tf.reshape(predictors, [b * x.shape[1], -1]), this.projectPGens.weight, false, true), this.projectPGens.bias));
      const p = typeof pGens === "number" ? pGens : tf.reshape(pGens, [b, x.shape[1], 1]);
      const logits = tf.reshape(tf.matMul(tf.reshape(x, [b * x.shape[1], -1]), this.inner.outputProjection!, false, true), [b, x.shape[1], -1]) as tf.Tensor3D;
      return mixPointerDistribution(logits, attn, srcTokens, p, o.numTypes);
    });
    mapped.dispose();
    x.dispose();
    return [probs, { attn }];
  }

  /** fairseq's get_normalized_probs here: the output is already a distribution; log of it clamped to [1e-10, 1]. */
  getNormalizedProbs(netOutput: DecoderOutput, logProbs: boolean): tf.Tensor3D {
    return tf.tidy(() => (logProbs ? tf.log(tf.clipByValue(netOutput[0], 1e-10, 1.0)) : tf.clone(netOutput[0])) as tf.Tensor3D);
  }
  reorderIncrementalState(incrementalState: IncrementalState, newOrder: tf.Tensor1D): void {
    this.inner.reorderIncrementalState(incrementalState, newOrder);
  }
  maxPositions(): number {
    return this.inner.maxPositions();
  }
}

const P_GENS = "decoder.project_p_gens";

/** How many `<unk-N>` markers end the dictionary: --source-position-markers, else --max-source-positions (fairseq's build_model). */
export function sourcePositionMarkers(a: Pick<PointerGeneratorArgs, "source_position_markers" | "max_source_positions">): number {
  return a.source_position_markers ?? a.max_source_positions;
}

/** fairseq's TransformerPointerGeneratorModel. */
export class PointerGeneratorModel implements EncoderDecoderModel {
  readonly kind = "encoder-decoder" as const;
  readonly inner: TransformerModel;
  readonly encoder: PointerGeneratorEncoder;
  readonly decoder: PointerGeneratorDecoder;
  /** Parameters outside the transformer (project_p_gens), after the transformer's in fairseq's state_dict order. */
  private readonly store = new ParamStore();

  /** `vocabSize` = len(dictionary), markers included; the dictionary must be joined (source = target). */
  constructor(
    readonly args: PointerGeneratorArgs,
    vocab: { vocabSize: number; padIdx: number },
    seed = 1,
  ) {
    const a = args;
    const markers = sourcePositionMarkers(a);
    a.source_position_markers = markers;
    if (vocab.padIdx !== FAIRSEQ_PAD)
      throw new Error(`transformer_pointer_generator: the dictionary's <pad> is ${vocab.padIdx}; fairseq's layout (<s> <pad> </s> <unk>) is needed`);
    const numEmbeddings = vocab.vocabSize - markers;
    if (!Number.isInteger(markers) || markers < 0 || numEmbeddings <= FAIRSEQ_UNK)
      throw new Error(
        `--source-position-markers ${markers}: the dictionary has ${vocab.vocabSize} entries, so only ${vocab.vocabSize - FAIRSEQ_UNK - 1} can be markers` +
          " (it must end with the <unk-0> .. <unk-(N-1)> entries; without the flag N is --max-source-positions)",
      );
    if (!Number.isInteger(a.alignment_layer) || a.alignment_layer < 0 || a.alignment_layer >= a.decoder_layers)
      throw new Error(`--alignment-layer: ${a.alignment_layer} is not a decoder layer (0..${a.decoder_layers - 1}, or -1..-${a.decoder_layers} from the top)`);
    if (!Number.isInteger(a.alignment_heads) || a.alignment_heads < 1) throw new Error(`--alignment-heads: ${a.alignment_heads} must be a positive integer`);
    // fairseq's build_model: shared embeddings tie the output projection too
    if (a.share_all_embeddings) a.share_decoder_input_output_embed = true;
    if (!a.share_decoder_input_output_embed)
      // fairseq's output layer asserts logits over num_embeddings, which only the tied projection has
      throw new Error("transformer_pointer_generator needs --share-decoder-input-output-embed or --share-all-embeddings (as fairseq's output layer does)");
    this.inner = new TransformerModel(a, { srcVocabSize: numEmbeddings, tgtVocabSize: numEmbeddings, padIdx: vocab.padIdx }, seed);
    const inputEmbedDim = this.inner.decoder.embedTokens.weight.shape[1]!;
    const inFeatures = inputEmbedDim + a.decoder_output_dim;
    // nn.Linear's default init (U(±1/√fan_in)) for the weight; fairseq zeroes the bias
    const bound = 1 / Math.sqrt(inFeatures);
    const projectPGens = {
      weight: this.store.add(`${P_GENS}.weight`, tf.randomUniform([1, inFeatures], -bound, bound, "float32", this.inner.rng.next())),
      bias: this.store.add(`${P_GENS}.bias`, tf.zeros([1])),
    };
    this.encoder = new PointerGeneratorEncoder(this.inner.encoder, numEmbeddings, FAIRSEQ_UNK);
    this.decoder = new PointerGeneratorDecoder(this.inner.decoder, projectPGens, {
      numTypes: vocab.vocabSize,
      numEmbeddings,
      unk: FAIRSEQ_UNK,
      alignmentLayer: a.alignment_layer,
      alignmentHeads: a.alignment_heads,
      forceGeneration: a.force_generation ?? null,
    });
  }

  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D, options?: DecoderForwardOptions): DecoderOutput {
    const enc = this.encoder.forward(srcTokens, srcLengths);
    const out = this.decoder.forward(prevOutputTokens, enc, undefined, options);
    enc.encoderOut.dispose();
    enc.encoderPaddingMask?.dispose();
    for (const t of Object.values(enc.extra ?? {})) t.dispose();
    return out;
  }
  getNormalizedProbs(netOutput: DecoderOutput, logProbs: boolean): tf.Tensor3D {
    return this.decoder.getNormalizedProbs(netOutput, logProbs);
  }
  maxPositions(): [number, number] {
    return this.inner.maxPositions();
  }
  maxDecoderPositions(): number {
    return this.inner.maxDecoderPositions();
  }

  get training(): boolean {
    return this.inner.training;
  }
  train(mode = true): void {
    this.inner.train(mode);
  }
  eval(): void {
    this.inner.eval();
  }
  setSeed(seed: number): void {
    this.inner.setSeed(seed);
  }
  numParameters(): number {
    let n = this.inner.numParameters();
    for (const v of this.store.params.values()) n += v.size;
    return n;
  }
  namedParameters(): Map<string, tf.Variable> {
    return new Map([...this.inner.namedParameters(), ...this.store.params]);
  }
  stateDict(): Map<string, tf.Tensor> {
    return new Map<string, tf.Tensor>([...this.inner.stateDict(), ...this.store.params]);
  }
  loadStateDict(state: Map<string, tf.Tensor>, options: { strict?: boolean } = {}): void {
    const strict = options.strict ?? true;
    const own = new Map<string, tf.Tensor>();
    const rest = new Map<string, tf.Tensor>();
    for (const [k, v] of state) (k.startsWith(`${P_GENS}.`) ? own : rest).set(k, v);
    const problems: string[] = [];
    for (const [name, v] of this.store.params) {
      const t = own.get(name);
      if (!t) {
        if (strict) problems.push(`missing ${name}`);
      } else if (!tf.util.arraysEqual(t.shape, v.shape)) problems.push(`${name}: shape [${t.shape}] in the checkpoint, [${v.shape}] in the model`);
    }
    for (const k of own.keys()) if (strict && !this.store.params.has(k)) problems.push(`unexpected ${k}`);
    if (problems.length > 0) throw new Error(`state dict does not fit the model:\n  ${problems.join("\n  ")}`);
    this.inner.loadStateDict(rest, options);
    for (const [name, v] of this.store.params) {
      const t = own.get(name);
      if (t) v.assign(t.dtype === "float32" ? t : tf.cast(t, "float32"));
    }
  }
  dispose(): void {
    this.inner.dispose();
    for (const v of this.store.params.values()) v.dispose();
    this.store.params.clear();
  }
}

/** Build from args the preset has filled; the dictionary must be joined (fairseq: "Pointer-generator requires a joined dictionary"). */
export function buildPointerGenerator(args: ModelArgs, vocab: ModelVocab, seed: number): PointerGeneratorModel {
  if (vocab.srcVocabSize !== vocab.tgtVocabSize)
    throw new Error(
      `Pointer-generator requires a joined dictionary (source has ${vocab.srcVocabSize} types, target ${vocab.tgtVocabSize}): preprocess with --joined-dictionary or --srcdict/--tgtdict the same file`,
    );
  return new PointerGeneratorModel(args as unknown as PointerGeneratorArgs, { vocabSize: vocab.tgtVocabSize!, padIdx: vocab.padIdx }, seed);
}
