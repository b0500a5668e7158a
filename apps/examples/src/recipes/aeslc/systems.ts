/**
 * The trained systems of the AESLC recipe, each a sequence of `fairseq-ts` commands (spawned asynchronously):
 * a pre-norm transformer from scratch, and a small BART pretrained as a denoising autoencoder on the e-mail bodies,
 * then fine-tuned on subject lines. Both read source text truncated to --max-source-positions (fairseq's --truncate-source).
 */
import { join } from "node:path";
import { run } from "./process.js";

/** What every trained system shares: the CLI, the joint data-bin, the SentencePiece model, the budget. */
export interface SystemContext {
  /** `node` + `packages/cli/dist/bin.js` */
  cli: string;
  work: string;
  /** translation data-bin (src = e-mail pieces, tgt = subject pieces, one joined dictionary) */
  dataBin: string;
  spmModel: string;
  tiny: boolean;
  /** --max-source-positions (= --max-target-positions, which BART's learned positions must share across pretraining and fine-tuning) */
  positions: number;
  /** --max-update / --max-epoch given on the recipe's command line; they override every stage's own budget */
  maxUpdate?: number;
  maxEpoch?: number;
  /** wall time of each stage, in seconds, filled in as they run */
  times: Record<string, number>;
}

/**
 * The size of both trained systems: 3+3 layers of d128 (about 2.4M parameters with the 8k joint vocabulary). On 2 busy
 * cores a d256 model ran at 4 s an update (an epoch ≈ 23 min): too slow for a recipe meant to finish in about half an hour.
 */
const FULL_SIZE = { layers: 3, dim: 128, ffn: 512, heads: 4 };

/** Model size flags: `--tiny` is a 1+1-layer d64 model (checks the pipeline in a minute, learns nothing useful). */
function sizeFlags(c: SystemContext, full: { layers: number; dim: number; ffn: number; heads: number }): string[] {
  const s = c.tiny ? { layers: 1, dim: 64, ffn: 128, heads: 2 } : full;
  return [
    ...["--encoder-layers", "--decoder-layers"].flatMap((f) => [f, String(s.layers)]),
    ...["--encoder-embed-dim", "--decoder-embed-dim"].flatMap((f) => [f, String(s.dim)]),
    ...["--encoder-ffn-embed-dim", "--decoder-ffn-embed-dim"].flatMap((f) => [f, String(s.ffn)]),
    ...["--encoder-attention-heads", "--decoder-attention-heads"].flatMap((f) => [f, String(s.heads)]),
  ];
}

/** The stage's budget: the recipe's --max-update / --max-epoch when given, else the stage's default (`--tiny`: 20 updates). */
function budget(c: SystemContext, defaults: { maxUpdate?: number; maxEpoch?: number }): string[] {
  if (c.maxUpdate !== undefined || c.maxEpoch !== undefined) {
    return [
      ...(c.maxUpdate !== undefined ? ["--max-update", String(c.maxUpdate)] : []),
      ...(c.maxEpoch !== undefined ? ["--max-epoch", String(c.maxEpoch)] : []),
    ];
  }
  if (c.tiny) return ["--max-update", "20"];
  return [
    ...(defaults.maxUpdate !== undefined ? ["--max-update", String(defaults.maxUpdate)] : []),
    ...(defaults.maxEpoch !== undefined ? ["--max-epoch", String(defaults.maxEpoch)] : []),
  ];
}

async function fairseq(c: SystemContext, stage: string, args: string[], quietStdout = false): Promise<string> {
  const r = await run(stage, "nice", [process.execPath, c.cli, ...args], { log: join(c.work, "logs", `${stage}.log`), quietStdout });
  c.times[stage] = r.seconds;
  console.log(`  [${stage}] done in ${r.seconds.toFixed(0)} s`);
  return r.stdout;
}

const positionFlags = (c: SystemContext) => ["--max-source-positions", String(c.positions), "--max-target-positions", String(c.positions)];

/** Optimizer, schedule and loss of the supervised (subject-line) training stages. */
function supervisedFlags(c: SystemContext, lr: number, warmup: number): string[] {
  return [
    "--task",
    "translation",
    "--truncate-source",
    ...positionFlags(c),
    "--optimizer",
    "adam",
    "--adam-betas",
    "(0.9, 0.98)",
    "--clip-norm",
    "1.0",
    "--lr",
    String(lr),
    "--lr-scheduler",
    "inverse_sqrt",
    "--warmup-updates",
    String(c.tiny ? 10 : warmup),
    "--weight-decay",
    "0.0001",
    "--criterion",
    "label_smoothed_cross_entropy",
    "--label-smoothing",
    "0.1",
    "--max-tokens",
    "4096",
    "--log-format",
    "simple",
    "--log-interval",
    "50",
    "--no-epoch-checkpoints",
  ];
}

/**
 * Subject lines for the test set with fairseq's summarization settings scaled to subjects (≈ 4 words): beam 4,
 * no repeated trigram, 2..24 pieces; `--bpe sentencepiece` makes the D- lines raw text. Returns them in test order.
 */
