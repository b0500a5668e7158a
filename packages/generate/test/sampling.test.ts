import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { SequenceGenerator } from "../src/index.js";
import { fixedModel } from "./fake-model.js";

/**
 * A fake model whose next-token distribution is fixed: over 6 tokens (0 bos, 1 pad, 2 eos, 3 unk, 4, 5)
 * it gives p(4) = 0.6, p(5) = 0.3, p(eos) = 0.1 at every step (logits normalised by log-softmax).
 */
const fixed = () => fixedModel([-1e9, -1e9, Math.log(0.1), -1e9, Math.log(0.6), Math.log(0.3)], (x) => tf.logSoftmax(x, -1) as tf.Tensor3D);

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

describe("sampling (fairseq's Sampling search)", () => {
  const src = () => tf.tensor2d([[4, 2]], [1, 2], "int32");
  const lens = () => tf.tensor1d([2], "int32");

  it("is reproducible with a seed, and top-k 1 is greedy", () => {
    const specials = { pad: 1, eos: 2, unk: 3 };
    const a = new SequenceGenerator(fixed(), specials, 6, { sampling: true, beam: 3, nbest: 3, seed: 5, maxLenB: 6 }).generate(src(), lens());
    const b = new SequenceGenerator(fixed(), specials, 6, { sampling: true, beam: 3, nbest: 3, seed: 5, maxLenB: 6 }).generate(src(), lens());
    expect(a[0]!.map((h) => Array.from(h.tokens))).toEqual(b[0]!.map((h) => Array.from(h.tokens)));
    const greedy = new SequenceGenerator(fixed(), specials, 6, { sampling: true, samplingTopk: 1, beam: 2, maxLenB: 4 }).generate(src(), lens());
    // always the most likely token (4) until max length forces eos
    expect(Array.from(greedy[0]![0]!.tokens)).toEqual([4, 4, 4, 4, 2]);
    // the score of a sampled token is its log-prob: 4 steps of log 0.6 then eos at max length (prob 0.1 -> forced)
    expect(greedy[0]![0]!.positionalScores[0]).toBeCloseTo(Math.log(0.6), 5);
  });

  it("top-p 0.5 keeps only the most likely word (0.6 reaches p); top-p 0.7 allows 4 and 5 but never eos", () => {
    const specials = { pad: 1, eos: 2, unk: 3 };
    const p5 = new SequenceGenerator(fixed(), specials, 6, { sampling: true, samplingTopp: 0.5, beam: 4, nbest: 4, minLen: 3, maxLenB: 3 }).generate(
      src(),
      lens(),
    );
    for (const h of p5[0]!) expect(Array.from(h.tokens)).toEqual([4, 4, 4, 2]);
    const seen = new Set<number>();
    for (let seed = 1; seed <= 8; seed++) {
      const p7 = new SequenceGenerator(fixed(), specials, 6, { sampling: true, samplingTopp: 0.7, beam: 4, nbest: 4, minLen: 3, maxLenB: 3, seed }).generate(
        src(),
        lens(),
      );
      for (const h of p7[0]!) for (const t of Array.from(h.tokens).slice(0, 3)) seen.add(t);
    }
    expect([...seen].sort()).toEqual([4, 5]);
  });
});

describe("generator options are checked where they enter (fairseq's asserts, and what fuzzing the CLI found)", () => {
  const specials = { pad: 1, eos: 2, unk: 3 };
  const make = (o: ConstructorParameters<typeof SequenceGenerator>[3]) => () => new SequenceGenerator(fixed(), specials, 6, o);
  it("refuses beams and nbests below 1, temperature <= 0, top-k/top-p without --sampling, top-k beyond the vocabulary", () => {
    expect(make({ beam: 0 })).toThrow("--beam must be a positive integer, got 0");
    expect(make({ beam: -1 })).toThrow("--beam must be a positive integer, got -1");
    expect(make({ nbest: 0 })).toThrow("--nbest must be a positive integer, got 0");
    expect(make({ temperature: 0 })).toThrow("--temperature must be greater than 0, got 0");
    expect(make({ temperature: Number.NaN })).toThrow("--temperature must be greater than 0, got NaN");
    expect(make({ samplingTopk: 0 })).toThrow("--sampling-topk requires --sampling");
    expect(make({ samplingTopp: 0.5 })).toThrow("--sampling-topp requires --sampling");
    expect(make({ sampling: true, samplingTopk: 7 })).toThrow("--sampling-topk 7 is larger than the vocabulary (6 symbols)");
    // still accepted: fairseq caps a large beam at vocab - 1, and top-k = vocab
    expect(make({ beam: 100 })().beam).toBe(5);
    expect(make({ sampling: true, samplingTopk: 6 })).not.toThrow();
  });
  it("refuses special token ids outside the vocabulary (the step mask would silently drop them)", () => {
    expect(() => new SequenceGenerator(fixed(), { pad: 1, eos: 2, unk: 6 }, 6)).toThrow(
      "SequenceGenerator: special token unk = 6 is not an id of the 6-symbol vocabulary",
    );
    expect(() => new SequenceGenerator(fixed(), { pad: -1, eos: 2, unk: 3 }, 6)).toThrow("special token pad = -1");
    expect(() => new SequenceGenerator(fixed(), { pad: 1, eos: 2.5, unk: 3 }, 6)).toThrow("special token eos = 2.5");
  });
  it("a --min-len above the maximum length names both and the flags that set it", () => {
    const g = new SequenceGenerator(fixed(), specials, 6, { minLen: 10, maxLenB: 4 });
    expect(() => g.generate(tf.tensor2d([[4, 2]], [1, 2], "int32"), tf.tensor1d([2], "int32"))).toThrow(
      "--min-len 10 cannot be larger than the maximum length 4 (from --max-len-a/--max-len-b and the model's max positions), please adjust these!",
    );
  });
});
