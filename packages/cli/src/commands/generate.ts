import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { OptionError } from "@fairseq-ts/config";
import { resolveMaxPositions, type Sample } from "@fairseq-ts/data";
import { splitLines } from "@fairseq-ts/dictionary";
import {
  BleuScorer,
  CorpusRougeScorer,
  SequenceGenerator,
  chunkOptionsFrom,
  generateInChunks,
  SequenceScorer,
  attentionArgmax,
  extractHardAlignment,
  formatD,
  formatH,
  formatCorpusRouge,
  formatP,
  formatSacreBleu,
  generationOptions,
  generatorOptionsFrom,
  replaceUnk,
  rougeScoringOptions,
  sacreBleu,
  sacrebleuScoringOptions,
  scorers,
  type RougeScoringOptions,
  type SacrebleuScoringOptions,
} from "@fairseq-ts/generate";
import { asctime, formatFixed, formatPrecision } from "@fairseq-ts/logging";
import { disposeTensorSample, sampleToTensors } from "@fairseq-ts/models";
import { setupTranslation } from "../load-model.js";
import { alignDictOf } from "../generation-flags.js";
import { textCodec } from "../encoders.js";
import type { CommandSpec, ParsedCommand } from "../spec.js";
import {
  encoderSelectors,
  inferenceGroups,
  scoringSelector,
  taskSelector,
  translationInferenceConfig,
  translationSetupOf,
  type TranslationInferenceConfig,
} from "../command-groups.js";

/** The typed options of one `generate` command line, one object per option group. */
export interface GenerateConfig extends TranslationInferenceConfig {
  /** The selected scorer's options: `--scoring sacrebleu`'s or `--scoring rouge`'s (empty for bleu). */
  scoring: Partial<SacrebleuScoringOptions> | Partial<RougeScoringOptions>;
}

export function generateConfig(p: ParsedCommand): GenerateConfig {
  return { ...translationInferenceConfig(p), scoring: (p.options.scoring ?? {}) as GenerateConfig["scoring"] };
}

/**
 * `--rouge-extra-refs`: each file's lines, line i being another reference of sample id i, so each file has one line
 * per sentence of the split (generate prints in batch order; the references are looked up by id).
 */
