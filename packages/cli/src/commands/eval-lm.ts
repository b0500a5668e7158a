import type { Command } from "commander";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import type { Sample } from "@fairseq-ts/data";
import { asctime, formatFixed } from "@fairseq-ts/logging";
import type { LanguageModel } from "@fairseq-ts/models";
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
    .option("--sample-break-mode <MODE>", "none, complete, complete_doc, eos", "none")
    .option("--max-tokens <N>", "maximum number of tokens in a batch", int)
    .option("--batch-size <N>", "number of blocks in a batch", int)
    .option("--cpu", "accepted for compatibility")
    .option("--backend <NAME>", "tensorflow.js backend", (v) => parseBackendName(v))
    .action(async (data: string, o: Record<string, unknown>) => {
      await initBackend({ backend: o.backend as never, log: (l) => process.stderr.write(`${l}\n`) });
      const task = await LanguageModelingTask.setup({ data, tokensPerSample: o.tokensPerSample as number, sampleBreakMode: o.sampleBreakMode as never });
      const { model } = loadModelForTask(o.path as string, task);
      if (model.kind !== "language-model") throw new Error(`--path ${o.path}: eval-lm needs a language model`);
      const lm = model as LanguageModel;
      lm.eval();
      const ds = task.loadDataset(o.genSubset as string);
      const itr = task.getBatchIterator(ds, { maxTokens: (o.maxTokens as number) ?? null, maxSentences: (o.batchSize as number) ?? null, seed: 1 });
      const pad = task.dictionary.pad();
      let sum = 0;
      let count = 0;
      const t0 = performance.now();
      for (const s of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample | null>) {
        if (!s) continue;
        const { rows, cols } = s.netInput.srcTokens;
        const { lp, mask } = tf.tidy(() => {
          const x = tf.tensor2d(s.netInput.srcTokens.data, [rows, cols], "int32");
          const t = tf.tensor2d(s.target!.data, [rows, cols], "int32");
          const lprobs = lm.getNormalizedProbs(lm.forward(x), true);
          const v = lprobs.shape[2];
          const idx = tf.add(tf.mul(tf.range(0, rows * cols, 1, "int32"), tf.scalar(v, "int32")), tf.reshape(t, [-1]));
          const picked = tf.gather(tf.reshape(lprobs, [-1]), idx);
          const m = tf.cast(tf.notEqual(tf.reshape(t, [-1]), tf.scalar(pad, "int32")), "float32");
          return { lp: tf.sum(tf.mul(picked, m)), mask: tf.sum(m) };
        });
        sum += lp.dataSync()[0]!;
        count += mask.dataSync()[0]!;
        tf.dispose([lp, mask]);
      }
      const secs = (performance.now() - t0) / 1000;
      const avgNll = -sum / count / Math.LN2;
      const log = (msg: string) => process.stdout.write(`${asctime()} | INFO | fairseq_cli.eval_lm | ${msg}\n`);
      log(`Evaluated ${count} tokens in ${formatFixed(secs, 1)}s (${formatFixed(count / secs, 2)} tokens/s)`);
      log(`Loss (base 2): ${formatFixed(avgNll, 4)}, Perplexity: ${formatFixed(2 ** avgNll, 2)}`);
      model.dispose();
    });
}
