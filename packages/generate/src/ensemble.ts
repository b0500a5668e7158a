import * as tf from "@tensorflow/tfjs-core";
import { disposeIncrementalState, type EncoderDecoderModel, type EncoderOut, type IncrementalState, type LanguageModel } from "@fairseq-ts/models";

/** One decoding step of the ensemble: what the generator's search works on. */
export interface EnsembleStep {
  /** rows x V natural-log probabilities of the next token (the caller owns the tensor). */
  lprobs: tf.Tensor2D;
  /** With `retainAttention`: rows x S attention of the step (as fairseq: the models' attentions summed, divided by N), else null. */
  attn: Float32Array | null;
}

/**
 * fairseq's EnsembleModel (sequence_generator.py): several encoder-decoder models over the same dictionaries,
 * decoded in lockstep. Each model keeps its own encoder output and incremental state; a step's distribution is
 * the mean of the models' probabilities, computed as logsumexp(lprobs) - log(N) over their log-probs, and the
 * attention is the models' mean. With one model every call is exactly that model's (no extra work).
 */
export class EnsembleModel {
  readonly models: readonly EncoderDecoderModel[];
  /** What errors call each model (its --path), in order; "model 1", "model 2", ... when not given. */
  readonly names: readonly string[];

  constructor(models: EncoderDecoderModel | readonly EncoderDecoderModel[], names?: readonly string[]) {
    this.models = Array.isArray(models) ? [...(models as readonly EncoderDecoderModel[])] : [models as EncoderDecoderModel];
    if (this.models.length === 0) throw new Error("EnsembleModel: no models");
    if (names && names.length !== this.models.length) throw new Error(`EnsembleModel: ${names.length} names for ${this.models.length} models`);
    this.names = names ? [...names] : this.models.map((_, i) => `model ${i + 1}`);
    this.models.forEach((m, i) => {
      if (m.kind !== "encoder-decoder") throw new Error(`${this.names[i]}: an ensemble needs encoder-decoder models, got a ${m.kind as string}`);
    });
  }

  get size(): number {
    return this.models.length;
  }

  /** The first model (fairseq's `single_model`). */
  get first(): EncoderDecoderModel {
    return this.models[0]!;
  }

  eval(): void {
    for (const m of this.models) m.eval();
  }

  /** The smallest of the models' decoder limits: the ensemble can only go as far as every model. */
  maxDecoderPositions(): number {
    return Math.min(...this.models.map((m) => m.maxDecoderPositions()));
  }

  /** [source, target] limits every model accepts (fairseq's resolve_max_positions over the models). */
  maxPositions(): [number, number] {
    const all = this.models.map((m) => m.maxPositions());
    return [Math.min(...all.map((p) => p[0])), Math.min(...all.map((p) => p[1]))];
  }

  /**
   * Each model's encoder output for the batch, in model order, with rows `newOrder` when given (beam search
   * repeats each sentence `beam` times). The caller owns them (`disposeEncoderOut`).
   */
  forwardEncoder(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, newOrder: tf.Tensor1D | null = null): EncoderOut[] {
    return this.models.map((m) =>
      tidyEncoderOut(() => {
        const e = m.encoder.forward(srcTokens, srcLengths);
        return newOrder ? m.encoder.reorderEncoderOut(e, newOrder) : e;
      }),
    );
  }

  /** Every model's encoder output reordered by `newOrder`; the inputs are disposed. */
  reorderEncoderOut(encoderOuts: EncoderOut[], newOrder: tf.Tensor1D): EncoderOut[] {
    return encoderOuts.map((e, i) => {
      const next = tidyEncoderOut(() => this.models[i]!.encoder.reorderEncoderOut(e, newOrder));
      disposeEncoderOut(e);
      return next;
    });
  }

  /** One empty incremental state per model. */
  newIncrementalStates(): IncrementalState[] {
    return this.models.map((): IncrementalState => new Map());
  }

  reorderIncrementalState(states: IncrementalState[], newOrder: tf.Tensor1D): void {
    this.models.forEach((m, i) => m.decoder.reorderIncrementalState(states[i]!, newOrder));
  }

