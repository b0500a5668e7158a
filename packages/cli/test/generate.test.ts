import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED } from "./shared.js";
import { runCli } from "./cli.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");

const run = (args: string[], input?: string) => runCli(args, { input });

const lines = (text: string, prefix: RegExp) => text.split("\n").filter((l) => prefix.test(l));

describe("fairseq-ts generate / interactive / score against fairseq's outputs", () => {
  it("generate --score-reference: same S/T/H lines, scores within 1e-3, same BLEU line", async () => {
    const r = await run(["generate", join(R, "bin"), "--path", join(R, "model.pt"), "--gen-subset", "test", "--batch-size", "64", "--score-reference"]);
    expect(r.status, r.stderr).toBe(0);
    const ref = readFileSync(join(R, "score-reference.txt"), "utf8");
    expect(lines(r.stdout, /^[ST]-/)).toEqual(lines(ref, /^[ST]-/));
    const ours = lines(r.stdout, /^[HP]-/);
    const theirs = lines(ref, /^[HP]-/);
    expect(ours.length).toBe(theirs.length);
    ours.forEach((l, i) => {
      const a = l.split("\t");
      const b = theirs[i]!.split("\t");
      expect(a[0]).toBe(b[0]);
      if (a[0]!.startsWith("H-")) {
        expect(a[2]).toBe(b[2]);
        expect(Math.abs(Number(a[1]) - Number(b[1]))).toBeLessThan(1e-3);
      } else {
        const x = a[1]!.split(" ").map(Number);
        const y = b[1]!.split(" ").map(Number);
        x.forEach((v, k) => expect(Math.abs(v - y[k]!)).toBeLessThan(1e-3));
      }
    });
    expect(r.stdout.trim().split("\n").pop()).toBe(ref.trim().split("\n").pop());
  }, 120_000);

  it("generate --results-path DIR writes what it prints to DIR/generate-SUBSET.txt (as fairseq), nothing to stdout", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "fsts-results-")), "out");
    const r = await run([
      "generate",
      join(R, "bin"),
      "--path",
      join(R, "model.pt"),
      "--gen-subset",
      "test",
      "--batch-size",
      "64",
      "--score-reference",
      "--results-path",
      dir,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(readdirSync(dir)).toEqual(["generate-test.txt"]); // the .partial file was renamed
    const written = readFileSync(join(dir, "generate-test.txt"), "utf8");
    const ref = readFileSync(join(R, "score-reference.txt"), "utf8");
    expect(lines(written, /^[STH]-/).map((l) => l.split("\t")[0])).toEqual(lines(ref, /^[STH]-/).map((l) => l.split("\t")[0]));
    expect(written).toMatch(/\| INFO \| fairseq_cli.generate \| loading model\(s\) from /);
    expect(written.trim().split("\n").pop()).toBe(ref.trim().split("\n").pop());
    // a results path that cannot be a directory: the flag and the file are named, before any model is loaded
    const file = join(dir, "generate-test.txt");
    const bad = await run(["generate", join(R, "bin"), "--path", join(R, "model.pt"), "--results-path", join(file, "sub")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--results-path.*cannot write .*generate-test\.txt\/sub\/generate-test\.txt\.partial/);
  }, 120_000);

  it("interactive translates stdin lines like fairseq-generate did", async () => {
    const r = await run(
      ["interactive", join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "5"],
      "zwei männer sitzen in einem restaurant .\nzwei kleine kinder auf dem sand .\n",
    );
    expect(r.status, r.stderr).toBe(0);
    const h = lines(r.stdout, /^H-/).map((l) => l.split("\t")[2]);
    const ref = readFileSync(join(R, "gen-beam5.txt"), "utf8");
    const want = (id: number) => lines(ref, new RegExp(`^H-${id}\\t`))[0]!.split("\t")[2];
    expect(h).toEqual([want(592), want(398)]);
    // raw text with --tokenizer moses: same hypotheses; D- lines detokenized (Moses: no space before '.')
    const raw = await run(
      ["interactive", join(R, "bin"), "--path", join(R, "model.pt"), "--tokenizer", "moses", "-s", "de", "-t", "en"],
      "zwei männer sitzen in einem restaurant.\nzwei kleine kinder auf dem sand.\n",
    );
    expect(raw.status, raw.stderr).toBe(0);
    expect(lines(raw.stdout, /^S-/).map((l) => l.split("\t")[1])).toEqual(["zwei männer sitzen in einem restaurant .", "zwei kleine kinder auf dem sand ."]);
    expect(lines(raw.stdout, /^H-/).map((l) => l.split("\t")[2])).toEqual([want(592), want(398)]);
    expect(lines(raw.stdout, /^D-/).map((l) => l.split("\t")[2])).toEqual([want(592), want(398)].map((x) => x!.replace(/ \.$/, ".")));
  }, 60_000);

  it("interactive --diverse-beam-groups: the flags reach the generator (same n-best as the library call) and change it", async () => {
    const line = "zwei männer sitzen in einem restaurant .\n";
    const args = ["interactive", join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "4", "--nbest", "4"];
    const diverse = await run([...args, "--diverse-beam-groups", "2", "--diverse-beam-strength", "2"], line);
    expect(diverse.status, diverse.stderr).toBe(0);
    const plain = await run(args, line);
    const hyps = (t: string) => lines(t, /^H-/).map((l) => l.split("\t").slice(1).join("\t"));
    expect(hyps(diverse.stdout)).toHaveLength(4);
    expect(hyps(diverse.stdout)).not.toEqual(hyps(plain.stdout));
    const { fromPretrained } = await import("@fairseq-ts/generate");
    await (await import("@fairseq-ts/backend")).initBackend({ log: null });
    const t = await fromPretrained(join(R, "model.pt"), {
      dataDir: join(R, "bin"),
      sourceLang: "de",
      targetLang: "en",
      beam: 4,
      nbest: 4,
      diverseBeamGroups: 2,
      diverseBeamStrength: 2,
    });
    const lib = t.generate([t.srcDict.encodeLine(line.trim(), { addIfNotExist: false })])[0]!;
    expect(hyps(diverse.stdout).map((h) => h.split("\t")[1])).toEqual(lib.map((h) => t.tgtDict.string(h.tokens)));
    // H- lines print the score in base 2, as fairseq does
    lib.forEach((h, i) => expect(Math.abs(Number(hyps(diverse.stdout)[i]!.split("\t")[0]) - h.score / Math.LN2)).toBeLessThan(1e-5));
    const bad = await run([...args, "--beam", "5", "--diverse-beam-groups", "2"], line);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--diverse-beam-groups 2.*divisible/);
    t.dispose();
  }, 60_000);

  it("score: corpus BLEU and sentence BLEU equal fairseq-score's", async () => {
    const c = await run(["score", "--sys", join(R, "gen-beam5.hyp"), "--ref", join(R, "gen-test.ref-unk.txt")]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout.trim().split("\n").pop()).toBe("BLEU4 = 19.43, 53.9/26.9/14.3/7.7 (BP=0.974, ratio=0.974, syslen=12630, reflen=12968)");
    const raw = await run(["score", "--sys", join(R, "gen-beam1.hyp"), "--ref", join(SHARED, "data/multi30k/test.en")]);
    expect(raw.stdout.trim().split("\n").pop()).toBe("BLEU4 = 15.03, 42.4/20.3/10.6/5.6 (BP=1.000, ratio=1.235, syslen=16010, reflen=12968)");
    const s = await run(["score", "--sys", join(R, "gen-beam5.hyp"), "--ref", join(R, "gen-test.ref-unk.txt"), "--sentence-bleu"]);
    // Every per-sentence line identical (the first line is the Namespace with fairseq's own paths).
    const drop = (x: string) => x.split("\n").slice(1).join("\n");
    expect(drop(s.stdout)).toBe(drop(readFileSync(join(R, "score-beam5-sentence-bleu.txt"), "utf8")));
    expect(s.stdout.split("\n")[0]).toMatch(/^Namespace\(sys='.*gen-beam5\.hyp', ref='.*', order=4, ignore_case=False, sacrebleu=False, sentence_bleu=True\)$/);
  }, 60_000);

  it("sacrebleu with tokenize 'none' on fairseq's tokenized output = fairseq's own BLEU line (independent implementations agree)", async () => {
    const { sacreBleu, formatSacreBleu } = await import("@fairseq-ts/generate");
    const hyp = readFileSync(join(R, "gen-beam5.hyp"), "utf8").split("\n").slice(0, -1);
    const ref = readFileSync(join(R, "gen-test.ref-unk.txt"), "utf8").split("\n").slice(0, -1);
    // fairseq: BLEU4 = 19.43, 53.9/26.9/14.3/7.7 (BP=0.974, ratio=0.974, syslen=12630, reflen=12968)
    expect(formatSacreBleu(sacreBleu(hyp, [ref], { tokenize: "none" }))).toBe(
      "BLEU = 19.43 53.9/26.9/14.3/7.7 (BP = 0.974 ratio = 0.974 hyp_len = 12630 ref_len = 12968)",
    );
    const same = await run(["score", "--sacrebleu", "--sys", join(R, "gen-test.ref-unk.txt"), "--ref", join(R, "gen-test.ref-unk.txt")]);
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout.trim().split("\n").pop()).toMatch(
      /^BLEU = 100\.00 100\.0\/100\.0\/100\.0\/100\.0 \(BP = 1\.000 ratio = 1\.000 hyp_len = \d+ ref_len = \d+\)$/,
    );
    const gen = await run([
      "generate",
      join(R, "bin"),
      "--path",
      join(R, "model.pt"),
      "--gen-subset",
      "test",
      "--batch-size",
      "64",
      "--score-reference",
      "--quiet",
      "--scoring",
      "sacrebleu",
    ]);
    expect(gen.status, gen.stderr).toBe(0);
    // the hypotheses are the references, except that unknown words print as <unk> in H and <<unk>> in T
    // (13a splits them into 3 and 5 tokens): unigram and bigram precision stay 100, the rest falls a little
    const m = /Generate test with beam=5: BLEU = ([\d.]+) 100\.0\/100\.0\/[\d.]+\/[\d.]+ \(BP = [\d.]+ ratio = [\d.]+ hyp_len = (\d+) ref_len = (\d+)\)/.exec(
      gen.stdout,
    )!;
    expect(Number(m[1])).toBeGreaterThan(90);
    expect(Number(m[1])).toBeLessThan(100);
    expect(Number(m[2])).toBeLessThan(Number(m[3]));
  }, 120_000);

  it("--replace-unk on a raw dataset copies the aligned source words; --print-alignment prints fairseq's A- lines", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-raw-"));
    for (const l of ["de", "en"]) {
      copyFileSync(join(R, `bin/dict.${l}.txt`), join(dir, `dict.${l}.txt`));
      // the first 300 sentences keep the test short
      writeFileSync(
        join(dir, `test.de-en.${l}`),
        readFileSync(join(SHARED, `data/multi30k/test.${l}`), "utf8")
          .split("\n")
          .slice(0, 300)
          .join("\n") + "\n",
      );
    }
    const args = ["generate", dir, "--path", join(R, "model.pt"), "--gen-subset", "test", "--batch-size", "64"];
    const plain = await run(args);
    const ru = await run([...args, "--replace-unk", "--print-alignment"]);
    expect(ru.status, ru.stderr).toBe(0);
    const hs = (out: string) => out.split("\n").filter((l) => l.startsWith("H-"));
    const withUnk = hs(plain.stdout).filter((l) => l.includes("<unk>"));
    expect(withUnk.length).toBeGreaterThan(20);
    expect(hs(ru.stdout).filter((l) => l.includes("<unk>"))).toEqual([]);
    const byId = (out: string, tag: string) =>
      new Map(
        out
          .split("\n")
          .filter((l) => l.startsWith(`${tag}-`))
          .map((l) => [l.slice(tag.length + 1, l.indexOf("\t")), l.split("\t").pop()!]),
      );
    const src = byId(ru.stdout, "S");
    const hyp = byId(ru.stdout, "H");
    const plainHyp = byId(plain.stdout, "H");
    const align = byId(ru.stdout, "A");
    let replaced = 0;
    for (const [id, h] of plainHyp) {
      const before = h.split(" ");
      const after = hyp.get(id)!.split(" ");
      expect(after.length).toBe(before.length);
      const srcWords = [...src.get(id)!.split(" "), "<eos>"];
      before.forEach((w, i) => {
        if (w === "<unk>") {
          replaced++;
          expect(srcWords).toContain(after[i]); // copied from the source line
        } else expect(after[i]).toBe(w);
      });
      // one pair per hypothesis word (eos excluded), source word numbers within the source
      const pairs = align
        .get(id)!
        .split(" ")
        .map((p) => p.split("-").map(Number));
      expect(pairs.map((p) => p[1])).toEqual(before.map((_, i) => i));
      for (const [si] of pairs) expect(si! >= 0 && si! < srcWords.length - 1).toBe(true);
    }
    expect(replaced).toBeGreaterThanOrEqual(withUnk.length);
  }, 120_000);
});