export async function generateSubjects(c: SystemContext, stage: string, checkpoint: string, nTest: number): Promise<string[]> {
  const out = await fairseq(
    c,
    stage,
    [
      "generate",
      c.dataBin,
      "--gen-subset",
      "test",
      "--path",
      checkpoint,
      "--truncate-source",
      ...positionFlags(c),
      "--beam",
      "4",
      "--lenpen",
      "1.0",
      "--min-len",
      "2",
      "--max-len-a",
      "0",
      "--max-len-b",
      "24",
      "--no-repeat-ngram-size",
      "3",
      "--batch-size",
      "64",
      "--bpe",
      "sentencepiece",
      "--sentencepiece-model",
      c.spmModel,
    ],
    true,
  );
  const hyps: (string | undefined)[] = new Array<string | undefined>(nTest);
  for (const line of out.split("\n")) {
    const m = /^D-(\d+)\t[^\t]*\t(.*)$/.exec(line);
    if (m) hyps[Number(m[1])] = m[2]!;
  }
  const missing = hyps.findIndex((h) => h === undefined);
  if (hyps.length !== nTest || missing >= 0)
    throw new Error(`recipe aeslc: '${stage}' printed no D- line for test example ${missing} (log: ${join(c.work, "logs", `${stage}.log`)})`);
  return hyps as string[];
}

/** (a) A pre-norm transformer trained from scratch on (e-mail, subject) pairs. */
export async function runTransformer(c: SystemContext, nTest: number): Promise<string[]> {
  const save = join(c.work, "checkpoints/transformer");
  await fairseq(c, "transformer-train", [
    "train",
    c.dataBin,
    "--arch",
    "transformer",
    ...sizeFlags(c, FULL_SIZE),
    "--encoder-normalize-before",
    "--decoder-normalize-before",
    "--share-all-embeddings",
    "--dropout",
    "0.1",
    "--attention-dropout",
    "0.1",
    ...supervisedFlags(c, 1e-3, 200),
    ...budget(c, { maxUpdate: 600 }),
    "--save-dir",
    save,
  ]);
  return generateSubjects(c, "transformer-generate", join(save, "checkpoint_best.safetensors"), nTest);
}

/**
 * (c) BART: a small bart_base-family model pretrained with `--task denoising` on the training e-mail bodies
 * (`bodyBin`: preprocess --only-source with the joint dictionary) with fairseq's BART noise settings, then fine-tuned
 * on the subject lines with `--finetune-from-model` (the same dictionary; fine-tuning drops the <mask> row).
 */
export async function runBart(c: SystemContext, bodyBin: string, nTest: number): Promise<string[]> {
  const size = sizeFlags(c, FULL_SIZE);
  const pretrained = join(c.work, "checkpoints/bart-pretrain");
  await fairseq(c, "bart-pretrain", [
    "train",
    bodyBin,
    "--task",
    "denoising",
    "--arch",
    "bart_base",
    ...size,
    "--tokens-per-sample",
    String(c.positions),
    "--sample-break-mode",
    "complete",
    ...positionFlags(c),
    // fairseq's BART noise (examples/bart): 30% of the words masked in Poisson(3.5) spans, each span one <mask>,
    // 10% of the masks a random token, sentences permuted, no rotation or insertion
    "--mask",
    "0.3",
    "--mask-random",
    "0.1",
    "--permute-sentences",
    "1.0",
    "--insert",
    "0.0",
    "--rotate",
    "0.0",
    "--poisson-lambda",
    "3.5",
    "--mask-length",
    "span-poisson",
    "--replace-length",
    "1",
    "--dropout",
    "0.1",
    "--attention-dropout",
    "0.1",
    "--optimizer",
    "adam",
    "--adam-betas",
    "(0.9, 0.98)",
    "--clip-norm",
    "1.0",
    "--lr",
    "1e-3",
    "--lr-scheduler",
    "inverse_sqrt",
    "--warmup-updates",
    c.tiny ? "10" : "50",
    "--criterion",
    "cross_entropy",
    "--max-tokens",
    "4096",
    "--log-format",
    "simple",
    "--log-interval",
    "50",
    "--disable-validation",
    "--no-epoch-checkpoints",
    ...budget(c, { maxUpdate: 150 }),
    "--save-dir",
    pretrained,
  ]);
  const save = join(c.work, "checkpoints/bart");
  await fairseq(c, "bart-finetune", [
    "train",
    c.dataBin,
    "--arch",
    "bart_base",
    ...size,
    "--dropout",
    "0.1",
    "--attention-dropout",
    "0.1",
    ...supervisedFlags(c, 1e-3, 100),
    ...budget(c, { maxUpdate: 450 }),
    "--finetune-from-model",
    join(pretrained, "checkpoint_last.safetensors"),
    "--save-dir",
    save,
  ]);
  return generateSubjects(c, "bart-generate", join(save, "checkpoint_best.safetensors"), nTest);
}
