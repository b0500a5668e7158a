/**
 * The generate package's option groups, declared once: fairseq's `GenerationConfig` (with the evaluation
 * options fairseq adds beside it: --path, --remove-bpe, --quiet, ...), fairseq-interactive's group and the
 * scorers' options. The CLI derives its flags from these; `generatorOptionsFrom` turns the typed group into
 * what `SequenceGenerator` takes.
 */
import { defineOptions, opt, Registry, type AnyOptionGroup, type OptionsOf } from "@fairseq-ts/config";
import type { ChunkOptions } from "./chunked-generation.js";
import type { GeneratorOptions } from "./sequence-generator.js";

/** fairseq v0.10.2 reads these only in IterativeRefinementGenerator (--task translation_lev's models). */
const ITERATIVE =
  "applies to non-autoregressive models only: iterative refinement decoding (fairseq's --task translation_lev models: Levenshtein, NAT, CMLM), which fairseq-ts does not have; beam search does not read it";
/** What fairseq v0.10.2 does with --print-step / --retain-iter-history when the model is autoregressive. */
const ITERATIVE_OUTPUT = (what: string, key: string) =>
  `applies to non-autoregressive models only: ${what} come from iterative refinement decoding (fairseq's --task translation_lev models, which fairseq-ts does not have); with an autoregressive model's beam search fairseq-generate stops on KeyError '${key}' (its hypotheses have none) and fairseq-interactive ignores the flag`;

const MODEL_OVERRIDES_HELP =
  "a Python dict literal of args replacing the checkpoint's stored ones before each model is built, e.g. \"{'dropout': 0.2}\" (fairseq's arg_overrides)";

