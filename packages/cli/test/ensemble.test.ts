import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, encodeCheckpoint, loadFairseqCheckpoint } from "@fairseq-ts/models";
import { runCli } from "./cli.js";
import { SHARED } from "./shared.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");
const E = join(SHARED, "reference/fairseq/ensemble");
const BIN = join(R, "bin");
const PUBLIC = join(R, "model.pt");
const SEED2 = join(E, "model-seed2.pt");
const LM_TINY = join(SHARED, "reference/fairseq/lm-tiny/model.pt");

const lines = (text: string, prefix: RegExp) => text.split("\n").filter((l) => prefix.test(l));
/** P- line values of sentence `id` (base 2). */
const pValues = (text: string, id: number) =>
  lines(text, new RegExp(`^P-${id}\\t`))[0]!
    .split("\t")[1]!
    .split(" ")
    .map(Number);

let dir: string;
/** model-seed2.pt as a fairseq-ts checkpoint; a (randomly initialised) transformer_lm over the English dictionary. */
let seed2Safetensors: string;
let lmSafetensors: string;

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
  dir = mkdtempSync(join(tmpdir(), "fsts-ensemble-"));
  const { model, args } = await loadFairseqCheckpoint(SEED2, { srcVocabSize: 7864, tgtVocabSize: 5928 });
  seed2Safetensors = join(dir, "seed2.safetensors");
  writeFileSync(seed2Safetensors, encodeCheckpoint(model, { args }));
  model.dispose();
  const lmArgs = { arch: "transformer_lm", decoder_layers: 1, decoder_embed_dim: 16, decoder_ffn_embed_dim: 32, decoder_attention_heads: 2 };
  const lm = buildModel(lmArgs, { vocabSize: 5928, padIdx: 1 }, { seed: 7 });
  lmSafetensors = join(dir, "lm.safetensors");
  writeFileSync(lmSafetensors, encodeCheckpoint(lm, { args: lmArgs }));
  lm.dispose();
});

describe("generate / interactive with an ensemble (--path a:b) against fairseq's", () => {
  it("generate --path model.pt:model-seed2.pt --beam 5: fairseq's H/D/P lines (≥ 99% identical, scores within 1e-3) and its BLEU line", async () => {
    const r = await runCli(["generate", BIN, "--path", `${PUBLIC}:${SEED2}`, "--beam", "5", "--batch-size", "64"]);
    expect(r.status, r.stderr).toBe(0);
    const ref = readFileSync(join(E, "gen-ensemble-beam5.txt"), "utf8");
    expect(lines(r.stdout, /fairseq_cli\.generate \| loading model\(s\) from /)[0]).toMatch(new RegExp(`loading model\\(s\\) from ${PUBLIC}:${SEED2}$`));
    const ours = lines(r.stdout, /^[HDP]-/);
    const theirs = lines(ref, /^[HDP]-/);
    expect(ours.map((l) => l.split("\t")[0])).toEqual(theirs.map((l) => l.split("\t")[0]));
    let same = 0;
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i += 3) {
      const [h, d, p] = [ours[i]!, ours[i + 1]!, ours[i + 2]!].map((l) => l.split("\t"));
      const [rh, rd, rp] = [theirs[i]!, theirs[i + 1]!, theirs[i + 2]!].map((l) => l.split("\t"));
      if (h![2] !== rh![2] || d![2] !== rd![2]) continue;
      same++;
      maxDiff = Math.max(maxDiff, Math.abs(Number(h![1]) - Number(rh![1])), Math.abs(Number(d![1]) - Number(rd![1])));
      const x = p![1]!.split(" ").map(Number);
      const y = rp![1]!.split(" ").map(Number);
      expect(x.length).toBe(y.length);
      x.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - y[k]!))));
    }
    console.log(`ensemble via the CLI: ${same}/${ours.length / 3} identical hypotheses, max score diff ${maxDiff.toExponential(2)}`);
    expect(same / (ours.length / 3)).toBeGreaterThanOrEqual(0.99);
    expect(maxDiff).toBeLessThan(1e-3);
    expect(r.stdout.trim().split("\n").pop()).toBe(ref.trim().split("\n").pop());
  }, 300_000);

  it("generate --score-reference with an ensemble: each token's P = log2 of the mean of the two single-model probabilities", async () => {
    const args = ["generate", BIN, "--gen-subset", "test", "--batch-size", "64", "--score-reference"];
    const seed2 = await runCli([...args, "--path", SEED2]);
    const ens = await runCli([...args, "--path", `${PUBLIC}:${SEED2}`]);
    expect(seed2.status, seed2.stderr).toBe(0);
    expect(ens.status, ens.stderr).toBe(0);
    // the public model alone: fairseq's own score-reference run
    const pub = readFileSync(join(R, "score-reference.txt"), "utf8");
    const ids = lines(ens.stdout, /^H-/).map((l) => Number(l.split("\t")[0]!.slice(2)));
    expect(ids.length).toBe(1000);
    let maxDiff = 0;
    for (const id of ids) {
      const a = pValues(pub, id);
      const b = pValues(seed2.stdout, id);
      const e = pValues(ens.stdout, id);
      expect(e.length).toBe(a.length);
      const want = a.map((x, k) => Math.log2((2 ** x + 2 ** b[k]!) / 2));
      e.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - want[k]!))));
      // the H score: their mean
      const h = Number(lines(ens.stdout, new RegExp(`^H-${id}\\t`))[0]!.split("\t")[1]);
      maxDiff = Math.max(maxDiff, Math.abs(h - want.reduce((s, x) => s + x, 0) / want.length));
    }
    // (P lines print 4 decimals: the hand computation from them carries their rounding)
    expect(maxDiff).toBeLessThan(1e-3);
  }, 300_000);

  it("a fairseq .pt and a fairseq-ts checkpoint mixed: interactive decodes two lines as fairseq's ensemble did", async () => {
    const r = await runCli(["interactive", BIN, "--path", `${PUBLIC}:${seed2Safetensors}`, "--beam", "5"], {
      input: "zwei männer sitzen in einem restaurant .\nzwei kleine kinder auf dem sand .\n",
    });
    expect(r.status, r.stderr).toBe(0);
    const ref = readFileSync(join(E, "gen-ensemble-beam5.txt"), "utf8");
    const want = (id: number) => lines(ref, new RegExp(`^H-${id}\\t`))[0]!.split("\t");
    const h = lines(r.stdout, /^H-/).map((l) => l.split("\t"));
    expect(h.map((x) => x[2])).toEqual([want(592)[2], want(398)[2]]);
    h.forEach((x, i) => expect(Math.abs(Number(x[1]) - Number(want([592, 398][i]!)[1]))).toBeLessThan(1e-3));
  }, 120_000);

  it("a checkpoint that does not fit DATA's dictionaries, or an empty --path entry, is an error naming it", async () => {
    const bart = join(SHARED, "reference/fairseq/bart-tiny/model.pt");
    const r = await runCli(["generate", BIN, "--path", `${PUBLIC}:${bart}`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`--path ${bart}: vocabulary size mismatch`);
    const empty = await runCli(["interactive", BIN, "--path", `${PUBLIC}::${SEED2}`], { input: "ein mann .\n" });
    expect(empty.status).not.toBe(0);
    expect(empty.stderr).toContain(`--path ${PUBLIC}::${SEED2}: empty checkpoint path in the list`);
  }, 60_000);
});

