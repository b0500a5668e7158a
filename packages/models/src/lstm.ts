import * as tf from "@tensorflow/tfjs-core";
import { BaseModel } from "./base-model.js";
import type { DecoderOutput, EncoderDecoderModel, EncoderOut, FairseqDecoder, FairseqEncoder, IncrementalState } from "./interfaces.js";
import { ParamStore, SeededRandom, dropout, logSoftmax, type ModuleContext } from "./modules.js";

/** fairseq's lstm.py args (snake_case), complete after the architecture preset. */
export interface LSTMArgs {
  dropout: number;
  encoder_embed_dim: number;
  encoder_hidden_size: number;
  encoder_layers: number;
  encoder_bidirectional: boolean;
  encoder_dropout_in: number;
  encoder_dropout_out: number;
  decoder_embed_dim: number;
  decoder_hidden_size: number;
  decoder_layers: number;
  decoder_out_embed_dim: number;
  decoder_attention: string | boolean;
  decoder_dropout_in: number;
  decoder_dropout_out: number;
  share_decoder_input_output_embed: boolean;
  share_all_embeddings: boolean;
  max_source_positions: number;
  max_target_positions: number;
  /** fairseq reads the criterion from the same args: `adaptive_loss` switches the decoder to an adaptive softmax. */
  criterion?: string | null;
  /** Used by fairseq only with `criterion: adaptive_loss` (which fairseq-ts refuses); ignored otherwise, as there. */
  adaptive_softmax_cutoff?: string | null;
}

/**
 * fairseq's `utils.eval_bool`: `bool(eval(x))` on the flag's string, so Python literals count —
 * "True"/"False", "1"/"0", "None", other numbers (non-zero is true), quoted strings (non-empty is true).
 * A name Python would not know ("true", "yes") makes fairseq fail with a NameError; here a clear error
 * naming the flag. A JS boolean or number (from code or a config file) is taken as its own truth value.
 */
export function evalBool(value: unknown, flag: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (value === undefined || value === null) return false; // eval_bool's default when the arg is None
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- anything but a Python literal, an object included, fails below with an error naming the flag
  const s = String(value).trim();
  if (s === "True") return true;
  if (s === "False" || s === "None") return false;
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s) !== 0;
  const quoted = /^(['"])(.*)\1$/s.exec(s);
  if (quoted) return quoted[2]!.length > 0;
  throw new Error(`${flag}: cannot read '${s}' as a boolean (fairseq evaluates it as a Python expression: use True, False, 1 or 0)`);
}

/** lstm.py initialises every Linear, LSTM and Embedding weight with U(-0.1, 0.1) (embedding pad row 0). */
function uniform(ctx: ModuleContext, name: string, shape: number[]): tf.Variable {
  return ctx.store.add(name, tf.randomUniform(shape, -0.1, 0.1, "float32", ctx.rng.next()));
}

function embedding(ctx: ModuleContext, name: string, num: number, dim: number, pad: number): tf.Variable {
  const w = tf.tidy(() => {
    const u = tf.randomUniform([num, dim], -0.1, 0.1, "float32", ctx.rng.next());
    const keep = tf.reshape(tf.sub(1, tf.oneHot(tf.tensor1d([pad], "int32"), num)), [num, 1]);
    return tf.mul(u, keep);
  });
  return ctx.store.add(`${name}.weight`, w);
}

/** x [..., in] @ W[out, in]^T (+ b) */
function affine(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  const shape = x.shape;
  const flat = tf.reshape(x, [-1, shape[shape.length - 1]!]);
  let y = tf.matMul(flat, w, false, true);
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...shape.slice(0, -1), w.shape[0]!]);
}

/**
 * The LSTM cell's nonlinear part with PyTorch's gate order (i, f, g, o): gates [B, 4H] (pre-activation)
 * and c [B, H] -> [h' ; c'] as one [B, 2H] tensor. Its gradient is written out, so the backward pass
 * keeps only the activated gates and tanh(c') per step instead of every intermediate of the formula
 * (the step loop otherwise holds ~2x the memory, enough to exhaust wasm's heap on 4096-token batches).
 *   c' = f c + i g,  h' = o tanh(c')
 *   dc'_total = dc' + dh' o (1 - tanh(c')^2);  di = dc'_total g,  df = dc'_total c,  dg = dc'_total i,
 *   do = dh' tanh(c');  dc = dc'_total f;  through the activations: sigmoid' = s (1 - s), tanh' = 1 - t^2.
 */