/** fairseq's "Generation" group as fairseq-generate and fairseq-interactive parse it. */
export const generationOptions = defineOptions("generation", {
  path: opt.str(null, "path(s) to model file(s), colon separated (an ensemble; fairseq .pt or fairseq-ts .safetensors)", { metavar: "FILE" }),
  removeBpe: opt.str(null, "remove BPE tokens before scoring (the flag alone: '@@ ')", { const: "@@ ", aliases: ["--post-process"], metavar: "SYMBOL" }),
  quiet: opt.flag("only print final scores"),
  modelOverrides: opt.str("{}", MODEL_OVERRIDES_HELP, { metavar: "DICT" }),
  resultsPath: opt.str(null, "write generate's output to RESULTS_PATH/generate-<gen-subset>.txt instead of standard output", { metavar: "RESULTS_PATH" }),
  beam: opt.int(5, "beam size", { metavar: "N" }),
  nbest: opt.int(1, "number of hypotheses to output", { metavar: "N" }),
  maxLenA: opt.float(0, "generate sequences of maximum length ax + b, where x is the source length", { metavar: "N" }),
  maxLenB: opt.int(200, "generate sequences of maximum length ax + b, where x is the source length", { metavar: "N" }),
  minLen: opt.float(1, "minimum generation length", { metavar: "N" }),
  matchSourceLen: opt.flag("generations should match the source length"),
  noEarlyStop: opt.flag("deprecated in fairseq 0.10.2, where it has no effect (accepted, and it has none here either)"),
  unnormalized: opt.flag("compare unnormalized hypothesis scores"),
  noBeamableMm: opt.refused("needs a GPU: BeamableMM is a CUDA memory optimization of the attention; fairseq-ts has none to turn off", "flag"),
  lenpen: opt.float(1, "length penalty: <1.0 favors shorter, >1.0 favors longer sentences"),
  unkpen: opt.float(0, "unknown word penalty: <0 produces more unks, >0 produces fewer"),
  replaceUnk: opt.str(null, "perform unknown replacement (optionally with alignment dictionary)", { const: "", metavar: "FILE" }),
  sacrebleu: opt.flag("score with sacrebleu (fairseq 0.10.2's deprecated spelling of --scoring sacrebleu)"),
  scoreReference: opt.flag("just score the reference translation"),
  prefixSize: opt.int(0, "initialize generation by target prefix of given length", { metavar: "PS" }),
  noRepeatNgramSize: opt.int(0, "ngram blocking such that this size ngram cannot be repeated in the generation", { metavar: "N" }),
  sampling: opt.flag("sample hypotheses instead of using beam search"),
  samplingTopk: opt.int(-1, "sample from top K likely next words instead of all words", { metavar: "PS" }),
  samplingTopp: opt.float(-1, "sample from the smallest set whose cumulative probability mass exceeds p for next words", { metavar: "PS" }),
  constraints: opt.choice(
    ["ordered", "unordered"],
    null,
    "enables lexically constrained decoding (interactive: constraints follow the source on each line, tab-separated)",
    {
      const: "ordered",
    },
  ),
  temperature: opt.float(1, "temperature for generation", { metavar: "N" }),
  diverseBeamGroups: opt.int(-1, "number of groups for Diverse Beam Search", { metavar: "N" }),
  diverseBeamStrength: opt.float(0.5, "strength of diversity penalty for Diverse Beam Search", { metavar: "N" }),
  diversityRate: opt.float(-1, "strength of diversity penalty for Diverse Siblings Search", { metavar: "N" }),
  printAlignment: opt.flag("if set, uses attention feedback to compute and print alignment to source tokens"),
  printStep: opt.refused(ITERATIVE_OUTPUT("the I- lines (decoding steps per hypothesis)", "steps"), "flag"),
  lmPath: opt.str(null, "path to lm checkpoint for lm fusion (a language model over the target dictionary)", { metavar: "PATH" }),
  lmWeight: opt.float(0, "weight for lm probs for lm fusion", { metavar: "N" }),
  iterDecodeEosPenalty: opt.refused(ITERATIVE),
  iterDecodeMaxIter: opt.refused(ITERATIVE),
  iterDecodeForceMaxIter: opt.refused(ITERATIVE, "flag"),
  iterDecodeWithBeam: opt.refused(ITERATIVE),
  iterDecodeWithExternalReranker: opt.refused(ITERATIVE, "flag"),
  retainIterHistory: opt.refused(ITERATIVE_OUTPUT("the E- lines (the hypothesis after each refinement iteration)", "history"), "flag"),
  retainDropout: opt.flag("keep dropout on during generation (Monte Carlo dropout; its masks follow --seed)"),
  retainDropoutModules: opt.strList(
    null,
    "with --retain-dropout, keep it only in these modules (fairseq class names: TransformerEncoderLayer, TransformerDecoderLayer, MultiheadAttention, TransformerEncoder, TransformerDecoder, LSTMEncoder, LSTMDecoder, ...)",
    { arity: "list", metavar: "MODULE" },
  ),
  decodingFormat: opt.refused(ITERATIVE),
  /** fairseq-ts only. */
  microBatchTokens: opt.int(
    16384,
    "fairseq-ts: generate each batch in row chunks of at most N padded source tokens x beam (bounds the memory of long sources: encoder outputs and attention caches are per beam); same hypotheses (scores may differ in the last float digits); 0: never split; not with --sampling or --match-source-len",
    { metavar: "N" },
  ),
});
export type GenerationOptions = OptionsOf<typeof generationOptions.declarations>;

/** fairseq-interactive's own group. */
export const interactiveOptions = defineOptions("interactive", {
  bufferSize: opt.int(0, "read this many sentences into a buffer before processing them (0 or 1: one at a time)", { metavar: "N" }),
  input: opt.str("-", "file to read from; - for stdin", { metavar: "FILE" }),
});
export type InteractiveOptions = OptionsOf<typeof interactiveOptions.declarations>;

/** `--scoring sacrebleu`'s options (fairseq's `SacrebleuConfig`). */
export const sacrebleuScoringOptions = defineOptions("scoring", {
  sacrebleuTokenizer: opt.choice(["13a", "none"], "13a", "sacrebleu tokenizer (13a or none)", { metavar: "TOK" }),
  sacrebleuLowercase: opt.flag("lowercase before sacrebleu"),
  sacrebleuCharLevel: opt.refused("character-level sacrebleu is not implemented", "flag"),
});
export type SacrebleuScoringOptions = OptionsOf<typeof sacrebleuScoringOptions.declarations>;

/**
 * ROUGE's options (fairseq-ts only), shared by `generate --scoring rouge` and `score --rouge`: both spread these
 * declarations into their group, so each flag is declared once.
 */
