import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { preprocess } from "@fairseq-ts/data";
import { BARTModel } from "@fairseq-ts/models";
import { BARTHubInterface, fromPretrained, type Hypothesis } from "../src/index.js";
import { MULTI30K, SHARED } from "./shared.js";

const BART_TINY = join(SHARED, "reference/fairseq/bart-tiny/model.pt");
let modelDir: string;

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
  // bart-tiny's joined dictionary (COMMANDS.md's preprocess flags), alone in a model directory as dict.txt
  const bin = mkdtempSync(join(tmpdir(), "fsts-bart-dict-"));
  await preprocess({
    sourceLang: "de",
    targetLang: "en",
    trainpref: join(MULTI30K, "train"),
    thresholdsrc: 2,
    thresholdtgt: 2,
    joinedDictionary: true,
    dictOnly: true,
    destdir: bin,
    log: () => {},
  });
  modelDir = mkdtempSync(join(tmpdir(), "fsts-bart-model-"));
  copyFileSync(join(bin, "dict.de.txt"), join(modelDir, "dict.txt"));
}, 120_000);

/** Log-probabilities of the model for the target `tokens` under teacher forcing (prev = eos + tokens[:-1]), T x V. */
function teacherForced(t: BARTHubInterface, src: Int32Array, tokens: Int32Array): Float32Array[] {
  return tf.tidy(() => {
    const prev = Int32Array.from([t.tgtDict.eos(), ...tokens.subarray(0, -1)]);
    const out = t.model.forward(tf.tensor2d(src, [1, src.length], "int32"), tf.tensor1d([src.length], "int32"), tf.tensor2d(prev, [1, prev.length], "int32"));
    const lp = t.model.getNormalizedProbs(out, true);
    const v = lp.shape[2];
    const data = lp.dataSync() as Float32Array;
    return Array.from({ length: tokens.length }, (_, i) => data.slice(i * v, (i + 1) * v));
  });
}

describe("BART hub (fairseq's BARTHubInterface) on bart-tiny", () => {
  it("fromPretrained of a bart checkpoint and a dict.txt gives the BART hub; encode is <s> words </s>, decode drops <s> and </s>", async () => {
    const t = await fromPretrained(BART_TINY, { dataDir: modelDir });
    expect(t).toBeInstanceOf(BARTHubInterface);
    expect(t.model).toBeInstanceOf(BARTModel);
    const bart = t as BARTHubInterface;
    const d = bart.srcDict;
    const enc = bart.encode("zwei männer sitzen in einem restaurant .");
    expect(Array.from(enc)).toEqual([d.bos(), ...["zwei", "männer", "sitzen", "in", "einem", "restaurant", "."].map((w) => d.index(w)), d.eos()]);
    expect(bart.decode(enc)).toBe("zwei männer sitzen in einem restaurant .");
    // two documents (</s></s>) decode to two sentences, as fairseq's decode splits them
    expect(bart.decode(Int32Array.from([d.bos(), d.index("zwei"), d.eos(), d.eos(), d.index("männer"), d.eos()]))).toEqual(["zwei", "männer"]);
    t.dispose();
  }, 60_000);

  it("sample, beam 1: <s> forced first, then each token the model's argmax under teacher forcing (eos blocked below minLen), scores its log-probs", async () => {
    const bart = (await fromPretrained(BART_TINY, { dataDir: modelDir })) as BARTHubInterface;
    const texts = ["zwei männer sitzen in einem restaurant .", "ein hund läuft im schnee .", "eine frau spielt gitarre ."];
    const counts: number[] = [];
    for (const minLen of [1, 12, 1]) {
      const out = bart.sample(texts, { minLen });
      const hyps = bart.generateBest(
        texts.map((x) => bart.encode(x)),
        { minLen },
      );
      texts.forEach((x, k) => {
        const h: Hypothesis = hyps[k]!;
        expect(out[k]).toBe(bart.decode(h.tokens));
        expect(h.tokens[0]).toBe(bart.srcDict.bos());
        expect(h.tokens.at(-1)).toBe(bart.srcDict.eos());
        expect(h.tokens.length).toBeGreaterThanOrEqual(minLen + 1);
        const lps = teacherForced(bart, bart.encode(x), h.tokens);
        lps.forEach((lp, i) => {
          expect(Math.abs(h.positionalScores[i]! - lp[h.tokens[i]!]!), `${x} step ${i}`).toBeLessThan(1e-4);
          if (i === 0) return; // the forced <s>
          lp[bart.srcDict.pad()] = -Infinity;
          if (i < minLen) lp[bart.srcDict.eos()] = -Infinity;
          let best = 0;
          for (let w = 1; w < lp.length; w++) if (lp[w]! > lp[best]!) best = w;
          expect(h.tokens[i], `${x} step ${i}`).toBe(best);
        });
      });
      counts.push(tf.memory().numTensors);
    }
    // flat after the first round (which makes the decoder's future-mask cache): no leak
    expect(counts[2]).toBe(counts[1]);
    expect(counts[1]).toBe(counts[0]);
    // a single string in, a single string out
    expect(bart.sample(texts[0]!)).toBe(bart.sample(texts.slice(0, 1))[0]);
    bart.dispose();
  }, 120_000);

  it("sample with bart.large.cnn's kind of options: beam, lenpen, minLen, maxLenB, noRepeatNgramSize all reach the search", async () => {
    const bart = (await fromPretrained(BART_TINY, { dataDir: modelDir })) as BARTHubInterface;
    const texts = ["zwei männer sitzen in einem restaurant und essen pizza .", "ein kleines mädchen spielt mit einem roten ball im park ."];
    const o = { beam: 4, lenpen: 2.0, minLen: 10, maxLenB: 14, noRepeatNgramSize: 2 };
    const hyps = bart.generateBest(
      texts.map((x) => bart.encode(x)),
      o,
    );
    expect(bart.sample(texts, o)).toEqual(hyps.map((h) => bart.decode(h.tokens)));
    for (const h of hyps) {
      const n = h.tokens.length; // <s> ... </s>
      expect(n).toBeGreaterThanOrEqual(o.minLen + 1);
      expect(n).toBeLessThanOrEqual(o.maxLenB + 1);
      const seen = new Set<string>();
      for (let i = 0; i + 1 < n; i++) {
        const bigram = `${h.tokens[i]},${h.tokens[i + 1]}`;
        expect(seen.has(bigram), bart.decode(h.tokens) as string).toBe(false);
        seen.add(bigram);
      }
      // lenpen 2: the score is the sum of the positional scores over length²
      const sum = Array.from(h.positionalScores).reduce((a, b) => a + b, 0);
      expect(h.score).toBeCloseTo(sum / n ** 2, 4);
    }
    // together they change the outcome of the plain beam-4 search
    const plain = bart.sample(texts, { beam: 4 });
    expect(plain).not.toEqual(bart.sample(texts, o));
    bart.dispose();
  }, 120_000);
});