function readExtraRefs(files: readonly string[], split: string, size: number): string[][] {
  return files.map((file) => {
    let lines: string[];
    try {
      lines = splitLines(readFileSync(file, "utf8"));
    } catch (err) {
      throw new OptionError("scoring", "rougeExtraRefs", `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (lines.length !== size)
      throw new OptionError(
        "scoring",
        "rougeExtraRefs",
        `${file} has ${lines.length} lines but the ${split} split has ${size} sentences (one line per sample id)`,
      );
    return lines;
  });
}

/** `fairseq-ts generate DATA --path CKPT`: fairseq-generate's flags and output lines. */
export const generateSpec: CommandSpec = {
  name: "generate",
  description: "translate a preprocessed split with a trained model (fairseq-generate)",
  positional: { name: "data", help: "path to data directory" },
  groups: [
    ...inferenceGroups("generate", { scores: true, decodesText: true }),
    {
      group: generationOptions,
      unused: [
        {
          keys: ["constraints"],
          reason:
            "fairseq-generate takes constraints from the dataset's samples, and a binarized translation split holds none (fairseq v0.10.2 fails in init_constraints on None, so it cannot use the flag either): give them to interactive, tab-separated after each source line",
        },
      ],
    },
  ],
  selectors: [taskSelector, ...encoderSelectors, scoringSelector],
  required: [{ group: "generation", key: "path" }],
  run: (p) => runGenerate(generateConfig(p)),
};

async function runGenerate(c: GenerateConfig): Promise<void> {
  if (c.common.task !== "translation")
    throw new OptionError("common", "task", `generate translates: '${c.common.task}' is not supported here (use eval-lm for language models)`);
  const g = c.generation;
  const d = c.dataset;
  const scoring = g.sacrebleu ? "sacrebleu" : c.common.scoring;
  if (scoring !== "bleu" && scoring !== "sacrebleu" && scoring !== "rouge")
    throw new OptionError("common", "scoring", `unknown scoring '${scoring}' (known: ${scorers.names().join(", ")})`);
  const sacreOptions = sacrebleuScoringOptions.resolve(scoring === "sacrebleu" ? (c.scoring as Partial<SacrebleuScoringOptions>) : {});
  const rougeOptions = rougeScoringOptions.resolve(scoring === "rouge" ? (c.scoring as Partial<RougeScoringOptions>) : {});
  if (rougeOptions.rougeBootstrap < 0) throw new OptionError("scoring", "rougeBootstrap", `must be >= 0, got ${rougeOptions.rougeBootstrap}`);
  // fairseq's --results-path: everything generate prints (log lines included) goes to RESULTS_PATH/generate-<subset>.txt
  const sink = resultsSink(g.resultsPath, d.genSubset);
  const log = (name: string, msg: string) => sink.write(`${asctime()} | INFO | ${name} | ${msg}\n`);
  log("fairseq_cli.generate", `loading model(s) from ${g.path}`);
  const { task, ensemble, lm } = await setupTranslation(c.data, translationSetupOf(c, d.datasetImpl), "generate");
  // disposed on every path: main() may run many times in one process (tests, embedding)
  try {
    const src = task.sourceDictionary;
    const tgt = task.targetDictionary;
    const removeBpe = g.removeBpe;
    const alignDict = alignDictOf(g.replaceUnk);
    const codec = textCodec(c.common, c.tokenizer, c.bpe, { source: task.sourceLang, target: task.targetLang });
    const printAlignment = g.printAlignment;
    const gen = new SequenceGenerator(ensemble, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, {
      ...generatorOptionsFrom(g, c.common.seed),
      lmModel: lm,
    });
    const chunking = chunkOptionsFrom(g);
    const ds = task.loadDataset(d.genSubset);
    // read before generating: a wrong file fails in a second, not after the whole split
    const extraRefs = scoring === "rouge" ? readExtraRefs(rougeOptions.rougeExtraRefs ?? [], d.genSubset, ds.length) : [];
    const itr = task.getBatchIterator(ds, {
      maxTokens: d.maxTokens,
      maxSentences: d.batchSize,
      // fairseq's resolve_max_positions(task.max_positions(), *[model.max_positions() for model in models])
      maxPositions: resolveMaxPositions(task.maxPositions(), ensemble.maxPositions()),
      ignoreInvalidInputs: d.skipInvalidSizeInputsValidTest,
      requiredBatchSizeMultiple: d.requiredBatchSizeMultiple,
      seed: c.common.seed,
      numShards: d.numShards,
      shardId: d.shardId,
    });
    const bleu = new BleuScorer(tgt.pad(), tgt.eos(), tgt.unk());
    // sacrebleu scores strings: fairseq's SacrebleuScorer.add_string(target_str, detok_hypo_str)
    const sacre = scoring === "sacrebleu" ? { refs: [] as string[], hyps: [] as string[] } : null;
    // ROUGE scores the same strings as sacrebleu (T line, D line), kept by sample id for the extra references
    const rougePairs = scoring === "rouge" ? new Map<number, { ref: string; hyp: string }>() : null;
    const scorer = new SequenceScorer(ensemble, tgt.pad());
    const quiet = g.quiet;
    let nsent = 0;
    let ntok = 0;
    let genTime = 0;
    const out: string[] = [];
    const flush = () => {
      if (out.length) sink.write(`${out.join("\n")}\n`);
      out.length = 0;
    };
    for (const s of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample | null>) {
      if (!s) continue;
      const t0 = performance.now();
      const ts = sampleToTensors(s);
      let hyps;
      try {
        const { srcTokens, srcLengths, prevOutputTokens } = ts.netInput;
        if (g.scoreReference) {
          hyps = scorer.score(srcTokens, srcLengths, prevOutputTokens!, ts.target);
        } else {
          const ps = g.prefixSize;
          const tcols = s.target?.cols ?? 0;
          const prefix = ps > 0 && s.target ? Array.from(s.id, (_, r) => s.target!.data.slice(r * tcols, r * tcols + Math.min(ps, tcols))) : null;
          hyps = generateInChunks(gen, srcTokens, srcLengths, prefix, chunking);
        }
      } finally {
        // also when generation throws (e.g. --min-len above the maximum length)
        disposeTensorSample(ts);
      }
      genTime += (performance.now() - t0) / 1000;
      const sc = s.netInput.srcTokens.cols;
      const tc = s.target!.cols;
      s.id.forEach((id, r) => {
        const srcTokens = s.netInput.srcTokens.data.slice(r * sc, (r + 1) * sc).filter((x) => x !== src.pad());
        const targetTokens = s.target!.data.slice(r * tc, (r + 1) * tc).filter((x) => x !== tgt.pad());
        // --replace-unk needs the words behind <unk>: fairseq takes the original text of a raw dataset
        const rawSrc = ds.src as { getOriginalText?: (i: number) => string };
        const rawTgt = ds.tgt as { getOriginalText?: (i: number) => string } | null;
        // fairseq's decode_fn (BPE removal, detokenization) on S and T, and on H for the D line
        const srcStr = codec.decode(alignDict && rawSrc.getOriginalText ? rawSrc.getOriginalText(id) : src.string(srcTokens, { bpeSymbol: removeBpe }));
        const targetStr = codec.decode(
          alignDict && rawTgt?.getOriginalText ? rawTgt.getOriginalText(id) : tgt.string(targetTokens, { bpeSymbol: removeBpe, escapeUnk: true }),
        );
        const srcRow = s.netInput.srcTokens.data.subarray(r * sc, (r + 1) * sc);
        if (!quiet) {
          out.push(`S-${id}\t${srcStr}`);
          out.push(`T-${id}\t${targetStr}`);
        }
        hyps[r]!.forEach((h, j) => {
          let hypoStr = tgt.string(h.tokens, { bpeSymbol: removeBpe });
          if (alignDict && h.attention) hypoStr = replaceUnk(hypoStr, srcStr, attentionArgmax(h.attention, srcRow, src.pad()), alignDict, tgt.unkString());
          if (!quiet) {
            out.push(formatH(id, h.score, hypoStr));
            out.push(formatD(id, h.score, codec.decode(hypoStr)));
            out.push(formatP(id, h.positionalScores));
            if (printAlignment && h.attention) {
              const a = extractHardAlignment(h.attention, srcRow, h.tokens, tgt.pad(), tgt.eos());
              out.push(`A-${id}\t${a.map(([si, ti]) => `${si}-${ti}`).join(" ")}`);
            }
          }
          if (j === 0 && rougePairs) {
            rougePairs.set(id, { ref: targetStr, hyp: codec.decode(hypoStr) });
          } else if (j === 0 && sacre) {
            sacre.refs.push(targetStr);
            sacre.hyps.push(codec.decode(hypoStr));
          } else if (j === 0) {
            if (removeBpe !== null || alignDict) bleu.add(tgt.encodeLine(targetStr), tgt.encodeLine(hypoStr));
            else bleu.add(targetTokens, h.tokens);
          }
        });
        ntok += hyps[r]![0]?.tokens.length ?? 0;
      });
      nsent += s.id.length;
      flush();
    }
    log("fairseq_cli.generate", "NOTE: hypothesis and token scores are output in base 2");
    log(
      "fairseq_cli.generate",
      `Translated ${nsent} sentences (${ntok} tokens) in ${formatFixed(genTime, 1)}s (${formatFixed(nsent / genTime, 2)} sentences/s, ${formatFixed(ntok / genTime, 2)} tokens/s)`,
    );
    void formatPrecision;
    const result = rougePairs
      ? formatCorpusRouge(rougeOf(rougePairs, extraRefs, rougeOptions))
      : sacre
        ? formatSacreBleu(
            sacreBleu(sacre.hyps, [sacre.refs], {
              tokenize: sacreOptions.sacrebleuTokenizer as "13a" | "none",
              lowercase: sacreOptions.sacrebleuLowercase as boolean,
            }),
          )
        : bleu.resultString();
    sink.write(`Generate ${d.genSubset} with beam=${g.beam}: ${result}\n`);
    sink.commit();
  } finally {
    sink.close();
    ensemble.dispose();
    lm?.dispose();
  }
}

/** The corpus ROUGE of generate's first hypotheses, in sample-id order (the bootstrap resamples in that order). */
function rougeOf(pairs: Map<number, { ref: string; hyp: string }>, extraRefs: string[][], o: RougeScoringOptions) {
  const scorer = new CorpusRougeScorer({ useStemmer: o.rougeStemmer, bootstrap: o.rougeBootstrap, seed: o.rougeSeed });
  for (const id of [...pairs.keys()].sort((a, b) => a - b)) {
    const { ref, hyp } = pairs.get(id)!;
    scorer.add([ref, ...extraRefs.map((lines) => lines[id]!)], hyp);
  }
  return scorer.result();
}

/**
 * Where generate writes: standard output, or (--results-path DIR) DIR/generate-SUBSET.txt as fairseq does. The file is
 * written under a `.partial` name and renamed when generation has finished, so a run that fails leaves no complete-looking
 * results file (the partial one stays for inspection).
 */
function resultsSink(resultsPath: string | null, subset: string): { write(s: string): void; commit(): void; close(): void } {
  if (resultsPath === null) return { write: (s) => void process.stdout.write(s), commit: () => {}, close: () => {} };
  const file = join(resultsPath, `generate-${subset}.txt`);
  const partial = `${file}.partial`;
  let fd: number;
  try {
    mkdirSync(resultsPath, { recursive: true });
    fd = openSync(partial, "w");
  } catch (e) {
    throw new OptionError("generation", "resultsPath", `cannot write ${partial}: ${(e as Error).message}`);
  }
  let open = true;
  return {
    write: (s) => void writeSync(fd, s),
    commit: () => {
      closeSync(fd);
      open = false;
      renameSync(partial, file);
    },
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
