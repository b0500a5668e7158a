import { describe, expect, expectTypeOf, it } from "vitest";
import { defineOptions, flagOf, kebabFlag, opt, OptionError, parseBool, parseFloat10, parseInt10, parseList, type OptionsOf } from "../src/index.js";

describe("value parsers follow Python's int/float and fairseq's eval_bool / eval_str_list", () => {
  it("int: Python int() accepts signs, surrounding spaces and digit underscores, rejects floats and hex", () => {
    expect(parseInt10("5")).toBe(5);
    expect(parseInt10(" -12 ")).toBe(-12);
    expect(parseInt10("+3")).toBe(3);
    expect(parseInt10("1_000")).toBe(1000);
    for (const bad of ["5.0", "0x10", "", "1e3", "abc", "1__0", "9007199254740993"]) expect(() => parseInt10(bad)).toThrow(/int value/);
  });
  it("float: decimal, exponent, inf/nan in any case; no hex, no empty string", () => {
    expect(parseFloat10("5e-4")).toBe(0.0005);
    expect(parseFloat10(".5")).toBe(0.5);
    expect(parseFloat10("3.")).toBe(3);
    expect(parseFloat10("-inf")).toBe(-Infinity);
    expect(parseFloat10("Infinity")).toBe(Infinity);
    expect(parseFloat10("NaN")).toBeNaN();
    for (const bad of ["", "0x10", "1e", "abc", "1.2.3"]) expect(() => parseFloat10(bad)).toThrow(/float value/);
  });
  it("bool: True/False/1/0 (fairseq's eval_bool)", () => {
    expect(parseBool("True")).toBe(true);
    expect(parseBool("0")).toBe(false);
    expect(() => parseBool("yes")).toThrow(/True or False/);
  });
  it("list: a scalar, a comma list, a Python list or tuple", () => {
    expect(parseList("0.25", parseFloat10)).toEqual([0.25]);
    expect(parseList("0.25,0.1", parseFloat10)).toEqual([0.25, 0.1]);
    expect(parseList("[1, 2, 4]", parseInt10)).toEqual([1, 2, 4]);
    expect(parseList("(8,)", parseInt10)).toEqual([8]);
    expect(() => parseList("1,,2", parseInt10)).toThrow(/list value/);
  });
});

const generation = defineOptions("generation", {
  beam: opt.int(5, "beam size"),
  noRepeatNgramSize: opt.int(0, "ngram blocking such that this size ngram cannot be repeated"),
  lenpen: opt.float(1, "length penalty"),
  matchSourceLen: opt.flag("generations should match the source length"),
  removeBpe: opt.str(null, "remove BPE tokens before scoring", { const: "@@ ", flag: "--post-process", aliases: ["--remove-bpe"] }),
  scoring: opt.choice(["bleu", "sacrebleu", "chrf"], "bleu", "scoring method"),
  lr: opt.floatList([0.25], "learning rate"),
  fp16: opt.refused("fairseq-ts computes in float32", "flag"),
});

describe("defineOptions", () => {
  it("derives fairseq's flag spelling from the key unless declared", () => {
    expect(kebabFlag("noRepeatNgramSize")).toBe("--no-repeat-ngram-size");
    expect(kebabFlag("encoder_embed_dim")).toBe("--encoder-embed-dim");
    expect(flagOf("removeBpe", generation.declarations.removeBpe)).toBe("--post-process");
    expect(generation.declarations.removeBpe.arity).toBe("optional");
    expect(generation.declarations.matchSourceLen.arity).toBe("flag");
  });
  it("gives fresh defaults without refused options", () => {
    const d = generation.defaults();
    expect(d).toEqual({ beam: 5, noRepeatNgramSize: 0, lenpen: 1, matchSourceLen: false, removeBpe: null, scoring: "bleu", lr: [0.25] });
    d.lr.push(1);
    expect(generation.defaults().lr).toEqual([0.25]);
    expectTypeOf(d).toEqualTypeOf<OptionsOf<typeof generation.declarations>>();
    expectTypeOf(d.scoring).toEqualTypeOf<"bleu" | "sacrebleu" | "chrf">();
    expectTypeOf(d.removeBpe).toEqualTypeOf<string | null>();
    expectTypeOf(d).not.toHaveProperty("fp16");
  });
  it("resolve overlays given values and checks each against its declaration", () => {
    expect(generation.resolve({ beam: 2, noRepeatNgramSize: 3 })).toMatchObject({ beam: 2, noRepeatNgramSize: 3, lenpen: 1 });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as OptionError;
      }
      throw new Error("no error");
    };
    const e1 = err(() => generation.resolve({ beam: 2.5 }));
    expect(e1).toBeInstanceOf(OptionError);
    expect([e1.group, e1.key]).toEqual(["generation", "beam"]);
    expect(e1.message).toBe("generation.beam: expected int, got 2.5");
    expect(err(() => generation.resolve({ scoring: "rouge" as never })).reason).toBe("invalid choice: 'rouge' (choose from 'bleu', 'sacrebleu', 'chrf')");
    expect(err(() => generation.resolve({ beem: 1 } as never)).reason).toMatch(/^unknown option \(known: beam, /);
    expect(err(() => generation.resolve({ fp16: true } as never)).reason).toBe("not supported: fairseq-ts computes in float32");
  });
  it("parse turns command-line text into checked values", () => {
    expect(generation.declarations.lr.parse("0.5,0.1")).toEqual([0.5, 0.1]);
    expect(() => generation.declarations.beam.parse("five")).toThrow("invalid int value: 'five'");
    expect(() => generation.declarations.scoring.parse("rouge")).toThrow(/invalid choice/);
  });
});
