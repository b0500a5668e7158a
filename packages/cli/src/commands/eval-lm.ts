import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { OptionError } from "@fairseq-ts/config";
import { splitSample, type DatasetOptions, type Sample } from "@fairseq-ts/data";
import { evalLmOptions, type EvalLmOptions } from "@fairseq-ts/generate";
import { asctime, formatFixed } from "@fairseq-ts/logging";
import type { LanguageModel } from "@fairseq-ts/models";
import { LanguageModelingTask, type LanguageModelingOptions } from "@fairseq-ts/tasks";
import { loadModelForTask } from "../load-model.js";
import { importUserDir } from "../user-dir.js";
import type { CommonOptions } from "../options.js";
import type { CommandSpec, ParsedCommand } from "../spec.js";
import { inferenceGroups, taskSelector } from "../command-groups.js";

/** The typed options of one `eval-lm` command line. */
export interface EvalLmConfig {
  data: string;
  common: CommonOptions;
  dataset: DatasetOptions;
  evalLm: EvalLmOptions;
  task: LanguageModelingOptions;
}

export function evalLmConfig(p: ParsedCommand): EvalLmConfig {
  const o = p.options;
  return { data: p.positional!, common: o.common as CommonOptions, dataset: o.dataset as DatasetOptions, evalLm: o.eval_lm as EvalLmOptions, task: o.task as LanguageModelingOptions };
}

/** `fairseq-ts eval-lm DATA --path CKPT`: loss and perplexity of a language model (fairseq-eval-lm). */
export const evalLmSpec: CommandSpec = {
  name: "eval-lm",
  description: "evaluate a language model: loss (base 2) and perplexity (fairseq-eval-lm)",
  positional: { name: "data", help: "path to data directory (dict.txt and the split)" },
  groups: [
    ...inferenceGroups("eval-lm", { taskDefault: "language_modeling" }).map((u) =>
      u.group.name === "dataset"
        ? {
            ...u,
            unused: [
              ...(u.unused ?? []),
              { keys: ["skipInvalidSizeInputsValidTest"], reason: "fairseq-eval-lm always skips blocks longer than the model's positions (the flag changes nothing)" },
              { keys: ["requiredBatchSizeMultiple"], reason: "fairseq-eval-lm does not apply it" },
            ],
          }
        : u,
    ),
    { group: evalLmOptions },
  ],
  selectors: [taskSelector],
  required: [{ group: "eval_lm", key: "path" }],
  run: (p) => runEvalLm(evalLmConfig(p)),
};

async function runEvalLm(c: EvalLmConfig): Promise<void> {
  if (c.common.task !== "language_modeling") throw new OptionError("common", "task", `eval-lm evaluates language models: '${c.common.task}' is not supported here`);
  const e = c.evalLm;
  const d = c.dataset;
  await initBackend({ backend: c.common.backend === null ? undefined : parseBackendName(c.common.backend), log: (l) => process.stderr.write(`${l}\n`) });
  await importUserDir(c.common.userDir ?? undefined);
  const cw = e.contextWindow;
  // fairseq: the blocks shrink by the context window, which then carries over from block to block
  const tps = c.task.tokensPerSample - cw;
  if (cw < 0 || tps <= 0) throw new Error(`--context-window ${cw} must be >= 0 and smaller than --tokens-per-sample ${c.task.tokensPerSample}`);
  const task = await LanguageModelingTask.setup({ data: c.data, ...c.task, tokensPerSample: tps, datasetImpl: d.datasetImpl });
  const { model } = loadModelForTask(e.path!, task);
  // disposed on every path: main() may run many times in one process (tests, embedding)
  try {
    if (model.kind !== "language-model") throw new Error(`--path ${e.path}: eval-lm needs a language model`);
    const lm = model as LanguageModel;
    lm.eval();
    const loaded = task.loadDataset(d.genSubset);
    // fairseq's LMContextWindowDataset keeps the blocks in corpus order (the context is the previous block)
    const ds: typeof loaded =
      cw > 0 ? Object.assign(Object.create(loaded) as typeof loaded, { orderedIndices: () => Int32Array.from({ length: loaded.length }, (_, i) => i) }) : loaded;
    // fairseq-eval-lm's default --max-tokens is 36000
    const itr = task.getBatchIterator(ds, {
      maxTokens: d.maxTokens ?? (d.batchSize ? null : 36000),
      maxSentences: d.batchSize,
      seed: c.common.seed,
      numShards: d.numShards,
      shardId: d.shardId,
    });
    const pad = task.dictionary.pad();
    const window = cw > 0 ? new ContextWindow(tps, cw, pad) : null;
    let sum = 0;
    let count = 0;
    const t0 = performance.now();
    for (const batch of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample | null>) {
      if (!batch) continue;
      if (window) window.apply(batch);
      for (const s of splitSample(batch, e.microBatchTokens, pad)) {
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
    }
    const secs = (performance.now() - t0) / 1000;
    const avgNll = -sum / count / Math.LN2;
    const log = (msg: string) => process.stdout.write(`${asctime()} | INFO | fairseq_cli.eval_lm | ${msg}\n`);
    log(`Evaluated ${count} tokens in ${formatFixed(secs, 1)}s (${formatFixed(count / secs, 2)} tokens/s)`);
    log(`Loss (base 2): ${formatFixed(avgNll, 4)}, Perplexity: ${formatFixed(2 ** avgNll, 2)}`);
  } finally {
    model.dispose();
  }
}

/**
 * fairseq's LMContextWindowDataset collater: each block is prefixed with the last `contextWindow`
 * tokens seen before it (carried across batches, in order); only the block's own targets are scored.
 */
class ContextWindow {
  private prev: number[] = [];
  constructor(
    readonly tokensPerSample: number,
    readonly contextWindow: number,
    readonly pad: number,
  ) {}
  apply(s: Sample): void {
    const { rows, cols } = s.netInput.srcTokens;
    const width = cols + this.contextWindow;
    const toks = new Int32Array(rows * width).fill(this.pad);
    const tgt = new Int32Array(rows * width).fill(this.pad);
    const maxLen = this.tokensPerSample + this.contextWindow;
    for (let i = 0; i < rows; i++) {
      const row = s.netInput.srcTokens.data.subarray(i * cols, (i + 1) * cols);
      let len = 0;
      for (const t of row) if (t !== this.pad) len++;
      const extra = this.prev.length + len - maxLen;
      if (extra > 0) this.prev = this.prev.slice(extra);
      const p = this.prev.length;
      toks.set(this.prev, i * width);
      toks.set(row, i * width + p);
      tgt.set(s.target!.data.subarray(i * cols, (i + 1) * cols), i * width + p);
      s.netInput.srcLengths[i] = s.netInput.srcLengths[i]! + p;
      const kept: number[] = [];
      for (const t of toks.subarray(i * width, (i + 1) * width)) if (t !== this.pad) kept.push(t);
      this.prev = kept.slice(-this.contextWindow);
    }
    s.netInput.srcTokens = { data: toks, rows, cols: width };
    s.target = { data: tgt, rows, cols: width };
  }
}
