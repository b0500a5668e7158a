/**
 * The option groups and component selectors generate, interactive and eval-lm share, with what each of them
 * parses (as fairseq's parser does) but has no use for.
 */
import { datasetOptions, type DatasetOptions } from "@fairseq-ts/data";
import { scorers, type GenerationOptions } from "@fairseq-ts/generate";
import { tasks, type TranslationOptions } from "@fairseq-ts/tasks";
import { bpeOptionsOf, tokenizerOptionsOf } from "@fairseq-ts/tokenizers";
import { commonOptions, distributedOptions, fixedSchedulerLeftovers, type CommonOptions } from "./options.js";
import type { GroupUse, ParsedCommand, Selector } from "./spec.js";
import type { TranslationSetup } from "./load-model.js";

const TRAIN_KEYS = [
  "trainSubset",
  "validSubset",
  "validateInterval",
  "validateIntervalUpdates",
  "validateAfterUpdates",
  "disableValidation",
  "maxTokensValid",
  "batchSizeValid",
];

/** The groups of a command that loads a model and reads a data split without training (generate, eval-lm, ...). */
export function inferenceGroups(command: string, o: { taskDefault?: string; scores?: boolean; decodesText?: boolean } = {}): GroupUse[] {
  const notTraining = `a training option: ${command} does not train (fairseq parses it here and ignores it)`;
  return [
    {
      group: commonOptions,
      unused: [
        { keys: ["noProgressBar", "logInterval", "logFormat", "tensorboardLogdir"], reason: `${command} prints no progress bar or training log` },
        { keys: ["criterion", "optimizer", "lrScheduler"], reason: notTraining },
        ...(o.scores ? [] : [{ keys: ["scoring"], reason: `${command} does not score hypotheses` }]),
        ...(o.decodesText ? [] : [{ keys: ["tokenizer", "bpe"], reason: `${command} reads binarized data and prints no text` }]),
      ],
      ...(o.taskDefault !== undefined && { defaults: { task: o.taskDefault } }),
    },
    {
      group: datasetOptions,
      unused: [
        { keys: TRAIN_KEYS, reason: notTraining },
        ...(command === "interactive"
          ? [
              {
                keys: ["genSubset", "numShards", "shardId", "requiredBatchSizeMultiple", "datasetImpl"],
                reason: "interactive reads its input lines, not a data split",
              },
            ]
          : []),
      ],
    },
    { group: distributedOptions, unused: [{ keys: "all", reason: `${command} runs in one process` }] },
    { group: fixedSchedulerLeftovers },
  ];
}

/** `--task NAME`: the task's own options under `task`. */
export const taskSelector: Selector = { group: "common", key: "task", as: "task", options: (name) => tasks.get(name).options };

/** `--tokenizer NAME` and `--bpe NAME`: the encoder's options under `tokenizer` / `bpe`. */
export const encoderSelectors: Selector[] = [
  { group: "common", key: "tokenizer", as: "tokenizer", options: (name) => tokenizerOptionsOf(name) },
  { group: "common", key: "bpe", as: "bpe", options: (name) => bpeOptionsOf(name) },
];

/** `--scoring NAME`: the scorer's options under `scoring`. */
export const scoringSelector: Selector = { group: "common", key: "scoring", as: "scoring", options: (name) => scorers.get(name).options };

/** The option groups generate and interactive share: a translation task, its data, generation and text encoders. */
export interface TranslationInferenceConfig {
  data: string;
  common: CommonOptions;
  dataset: DatasetOptions;
  generation: GenerationOptions;
  task: TranslationOptions;
  /** The selected `--tokenizer`'s / `--bpe`'s options (empty without one). */
  tokenizer: Record<string, unknown>;
  bpe: Record<string, unknown>;
}

/** What `setupTranslation` needs from a generate / interactive / serve command line. */
export function translationSetupOf(c: TranslationInferenceConfig, datasetImpl: TranslationSetup["datasetImpl"]): TranslationSetup {
  const g = c.generation;
  return {
    backend: c.common.backend,
    userDir: c.common.userDir,
    path: g.path!,
    lmPath: g.lmPath,
    task: c.task,
    datasetImpl,
    modelOverrides: g.modelOverrides,
    retainDropout: { retainDropout: g.retainDropout, retainDropoutModules: g.retainDropoutModules, seed: c.common.seed },
  };
}

export function translationInferenceConfig(p: ParsedCommand): TranslationInferenceConfig {
  const o = p.options;
  return {
    data: p.positional!,
    common: o.common as CommonOptions,
    dataset: o.dataset as DatasetOptions,
    generation: o.generation as GenerationOptions,
    task: o.task as TranslationOptions,
    tokenizer: o.tokenizer ?? {},
    bpe: o.bpe ?? {},
  };
}
