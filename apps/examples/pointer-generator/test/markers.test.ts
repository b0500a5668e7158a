import { describe, expect, it } from "vitest";
import { OovIndexError, buildPointerGeneratorDictionary, dictionaryWords, replaceOovs, restoreOovs } from "../src/index.js";

describe("<unk-N> preprocessing (fairseq's preprocess.py)", () => {
  const vocab = new Set(["the", "cat", "sat", "on", ".", "<unk-0>", "<unk-1>"]);

  it("marks each OOV source word with its first position, and target words that are such source words", () => {
    // "zorg" first occurs at position 1 (both occurrences get <unk-1>), "mat" at 5; "dog" is in neither
    const r = replaceOovs("the  zorg sat on the mat zorg .\n", "zorg sat on a mat dog the", vocab);
    expect(r.source).toBe("the <unk-1> sat on the <unk-5> <unk-1> .");
    expect(r.target).toBe("<unk-1> sat on a <unk-5> dog the");
  });

  it("keeps vocabulary words (markers included), splits as Python's str.split, and has no target when none is given", () => {
    expect(replaceOovs("<unk-1>\u00a0cat\tfoo", undefined, vocab)).toEqual({ source: "<unk-1> cat <unk-2>" });
    expect(replaceOovs("", "", vocab)).toEqual({ source: "", target: "" });
  });
});

describe("<unk-N> postprocessing (fairseq's postprocess.py)", () => {
  it("replaces each <unk-N> with word N of the original source and leaves other tokens (<unk> too)", () => {
    expect(restoreOovs("de roon moved to teesside", "<unk> de <unk-1> has <unk-4> . <unk-x> <unk-01>")).toBe("<unk> de roon has teesside . <unk-x> roon");
  });

  it("a marker past the source's end is an error naming the line and position", () => {
    expect(() => restoreOovs("a b", "<unk-2>", 7)).toThrow(OovIndexError);
    expect(() => restoreOovs("a b", "<unk-2>", 7)).toThrow(/line 7: <unk-2> .* \(2 words\)/);
  });

  it("round trip: postprocessing the preprocessed target gives back the target's OOV words", () => {
    const src = "alice met bob in zurich";
    const tgt = "bob met alice";
    const marked = replaceOovs(src, tgt, new Set(["met", "in"]));
    expect(marked.target).toBe("<unk-2> met <unk-0>");
    expect(restoreOovs(src, marked.target!)).toBe(tgt);
  });
});

describe("the pointer-generator dictionary (the README's shell loop)", () => {
  it("top vocabSize - 4 words by count, ties in byte order (LC_ALL=C), then the markers with count 0", () => {
    const text = buildPointerGeneratorDictionary(["b a c a", "é B c b", "d a"], 7, 3);
    // counts: a 3, b 2, c 2, B 1, d 1, é 1 -> a, b, c (vocabSize 7 - 4 = 3); ties b/c and B/d/é in byte order
    expect(text).toBe("a 3\nb 2\nc 2\n<unk-0> 0\n<unk-1> 0\n<unk-2> 0\n");
    expect(buildPointerGeneratorDictionary(["é B c b d a"], 9, 0)).toBe("B 1\na 1\nb 1\nc 1\nd 1\n");
    expect(buildPointerGeneratorDictionary(["é B c b d a"], 10, 0).split("\n").at(-2)).toBe("é 1");
    expect([...dictionaryWords(text)]).toEqual(["a", "b", "c", "<unk-0>", "<unk-1>", "<unk-2>"]);
  });
});
