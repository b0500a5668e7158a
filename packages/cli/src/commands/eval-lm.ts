import { initBackend, parseBackendName } from "@fairseq-ts/backend";
import { OptionError } from "@fairseq-ts/config";
import { LMContextWindowDataset, splitSample, type DatasetOptions, type Sample } from "@fairseq-ts/data";
import { LanguageModelScorer, evalLmOptions, splitPaths, type EvalLmOptions } from "@fairseq-ts/generate";
import { asctime, formatFixed } from "@fairseq-ts/logging";
import { disposeTensorSample, sampleToTensors, type LanguageModel } from "@fairseq-ts/models";
import { LanguageModelingTask, type LanguageModelingOptions } from "@fairseq-ts/tasks";
import { loadModelForTask, modelOverridesOf } from "../load-model.js";
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
  return {
    data: p.positional!,
    common: o.common as CommonOptions,
    dataset: o.dataset as DatasetOptions,
    evalLm: o.eval_lm as EvalLmOptions,
    task: o.task as LanguageModelingOptions,
  };
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
              {
                keys: ["skipInvalidSizeInputsValidTest"],
                reason: "fairseq-eval-lm always skips blocks longer than the model's positions (the flag changes nothing)",
              },
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
  if (c.common.task !== "language_modeling")
    throw new OptionError("common", "task", `eval-lm evaluates language models: '${c.common.task}' is not supported here`);
  const e = c.evalLm;
  const d = c.dataset;
  await initBackend({ backend: c.common.backend === null ? undefined : parseBackendName(c.common.backend), log: (l) => process.stderr.write(`${l}\n`) });
  await importUserDir(c.common.userDir ?? undefined);
  const cw = e.contextWindow;
  // fairseq: the blocks shrink by the context window, which then carries over from block to block
  const tps = c.task.tokensPerSample - cw;
  if (cw < 0 || tps <= 0) throw new Error(`--context-window ${cw} must be >= 0 and smaller than --tokens-per-sample ${c.task.tokensPerSample}`);
  const overrides = modelOverridesOf(e.modelOverrides, "eval_lm");
  const task = await LanguageModelingTask.setup({ data: c.data, ...c.task, tokensPerSample: tps, datasetImpl: d.datasetImpl });
  // --path a.pt:b.pt: an ensemble (fairseq's split_paths); each model is loaded against the data's dictionary
  const lms: LanguageModel[] = [];
  // disposed on every path: main() may run many times in one process (tests, embedding)
  try {
    for (const path of splitPaths(e.path!)) {
      const { model } = loadModelForTask(path, task, "--path", overrides);
      if (model.kind !== "language-model") {
        model.dispose();
        throw new Error(`--path ${path}: eval-lm needs a language model`);
      }
      model.eval();
      lms.push(model);
    }
    const scorer = new LanguageModelScorer(lms, task.dictionary.pad());
    const loaded = task.loadDataset(d.genSubset);
    const ds = cw > 0 ? new LMContextWindowDataset(loaded, tps, cw, task.dictionary.pad()) : loaded;
    // fairseq-eval-lm's default --max-tokens is 36000; blocks longer than the model's positions are skipped
    const itr = task.getBatchIterator(ds, {
      maxTokens: d.maxTokens ?? (d.batchSize ? null : 36000),
      maxSentences: d.batchSize,
      seed: c.common.seed,
      numShards: d.numShards,
      shardId: d.shardId,
      // (fairseq: the smallest of the models' max positions)
      maxPositions: Math.min(...lms.map((m) => m.maxPositions())),
      ignoreInvalidInputs: true,
    });
    const pad = task.dictionary.pad();
    let sum = 0;
    let count = 0;
    const t0 = performance.now();
    for (const batch of itr.nextEpochItr({ shuffle: false }) as Iterable<Sample | null>) {
      if (!batch) continue;
      for (const s of splitSample(batch, e.microBatchTokens, pad)) {
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
    for (const m of lms) m.dispose();
  }
}
