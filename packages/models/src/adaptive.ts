import * as tf from "@tensorflow/tfjs-core";
import { Embedding, Linear, dropout, linear, logSoftmax, xavierUniform, type ModuleContext } from "./modules.js";
import type { AdaptiveSoftmaxTerms } from "./interfaces.js";

/**
 * fairseq's cutoff list: `vocabSize` appended when the last cutoff is below it; a cutoff above the vocabulary, or a
 * list that does not increase, is an error naming `flag`.
 */
export function adaptiveCutoff(cutoff: readonly number[], vocabSize: number, flag: string): number[] {
  if (cutoff.length === 0) throw new Error(`${flag}: empty cutoff list`);
  for (let i = 0; i < cutoff.length; i++) {
    const c = cutoff[i]!;
    if (!Number.isInteger(c) || c <= 0 || (i > 0 && c <= cutoff[i - 1]!))
      throw new Error(`${flag}: cutoffs must be increasing positive integers, got ${cutoff.join(",")}`);
  }
  const last = cutoff[cutoff.length - 1]!;
  if (vocabSize > last) return [...cutoff, vocabSize];
  if (vocabSize !== last) throw new Error(`${flag}: cannot specify cutoff larger than vocab size (${last} > ${vocabSize})`);
  return [...cutoff];
}

/** fairseq's `eval_str_list(x, int)`: "20000,60000" (or a list already parsed) as numbers; null stays null. */
export function parseCutoff(value: unknown, flag: string): number[] | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(Number);
  if (typeof value === "number") return [value];
  if (typeof value !== "string") throw new Error(`${flag}: expected comma-separated integers, got ${JSON.stringify(value)}`);
  const parts = value
    .replace(/^[[(]|[\])]$/g, "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const out = parts.map(Number);
  if (out.some((n) => !Number.isInteger(n))) throw new Error(`${flag}: expected comma-separated integers, got '${value}'`);
  return out;
}

/** The band dimension fairseq computes, `int(dim // factor ** i)` (floor division of floats, then int). */
export function bandDim(dim: number, factor: number, band: number): number {
  return Math.trunc(Math.floor(dim / factor ** band));
}

/**
 * fairseq's AdaptiveInput (Baevski & Auli, 2019): the vocabulary split at the cutoffs into bands, band i embedded in
 * `initial_dim // factor^i` dimensions and projected to `output_dim`. Parameter names are fairseq's:
 * `{name}.embeddings.{i}.0.weight` (band embedding) and `{name}.embeddings.{i}.1.weight` (its projection, no bias).
 */
export class AdaptiveInput {
  readonly cutoff: number[];
  readonly bands: { embedding: Embedding; projection: Linear }[] = [];
  /** What the decoder sees as the embedding size (fairseq's `embedding_dim` = output_dim). */
  readonly embeddingDim: number;
  constructor(
    ctx: ModuleContext,
    readonly name: string,
    vocabSize: number,
    readonly paddingIdx: number,
    initialDim: number,
    factor: number,
    outputDim: number,
    cutoff: readonly number[],
  ) {
    this.cutoff = adaptiveCutoff(cutoff, vocabSize, "--adaptive-input-cutoff");
    this.embeddingDim = outputDim;
    for (let i = 0; i < this.cutoff.length; i++) {
      const size = this.cutoff[i]! - (i > 0 ? this.cutoff[i - 1]! : 0);
      const dim = bandDim(initialDim, factor, i);
      if (dim < 1) throw new Error(`--adaptive-input-factor ${factor}: band ${i} would have ${dim} dimensions (decoder input dim ${initialDim})`);
      // fairseq's init_weights zeroes row padding_idx of every band's embedding (the padding index is only the first's)
      const embedding = new Embedding(ctx, `${name}.embeddings.${i}.0`, size, dim, paddingIdx < size ? paddingIdx : null);
      const projection = new Linear(ctx, `${name}.embeddings.${i}.1`, dim, outputDim, { bias: false });
      this.bands.push({ embedding, projection });
    }
  }

  /** fairseq's `weights_for_band`: [embedding V_i x d_i, projection output_dim x d_i]. */
  weightsForBand(band: number): [tf.Variable, tf.Variable] {
    const b = this.bands[band]!;
    return [b.embedding.weight, b.projection.weight];
  }