export const lstmCellCore: (gates: tf.Tensor, c: tf.Tensor) => tf.Tensor = tf.customGrad(((gates: tf.Tensor, c: tf.Tensor, save: tf.GradSaveFunc) => {
  const [gi, gf, gg, go] = tf.split(gates, 4, 1);
  const act = tf.concat([tf.sigmoid(gi!), tf.sigmoid(gf!), tf.tanh(gg!), tf.sigmoid(go!)], 1);
  const [i, f, g, o] = tf.split(act, 4, 1);
  const c2 = tf.add(tf.mul(f!, c), tf.mul(i!, g!));
  const tc2 = tf.tanh(c2);
  save([act, c, tc2]);
  return {
    value: tf.concat([tf.mul(o!, tc2), c2], 1),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sAct, sC, sTc2] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const [si, sf, sg, so] = tf.split(sAct, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const [dh, dc] = tf.split(dy, 2, 1) as [tf.Tensor, tf.Tensor];
      const dct = tf.add(dc, tf.mul(tf.mul(dh, so), tf.sub(1, tf.square(sTc2))));
      const dsig = (s: tf.Tensor, d: tf.Tensor) => tf.mul(d, tf.mul(s, tf.sub(1, s)));
      const dGates = tf.concat(
        [dsig(si, tf.mul(dct, sg)), dsig(sf, tf.mul(dct, sC)), tf.mul(tf.mul(dct, si), tf.sub(1, tf.square(sg))), dsig(so, tf.mul(dh, sTc2))],
        1,
      );
      return [dGates, tf.mul(dct, sf)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * `x -> x W^T` for a weight used at every step of a recurrence, with W's gradient computed once for all steps.
 * tfjs's backward pass keeps every per-step gradient of a shared input until it ends (it adds them up but frees
 * only the running sum), so T steps of x W^T hold T weight-sized gradients: with lstm_luong_wmt_en_de's
 * [4000, 2000] matrices a 17-step batch reached 8 GB and wasm stopped with "memory access out of bounds".
 * Here each step's gradient passes only dx = dy W back (and a 1-element gradient to a proxy of W); the
 * proxy's node, recorded before the steps and so processed after them, gives W its gradient in one product:
 * dW = [dy_1; ...; dy_T]^T [x_1; ...; x_T] (the same sum, in another order). Call it once per forward pass.
 */
export function recurrentProduct(w: tf.Tensor): (x: tf.Tensor2D) => tf.Tensor2D {
  const xs: tf.Tensor[] = [];
  const dys: tf.Tensor[] = [];
  const sink = tf.customGrad(((wIn: tf.Tensor) => ({
    value: tf.zeros([1]),
    gradFunc: () => {
      if (dys.length === 0) return [tf.zerosLike(wIn)];
      const dw = tf.matMul(tf.concat(dys, 0), tf.concat(xs, 0), true, false);
      xs.length = 0;
      dys.length = 0;
      return [dw];
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  const proxy = sink(w);
  const step = tf.customGrad(((x: tf.Tensor, p: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, w]);
    return {
      value: tf.matMul(x, w, false, true),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        xs.push(saved[0]!);
        dys.push(dy);
        return [tf.matMul(dy, saved[1]!), tf.zerosLike(p)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (x) => step(x, proxy) as tf.Tensor2D;
}

/** One LSTM step: `gates` = x W_ih^T + h W_hh^T + b_ih + b_hh already summed. */
function lstmStep(gates: tf.Tensor2D, c: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const H = c.shape[1];
  const hc = lstmCellCore(gates, c);
  return [tf.slice(hc, [0, 0], [-1, H]) as tf.Tensor2D, tf.slice(hc, [0, H], [-1, H]) as tf.Tensor2D];
}

/** x [B, L, C] -> L tensors [B, C]. (Slices, not tf.unstack: unstack's gradient fails when some parts get none.) */
function unstack1(x: tf.Tensor): tf.Tensor2D[] {
  const [b, l, c] = x.shape as [number, number, number];
  return Array.from({ length: l }, (_, i) => tf.reshape(tf.slice(x, [0, i, 0], [b, 1, c]), [b, c]) as tf.Tensor2D);
}

/** Rotate each row of x [B, S, ...] left by shifts[b] positions (int32 gather). */
function rotateRows(x: tf.Tensor, shifts: number[]): tf.Tensor {
  const [b, s] = x.shape as [number, number];
  const idx = new Int32Array(b * s);
  for (let r = 0; r < b; r++) for (let t = 0; t < s; t++) idx[r * s + t] = r * s + ((((t + shifts[r]!) % s) + s) % s);
  const flat = tf.reshape(x, [b * s, ...x.shape.slice(2)]);
  return tf.reshape(tf.gather(flat, tf.tensor1d(idx, "int32")), x.shape);
}

/** A PyTorch nn.LSTM layer's parameters (one direction). */
class LSTMDirection {
  readonly wih: tf.Variable;
  readonly whh: tf.Variable;
  readonly bih: tf.Variable;
  readonly bhh: tf.Variable;
  constructor(
    ctx: ModuleContext,
    prefix: string,
    suffix: string,
    input: number,
    readonly hidden: number,
  ) {
    this.wih = uniform(ctx, `${prefix}.weight_ih_${suffix}`, [4 * hidden, input]);
    this.whh = uniform(ctx, `${prefix}.weight_hh_${suffix}`, [4 * hidden, hidden]);
    this.bih = uniform(ctx, `${prefix}.bias_ih_${suffix}`, [4 * hidden]);
    this.bhh = uniform(ctx, `${prefix}.bias_hh_${suffix}`, [4 * hidden]);
  }
  /**
   * Run over x [B, T, in] (right-padded, `mask` [T][B,1] = 1 on real steps): padded steps keep the state,
   * like a packed sequence. Returns outputs [B, T, H] (0 on padding) and the final h, c.
   */
  run(x: tf.Tensor3D, mask: (tf.Tensor2D | null)[], reverse: boolean, training = false): { out: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
    const [b, t] = x.shape;
    // both biases once for all steps (x W_ih^T + b_ih + b_hh)
    const proj = affine(x, this.wih, tf.add(this.bih, this.bhh)) as tf.Tensor3D;
    let h = tf.zeros([b, this.hidden]) as tf.Tensor2D;
    let c = tf.zeros([b, this.hidden]) as tf.Tensor2D;
    const outs = new Array<tf.Tensor2D>(t);
    // training: W_hh's gradient once for all steps (see recurrentProduct); inference: the plain product
    const hW = training ? recurrentProduct(this.whh) : (v: tf.Tensor2D) => tf.matMul(v, this.whh, false, true) as tf.Tensor2D;
    for (let k = 0; k < t; k++) {
      const step = reverse ? t - 1 - k : k;
      const xp = tf.reshape(tf.slice(proj, [0, step, 0], [-1, 1, -1]), [b, 4 * this.hidden]);
      const [h2, c2] = lstmStep(tf.add(xp, hW(h)) as tf.Tensor2D, c);
      const m = mask[step];
      if (!m) {
        // every sentence is still running at this step
        [h, c, outs[step]] = [h2, c2, h2];
        continue;
      }
      h = tf.add(tf.mul(m, h2), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
      c = tf.add(tf.mul(m, c2), tf.mul(tf.sub(1, m), c)) as tf.Tensor2D;
      outs[step] = tf.mul(m, h2) as tf.Tensor2D;
    }
    return { out: tf.stack(outs, 1) as tf.Tensor3D, h, c };
  }
}

/**
 * fairseq's LSTMEncoder: embeddings, dropout_in, a (bi)LSTM over the unpadded part of every sentence,
 * dropout_out; final hidden/cell states per layer (directions concatenated). Outputs are returned in
 * the input's (left-padded) layout, so attention positions match the source tokens.
 */
export class LSTMEncoder implements FairseqEncoder {
  readonly embed: tf.Variable;
  readonly layers: LSTMDirection[][] = [];
  readonly outputUnits: number;
  constructor(
    private readonly ctx: ModuleContext,
    readonly a: LSTMArgs,
    readonly padIdx: number,
    vocabSize: number,
    sharedEmbedding: tf.Variable | null = null,
  ) {
    this.embed = sharedEmbedding ?? embedding(ctx, "encoder.embed_tokens", vocabSize, a.encoder_embed_dim, padIdx);
    for (let l = 0; l < a.encoder_layers; l++) {
      const input = l === 0 ? a.encoder_embed_dim : a.encoder_hidden_size * (a.encoder_bidirectional ? 2 : 1);
      const dirs = [new LSTMDirection(ctx, "encoder.lstm", `l${l}`, input, a.encoder_hidden_size)];
      if (a.encoder_bidirectional) dirs.push(new LSTMDirection(ctx, "encoder.lstm", `l${l}_reverse`, input, a.encoder_hidden_size));
      this.layers.push(dirs);
    }
    this.outputUnits = a.encoder_hidden_size * (a.encoder_bidirectional ? 2 : 1);
  }

  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D): EncoderOut {
    const [b, s] = srcTokens.shape;
    const lengths = Array.from(srcLengths.dataSync());
    const tokens = srcTokens.dataSync();
    // Left padding -> right padding (fairseq's convert_padding_direction before pack_padded_sequence).
    const leftPad = lengths.map((len, r) => (len < s && tokens[r * s] === this.padIdx ? s - len : 0));
    const right = rotateRows(srcTokens, leftPad) as tf.Tensor2D;
    let x = tf.gather(this.embed, right) as tf.Tensor3D;
    x = dropout(this.ctx, x, this.a.encoder_dropout_in, "LSTMEncoder") as tf.Tensor3D;
    // 1 on real steps, 0 on padding; null where no sentence is padded (no masking needed)
    const mask: (tf.Tensor2D | null)[] = [];
    for (let t = 0; t < s; t++)
      mask.push(
        lengths.every((len) => t < len)
          ? null
          : tf.tensor2d(
              lengths.map((len) => (t < len ? 1 : 0)),
              [b, 1],
            ),
      );
    const finalH: tf.Tensor2D[] = [];
    const finalC: tf.Tensor2D[] = [];
    this.layers.forEach((dirs, l) => {
      const runs = dirs.map((d, k) => d.run(x, mask, k === 1, this.ctx.training()));
      x = (runs.length === 1 ? runs[0]!.out : tf.concat([runs[0]!.out, runs[1]!.out], 2)) as tf.Tensor3D;
      finalH.push(runs.length === 1 ? runs[0]!.h : (tf.concat([runs[0]!.h, runs[1]!.h], 1) as tf.Tensor2D));
      finalC.push(runs.length === 1 ? runs[0]!.c : (tf.concat([runs[0]!.c, runs[1]!.c], 1) as tf.Tensor2D));
      // nn.LSTM's dropout between layers (not after the last)
      if (l < this.layers.length - 1) x = dropout(this.ctx, x, this.a.encoder_dropout_out) as tf.Tensor3D;
    });
    x = dropout(this.ctx, x, this.a.encoder_dropout_out, "LSTMEncoder") as tf.Tensor3D;
    const encoderOut = rotateRows(
      x,
      leftPad.map((p) => -p),
    ) as tf.Tensor3D;
    const padMask = tf.equal(srcTokens, tf.scalar(this.padIdx, "int32")) as tf.Tensor2D;
    return {
      encoderOut,
      encoderPaddingMask: padMask,
      // batch-major [B, layers, C] so that reorderEncoderOut can gather rows
      extra: { finalHiddens: tf.stack(finalH, 1), finalCells: tf.stack(finalC, 1) },
    };
  }

  reorderEncoderOut(e: EncoderOut, newOrder: tf.Tensor1D): EncoderOut {
    const extra: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(e.extra ?? {})) extra[k] = tf.gather(v, newOrder);
    return {
      encoderOut: tf.gather(e.encoderOut, newOrder) as tf.Tensor3D,
      encoderPaddingMask: e.encoderPaddingMask ? (tf.gather(e.encoderPaddingMask, newOrder) as tf.Tensor2D) : null,
      extra,
    };
  }

  maxPositions(): number {
    return this.a.max_source_positions;
  }
}

/** fairseq's AttentionLayer: dot-product attention over the encoder outputs, then tanh(W [ctx; input]). */
export class AttentionLayer {
  readonly inputProj: tf.Variable;
  readonly outputProj: tf.Variable;
  constructor(ctx: ModuleContext, name: string, inputDim: number, sourceDim: number, outputDim: number) {
    this.inputProj = uniform(ctx, `${name}.input_proj.weight`, [sourceDim, inputDim]);
    this.outputProj = uniform(ctx, `${name}.output_proj.weight`, [outputDim, inputDim + sourceDim]);
  }
  /**
   * input [B, in], source [B, S, C], padMask [B, S] -> ([B, out], scores [B, S]). `products` (from
   * `recurrentProducts`, once per forward pass in training) replace the two projections' plain products.
   */
  apply(
    input: tf.Tensor2D,
    source: tf.Tensor3D,
    padMask: tf.Tensor2D | null,
    products?: { input: (x: tf.Tensor2D) => tf.Tensor2D; output: (x: tf.Tensor2D) => tf.Tensor2D },
  ): [tf.Tensor2D, tf.Tensor2D] {
    const x = products ? products.input(input) : affine(input, this.inputProj, null);
    // Batched products rather than fairseq's broadcast-multiply-and-sum: the same sums without a
    // [B, S, C] intermediate per decoder step (kept for the backward pass, that exhausts wasm memory).
    let scores = tf.reshape(tf.matMul(source, tf.expandDims(x, 2)), [source.shape[0], source.shape[1]]) as tf.Tensor2D;
    if (padMask) scores = tf.where(padMask, tf.fill(scores.shape, -Infinity), scores) as tf.Tensor2D;
    const p = tf.softmax(scores, 1) as tf.Tensor2D;
    const ctxv = tf.reshape(tf.matMul(tf.expandDims(p, 1), source), [source.shape[0], source.shape[2]]);
    const both = tf.concat([ctxv, input], 1) as tf.Tensor2D;
    const out = tf.tanh(products ? products.output(both) : affine(both, this.outputProj, null)) as tf.Tensor2D;
    return [out, p];
  }
  /** Both projections as recurrentProducts (each weight's gradient once per forward pass). */
  recurrentProducts(): { input: (x: tf.Tensor2D) => tf.Tensor2D; output: (x: tf.Tensor2D) => tf.Tensor2D } {
    return { input: recurrentProduct(this.inputProj), output: recurrentProduct(this.outputProj) };
  }
}

let decoderIds = 0;

/** fairseq's LSTMDecoder: LSTMCell layers with input feeding, attention on the last layer, output projection. */
export class LSTMDecoder implements FairseqDecoder {
  readonly embed: tf.Variable;
  readonly cells: { wih: tf.Variable; whh: tf.Variable; bih: tf.Variable; bhh: tf.Variable }[] = [];
  readonly attention: AttentionLayer | null;
  readonly encoderHiddenProj: { w: tf.Variable; b: tf.Variable } | null = null;
  readonly encoderCellProj: { w: tf.Variable; b: tf.Variable } | null = null;
  readonly additionalFc: { w: tf.Variable; b: tf.Variable } | null = null;
  readonly fcOut: { w: tf.Variable; b: tf.Variable } | null = null;
  private readonly id = `lstm-decoder-${decoderIds++}`;

  constructor(
    private readonly ctx: ModuleContext,
    readonly a: LSTMArgs,
    readonly padIdx: number,
    vocabSize: number,
    encoderOutputUnits: number,
    sharedEmbedding: tf.Variable | null = null,
  ) {
    const H = a.decoder_hidden_size;
    this.embed = sharedEmbedding ?? embedding(ctx, "decoder.embed_tokens", vocabSize, a.decoder_embed_dim, padIdx);
    const lin = (name: string, inp: number, out: number) => ({ w: uniform(ctx, `${name}.weight`, [out, inp]), b: uniform(ctx, `${name}.bias`, [out]) });
    if (encoderOutputUnits !== H && encoderOutputUnits !== 0) {
      this.encoderHiddenProj = lin("decoder.encoder_hidden_proj", encoderOutputUnits, H);
      this.encoderCellProj = lin("decoder.encoder_cell_proj", encoderOutputUnits, H);
    }
    const inputFeed = encoderOutputUnits === 0 ? 0 : H;
    for (let l = 0; l < a.decoder_layers; l++) {
      const input = l === 0 ? inputFeed + a.decoder_embed_dim : H;
      this.cells.push({
        wih: uniform(ctx, `decoder.layers.${l}.weight_ih`, [4 * H, input]),
        whh: uniform(ctx, `decoder.layers.${l}.weight_hh`, [4 * H, H]),
        bih: uniform(ctx, `decoder.layers.${l}.bias_ih`, [4 * H]),
        bhh: uniform(ctx, `decoder.layers.${l}.bias_hh`, [4 * H]),
      });
    }
    const attn = evalBool(a.decoder_attention, "--decoder-attention");
    this.attention = attn ? new AttentionLayer(ctx, "decoder.attention", H, encoderOutputUnits, H) : null;
    if (H !== a.decoder_out_embed_dim) this.additionalFc = lin("decoder.additional_fc", H, a.decoder_out_embed_dim);
    if (!a.share_decoder_input_output_embed) this.fcOut = lin("decoder.fc_out", a.decoder_out_embed_dim, vocabSize);
  }

  forward(prevOutputTokens: tf.Tensor2D, enc: EncoderOut | null, state?: IncrementalState): DecoderOutput {
    if (!enc) throw new Error("LSTMDecoder needs an encoder output");
    const H = this.a.decoder_hidden_size;
    const cached = state?.get(this.id);
    const tokens = cached ? (tf.slice(prevOutputTokens, [0, prevOutputTokens.shape[1] - 1], [-1, 1]) as tf.Tensor2D) : prevOutputTokens;
    const [b, t] = tokens.shape;
    let x = tf.gather(this.embed, tokens) as tf.Tensor3D;
    x = dropout(this.ctx, x, this.a.decoder_dropout_in, "LSTMDecoder") as tf.Tensor3D;
    let hs: tf.Tensor2D[];
    let cs: tf.Tensor2D[];
    let feed: tf.Tensor2D;
    if (cached) {
      hs = unstack1(cached.prevHiddens!);
      cs = unstack1(cached.prevCells!);
      feed = cached.inputFeed as tf.Tensor2D;
    } else {
      const fh = unstack1(enc.extra!.finalHiddens!);
      const fc = unstack1(enc.extra!.finalCells!);
      hs = this.cells.map((_, l) => fh[l]!);
      cs = this.cells.map((_, l) => fc[l]!);
      if (this.encoderHiddenProj) {
        hs = hs.map((h) => affine(h, this.encoderHiddenProj!.w, this.encoderHiddenProj!.b) as tf.Tensor2D);
        cs = cs.map((c) => affine(c, this.encoderCellProj!.w, this.encoderCellProj!.b) as tf.Tensor2D);
      }
      feed = tf.zeros([b, H]) as tf.Tensor2D;
    }
    // [W_ih W_hh] and b_ih + b_hh once per call: each step is then one product of [input; h]
    const weights = this.cells.map((cell) => ({ w: tf.concat([cell.wih, cell.whh], 1) as tf.Tensor2D, b: tf.add(cell.bih, cell.bhh) }));
    // training: each weight's gradient once for all steps (see recurrentProduct); inference: the plain products
    const training = this.ctx.training();
    const products = training ? weights.map((w) => recurrentProduct(w.w)) : null;
    const attnProducts = training && this.attention ? this.attention.recurrentProducts() : undefined;
    const outs: tf.Tensor2D[] = [];
    const scores: tf.Tensor2D[] = [];
    for (let j = 0; j < t; j++) {
      const xj = tf.reshape(tf.slice(x, [0, j, 0], [-1, 1, -1]), [b, -1]) as tf.Tensor2D;
      let input = tf.concat([xj, feed], 1) as tf.Tensor2D;
      let hidden = input;
      this.cells.forEach((_, l) => {
        const w = weights[l]!;
        const z = tf.concat([input, hs[l]!], 1) as tf.Tensor2D;
        const gates = tf.add(products ? products[l]!(z) : tf.matMul(z, w.w, false, true), w.b) as tf.Tensor2D;
        const [h2, c2] = lstmStep(gates, cs[l]!);
        // (fairseq also drops out the last layer's hidden state, as input to no further layer: skipped)
        if (l < this.cells.length - 1) input = dropout(this.ctx, h2, this.a.decoder_dropout_out, "LSTMDecoder") as tf.Tensor2D;
        hs[l] = h2;
        cs[l] = c2;
        hidden = h2;
      });
      let out: tf.Tensor2D = hidden;
      if (this.attention) {
        const [o, p] = this.attention.apply(hidden, enc.encoderOut, enc.encoderPaddingMask, attnProducts);
        out = o;
        scores.push(p);
      }
      out = dropout(this.ctx, out, this.a.decoder_dropout_out, "LSTMDecoder") as tf.Tensor2D;
      feed = out;
      outs.push(out);
    }
    if (state) {
      const prev = state.get(this.id);
      state.set(this.id, { prevHiddens: tf.keep(tf.stack(hs, 1)), prevCells: tf.keep(tf.stack(cs, 1)), inputFeed: tf.keep(feed.clone()) });
      if (prev) for (const v of Object.values(prev)) v.dispose();
    }
    let y = tf.stack(outs, 1) as tf.Tensor3D;
    if (this.additionalFc) y = dropout(this.ctx, affine(y, this.additionalFc.w, this.additionalFc.b), this.a.decoder_dropout_out, "LSTMDecoder") as tf.Tensor3D;
    const logits = (this.fcOut ? affine(y, this.fcOut.w, this.fcOut.b) : affine(y, this.embed, null)) as tf.Tensor3D;
    const attn = this.attention && !this.ctx.training() ? (tf.stack(scores, 1) as tf.Tensor3D) : null;
    return [logits, { attn }];
  }

  getNormalizedProbs(out: DecoderOutput, logProbs: boolean): tf.Tensor3D {
    return logProbs ? logSoftmax(out[0]) : (tf.softmax(out[0], -1) as tf.Tensor3D);
  }

  reorderIncrementalState(state: IncrementalState, newOrder: tf.Tensor1D): void {
    const cached = state.get(this.id);
    if (!cached) return;
    const next: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(cached)) next[k] = tf.keep(tf.gather(v, newOrder));
    state.set(this.id, next);
    for (const v of Object.values(cached)) v.dispose();
  }

  maxPositions(): number {
    return this.a.max_target_positions;
  }
}

/** fairseq's LSTMModel (`--arch lstm`, `lstm_wiseman_iwslt_de_en`, `lstm_luong_wmt_en_de`). */
export class LSTMModel extends BaseModel implements EncoderDecoderModel {
  readonly kind = "encoder-decoder" as const;
  readonly encoder: LSTMEncoder;
  readonly decoder: LSTMDecoder;
  constructor(
    readonly args: LSTMArgs,
    vocab: { srcVocabSize: number; tgtVocabSize: number; padIdx: number },
    seed = 1,
  ) {
    super(new ParamStore(), new SeededRandom(seed));
    // fairseq's LSTMModel.build_model checks, in its order.
    if (args.encoder_layers !== args.decoder_layers) {
      // (decoder layer i starts from the encoder's final state of layer i; fairseq demands equal depths)
      throw new Error(
        `lstm: --encoder-layers must match --decoder-layers (got --encoder-layers ${args.encoder_layers}, --decoder-layers ${args.decoder_layers})`,
      );
    }
    if (args.share_all_embeddings) {
      if (vocab.srcVocabSize !== vocab.tgtVocabSize)
        throw new Error("lstm: --share-all-embeddings requires a joint dictionary (source and target dictionaries differ in size)");
      if (args.encoder_embed_dim !== args.decoder_embed_dim) {
        throw new Error(
          `lstm: --share-all-embeddings requires --encoder-embed-dim (${args.encoder_embed_dim}) to match --decoder-embed-dim (${args.decoder_embed_dim})`,
        );
      }
      // fairseq sets this on the args: the output projection is the shared embedding too (no fc_out)
      args.share_decoder_input_output_embed = true;
    }
    if (args.share_decoder_input_output_embed && args.decoder_embed_dim !== args.decoder_out_embed_dim) {
      throw new Error(
        `lstm: --share-decoder-input-output-embed requires --decoder-embed-dim (${args.decoder_embed_dim}) to match --decoder-out-embed-dim (${args.decoder_out_embed_dim})`,
      );
    }
    if (args.criterion === "adaptive_loss") {
      // fairseq then replaces fc_out by an AdaptiveSoftmax over --adaptive-softmax-cutoff
      throw new Error(
        `lstm: --criterion adaptive_loss (adaptive softmax, --adaptive-softmax-cutoff ${args.adaptive_softmax_cutoff ?? "10000,50000,200000"}) is not supported by fairseq-ts; use cross_entropy or label_smoothed_cross_entropy`,
      );
    }
    this.encoder = new LSTMEncoder(this.ctx, args, vocab.padIdx, vocab.srcVocabSize);
    let shared: tf.Variable | null = null;
    if (args.share_all_embeddings) {
      shared = this.encoder.embed;
      this.ctx.store.alias("decoder.embed_tokens.weight", "encoder.embed_tokens.weight");
    }
    this.decoder = new LSTMDecoder(this.ctx, args, vocab.padIdx, vocab.tgtVocabSize, this.encoder.outputUnits, shared);
  }
  forward(srcTokens: tf.Tensor2D, srcLengths: tf.Tensor1D, prevOutputTokens: tf.Tensor2D): DecoderOutput {
    return this.decoder.forward(prevOutputTokens, this.encoder.forward(srcTokens, srcLengths));
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
    return ["LSTMEncoder", "LSTMDecoder"];
  }
}

const def = (a: Record<string, unknown>, k: string, v: unknown) => {
  if (a[k] === undefined || a[k] === null) a[k] = v;
};

/** fairseq's lstm `base_architecture`. */
export function lstmBase(a: Record<string, unknown>): void {
  def(a, "dropout", 0.1);
  def(a, "encoder_embed_dim", 512);
  def(a, "encoder_hidden_size", a.encoder_embed_dim);
  def(a, "encoder_layers", 1);
  def(a, "encoder_bidirectional", false);
  def(a, "encoder_dropout_in", a.dropout);
  def(a, "encoder_dropout_out", a.dropout);
  def(a, "decoder_embed_dim", 512);
  def(a, "decoder_hidden_size", a.decoder_embed_dim);
  def(a, "decoder_layers", 1);
  def(a, "decoder_out_embed_dim", 512);
  def(a, "decoder_attention", "1");
  def(a, "decoder_dropout_in", a.dropout);
  def(a, "decoder_dropout_out", a.dropout);
  def(a, "share_decoder_input_output_embed", false);
  def(a, "share_all_embeddings", false);
  def(a, "adaptive_softmax_cutoff", "10000,50000,200000");
  // lstm.py falls back to 1e5 only when args lack these; fairseq's translation task always supplies
  // them (--max-source-positions / --max-target-positions, default 1024), so that is what an LSTM gets.
  def(a, "max_source_positions", 1024);
  def(a, "max_target_positions", 1024);
}

export function lstmWisemanIwsltDeEn(a: Record<string, unknown>): void {
  def(a, "dropout", 0.1);
  def(a, "encoder_embed_dim", 256);
  def(a, "encoder_dropout_in", 0);
  def(a, "encoder_dropout_out", 0);
  def(a, "decoder_embed_dim", 256);
  def(a, "decoder_out_embed_dim", 256);
  def(a, "decoder_dropout_in", 0);
  def(a, "decoder_dropout_out", a.dropout);
  lstmBase(a);
}

export function lstmLuongWmtEnDe(a: Record<string, unknown>): void {
  def(a, "encoder_embed_dim", 1000);
  def(a, "encoder_layers", 4);
  def(a, "encoder_dropout_out", 0);
  def(a, "decoder_embed_dim", 1000);
  def(a, "decoder_layers", 4);
  def(a, "decoder_out_embed_dim", 1000);
  def(a, "decoder_dropout_out", 0);
  lstmBase(a);
}
