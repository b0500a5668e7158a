import type { Command } from "commander";
import { parseBackendName } from "@fairseq-ts/backend";
import { resolveMaxPositions, type Sample } from "@fairseq-ts/data";
import { BleuScorer, SequenceGenerator, SequenceScorer, attentionArgmax, extractHardAlignment, formatD, formatH, formatP, formatSacreBleu, replaceUnk, sacreBleu } from "@fairseq-ts/generate";
import { asctime, formatFixed, formatPrecision } from "@fairseq-ts/logging";
import { disposeTensorSample, sampleToTensors, type EncoderDecoderModel } from "@fairseq-ts/models";
import { bool, choice, int } from "../flags.js";
import { setupTranslation } from "../load-model.js";
import { addGenerationFlags, alignDictFromFlags, generatorOptions, removeBpeSymbol } from "../generation-flags.js";
import { addEncoderFlags, textCodec } from "../encoders.js";

/** `fairseq-ts generate DATA --path CKPT`: fairseq-generate's flags and output lines. */
export function registerGenerate(program: Command): void {
  addEncoderFlags(addGenerationFlags(
    program
    .command("generate")
    .description("translate a preprocessed split with a trained model (fairseq-generate)")
    .argument("<data>", "path to data directory")
    .requiredOption("--path <FILE>", "path to model file (fairseq .pt or fairseq-ts .safetensors)")
    .option("-s, --source-lang <SRC>", "source language")
    .option("-t, --target-lang <TARGET>", "target language")
    .option("--gen-subset <SPLIT>", "data subset to generate (train, valid, test)", "test")
    .option("--max-tokens <N>", "maximum number of tokens in a batch", int)
    .option("--batch-size <N>", "number of examples in a batch", int)
    .option("--max-sentences <N>", "alias of --batch-size", int)
    .option("--required-batch-size-multiple <N>", "batch size will be a multiple of this", int, 8)
    .option("--skip-invalid-size-inputs-valid-test", "ignore too long or too short lines", false)
    .option("--quiet", "only print final scores", false)
    .option("--score-reference", "just score the reference translation", false)
    .option("--prefix-size <N>", "initialize generation by target prefix of given length", int, 0)
    .option("--scoring <NAME>", "scoring: bleu (fairseq's, on token ids) or sacrebleu (detokenized text)", choice("bleu", "sacrebleu"), "bleu")
    .option("--sacrebleu-tokenizer <TOK>", "sacrebleu tokenizer: 13a or none", choice("13a", "none"), "13a")
    .option("--sacrebleu-lowercase", "lowercase before sacrebleu", false)
    .option("--left-pad-source <BOOL>", "pad the source on the left", bool, true)
    .option("--cpu", "accepted for compatibility")
    .option("--user-dir <DIR>", "a module that registers custom models/architectures")
    .option("--backend <NAME>", "tensorflow.js backend: auto, tensorflow, wasm, cpu", (v) => parseBackendName(v))
  )).action(async (data: string, o: Record<string, unknown>) => {
      const log = (name: string, msg: string) => process.stdout.write(`${asctime()} | INFO | ${name} | ${msg}\n`);
      log("fairseq_cli.generate", `loading model(s) from ${o.path}`);
      const { task, model } = await setupTranslation(data, o, "generate");
      // disposed on every path: main() may run many times in one process (tests, embedding)
      try {
        const src = task.sourceDictionary;
        const tgt = task.targetDictionary;
        const removeBpe = removeBpeSymbol(o);
        const alignDict = alignDictFromFlags(o);
        const codec = textCodec(o, { source: task.sourceLang, target: task.targetLang });
        const printAlignment = o.printAlignment as boolean;
        const gen = new SequenceGenerator(model as EncoderDecoderModel, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, generatorOptions(o));
        const ds = task.loadDataset(o.genSubset as string);
        const itr = task.getBatchIterator(ds, {
          maxTokens: (o.maxTokens as number | undefined) ?? null,
          maxSentences: ((o.batchSize ?? o.maxSentences) as number | undefined) ?? null,
          maxPositions: resolveMaxPositions(task.maxPositions(), model.maxPositions()),
          ignoreInvalidInputs: o.skipInvalidSizeInputsValidTest as boolean,
          requiredBatchSizeMultiple: o.requiredBatchSizeMultiple as number,
          seed: o.seed as number,
        });
        const bleu = new BleuScorer(tgt.pad(), tgt.eos(), tgt.unk());
        // sacrebleu scores strings: fairseq's SacrebleuScorer.add_string(target_str, detok_hypo_str)
        const sacre = o.scoring === "sacrebleu" ? { refs: [] as string[], hyps: [] as string[] } : null;
        const scorer = new SequenceScorer(model as EncoderDecoderModel, tgt.pad());
        const quiet = o.quiet as boolean;
        let nsent = 0;
        let ntok = 0;
        let genTime = 0;
        const out: string[] = [];
        const flush = () => {
          if (out.length) process.stdout.write(`${out.join("\n")}\n`);
          out.length = 0;
        };
        for (const s of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample | null>) {
          if (!s) continue;
          const t0 = performance.now();
          const ts = sampleToTensors(s);
          let hyps;
          try {
            const { srcTokens, srcLengths, prevOutputTokens } = ts.netInput;
            if (o.scoreReference) {
              hyps = scorer.score(srcTokens, srcLengths, prevOutputTokens!, ts.target);
            } else {
              const ps = o.prefixSize as number;
              const tcols = s.target?.cols ?? 0;
              const prefix = ps > 0 && s.target ? Array.from(s.id, (_, r) => s.target!.data.slice(r * tcols, r * tcols + Math.min(ps, tcols))) : null;
              hyps = gen.generate(srcTokens, srcLengths, prefix);
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
            const targetStr = codec.decode(alignDict && rawTgt?.getOriginalText ? rawTgt.getOriginalText(id) : tgt.string(targetTokens, { bpeSymbol: removeBpe, escapeUnk: true }));
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
              if (j === 0 && sacre) {
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
        const result = sacre
          ? formatSacreBleu(sacreBleu(sacre.hyps, [sacre.refs], { tokenize: o.sacrebleuTokenizer as "13a" | "none", lowercase: o.sacrebleuLowercase as boolean }))
          : bleu.resultString();
        process.stdout.write(`Generate ${o.genSubset} with beam=${o.beam}: ${result}\n`);
      } finally {
        model.dispose();
      }
    });
}