  /** tokens B x T (int32) -> B x T x output_dim: each token through its band's embedding and projection. */
  apply(tokens: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const ids = tokens.dtype === "int32" ? tokens : tf.cast(tokens, "int32");
      let out: tf.Tensor | null = null;
      for (let i = 0; i < this.cutoff.length; i++) {
        const lo = i > 0 ? this.cutoff[i - 1]! : 0;
        const hi = this.cutoff[i]!;
        const inBand = tf.logicalAnd(tf.greaterEqual(ids, lo), tf.less(ids, hi));
        // every token looks up some row of this band (clipped); the mask keeps the band's own tokens only
        const int = (v: number) => tf.scalar(v, "int32");
        const local = tf.minimum(tf.maximum(tf.sub(ids, int(lo)), int(0)), int(hi - lo - 1));
        const band = this.bands[i]!;
        const e = linear(tf.gather(band.embedding.weight, local), band.projection.weight, null);
        const masked = tf.mul(e, tf.expandDims(tf.cast(inBand, "float32"), -1));
        out = out === null ? masked : tf.add(out, masked);
      }
      return out!;
    });
  }
}

/** A linear map whose weight is another module's parameter (fairseq's TiedLinear), optionally transposed. */
interface TiedOrOwnLinear {
  weight: tf.Tensor;
  transpose: boolean;
}
const applyTied = (x: tf.Tensor, l: TiedOrOwnLinear) => (l.transpose ? tf.matMul(x as tf.Tensor2D, l.weight as tf.Tensor2D) : linear(x, l.weight, null));

/**
 * fairseq's AdaptiveSoftmax (Grave et al., 2017): a head over the first cutoff's words plus one entry per tail
 * cluster, and per cluster a projection to `input_dim // factor^(i+1)` and an output layer over its words.
 * log p(w) = log p_head(w) for head words, log p_head(cluster) + log p_tail(w | cluster) for the others.
 * Parameter names are fairseq's: `{name}.head.weight`, `{name}.tail.{i}.0.weight` (projection),
 * `{name}.tail.{i}.2.weight` (output; index 1 is the dropout). Tied to an AdaptiveInput (`--tie-adaptive-weights`),
 * the head is `head.word_proj.weight` (band 0's embedding) + `head.class_proj.weight`, and each tail's output is its
 * band's embedding; with `--tie-adaptive-proj` the tail projection is the band's projection, transposed.
 */
export class AdaptiveSoftmax {
  readonly cutoff: number[];
  /** Head output size: the first cutoff plus one entry per tail cluster. */
  readonly headSize: number;
  private readonly headWord: TiedOrOwnLinear | null = null;
  private readonly headWordIn: tf.Variable | null = null;
  private readonly headClass: tf.Variable | null = null;
  private readonly headWeight: tf.Variable | null = null;
  private readonly tails: { proj: TiedOrOwnLinear; out: TiedOrOwnLinear }[] = [];

  constructor(
    private readonly ctx: ModuleContext,
    readonly name: string,
    readonly vocabSize: number,
    readonly inputDim: number,
    cutoff: readonly number[],
    readonly dropoutP: number,
    factor: number,
    adaptiveInputs: AdaptiveInput | null,
    tieProj: boolean,
  ) {
    this.cutoff = adaptiveCutoff(cutoff, vocabSize, "--adaptive-softmax-cutoff");
    const nTails = this.cutoff.length - 1;
    this.headSize = this.cutoff[0]! + nTails;
    const store = ctx.store;
    const own = (n: string, shape: [number, number]) => store.add(n, xavierUniform(shape, ctx.rng));
    if (adaptiveInputs) {
      // fairseq's TiedHeadModule: band 0's embedding as the word projection, a class projection for the clusters
      const [emb] = adaptiveInputs.weightsForBand(0);
      const embDim = emb.shape[1]!;
      if (inputDim !== embDim) {
        this.headWordIn = own(`${name}.head.word_proj.0.weight`, [embDim, inputDim]);
        store.alias(`${name}.head.word_proj.1.weight`, `${adaptiveInputs.name}.embeddings.0.0.weight`);
      } else {
        store.alias(`${name}.head.word_proj.weight`, `${adaptiveInputs.name}.embeddings.0.0.weight`);
      }
      this.headWord = { weight: emb, transpose: false };
      this.headClass = own(`${name}.head.class_proj.weight`, [nTails, inputDim]);
    } else {
      this.headWeight = own(`${name}.head.weight`, [this.headSize, inputDim]);
    }
    for (let i = 0; i < nTails; i++) {
      const size = this.cutoff[i + 1]! - this.cutoff[i]!;
      let proj: TiedOrOwnLinear;
      let out: TiedOrOwnLinear;
      if (adaptiveInputs) {
        const [emb, bandProj] = adaptiveInputs.weightsForBand(i + 1);
        if (tieProj) {
          if (bandProj.shape[0] !== inputDim)
            throw new Error(`--tie-adaptive-proj: the adaptive input's projection outputs ${bandProj.shape[0]} dims, the softmax input has ${inputDim}`);
          store.alias(`${name}.tail.${i}.0.weight`, `${adaptiveInputs.name}.embeddings.${i + 1}.1.weight`);
          proj = { weight: bandProj, transpose: true };
        } else {
          // nn.Linear(tied_proj.size(0), tied_proj.size(1)): weight [d_i, output_dim]
          proj = { weight: own(`${name}.tail.${i}.0.weight`, [bandProj.shape[1]!, bandProj.shape[0]!]), transpose: false };
        }
        store.alias(`${name}.tail.${i}.2.weight`, `${adaptiveInputs.name}.embeddings.${i + 1}.0.weight`);
        out = { weight: emb, transpose: false };
      } else {
        const dim = bandDim(inputDim, factor, i + 1);
        if (dim < 1) throw new Error(`--adaptive-softmax-factor ${factor}: tail ${i} would have ${dim} dimensions (input dim ${inputDim})`);
        proj = { weight: own(`${name}.tail.${i}.0.weight`, [dim, inputDim]), transpose: false };
        out = { weight: own(`${name}.tail.${i}.2.weight`, [size, dim]), transpose: false };
      }
      this.tails.push({ proj, out });
    }
  }

