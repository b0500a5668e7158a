import { readFileSync } from "node:fs";
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";
import { Dictionary, splitLines } from "@fairseq-ts/dictionary";
import { BleuScorer, BootstrapAggregator, RougeScorer, formatSacreBleu, rougeScoringOptions, sacreBleu, type RougeScore } from "@fairseq-ts/generate";
import type { CommandSpec, ParsedCommand } from "../spec.js";

/** fairseq-score's options (fairseq_cli/score.py's own parser). */
export const scoreOptions = defineOptions("score", {
  sys: opt.str("-", "system output (- for standard input)", { aliases: ["-s"], metavar: "FILE" }),
  ref: opt.str(null, "references", { aliases: ["-r"], metavar: "FILE" }),
  order: opt.int(4, "consider ngrams up to this order", { aliases: ["-o"], metavar: "N" }),
  ignoreCase: opt.flag("case-insensitive scoring"),
  sacrebleu: opt.flag("score with sacrebleu"),
  sentenceBleu: opt.flag("report sentence-level BLEUs (i.e., with +1 smoothing)"),
  rouge: opt.flag("score with ROUGE-1/2/L as Google's rouge-score: mean precision, recall and F1 over the lines"),
  ...rougeScoringOptions.declarations,
});
export type ScoreOptions = OptionsOf<typeof scoreOptions.declarations>;

/** `fairseq-ts score --sys FILE --ref FILE`: fairseq-score's corpus and sentence BLEU. */
export const scoreSpec: CommandSpec = {
  name: "score",
  description: "BLEU of a system output against references (fairseq-score), or ROUGE with --rouge",
  groups: [{ group: scoreOptions }],
  required: [{ group: "score", key: "ref" }],
  run: (p: ParsedCommand) => runScore(p.options.score as ScoreOptions),
};

/** Standard input as text, read asynchronously (a blocking read would stall an embedding process). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

async function runScore(o: ScoreOptions): Promise<void> {
  const read = async (p: string, flag: string) => {
    // fairseq-score reads standard input for `--sys -`
    if (p === "-") return splitLines(await readStdin());
    try {
      return splitLines(readFileSync(p, "utf8"));
    } catch (err) {
      throw new Error(`${flag} ${p}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  // fairseq-score prints its arguments first.
  const py = (v: unknown) => (typeof v === "string" ? `'${v}'` : typeof v === "boolean" ? (v ? "True" : "False") : String(v));
  process.stdout.write(
    `Namespace(sys=${py(o.sys)}, ref=${py(o.ref)}, order=${o.order}, ignore_case=${py(o.ignoreCase)}, sacrebleu=${py(o.sacrebleu)}, sentence_bleu=${py(o.sentenceBleu)})\n`,
  );
  let ref = await read(o.ref!, "--ref");
  let sys = await read(o.sys, "--sys");
  if (sys.length !== ref.length) throw new Error(`--sys has ${sys.length} lines but --ref has ${ref.length}`);
  if (o.ignoreCase) {
    sys = sys.map((l) => l.toLowerCase());
    ref = ref.map((l) => l.toLowerCase());
  }
  if (o.rouge) {
    const refs = [ref];
    for (const p of o.rougeExtraRefs ?? []) {
      const extra = await read(p, "--rouge-extra-refs");
      if (extra.length !== sys.length) throw new Error(`--rouge-extra-refs ${p} has ${extra.length} lines but --sys has ${sys.length}`);
      refs.push(extra);
    }
    if (o.rougeBootstrap < 0) throw new Error(`--rouge-bootstrap must be >= 0, got ${o.rougeBootstrap}`);
    process.stdout.write(rougeReport(sys, refs, o.rougeStemmer, o.rougeBootstrap, o.rougeSeed));
    return;
  }
  if (o.rougeExtraRefs !== null || o.rougeStemmer || o.rougeBootstrap !== 0)
    throw new Error("--rouge-stemmer, --rouge-extra-refs and --rouge-bootstrap need --rouge");
  if (o.sacrebleu) {
    process.stdout.write(`${formatSacreBleu(sacreBleu(sys, [ref]))}\n`);
    return;
  }
  // fairseq-score: a fresh dictionary, both sides encoded with add_if_not_exist, each system line before its
  // reference (the ids matter: libbleu compares n-grams by a hash that collides for some id pairs)
  const dict = new Dictionary();
  const scorer = new BleuScorer(dict.pad(), dict.eos(), dict.unk());
  const add = (s: string, i: number) => {
    const sysTok = dict.encodeLine(s);
    scorer.add(dict.encodeLine(ref[i]!), sysTok);
  };
  if (o.sentenceBleu) {
    sys.forEach((s, i) => {
      scorer.reset(true);
      add(s, i);
      process.stdout.write(`${i} ${scorer.resultString(o.order)}\n`);
    });
  } else {
    sys.forEach(add);
    process.stdout.write(`${scorer.resultString(o.order)}\n`);
  }
}

/**
 * One line per ROUGE type: the mean over lines of each example's precision, recall and F1 (rouge-score's per-example
 * scores; with several references, `score_multi`'s best-F1 reference per type), then, when asked, the bootstrap
 * low/mid/high F1.
 */
function rougeReport(sys: string[], refs: string[][], useStemmer: boolean, bootstrap: number, seed: number): string {
  const types = ["rouge1", "rouge2", "rougeL"];
  const scorer = new RougeScorer(types, useStemmer);
  const aggregator = bootstrap > 0 ? new BootstrapAggregator({ nSamples: bootstrap, seed }) : null;
  const sums = new Map(types.map((t) => [t, { precision: 0, recall: 0, fmeasure: 0 } as RougeScore]));
  sys.forEach((s, i) => {
    const scores =
      refs.length === 1
        ? scorer.score(refs[0]![i]!, s)
        : scorer.scoreMulti(
            refs.map((r) => r[i]!),
            s,
          );
    aggregator?.addScores(scores);
    for (const t of types) {
      const sum = sums.get(t)!;
      sum.precision += scores[t]!.precision;
      sum.recall += scores[t]!.recall;
      sum.fmeasure += scores[t]!.fmeasure;
    }
  });
  const n = Math.max(sys.length, 1);
  const f = (x: number) => (x / n).toFixed(6);
  const what = `${sys.length} lines${refs.length > 1 ? `, ${refs.length} references` : ""}${useStemmer ? ", stemmed" : ""}`;
  let out = types.map((t) => `${t}: P = ${f(sums.get(t)!.precision)} R = ${f(sums.get(t)!.recall)} F = ${f(sums.get(t)!.fmeasure)} (${what})\n`).join("");
  if (aggregator !== null) {
    const agg = aggregator.aggregate();
    const g = (x: number) => x.toFixed(6);
    for (const t of types)
      out += `${t} F bootstrap (${bootstrap} resamples, 95%): low = ${g(agg[t]!.low.fmeasure)} mid = ${g(agg[t]!.mid.fmeasure)} high = ${g(agg[t]!.high.fmeasure)}\n`;
  }
  return out;
}