  /**
   * fairseq's `forward_decoder`: every model's decoder on `tokens` (rows x T, eos first) with its own encoder
   * output and incremental state; the last position's logits divided by `temperature`, normalised to
   * log-probs; averaged in probability space when there are several models. With `vocabSize`, a model
   * predicting another number of symbols is an error naming it.
   */
  forwardDecoder(
    tokens: tf.Tensor2D,
    encoderOuts: EncoderOut[],
    states: IncrementalState[],
    temperature: number,
    retainAttention: boolean,
    vocabSize?: number,
  ): EnsembleStep {
    const rows = tokens.shape[0];
    const n = this.models.length;
    let attn: Float32Array | null = null;
    const lprobs = tf.tidy(() => {
      const perModel: tf.Tensor2D[] = [];
      let attnSum: tf.Tensor | null = null;
      this.models.forEach((m, i) => {
        const out = m.decoder.forward(tokens, encoderOuts[i]!, states[i]);
        if (retainAttention && out[1].attn) {
          const a = out[1].attn;
          const last = tf.slice(a, [0, a.shape[1] - 1, 0], [-1, 1, -1]);
          attnSum = attnSum === null ? last : tf.add(attnSum, last);
        }
        // incremental decoding gives one time step already: slicing it would only copy [rows, V]
        let logits = out[0].shape[1] === 1 ? out[0] : tf.slice(out[0], [0, out[0].shape[1] - 1, 0], [-1, 1, -1]);
        if (temperature !== 1) logits = tf.div(logits, temperature);
        const lp = m.decoder.getNormalizedProbs([logits as tf.Tensor3D, out[1]], true);
        const expected = vocabSize ?? perModel[0]?.shape[1];
        if (expected !== undefined && lp.shape[2] !== expected)
          throw new Error(
            vocabSize === undefined
              ? `ensemble: ${this.names[i]} predicts ${lp.shape[2]} symbols but ${this.names[0]} predicts ${expected}: the models must share the target dictionary`
              : `${this.names[i]} predicts ${lp.shape[2]} symbols but the target dictionary has ${expected}: the models must use the target dictionary`,
          );
        perModel.push(tf.reshape(lp, [rows, lp.shape[2]]) as tf.Tensor2D);
      });
      if (attnSum !== null) {
        // fairseq adds the attentions in model order, then divides by the ensemble's size
        const a: tf.Tensor = n > 1 ? tf.div(attnSum, n) : attnSum;
        attn = a.dataSync() as Float32Array;
      }
      if (n === 1) return perModel[0]!;
      // fairseq: torch.logsumexp(torch.stack(log_probs, dim=0), dim=0) - math.log(N)
      return tf.sub(tf.logSumExp(tf.stack(perModel, 0), 0), Math.log(n)) as tf.Tensor2D;
    });
    return { lprobs, attn };
  }

  dispose(): void {
    for (const m of this.models) m.dispose();
  }
}

/**
 * Shallow fusion with a language model (fairseq's SequenceGenerator with `lm_model` / `lm_weight`): the LM reads
 * the same prefixes as the translation model and its next-token log-probs, times `weight`, are added to the
 * translation log-probs before any mask. fairseq re-runs its LM over the whole prefix at every step; here it keeps
 * an incremental state (the same numbers, one position per step), reordered with the beams. One per `generate`.
 */
export class LanguageModelFusion {
  private readonly state: IncrementalState = new Map();

  constructor(
    readonly lm: LanguageModel,
    readonly weight: number,
    readonly vocabSize: number,
  ) {
    if (lm.kind !== "language-model") throw new Error(`shallow fusion needs a language model, got a ${lm.kind as string} model`);
    if (!Number.isFinite(weight)) throw new Error(`--lm-weight must be a finite number, got ${weight}`);
    lm.eval();
  }

  /** rows x V: `weight` · log p_LM(next token | tokens), for the last position of `tokens` (rows x T, eos first). */
  step(tokens: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const rows = tokens.shape[0];
      const out = this.lm.forward(tokens, this.state);
      const logits = out[0].shape[1] === 1 ? out[0] : tf.slice(out[0], [0, out[0].shape[1] - 1, 0], [-1, 1, -1]);
      const lp = this.lm.getNormalizedProbs([logits as tf.Tensor3D, out[1]], true);
      // (fairseq requires the LM to use the target dictionary; a different size would add unrelated symbols)
      if (lp.shape[2] !== this.vocabSize)
        throw new Error(`--lm-path: the language model predicts ${lp.shape[2]} symbols but the target dictionary has ${this.vocabSize}`);
      return tf.mul(tf.reshape(lp, [rows, this.vocabSize]), this.weight) as tf.Tensor2D;
    });
  }

  /** Follow the beams (and the shrinking batch), as the translation models' states do. */
  reorder(newOrder: tf.Tensor1D): void {
    this.lm.decoder.reorderIncrementalState(this.state, newOrder);
  }

  dispose(): void {
    disposeIncrementalState(this.state);
  }
}

/** Run `f` in a tidy scope and keep only the encoder output it returns. */
export function tidyEncoderOut(f: () => EncoderOut): EncoderOut {
  let out: EncoderOut | undefined;
  tf.tidy(() => {
    out = keepEncoderOut(f());
  });
  return out!;
}

function keepEncoderOut(e: EncoderOut): EncoderOut {
  const extra: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(e.extra ?? {})) extra[k] = tf.keep(v);
  return { encoderOut: tf.keep(e.encoderOut), encoderPaddingMask: e.encoderPaddingMask ? tf.keep(e.encoderPaddingMask) : null, extra };
}

export function disposeEncoderOut(e: EncoderOut): void {
  e.encoderOut.dispose();
  e.encoderPaddingMask?.dispose();
  for (const v of Object.values(e.extra ?? {})) v.dispose();
}

/**
 * fairseq's `utils.split_paths`: an ensemble's checkpoints given as one `--path` value, separated by ':' (the
 * POSIX os.pathsep), or by '|' when the value holds a URL ('://'). An empty entry is an error naming `flag`.
 */
export function splitPaths(paths: string, flag = "--path"): string[] {
  const parts = paths.includes("://") ? paths.split("|") : paths.split(":");
  if (parts.some((p) => p === "")) throw new Error(`${flag} ${paths}: empty checkpoint path in the list (paths are separated by ':')`);
  return parts;
}