export const rougeScoringOptions = defineOptions("scoring", {
  rougeStemmer: opt.flag("ROUGE with NLTK's Porter stemmer (rouge-score's use_stemmer)"),
  rougeExtraRefs: opt.strList(
    null,
    "more reference files (line i of each is another reference of line i, for generate: of sample id i): ROUGE takes, per type, the reference with the best F1 (rouge-score's score_multi)",
    { metavar: "FILE,FILE" },
  ),
  rougeBootstrap: opt.int(0, "also print rouge-score's BootstrapAggregator low/mid/high F1 over this many resamples (seeded by --rouge-seed)", {
    metavar: "N",
  }),
  rougeSeed: opt.int(1, "seed of the ROUGE bootstrap resampling", { metavar: "N" }),
});
export type RougeScoringOptions = OptionsOf<typeof rougeScoringOptions.declarations>;

/** A `--scoring` entry: its options (null when it has none). */
export interface ScorerEntry {
  readonly options: AnyOptionGroup | null;
}

/**
 * fairseq's scorer registry (`--scoring`): bleu (fairseq's, on token ids), sacrebleu (detokenized text) and, fairseq-ts
 * only, rouge (rouge-score's ROUGE-1/2/L/Lsum on detokenized text).
 */
export const scorers = new Registry<ScorerEntry>("scoring", (r) => {
  r.register("bleu", { options: null });
  r.register("sacrebleu", { options: sacrebleuScoringOptions });
  r.register("rouge", { options: rougeScoringOptions });
});

/**
 * The generator's options from the typed generation group (and the seed, from the common options).
 * `retainAttention` follows --print-alignment and --replace-unk, which need the attention.
 */
export function generatorOptionsFrom(g: GenerationOptions, seed: number): GeneratorOptions {
  return {
    beam: g.beam,
    nbest: g.nbest,
    maxLenA: g.maxLenA,
    maxLenB: g.maxLenB,
    minLen: g.minLen,
    lenpen: g.lenpen,
    unkpen: g.unkpen,
    temperature: g.temperature,
    noRepeatNgramSize: g.noRepeatNgramSize,
    matchSourceLen: g.matchSourceLen,
    normalizeScores: !g.unnormalized,
    sampling: g.sampling,
    samplingTopk: g.samplingTopk,
    samplingTopp: g.samplingTopp,
    diverseBeamGroups: g.diverseBeamGroups,
    diverseBeamStrength: g.diverseBeamStrength,
    diversityRate: g.diversityRate,
    constraints: g.constraints,
    seed,
    retainAttention: g.printAlignment || g.replaceUnk !== null,
    // (the language model itself, from --lm-path, is loaded by the caller and added as `lmModel`)
    lmWeight: g.lmWeight,
  };
}

/** How `generateInChunks` splits a batch under the generation group's flags (--micro-batch-tokens, --beam). */
export function chunkOptionsFrom(g: GenerationOptions): ChunkOptions {
  return { beam: g.beam, maxTokens: g.microBatchTokens, independentRows: !g.sampling && !g.matchSourceLen };
}

/** fairseq-eval-lm's "LM Evaluation" group. */
export const evalLmOptions = defineOptions("eval_lm", {
  path: opt.str(
    null,
    "path(s) to model file(s), colon separated (an ensemble: the log of the mean of their probabilities; fairseq .pt or fairseq-ts .safetensors)",
    { metavar: "FILE" },
  ),
  removeBpe: opt.refused("word-level scores over BPE pieces (--remove-bpe in eval-lm) are not implemented", "optional"),
  quiet: opt.refused("eval-lm prints only its summary lines (there is nothing to quiet)", "flag"),
  modelOverrides: opt.str("{}", MODEL_OVERRIDES_HELP, { metavar: "DICT" }),
  resultsPath: opt.refused("fairseq-ts writes results to standard output (redirect it)"),
  outputWordProbs: opt.refused("per-word log-probabilities (--output-word-probs) are not printed by fairseq-ts", "flag"),
  outputWordStats: opt.refused("per-word statistics (--output-word-stats) are not printed by fairseq-ts", "flag"),
  contextWindow: opt.int(0, "ensures that every evaluated token has access to a context of at least this size, if possible", { metavar: "N" }),
  softmaxBatch: opt.refused("use --micro-batch-tokens, which bounds the rows scored at once (the logits) in the same way"),
  /** fairseq-ts only. */
  microBatchTokens: opt.int(2048, "fairseq-ts: score each batch in row chunks of at most N padded tokens (bounds memory: logits are tokens x vocab)", {
    metavar: "N",
  }),
});
export type EvalLmOptions = OptionsOf<typeof evalLmOptions.declarations>;