  /** Head logits N x headSize. */
  private head(x: tf.Tensor2D): tf.Tensor2D {
    if (this.headWeight) return linear(x, this.headWeight, null) as tf.Tensor2D;
    const wordIn = this.headWordIn ? linear(x, this.headWordIn, null) : x;
    return tf.concat([applyTied(wordIn, this.headWord!), linear(x, this.headClass!, null)], 1) as tf.Tensor2D;
  }

  /** Tail i's logits (its dropout between projection and output, as fairseq's nn.Dropout, in training). */
  private tail(i: number, x: tf.Tensor2D): tf.Tensor2D {
    const t = this.tails[i]!;
    return applyTied(dropout(this.ctx, applyTied(x, t.proj), this.dropoutP), t.out) as tf.Tensor2D;
  }

  /**
   * fairseq's `AdaptiveSoftmax.forward`: the input (dropped out) through the head for every row, and through tail i
   * for the rows whose target is in cluster i; targets remapped (a tail word's head target is its cluster's entry,
   * its tail target its offset in the cluster). Target values are read back (they are needed to pick the rows).
   */
  forward(features: tf.Tensor, target: tf.Tensor): AdaptiveSoftmaxTerms {
    const c = features.shape[features.rank - 1]!;
    // (fairseq's FairseqDropout of AdaptiveSoftmax; get_log_prob, the inference path, applies none)
    const x = dropout(this.ctx, tf.reshape(features, [-1, c]), this.dropoutP, "AdaptiveSoftmax") as tf.Tensor2D;
    const t = target.dataSync();
    const headTarget = Int32Array.from(t);
    const tails: AdaptiveSoftmaxTerms["tails"] = [];
    for (let i = 0; i < this.tails.length; i++) {
      const lo = this.cutoff[i]!;
      const hi = this.cutoff[i + 1]!;
      const rows: number[] = [];
      const local: number[] = [];
      for (let r = 0; r < t.length; r++) {
        const v = t[r]!;
        if (v >= lo && v < hi) {
          headTarget[r] = this.cutoff[0]! + i;
          rows.push(r);
          local.push(v - lo);
        }
      }
      if (rows.length === 0) {
        tails.push(null);
        continue;
      }
      const picked = tf.gather(x, tf.tensor1d(rows, "int32")) as tf.Tensor2D;
      tails.push({ logits: this.tail(i, picked), target: tf.tensor1d(local, "int32") });
    }
    return { head: this.head(x), headTarget: tf.tensor1d(headTarget, "int32"), tails };
  }

  /** fairseq's `get_log_prob` without a target: log-probabilities over the whole vocabulary, B x T x V. */
  getLogProb(features: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, c] = features.shape;
      const x = tf.reshape(features, [b * t, c]) as tf.Tensor2D;
      const head = logSoftmax(this.head(x));
      const c0 = this.cutoff[0]!;
      const parts: tf.Tensor[] = [tf.slice(head, [0, 0], [-1, c0])];
      for (let i = 0; i < this.tails.length; i++) {
        const prior = tf.slice(head, [0, c0 + i], [-1, 1]);
        parts.push(tf.add(logSoftmax(this.tail(i, x)), prior));
      }
      return tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 1), [b, t, this.vocabSize]) as tf.Tensor3D;
    });
  }
}