describe("generate --lm-path / --lm-weight (shallow fusion)", () => {
  // about 40 sentences: one shard in 25 of the test set
  const base = ["generate", BIN, "--path", `${PUBLIC}:${SEED2}`, "--beam", "4", "--batch-size", "16", "--num-shards", "25", "--shard-id", "0"];

  it("--lm-weight 0 prints exactly what decoding without the LM prints; a weight changes the hypotheses", async () => {
    const plain = await runCli(base);
    const zero = await runCli([...base, "--lm-path", lmSafetensors, "--lm-weight", "0"]);
    const fused = await runCli([...base, "--lm-path", lmSafetensors, "--lm-weight", "1.5"]);
    for (const r of [plain, zero, fused]) expect(r.status, r.stderr).toBe(0);
    const hdp = (t: string) => lines(t, /^[HDP]-/);
    expect(hdp(plain.stdout).length).toBeGreaterThan(90); // (shards take whole batches)
    expect(hdp(zero.stdout)).toEqual(hdp(plain.stdout));
    const hyps = (t: string) => lines(t, /^H-/).map((l) => l.split("\t")[2]);
    const changed = hyps(fused.stdout).filter((h, i) => h !== hyps(plain.stdout)[i]).length;
    expect(changed).toBeGreaterThan(0);
  }, 300_000);

  it("a language model over another dictionary (fairseq's lm-tiny), or a translation model, is refused naming --lm-path", async () => {
    const other = await runCli([...base, "--lm-path", LM_TINY, "--lm-weight", "0.5"]);
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain(`--lm-path ${LM_TINY}: vocabulary size mismatch`);
    expect(other.stderr).toContain(`the language model for fusion must use the target dictionary (${join(BIN, "dict.en.txt")}, 5928 symbols)`);
    const tm = await runCli([...base, "--lm-path", PUBLIC]);
    expect(tm.status).not.toBe(0);
    expect(tm.stderr).toContain(`--lm-path ${PUBLIC}: not a language model`);
  }, 60_000);
});
