/**
 * parseCommand: a command line becomes one typed object per option group, the objects the library calls take
 * (nothing runs). The flags issue #22 named, component flags that exist only for the selected component, and
 * argparse's spelling rules.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CommanderError } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generatorOptionsFrom, type GenerationOptions } from "@fairseq-ts/generate";
import { main, parseCommand } from "../src/index.js";

const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), "fixtures/plugin-arch");
const GEN = ["generate", "DATA", "--path", "m.pt"];

async function usageError(argv: string[]): Promise<string> {
  try {
    await parseCommand(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(CommanderError);
    // (commander gives unknown options exit code 1; main() reports every usage error with 2)
    expect((err as CommanderError).exitCode).not.toBe(0);
    return (err as CommanderError).message;
  }
  throw new Error(`${argv.join(" ")}: parsed`);
}

describe("parseCommand", () => {
  let stderr: { mockRestore(): void };
  beforeAll(() => {
    stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterAll(() => stderr.mockRestore());

  it("--no-repeat-ngram-size N and --match-source-len reach the generator's options (no --no-X negation)", async () => {
    const p = await parseCommand([...GEN, "--no-repeat-ngram-size", "2", "--match-source-len", "--beam", "4"]);
    const g = generatorOptionsFrom(p.options.generation as GenerationOptions, 1);
    expect(g.noRepeatNgramSize).toBe(2);
    expect(g.matchSourceLen).toBe(true);
    expect(g.beam).toBe(4);
    const unset = generatorOptionsFrom((await parseCommand(GEN)).options.generation as GenerationOptions, 1);
    expect([unset.noRepeatNgramSize, unset.matchSourceLen]).toEqual([0, false]);
  });

  it("--skip-invalid-size-inputs-valid-test and --max-source/target-positions reach every command that reads data", async () => {
    for (const argv of [GEN, ["interactive", "DATA", "--path", "m.pt"], ["train", "DATA", "--arch", "transformer"]]) {
      const p = await parseCommand([...argv, "--skip-invalid-size-inputs-valid-test", "--max-source-positions", "7", "--max-target-positions", "9"]);
      expect(p.options.dataset!.skipInvalidSizeInputsValidTest, argv[0]).toBe(true);
      expect([p.options.task!.maxSourcePositions, p.options.task!.maxTargetPositions], argv[0]).toEqual([7, 9]);
    }
    const lm = await parseCommand(["eval-lm", "DATA", "--path", "m.pt", "--max-target-positions", "9"]);
    expect(lm.options.task!.maxTargetPositions).toBe(9);
  });

  it("argparse spellings: --flag=value, unique prefixes, ambiguous prefixes are errors", async () => {
    const p = await parseCommand([...GEN, "--beam=3", "--nbe", "2", "--lenp", "0.6"]);
    expect([p.options.generation!.beam, p.options.generation!.nbest, p.options.generation!.lenpen]).toEqual([3, 2, 0.6]);
    expect(await usageError([...GEN, "--max-tok", "100"])).toMatch(/ambiguous option: --max-tok could match --max-tokens, --max-tokens-valid/);
  });

  it("a component's flags exist only when it is selected (fairseq's add_args)", async () => {
    expect(await usageError(["train", "DATA", "--arch", "transformer", "--adam-betas", "(0.9, 0.98)"])).toMatch(/unknown option '--adam-betas'/);
    const adam = await parseCommand(["train", "DATA", "--arch", "transformer", "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)"]);
    expect(adam.options.optimizer!.adamBetas).toBe("(0.9, 0.98)");
    expect(await usageError(["train", "DATA", "--arch", "transformer", "--encoder-hidden-size", "8"])).toMatch(/unknown option '--encoder-hidden-size'/);
    const lstm = await parseCommand(["train", "DATA", "--arch", "lstm", "--encoder-hidden-size", "8"]);
    expect(lstm.options.model!.encoder_hidden_size).toBe(8);
    // model flags are unset unless given: the architecture preset fills them
    expect(lstm.options.model!.decoder_hidden_size).toBeNull();
    expect(await usageError([...GEN, "--bpe-codes", "codes"])).toMatch(/unknown option '--bpe-codes'/);
    expect((await parseCommand([...GEN, "--bpe", "subword_nmt", "--bpe-codes", "codes"])).options.bpe!.bpeCodes).toBe("codes");
  });

  it("a model registered from --user-dir brings its model's flags", async () => {
    const p = await parseCommand(["train", "DATA", "--user-dir", PLUGIN, "--arch", "transformer_plugin_tiny", "--encoder-layers", "2"]);
    expect(p.options.model).toMatchObject({ arch: "transformer_plugin_tiny", encoder_layers: 2 });
  });

  it("refused flags and a library's OptionError stop with exit 2, naming the flag", async () => {
    expect(await usageError([...GEN, "--fp16"])).toBe(
      "error: option '--fp16': not supported by fairseq-ts: fairseq-ts computes in float32 on the CPU (no half precision, no loss scaling)",
    );
    expect(await usageError(["train", "DATA", "--arch", "transformer", "--gen-subset", "x"])).toMatch(
      /option '--gen-subset': not supported by fairseq-ts: a generation option/,
    );
    const lines: string[] = [];
    stderr.mockRestore();
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s) => (lines.push(String(s)), true));
    try {
      // generate's library call refuses a language-modeling task: the error names --task
      expect(await main([...GEN, "--task", "language_modeling"])).toBe(2);
    } finally {
      spy.mockRestore();
      stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    }
    expect(lines.join("")).toMatch(/^error: option '--task': generate translates/);
  });
});
