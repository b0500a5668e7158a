import type { Command } from "commander";
import { preprocess } from "@fairseq-ts/data";
import { choice, int } from "../flags.js";

/** `fairseq-ts preprocess`: fairseq-preprocess's flags, names and defaults. */
export function registerPreprocess(program: Command): void {
  program
    .command("preprocess")
    .description("build dictionaries and binarize a parallel or monolingual corpus (fairseq-preprocess)")
    .option("-s, --source-lang <SRC>", "source language")
    .option("-t, --target-lang <TARGET>", "target language")
    .option("--trainpref <FP>", "train file prefix (also used to build dictionaries)")
    .option("--validpref <FP>", "comma separated, valid file prefixes")
    .option("--testpref <FP>", "comma separated, test file prefixes")
    .option("--destdir <DIR>", "destination dir", "data-bin")
    .option("--thresholdtgt <N>", "map words appearing less than threshold times to unknown", int, 0)
    .option("--thresholdsrc <N>", "map words appearing less than threshold times to unknown", int, 0)
    .option("--tgtdict <FP>", "reuse given target dictionary")
    .option("--srcdict <FP>", "reuse given source dictionary")
    .option("--nwordstgt <N>", "number of target words to retain", int, -1)
    .option("--nwordssrc <N>", "number of source words to retain", int, -1)
    .option("--dataset-impl <FORMAT>", "output dataset implementation (mmap, raw)", choice("mmap", "raw"), "mmap")
    .option("--joined-dictionary", "generate joined dictionary", false)
    .option("--only-source", "only process the source language", false)
    .option("--padding-factor <N>", "pad dictionary size to be multiple of N", int, 8)
    .option("--workers <N>", "number of parallel workers", int, 1)
    .option("--dict-only", "if true, only builds a dictionary and then exits", false)
    .action(async (o) => {
      await preprocess({
        sourceLang: o.sourceLang ?? null,
        targetLang: o.targetLang ?? null,
        trainpref: o.trainpref ?? null,
        validpref: o.validpref ?? null,
        testpref: o.testpref ?? null,
        destdir: o.destdir,
        thresholdsrc: o.thresholdsrc,
        thresholdtgt: o.thresholdtgt,
        nwordssrc: o.nwordssrc,
        nwordstgt: o.nwordstgt,
        srcdict: o.srcdict ?? null,
        tgtdict: o.tgtdict ?? null,
        joinedDictionary: o.joinedDictionary,
        onlySource: o.onlySource,
        paddingFactor: o.paddingFactor,
        datasetImpl: o.datasetImpl,
        workers: o.workers,
        dictOnly: o.dictOnly,
      });
    });
}
