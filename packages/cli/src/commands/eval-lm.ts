import type { Command } from "commander";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { LMContextWindowDataset, splitSample, type Sample } from "@fairseq-ts/data";
import { LanguageModelScorer } from "@fairseq-ts/generate";
import { asctime, formatFixed } from "@fairseq-ts/logging";
import { disposeTensorSample, sampleToTensors, type LanguageModel } from "@fairseq-ts/models";
import { LanguageModelingTask } from "@fairseq-ts/tasks";
import { int } from "../flags.js";
import { loadModelForTask } from "../load-model.js";

/** `fairseq-ts eval-lm DATA --path CKPT`: loss and perplexity of a language model (fairseq-eval-lm). */
export function registerEvalLm(program: Command): void {
  program
    .command("eval-lm")
    .description("evaluate a language model: loss (base 2) and perplexity (fairseq-eval-lm)")
    .argument("<data>", "path to data directory (dict.txt and the split)")
    .requiredOption("--path <FILE>", "path to model file")
    .option("--gen-subset <SPLIT>", "data subset to evaluate", "test")
    .option("--tokens-per-sample <N>", "block size", int, 1024)
    .option("--context-window <N>", "score each block with up to N previous tokens as (unscored) context", int, 0)
    .option("--sample-break-mode <MODE>", "none, complete, complete_doc, eos", "none")
    .option("--max-tokens <N>", "maximum number of tokens in a batch", int)
    .option("--batch-size <N>", "number of blocks in a batch", int)
    .option("--micro-batch-tokens <N>", "score each batch in row chunks of at most N padded tokens (bounds memory: logits are tokens x vocab)", int, 2048)
    .option("--cpu", "accepted for compatibility")
    .option("--backend <NAME>", "tensorflow.js backend", (v) => parseBackendName(v))
    .action(async (data: string, o: Record<string, unknown>) => {
      await initBackend({ backend: o.backend as never, log: (l) => process.stderr.write(`${l}\n`) });
      const cw = o.contextWindow as number;
      // fairseq: the blocks shrink by the context window, which then carries over from block to block
      const tps = (o.tokensPerSample as number) - cw;
      if (cw < 0 || tps <= 0) throw new Error(`--context-window ${cw} must be >= 0 and smaller than --tokens-per-sample ${o.tokensPerSample}`);
      const task = await LanguageModelingTask.setup({ data, tokensPerSample: tps, sampleBreakMode: o.sampleBreakMode as never });
      const { model } = loadModelForTask(o.path as string, task);
      // disposed on every path: main() may run many times in one process (tests, embedding)
      try {
        if (model.kind !== "language-model") throw new Error(`--path ${o.path}: eval-lm needs a language model`);
        const scorer = new LanguageModelScorer(model as LanguageModel, task.dictionary.pad());
        const loaded = task.loadDataset(o.genSubset as string);
        const ds = cw > 0 ? new LMContextWindowDataset(loaded, tps, cw, task.dictionary.pad()) : loaded;
        // fairseq-eval-lm's default --max-tokens is 36000
        const itr = task.getBatchIterator(ds, { maxTokens: (o.maxTokens as number) ?? (o.batchSize ? null : 36000), maxSentences: (o.batchSize as number) ?? null, seed: 1, maxPositions: model.maxPositions(), ignoreInvalidInputs: true });
        let sum = 0;
        let count = 0;
        const t0 = performance.now();
        for (const batch of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample | null>) {
          if (!batch) continue;
          for (const s of splitSample(batch, o.microBatchTokens as number, task.dictionary.pad())) {
            const ts = sampleToTensors(s);
            try {
              const scored = scorer.score(ts);
              sum += scored.logProbSum;
              count += scored.tokens;
            } finally {
              disposeTensorSample(ts);
            }
          }
        }
        const secs = (performance.now() - t0) / 1000;
        const avgNll = -sum / count / Math.LN2;
        const log = (msg: string) => process.stdout.write(`${asctime()} | INFO | fairseq_cli.eval_lm | ${msg}\n`);
        log(`Evaluated ${count} tokens in ${formatFixed(secs, 1)}s (${formatFixed(count / secs, 2)} tokens/s)`);
        log(`Loss (base 2): ${formatFixed(avgNll, 4)}, Perplexity: ${formatFixed(2 ** avgNll, 2)}`);
      } finally {
        model.dispose();
      }
    });
}
