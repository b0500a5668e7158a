import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { Dictionary, splitLines } from "@fairseq-ts/dictionary";
import { BleuScorer, formatSacreBleu, sacreBleu } from "@fairseq-ts/generate";
import { int } from "../flags.js";

/** `fairseq-ts score --sys FILE --ref FILE`: fairseq-score's corpus and sentence BLEU. */
export function registerScore(program: Command): void {
  program
    .command("score")
    .description("BLEU of a system output against references (fairseq-score)")
    .requiredOption("-s, --sys <FILE>", "system output")
    .requiredOption("-r, --ref <FILE>", "references")
    .option("-o, --order <N>", "consider ngrams up to this order", int, 4)
    .option("--ignore-case", "case-insensitive scoring", false)
    .option("--sentence-bleu", "report sentence-level BLEUs (i.e., with +1 smoothing)", false)
    .option("--sacrebleu", "score with sacrebleu (13a tokenization of detokenized text)", false)
    .action((o: { sys: string; ref: string; order: number; ignoreCase: boolean; sentenceBleu: boolean; sacrebleu: boolean }) => {
      const read = (p: string, flag: string) => {
        try {
          return splitLines(readFileSync(p, "utf8"));
        } catch (err) {
          throw new Error(`${flag} ${p}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
        }
      };
      // fairseq-score prints its arguments first.
      const py = (v: unknown) => (typeof v === "string" ? `'${v}'` : typeof v === "boolean" ? (v ? "True" : "False") : String(v));
      process.stdout.write(`Namespace(sys=${py(o.sys)}, ref=${py(o.ref)}, order=${o.order}, ignore_case=${py(o.ignoreCase)}, sacrebleu=${py(o.sacrebleu)}, sentence_bleu=${py(o.sentenceBleu)})\n`);
      let sys = read(o.sys, "--sys");
      let ref = read(o.ref, "--ref");
      if (sys.length !== ref.length) throw new Error(`--sys has ${sys.length} lines but --ref has ${ref.length}`);
      if (o.ignoreCase) {
        sys = sys.map((l) => l.toLowerCase());
        ref = ref.map((l) => l.toLowerCase());
      }
      if (o.sacrebleu) {
        process.stdout.write(`${formatSacreBleu(sacreBleu(sys, [ref]))}\n`);
        return;
      }
      // fairseq-score: a fresh dictionary, both sides encoded with add_if_not_exist.
      const dict = new Dictionary();
      const scorer = new BleuScorer(dict.pad(), dict.eos(), dict.unk());
      if (o.sentenceBleu) {
        sys.forEach((s, i) => {
          scorer.reset(true);
          scorer.add(dict.encodeLine(ref[i]!), dict.encodeLine(s));
          process.stdout.write(`${i} ${scorer.resultString(o.order)}\n`);
        });
      } else {
        sys.forEach((s, i) => scorer.add(dict.encodeLine(ref[i]!), dict.encodeLine(s)));
        process.stdout.write(`${scorer.resultString(o.order)}\n`);
      }
    });
}
