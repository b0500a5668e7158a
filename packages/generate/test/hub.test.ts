import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { InvalidInputSizeError, fromPretrained, inferenceSizeCheck } from "../src/index.js";
import { SHARED } from "./shared.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

describe("hub interface (fromPretrained)", () => {
  it("translates like fairseq-generate with an imported fairseq checkpoint", async () => {
    const t = await fromPretrained(join(R, "model.pt"), { dataDir: join(R, "bin"), beam: 5 });
    const ref = readFileSync(join(R, "gen-beam5.txt"), "utf8");
    const hyp = (id: number) => new RegExp(`^H-${id}\\t\\S+\\t(.*)$`, "m").exec(ref)![1];
    expect(t.translate("zwei männer sitzen in einem restaurant .")).toBe(hyp(592));
    expect(t.translate(["zwei kleine kinder auf dem sand .", "zwei typen und eine frau lächeln ."])).toEqual([hyp(398), hyp(426)]);
    expect(typeof t.sample("zwei männer sitzen in einem restaurant .", { samplingTopk: 5, seed: 2 })).toBe("string");
    // score = fairseq-generate --score-reference's H score (base 2 there) and P line
    const sr = readFileSync(join(R, "score-reference.txt"), "utf8");
    const h592 = /^H-592\t(\S+)\t/m.exec(sr)!;
    const p592 = /^P-592\t(.*)$/m.exec(sr)![1]!.split(" ").map(Number);
    const [sc] = t.score("zwei männer sitzen in einem restaurant .", "two men sitting in a restaurant .");
    expect(sc!.score / Math.LN2).toBeCloseTo(Number(h592[1]), 4);
    Array.from(sc!.positionalScores).forEach((p, i) => expect(p / Math.LN2).toBeCloseTo(p592[i]!, 3));
    expect(() => t.score(["a"], ["b", "c"])).toThrow(/1 sources but 2 targets/);
    t.dispose();
    // raw text in and out with fairseq's --tokenizer moses
    const raw = await fromPretrained(join(R, "model.pt"), { dataDir: join(R, "bin"), beam: 5, tokenizer: "moses" });
    expect(raw.translate("zwei männer sitzen in einem restaurant.")).toBe(hyp(592)!.replace(/ \.$/, "."));
    raw.dispose();
  }, 60_000);
});

describe("hub interface with an ensemble (fairseq's checkpoint_file='a.pt:b.pt')", () => {
  const E = join(SHARED, "reference/fairseq/ensemble");
  it("translates like fairseq-generate's two-model ensemble; scores are the log of the mean of the models' probabilities", async () => {
    const t = await fromPretrained(`${join(R, "model.pt")}:${join(E, "model-seed2.pt")}`, { dataDir: join(R, "bin"), beam: 5 });
    expect(t.ensemble.size).toBe(2);
    const ref = readFileSync(join(E, "gen-ensemble-beam5.txt"), "utf8");
    const hyp = (id: number) => new RegExp(`^H-${id}\\t\\S+\\t(.*)$`, "m").exec(ref)![1];
    expect(t.translate(["zwei männer sitzen in einem restaurant .", "zwei kleine kinder auf dem sand ."])).toEqual([hyp(592), hyp(398)]);
    const [ens] = t.score("zwei männer sitzen in einem restaurant .", "two men sitting in a restaurant .");
    t.dispose();
    const single = await Promise.all(
      [join(R, "model.pt"), join(E, "model-seed2.pt")].map(async (p) => {
        const m = await fromPretrained([p], { dataDir: join(R, "bin") });
        const [h] = m.score("zwei männer sitzen in einem restaurant .", "two men sitting in a restaurant .");
        m.dispose();
        return h!.positionalScores;
      }),
    );
    Array.from(ens!.positionalScores).forEach((x, k) => expect(x).toBeCloseTo(Math.log((Math.exp(single[0]![k]!) + Math.exp(single[1]![k]!)) / 2), 5));
  }, 120_000);

  it("a checkpoint that is not a translation model (or an empty entry) is an error naming it", async () => {
    const lm = join(SHARED, "reference/fairseq/lm-tiny/model.pt");
    await expect(fromPretrained([join(R, "model.pt"), lm], { dataDir: join(R, "bin") })).rejects.toThrow(`fromPretrained: ${lm} is not a translation model`);
    await expect(fromPretrained(`${join(R, "model.pt")}:`, { dataDir: join(R, "bin") })).rejects.toThrow("empty checkpoint path in the list");
  }, 60_000);
});

describe("interactive's size check (fairseq-interactive / the hub: max_positions = resolve(task's, model's))", () => {
  it("an input of 1,500 tokens stops with fairseq's message; skipped, it gets no translation and a warning", async () => {
    const t = await fromPretrained(join(R, "model.pt"), { dataDir: join(R, "bin"), beam: 2 });
    const long = Array.from({ length: 1500 }, () => "mann").join(" ");
    // 1,500 words + eos = 1,501 source tokens; no target (size 0); the task's and the model's limits are 1024
    expect(() => t.translate(["ein mann .", long])).toThrow(InvalidInputSizeError);
    expect(() => t.translate(["ein mann .", long])).toThrow(
      "Size of sample #1 is invalid (=(1501, 0)) since max_positions=(1024, 1024), skip this example with --skip-invalid-size-inputs-valid-test",
    );
    const warnings: string[] = [];
    const src = [t.srcDict.encodeLine("ein mann .", { addIfNotExist: false }), t.srcDict.encodeLine(long, { addIfNotExist: false })];
    const hyps = t.generate(src, { skipInvalidSizeInputsValidTest: true, warn: (w) => warnings.push(w) });
    expect(hyps[1]).toEqual([]);
    expect(hyps[0]!.length).toBe(1);
    expect(t.translate("ein mann .")).toBe(t.tgtDict.string(hyps[0]![0]!.tokens));
    expect(warnings).toEqual(["1 samples have invalid sizes and will be skipped, max_positions=(1024, 1024), first few sample ids=[1]"]);
    // the task's limit is an option: --max-source-positions 3 refuses "ein mann ." (3 words + eos)
    expect(() => t.generate(src.slice(0, 1), { maxSourcePositions: 3 })).toThrow("Size of sample #0 is invalid (=(4, 0)) since max_positions=(3, 1024)");
    t.dispose();
  }, 60_000);

  it("inferenceSizeCheck takes the smaller of the task's and the model's limits; the source must fit, the target is not known", () => {
    const toks = [new Int32Array(5), new Int32Array(9), new Int32Array(3)];
    expect(inferenceSizeCheck(toks, [8, 100], { skipInvalidSizeInputsValidTest: true })).toEqual([0, 2]);
    expect(inferenceSizeCheck(toks, 1024, { maxSourcePositions: 4, skipInvalidSizeInputsValidTest: true })).toEqual([2]);
    expect(() => inferenceSizeCheck(toks, 6, { maxTargetPositions: 2 })).toThrow("Size of sample #1 is invalid (=(9, 0)) since max_positions=(6, 2)");
  });
});
