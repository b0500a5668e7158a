import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { parseAlignDict, type GeneratorOptions } from "@fairseq-ts/generate";
import { float, int } from "./flags.js";

/** fairseq's generation flags (shared by generate and interactive), with fairseq's defaults. */
export function addGenerationFlags(cmd: Command): Command {
  return cmd
    .option("--beam <N>", "beam size", int, 5)
    .option("--nbest <N>", "number of hypotheses to output", int, 1)
    .option("--max-len-a <N>", "generate sequences of maximum length ax + b", float, 0)
    .option("--max-len-b <N>", "generate sequences of maximum length ax + b", int, 200)
    .option("--min-len <N>", "minimum generation length", int, 1)
    .option("--lenpen <N>", "length penalty: <1.0 favors shorter, >1.0 favors longer sentences", float, 1)
    .option("--unkpen <N>", "unknown word penalty", float, 0)
    .option("--temperature <N>", "temperature for generation", float, 1)
    .option("--no-repeat-ngram-size <N>", "ngram blocking such that this size ngram cannot be repeated", int, 0)
    .option("--match-source-len", "generations should match the source length", false)
    .option("--unnormalized", "compare unnormalized hypothesis scores", false)
    .option("--sampling", "sample hypotheses instead of using beam search", false)
    .option("--sampling-topk <N>", "sample from the top k outcomes", int, -1)
    .option("--sampling-topp <P>", "sample from the smallest set whose cumulative probability mass exceeds p", float, -1)
    .option("--diverse-beam-groups <N>", "number of groups for Diverse Beam Search", int, -1)
    .option("--diverse-beam-strength <N>", "strength of diversity penalty for Diverse Beam Search", float, 0.5)
    .option("--seed <N>", "random seed", int, 1)
    .option("--remove-bpe, --post-process [SYMBOL]", "remove BPE tokens before scoring (default @@ )")
    .option("--print-alignment", "use attention feedback to compute and print alignment to source tokens", false)
    .option("--replace-unk [FILE]", "perform unknown replacement (optionally with alignment dictionary)");
}

/** `--replace-unk [FILE]`: null when off; an alignment dictionary (empty = copy the source word) when on. */
export function alignDictFromFlags(o: Record<string, unknown>): Map<string, string> | null {
  const v = o.replaceUnk as string | boolean | undefined;
  if (v === undefined || v === false) return null;
  if (v === true) return parseAlignDict(null);
  try {
    return parseAlignDict(readFileSync(v, "utf8"));
  } catch (err) {
    throw new Error(`--replace-unk ${v}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/** The generator's options from parsed generation flags. */
export function generatorOptions(o: Record<string, unknown>): GeneratorOptions {
  return {
    beam: o.beam as number,
    nbest: o.nbest as number,
    maxLenA: o.maxLenA as number,
    maxLenB: o.maxLenB as number,
    minLen: o.minLen as number,
    lenpen: o.lenpen as number,
    unkpen: o.unkpen as number,
    temperature: o.temperature as number,
    noRepeatNgramSize: o.noRepeatNgramSize as number,
    matchSourceLen: o.matchSourceLen as boolean,
    normalizeScores: !(o.unnormalized as boolean),
    sampling: o.sampling as boolean,
    samplingTopk: o.samplingTopk as number,
    samplingTopp: o.samplingTopp as number,
    diverseBeamGroups: o.diverseBeamGroups as number,
    diverseBeamStrength: o.diverseBeamStrength as number,
    seed: o.seed as number,
    retainAttention: (o.printAlignment as boolean) || (o.replaceUnk !== undefined && o.replaceUnk !== false),
  };
}

/** `--remove-bpe` as given: the flag alone means "@@ ". */
export function removeBpeSymbol(o: Record<string, unknown>): string | null {
  return o.removeBpe === true ? "@@ " : ((o.removeBpe as string | undefined) ?? null);
}
