import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SentencePieceProcessor } from "../src/sentencepiece/processor.js";
import { parseModelProto } from "../src/sentencepiece/proto.js";
import { MULTI30K, SPM_REF } from "./shared.js";
import { spm, tempDir, trainModel, writeLines } from "./spm-cli.js";

const lines = (text: string): string[] => {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
};
const fileLines = (path: string): string[] => lines(readFileSync(path, "utf8"));

/** Lines that exercise normalization, unknown characters, user-defined and control symbols. */
const CRAFTED = [
  "Mann <sep> @@ ①② ＡＢＣ１２３ ﬁne Cafe\u0301 Café 😀👍 你好 ▁x  a\u00a0b\u0001c <ctl> <s> </s> <unk> <pad>",
  "",
  "   ",
  "\tTabs\tand  spaces  ",
  "  leading and trailing  ",
  "ｶﾀｶﾅ ﾊﾟ Ⅻ ½ ™ ㍻ ﬃ x\u3000y z\u200bw \u2028 \ufeffBOM",
  "<sep><sep>@@Mann<ctl>abc",
  "▁▁ ▁ leading ▁",
  "A man in an orange hat starring at something.",
  "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
  "Straße ÄÖÜ äöü ß ẞ œ Ø å ñ ç",
  "123 4567 89.10 3,14 -5",
  "🙂",
  "\ufeffStarts with a byte order mark",
];

/** Checks pieces, ids and decoding against spm_encode/spm_decode line by line; returns mismatching lines. */
async function compareWithSpm(model: string, inputLines: string[], dir: string, tag: string): Promise<string[]> {
  const sp = SentencePieceProcessor.load(model);
  const input = join(dir, `${tag}.txt`);
  writeLines(input, inputLines);
  const pieces = lines(await spm("spm_encode", [`--model=${model}`, "--output_format=piece", `--input=${input}`]));
  const ids = lines(await spm("spm_encode", [`--model=${model}`, "--output_format=id", `--input=${input}`]));
  const decoded = lines(await spm("spm_decode", [`--model=${model}`, "--input_format=piece"], pieces.map((l) => `${l}\n`).join("")));
  const decodedIds = lines(await spm("spm_decode", [`--model=${model}`, "--input_format=id"], ids.map((l) => `${l}\n`).join("")));
  expect(pieces.length).toBe(inputLines.length);
  expect(ids.length).toBe(inputLines.length);
  expect(decoded.length).toBe(inputLines.length);
  const bad: string[] = [];
  for (let i = 0; i < inputLines.length; i++) {
    const e = sp.encode(inputLines[i]!);
    const p = pieces[i] === "" ? [] : pieces[i]!.split(" ");
    const d = ids[i] === "" ? [] : ids[i]!.split(" ").map(Number);
    if (e.pieces.join(" ") !== pieces[i]) bad.push(`${tag}:${i + 1} pieces ${e.pieces.join(" ")} != ${pieces[i]}`);
    if (e.ids.join(" ") !== ids[i]) bad.push(`${tag}:${i + 1} ids ${e.ids.join(" ")} != ${ids[i]}`);
    if (sp.decodePieces(p) !== decoded[i]) bad.push(`${tag}:${i + 1} decode ${JSON.stringify(sp.decodePieces(p))} != ${JSON.stringify(decoded[i])}`);
    if (sp.decodeIds(d) !== decodedIds[i]) bad.push(`${tag}:${i + 1} decodeIds ${sp.decodeIds(d)} != ${decodedIds[i]}`);
  }
  // decoding piece sequences spm_encode would not produce: stray/invalid byte pieces, unknown and control pieces
  const odd = ["▁a ▁b", "<0xE4> <0xBD> x <0xE4> <0xBD> <0xA0>", "<unk> ▁<unk> foo ▁⁇", "<s> ▁a </s> <ctl> <sep>", "▁ ▁ ▁a ▁", "<0x41> ▁b", "x▁▁y"];
  const oddDecoded = lines(await spm("spm_decode", [`--model=${model}`, "--input_format=piece"], odd.map((l) => `${l}\n`).join("")));
  odd.forEach((l, i) => {
    const d = sp.decodePieces(l.split(" "));
    if (d !== oddDecoded[i]) bad.push(`${tag}: decode ${JSON.stringify(l)} -> ${JSON.stringify(d)} != ${JSON.stringify(oddDecoded[i])}`);
  });
  return bad;
}

