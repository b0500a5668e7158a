import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dictionary } from "@fairseq-ts/dictionary";
// preprocess starts worker threads from its built files, so these tests use the package's dist.
import { MMapIndexedDataset, preprocess, TextInputError, PreprocessError } from "../dist/index.js";
import { MULTI30K, REF_BIN, SHARED } from "./shared.js";

const tmp = () => mkdtempSync(join(tmpdir(), "fsts-pre-"));

/** The exact flags of the reference COMMANDS.md section 1. */
const referenceFlags = (destdir: string, workers: number) => ({
  sourceLang: "de",
  targetLang: "en",
  trainpref: join(MULTI30K, "train"),
  validpref: join(MULTI30K, "valid"),
  testpref: join(MULTI30K, "test"),
  thresholdsrc: 2,
  thresholdtgt: 2,
  workers,
  destdir,
  log: () => {},
});

const OUTPUTS = readdirSync(REF_BIN).filter((f) => f !== "preprocess.log");

describe("preprocess reproduces fairseq-preprocess byte for byte", () => {
  for (const workers of [1, 2]) {
    it(`Multi30k de-en, thresholds 2, --workers ${workers}: dicts, .bin and .idx identical; log counts identical`, async () => {
      const dest = tmp();
      await preprocess(referenceFlags(dest, workers));
      expect(OUTPUTS.length).toBe(14);
      for (const f of OUTPUTS) {
        const ours = readFileSync(join(dest, f));
        const ref = readFileSync(join(REF_BIN, f));
        expect(ours.equals(ref), `${f} differs`).toBe(true);
      }
      // The count lines of preprocess.log, with the reference's relative input paths mapped to ours.
      const refLog = readFileSync(join(REF_BIN, "preprocess.log"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("["));
      const ourLog = readFileSync(join(dest, "preprocess.log"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("["));
      expect(ourLog).toEqual(refLog.map((l) => l.replace("../shared/data/multi30k", MULTI30K)));
      expect(readdirSync(dest).filter((f) => f.includes("tmp"))).toEqual([]);
    });
  }

  it("reading the reference .bin/.idx gives the ids of the text encoded with the reference dictionary", async () => {
    const dict = await Dictionary.load(join(REF_BIN, "dict.en.txt"));
    const ds = MMapIndexedDataset.open(join(REF_BIN, "valid.de-en.en"));
    const lines = readFileSync(join(MULTI30K, "valid.en"), "utf8").split("\n").slice(0, -1);
    expect(ds.length).toBe(lines.length);
    for (let i = 0; i < lines.length; i += 37) {
      expect(Array.from(ds.get(i))).toEqual(Array.from(dict.encodeLine(lines[i]!, { addIfNotExist: false })));
      expect(ds.sizes[i]).toBe(ds.get(i).length);
    }
    ds.close();
  });
});

describe("preprocess, other flags (fairseq v0.10.2 preprocess.py semantics)", () => {
  it("--joined-dictionary: one dictionary from both sides' counts, saved as dict.de.txt and dict.en.txt", async () => {
    const dest2 = tmp();
    await preprocess({ ...referenceFlags(dest2, 1), validpref: null, testpref: null, joinedDictionary: true });
    const de = readFileSync(join(dest2, "dict.de.txt"), "utf8");
    expect(readFileSync(join(dest2, "dict.en.txt"), "utf8")).toBe(de);
    // Independent count of both training sides (the corpus is tokenized with single spaces).
    const counts = new Map<string, number>();
    for (const l of ["de", "en"]) {
      for (const line of readFileSync(join(MULTI30K, `train.${l}`), "utf8")
        .split("\n")
        .slice(0, -1)) {
        for (const w of line.split(" ").filter(Boolean)) counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    }
    const joined = Dictionary.parse(de);
    const kept = [...counts].filter(([, c]) => c >= 2);
    expect(joined.symbols.filter((s) => !s.startsWith("madeupword")).length - 4).toBe(kept.length);
    for (const [s, c] of kept) expect(joined.counts[joined.index(s)]).toBe(c);
    expect(joined.length % 8).toBe(0);
  });

  it("--nwordssrc and --padding-factor 1", async () => {
    const dest = tmp();
    await preprocess({ ...referenceFlags(dest, 1), validpref: null, testpref: null, nwordssrc: 1000, paddingFactor: 1 });
    const de = Dictionary.parse(readFileSync(join(dest, "dict.de.txt"), "utf8"));
    expect(de.length).toBe(1000);
    const ref = Dictionary.parse(readFileSync(join(REF_BIN, "dict.de.txt"), "utf8"));
    expect(de.symbols).toEqual(ref.symbols.slice(0, 1000));
  });

  it("--srcdict/--tgtdict reuse the reference dictionaries and give the reference binaries", async () => {
    const dest = tmp();
    await preprocess({
      ...referenceFlags(dest, 1),
      trainpref: null,
      validpref: null,
      srcdict: join(REF_BIN, "dict.de.txt"),
      tgtdict: join(REF_BIN, "dict.en.txt"),
    });
    for (const f of ["test.de-en.de.bin", "test.de-en.de.idx", "test.de-en.en.bin", "dict.en.txt"]) {
      expect(readFileSync(join(dest, f)).equals(readFileSync(join(REF_BIN, f))), f).toBe(true);
    }
  });

  it("--only-source language-model data (WikiText-2): dict.txt and train.bin/.idx, no language in names", async () => {
    const dest = tmp();
    await preprocess({
      onlySource: true,
      trainpref: join(SHARED, "data/wikitext-2/valid.txt"),
      validpref: join(SHARED, "data/wikitext-2/test.txt"),
      destdir: dest,
      log: () => {},
    });
    expect(readdirSync(dest).sort()).toEqual(["dict.txt", "preprocess.log", "train.bin", "train.idx", "valid.bin", "valid.idx"]);
    const lines = readFileSync(join(SHARED, "data/wikitext-2/valid.txt"), "utf8").split("\n").slice(0, -1);
    const ds = MMapIndexedDataset.open(join(dest, "train"));
    expect(ds.length).toBe(lines.length); // blank lines are sentences too: just </s>
    expect(Array.from(ds.get(0))).toEqual([2]);
    const log = readFileSync(join(dest, "preprocess.log"), "utf8");
    expect(log).toMatch(/^\[None\] Dictionary: \d+ types$/m);
  });

  it("--dataset-impl raw copies the text as fairseq names it", async () => {
    const dest = tmp();
    await preprocess({
      ...referenceFlags(dest, 1),
      trainpref: null,
      validpref: null,
      srcdict: join(REF_BIN, "dict.de.txt"),
      tgtdict: join(REF_BIN, "dict.en.txt"),
      datasetImpl: "raw",
    });
    expect(readFileSync(join(dest, "test.de-en.de"), "utf8")).toBe(readFileSync(join(MULTI30K, "test.de"), "utf8"));
  });

  it("--dict-only writes the dictionaries and nothing else", async () => {
    const dest = tmp();
    await preprocess({ ...referenceFlags(dest, 1), dictOnly: true });
    expect(readdirSync(dest).sort()).toEqual(["dict.de.txt", "dict.en.txt", "preprocess.log"]);
  });
});

describe("preprocess, bad input", () => {
  it("a missing input names the file; nothing half-written remains", async () => {
    const dest = tmp();
    const err = await preprocess({
      ...referenceFlags(dest, 1),
      trainpref: null,
      srcdict: join(REF_BIN, "dict.de.txt"),
      tgtdict: join(REF_BIN, "dict.en.txt"),
      validpref: "/nonexistent/valid",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(TextInputError);
    expect(String(err.message)).toMatch(/\/nonexistent\/valid\.de: cannot read \(no such file\)/);
    expect(readdirSync(dest).filter((f) => f.endsWith(".bin") || f.includes("tmp"))).toEqual([]);
  });

  it("invalid UTF-8 names the file and line, with --workers 1 and 2", async () => {
    for (const workers of [1, 2]) {
      const dir = tmp();
      const lines = Array.from({ length: 50 }, (_, i) => `wort${i} satz .`);
      const bytes = Buffer.concat([
        Buffer.from(lines.slice(0, 40).join("\n") + "\n"),
        Buffer.from([0x61, 0xc3, 0x28, 0x0a]),
        Buffer.from(lines.slice(40).join("\n") + "\n"),
      ]);
      writeFileSync(join(dir, "train.xx"), bytes);
      writeFileSync(join(dir, "train.yy"), lines.join("\n") + "\n");
      const err = await preprocess({
        sourceLang: "xx",
        targetLang: "yy",
        trainpref: join(dir, "train"),
        destdir: join(dir, "out"),
        workers,
        log: () => {},
      }).catch((e) => e);
      expect(err).toBeInstanceOf(TextInputError);
      expect(String(err.message)).toMatch(/train\.xx:41: invalid UTF-8/);
    }
  });

  it("an existing dict in --destdir is refused like fairseq (FileExistsError)", async () => {
    const dest = tmp();
    await preprocess({ ...referenceFlags(dest, 1), dictOnly: true });
    await expect(preprocess({ ...referenceFlags(dest, 1), dictOnly: true })).rejects.toThrow(PreprocessError);
    expect(existsSync(join(dest, "dict.de.txt"))).toBe(true);
  });
});
