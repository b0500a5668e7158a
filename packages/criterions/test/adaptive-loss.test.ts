/**
 * fairseq's adaptive_loss (fairseq/criterions/adaptive_loss.py): the loss from the head and tail logits, worked out
 * here from the model's own logits in float64, the padding quirk of its tail terms, and that training lowers it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { Metrics } from "@fairseq-ts/logging";
import { AdaptiveLossCriterion, buildCriterion, listCriterions, type TensorSample } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

const V = 30;
const lmArgs = (extra: Record<string, unknown> = {}) => ({
  arch: "transformer_lm",
  decoder_layers: 1,
  decoder_embed_dim: 16,
  decoder_ffn_embed_dim: 16,
  decoder_attention_heads: 2,
  adaptive_softmax_cutoff: "10,20",
  adaptive_softmax_factor: 2,
  dropout: 0,
  ...extra,
});

function lmSample(rows: number[][], target: number[][]): TensorSample {
  const cols = rows[0]!.length;
  const ntokens = target.flat().filter((t) => t !== 1).length;
  return {
    id: Int32Array.from(rows, (_, i) => i),
    nsentences: rows.length,
    ntokens,
    netInput: {
      srcTokens: tf.tensor2d(rows.flat(), [rows.length, cols], "int32"),
      srcLengths: tf.tensor1d(
        rows.map(() => cols),
        "int32",
      ),
      prevOutputTokens: null,
    },
    target: tf.tensor2d(target.flat(), [target.length, cols], "int32"),
  };
}

const lse = (z: number[]) => {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
};

describe("adaptive_loss", () => {
  it("is registered and refuses a model without an adaptive softmax, naming the flag", () => {
    expect(listCriterions()).toContain("adaptive_loss");
    const m = buildModel({ ...lmArgs(), adaptive_softmax_cutoff: null }, { vocabSize: V, padIdx: 1 }) as LanguageModel;
    const s = lmSample([[2, 5]], [[5, 2]]);
    expect(() => buildCriterion("adaptive_loss", { paddingIdx: 1 }).forward(m, s)).toThrow(/adaptive_loss requires .*--adaptive-softmax-cutoff/);
    m.dispose();
  });

  it("= Σ cross-entropy of the head (tail words as their cluster) + each tail's over its words, pad ignored everywhere (also the tail word at offset pad)", async () => {
    const m = buildModel(lmArgs(), { vocabSize: V, padIdx: 1 }) as LanguageModel;
    m.eval();
    // targets: head words 5 and 3, tail-0 words 14 and 11 (offset 1 = pad: fairseq ignores its tail term), tail-1 word 27, padding
    const s = lmSample(
      [
        [2, 5, 3, 14],
        [2, 11, 27, 1],
      ],
      [
        [5, 3, 14, 2],
        [11, 27, 2, 1],
      ],
    );
    const crit = new AdaptiveLossCriterion({ paddingIdx: 1 });
    const out = crit.forward(m, s);
    const loss = (await out.loss.data())[0]!;
    // the same head and tail logits, read back, and the loss worked out in float64
    const terms = m.decoder.adaptiveSoftmax!.forward(m.forward(s.netInput.srcTokens)[0], tf.reshape(s.target, [-1]));
    const head = (await terms.head.array()) as number[][];
    const headTarget = Array.from(await terms.headTarget.data());
    expect(headTarget).toEqual([5, 3, 10, 2, 10, 11, 2, 1]); // tail words -> cutoff[0] + cluster
    let want = 0;
    head.forEach((row, r) => {
      if (headTarget[r] !== 1) want += lse(row) - row[headTarget[r]!]!;
    });
    for (const t of terms.tails) {
      const rows = (await t!.logits.array()) as number[][];
      const tt = Array.from(await t!.target.data());
      rows.forEach((row, r) => {
        if (tt[r] !== 1) want += lse(row) - row[tt[r]!]!;
      });
    }
    expect(Array.from(await terms.tails[0]!.target.data())).toEqual([4, 1]); // 14 - 10, 11 - 10 (= pad: ignored)
    expect(loss).toBeCloseTo(want, 4);
    expect(out.sampleSize).toBe(7);
    expect(out.logging.ntokens).toBe(7);
    // reduced as cross_entropy: loss in base 2 per token
    const metrics = new Metrics();
    metrics.aggregate("train", () => crit.reduceMetrics([{ loss, ntokens: 7, nsentences: 2, sample_size: 7 }], metrics));
    const v = metrics.getSmoothedValues("train");
    expect(v.get("loss")).toBeCloseTo(loss / 7 / Math.LN2, 3);
    expect(v.has("nll_loss")).toBe(false);
    m.dispose();
  });

  it("without the tail quirk's words, equals the NLL of the full distribution (get_normalized_probs) for every target", async () => {
    const m = buildModel(lmArgs(), { vocabSize: V, padIdx: 1 }) as LanguageModel;
    m.eval();
    const s = lmSample([[2, 5, 3, 14, 27, 25]], [[5, 3, 14, 27, 25, 2]]);
    const loss = (await new AdaptiveLossCriterion({ paddingIdx: 1 }).forward(m, s).loss.data())[0]!;
    const lp = (await m.getNormalizedProbs(m.forward(s.netInput.srcTokens), true).array())[0]!;
    const nll = [5, 3, 14, 27, 25, 2].reduce((acc, t, i) => acc - lp[i]![t]!, 0);
    expect(loss).toBeCloseTo(nll, 4);
    m.dispose();
  });

  it("training with it lowers the loss (a translation transformer's decoder too), without leaking tensors", async () => {
    for (const model of [
      buildModel(lmArgs({ adaptive_softmax_dropout: 0.1 }), { vocabSize: V, padIdx: 1 }) as LanguageModel,
      buildModel(
        {
          arch: "transformer",
          encoder_layers: 1,
          decoder_layers: 1,
          encoder_embed_dim: 16,
          decoder_embed_dim: 16,
          encoder_ffn_embed_dim: 16,
          decoder_ffn_embed_dim: 16,
          encoder_attention_heads: 2,
          decoder_attention_heads: 2,
          adaptive_softmax_cutoff: "10,20",
          dropout: 0,
        },
        { srcVocabSize: V, tgtVocabSize: V, padIdx: 1 },
      ) as EncoderDecoderModel,
    ]) {
      const s = lmSample(
        [
          [2, 5, 13, 27, 8],
          [2, 22, 3, 17, 1],
        ],
        [
          [5, 13, 27, 8, 2],
          [22, 3, 17, 2, 1],
        ],
      );
      if (model.kind === "encoder-decoder") s.netInput.prevOutputTokens = tf.clone(s.netInput.srcTokens);
      const crit = buildCriterion("adaptive_loss", { paddingIdx: 1 });
      const opt = tf.train.adam(0.01);
      const params = [...model.namedParameters().values()];
      model.train();
      const losses: number[] = [];
      let before = 0;
      for (let step = 0; step < 30; step++) {
        if (step === 1) before = tf.memory().numTensors;
        const { value, grads } = tf.variableGrads(() => crit.forward(model, s).loss, params);
        losses.push((await value.data())[0]!);
        opt.applyGradients(grads as unknown as Record<string, tf.Variable>);
        tf.dispose([value, ...Object.values(grads)]);
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(losses[29]!).toBeLessThan(losses[0]! * 0.5);
      opt.dispose();
      model.dispose();
    }
  });
});