describe("sentencepiece unigram model vs the reference spm_encode 0.1.97 output (m30k-unigram4k)", () => {
  const sp = SentencePieceProcessor.load(resolve(SPM_REF, "m30k-unigram4k.model"));

  it("reads the ModelProto fields", () => {
    expect(sp.modelType).toBe("unigram");
    expect(sp.pieceSize).toBe(4000);
    expect([sp.unkId, sp.bosId, sp.eosId, sp.padId]).toEqual([0, 1, 2, -1]);
    expect([sp.idToPiece(0), sp.idToPiece(1), sp.idToPiece(2)]).toEqual(["<unk>", "<s>", "</s>"]);
    expect([sp.isUnknown(0), sp.isControl(1), sp.isControl(2), sp.isControl(3)]).toEqual([true, true, true, false]);
    // the .vocab file written by spm_train lists every piece with its score, in id order
    const vocab = fileLines(resolve(SPM_REF, "m30k-unigram4k.vocab")).map((l) => l.split("\t"));
    expect(vocab.length).toBe(4000);
    expect(vocab.filter((fields) => fields.length !== 2)).toEqual([]);
    for (let id = 0; id < vocab.length; id++) {
      const [piece, score] = vocab[id] as [string, string];
      expect(sp.idToPiece(id)).toBe(piece);
      expect(sp.pieceToId(piece)).toBe(id);
      // .vocab scores are printed with C++ stream precision (6 significant digits)
      expect(Math.abs(sp.score(id) - Number(score))).toBeLessThanOrEqual(Math.abs(Number(score)) * 1e-5);
    }
    const n = sp.proto.normalizerSpec;
    expect([n.name, n.addDummyPrefix, n.removeExtraWhitespaces, n.escapeWhitespaces]).toEqual(["nmt_nfkc", true, true, true]);
    expect(n.precompiledCharsmap.length).toBeGreaterThan(1000);
  });

  for (const lang of ["de", "en"]) {
    it(`encodes multi30k test.${lang} to exactly spm_encode's pieces and ids, and decodes them back to the raw lines`, () => {
      const raw = fileLines(resolve(MULTI30K, `raw/test.${lang}`));
      const pieces = fileLines(resolve(SPM_REF, `test.${lang}.pieces`));
      const ids = fileLines(resolve(SPM_REF, `test.${lang}.ids`));
      expect(raw.length).toBe(1000);
      expect(pieces.length).toBe(raw.length);
      expect(ids.length).toBe(raw.length);
      const badPieces: number[] = [];
      const badIds: number[] = [];
      const badDecode: number[] = [];
      for (let i = 0; i < raw.length; i++) {
        const e = sp.encode(raw[i]!);
        if (e.pieces.join(" ") !== pieces[i]) badPieces.push(i + 1);
        if (e.ids.join(" ") !== ids[i]) badIds.push(i + 1);
        if (sp.decodePieces(pieces[i]!.split(" ")) !== raw[i]) badDecode.push(i + 1);
        if (sp.decodeIds(ids[i]!.split(" ").map(Number)) !== raw[i]) badDecode.push(i + 1);
      }
      expect({ badPieces, badIds, badDecode }).toEqual({ badPieces: [], badIds: [], badDecode: [] });
    });
  }

  it("normalizes with the precompiled charsmap (NFKC) and whitespace rules", () => {
    expect(sp.normalize("  ＡＢＣ１２３   x ")).toBe("▁ABC123▁x");
    expect(sp.normalize("ﬁ ½")).toBe("▁fi▁1⁄2");
    expect(sp.normalize("")).toBe("");
    expect(sp.normalize(" \t ")).toBe("");
    // a literal U+2581 at the end is stripped like an escaped trailing space (normalizer.cc)
    expect(sp.normalize("a ▁")).toBe("▁a");
  });

  it('merges runs of unknown characters into one <unk> piece and decodes <unk> as " ⁇ "', () => {
    const e = sp.encode("a 你好世界 b");
    expect(e.ids.filter((id) => id === 0).length).toBe(1);
    // spm_encode: "▁a ▁ 你好世界 ▁b" = 4 33 0 436; spm_decode of the ids: "a  ⁇  b"
    expect(e.pieces).toEqual(["▁a", "▁", "你好世界", "▁b"]);
    expect(e.ids).toEqual([4, 33, 0, 436]);
    expect(sp.decodeIds(e.ids)).toBe("a  ⁇  b");
    expect(sp.decodePieces(e.pieces)).toBe("a 你好世界 b");
  });

  it("rejects ids outside the vocabulary and files that are not models", () => {
    expect(() => sp.decodeIds([5, 4000])).toThrow(/invalid id 4000/);
    expect(() => sp.idToPiece(-1)).toThrow(/invalid id -1/);
    expect(() => SentencePieceProcessor.fromBytes(new TextEncoder().encode("hello world\n"), "x.model")).toThrow(/x\.model: not a SentencePiece model/);
    expect(() => SentencePieceProcessor.load("/nonexistent/m.model")).toThrow(/cannot read \/nonexistent\/m\.model/);
    expect(() => parseModelProto(new Uint8Array([0x0a, 0x05, 0x0a]), "t.model")).toThrow(/t\.model: not a SentencePiece model \(truncated/);
  });
});

describe("sentencepiece vs spm_encode/spm_decode on models trained at test time (multi30k train.en)", () => {
  let tmp: ReturnType<typeof tempDir>;
  const train = resolve(MULTI30K, "raw/train.en");
  let testLines: string[];
  beforeAll(() => {
    tmp = tempDir("fairseq-ts-spm-");
    // test.en, test.de (unknown to an English model: exercises unknown characters) and crafted lines
    testLines = [...fileLines(resolve(MULTI30K, "raw/test.en")), ...fileLines(resolve(MULTI30K, "raw/test.de")), ...CRAFTED];
  });
  afterAll(() => tmp.cleanup());

  // each case: its name, then spm_train flags with --model_type first
  const cases: [string, [string, ...string[]]][] = [
    ["bpe", ["--model_type=bpe", "--vocab_size=2000"]],
    [
      "bpe-udef-bytes",
      [
        "--model_type=bpe",
        "--vocab_size=1200",
        "--user_defined_symbols=<sep>,@@,Mann",
        "--control_symbols=<ctl>",
        "--byte_fallback=true",
        "--character_coverage=0.99",
      ],
    ],
    [
      "unigram-udef-bytes",
      [
        "--model_type=unigram",
        "--vocab_size=1500",
        "--user_defined_symbols=<sep>,@@,Mann",
        "--control_symbols=<ctl>",
        "--byte_fallback=true",
        "--character_coverage=0.99",
      ],
    ],
    [
      "unigram-identity-noprefix",
      ["--model_type=unigram", "--vocab_size=1000", "--normalization_rule_name=identity", "--add_dummy_prefix=false", "--remove_extra_whitespaces=false"],
    ],
    [
      "bpe-nfkc-cf-suffix",
      ["--model_type=bpe", "--vocab_size=1000", "--normalization_rule_name=nfkc_cf", "--treat_whitespace_as_suffix=true", "--split_digits=true"],
    ],
    ["char", ["--model_type=char", "--vocab_size=80"]],
    ["word", ["--model_type=word", "--vocab_size=3000"]],
  ];
  for (const [name, flags] of cases) {
    it(`${name}: pieces, ids and decoding equal spm_encode/spm_decode on every line`, async () => {
      const model = await trainModel(tmp.dir, name, train, flags);
      const sp = SentencePieceProcessor.load(model);
      expect(sp.modelType).toBe(flags[0].slice("--model_type=".length));
      expect(await compareWithSpm(model, testLines, tmp.dir, name)).toEqual([]);
    });
  }
});
