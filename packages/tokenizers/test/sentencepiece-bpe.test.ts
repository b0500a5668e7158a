import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildBpe, SentencepieceBpe } from "../src/index.js";
import { MULTI30K, SPM_REF } from "./shared.js";

const fileLines = (path: string): string[] => readFileSync(path, "utf8").split("\n").slice(0, -1);
const MODEL = resolve(SPM_REF, "m30k-unigram4k.model");

describe("--bpe sentencepiece (fairseq SentencepieceBPE)", () => {
  const bpe = buildBpe("sentencepiece", { sentencepieceModel: MODEL });

  it("encodes to the reference pieces joined by spaces and decodes back to the raw line", () => {
    expect(bpe).toBeInstanceOf(SentencepieceBpe);
    for (const lang of ["de", "en"]) {
      const raw = fileLines(resolve(MULTI30K, `raw/test.${lang}`));
      const pieces = fileLines(resolve(SPM_REF, `test.${lang}.pieces`));
      expect(pieces.length).toBe(raw.length);
      let encodedOk = 0;
      let decodedOk = 0;
      for (let i = 0; i < raw.length; i++) {
        if (bpe.encode(raw[i]!) === pieces[i]) encodedOk++;
        if (bpe.decode(pieces[i]!) === raw[i]) decodedOk++;
      }
      expect([lang, encodedOk, decodedOk]).toEqual([lang, 1000, 1000]);
    }
  });

  it("decodes like fairseq: x.replace(' ', '').replace('\\u2581', ' ').strip()", () => {
    expect(bpe.decode("▁Ein ▁Mann ▁mit ▁eine m")).toBe("Ein Mann mit einem");
    expect(bpe.decode("▁ ▁a b ▁ ")).toBe("ab");
    expect(bpe.decode("\u3000▁x▁\u00a0")).toBe("x"); // Python's strip() removes Unicode whitespace
  });

  it("accepts the model's bytes and reports missing or unreadable models by flag", () => {
    const fromBytes = buildBpe("sentencepiece", { sentencepieceModel: readFileSync(MODEL) });
    expect(fromBytes.encode("Ein Mann läuft.")).toBe(bpe.encode("Ein Mann läuft."));
    expect(() => buildBpe("sentencepiece", {})).toThrow(/--sentencepiece-model is required/);
    expect(() => buildBpe("sentencepiece", { sentencepieceModel: "/nope.model" })).toThrow(/--sentencepiece-model: cannot read \/nope\.model/);
    expect(() => buildBpe("sentencepiece", { sentencepieceModel: MODEL, sentencepieceEnableSampling: true })).toThrow(/--sentencepiece-enable-sampling/);
  });

  it("marks word beginnings like fairseq's is_beginning_of_word", () => {
    expect(["▁Mann", "m", "<unk>", "<s>", "</s>", "<pad>", "▁", "Mann"].map((t) => bpe.isBeginningOfWord(t))).toEqual([
      true,
      false,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
  });
});
