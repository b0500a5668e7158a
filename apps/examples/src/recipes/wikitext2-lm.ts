/**
 * Recipe: a Transformer language model on WikiText-2 (fairseq's examples/language_model, scaled to a CPU).
 *
 *   pnpm --filter @fairseq-ts/examples recipe:wikitext2 [--data DIR] [--work DIR] [--max-update 2000]
 *       [--tokens-per-sample 128] [--tiny] [--subset LINES] [--distributed-world-size N]
 *
 * --data: a folder with train.txt, valid.txt, test.txt (tokenized WikiText-2). Default:
 * ../shared/data/wikitext-2 beside the repository; otherwise download WikiText-2 (e.g. pytorch/examples'
 * word_language_model/data/wikitext-2).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../../..");
const cli = join(root, "packages/cli/dist/bin.js");
const arg = (k: string, d: string) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1]! : d);
const data = resolve(arg("--data", join(root, "../shared/data/wikitext-2")));
const work = resolve(arg("--work", join(here, "../../work/wikitext2")));
const tps = arg("--tokens-per-sample", "128");
const tiny = process.argv.includes("--tiny");
if (!existsSync(join(data, "valid.txt")) || !existsSync(join(data, "test.txt"))) {
  console.error(`recipe: WikiText-2 not found in ${data} (train.txt, valid.txt, test.txt): pass --data DIR`);
  process.exit(2);
}
// ../shared's copy lacks train.txt (see its SOURCE.md): then train on valid.txt and validate on test.txt.
const full = existsSync(join(data, "train.txt"));
const splits = full ? { train: "train.txt", valid: "valid.txt", test: "test.txt" } : { train: "valid.txt", valid: "test.txt", test: "test.txt" };
if (!full) console.warn(`recipe: ${data} has no train.txt; training on valid.txt and validating/testing on test.txt`);
// --subset N: the first N lines of each file (a quick check of the pipeline)
const subset = Number(arg("--subset", "0"));
let dataDir = data;
if (subset > 0) {
  dataDir = join(work, "subset");
  mkdirSync(dataDir, { recursive: true });
  for (const f of new Set(Object.values(splits)))
    writeFileSync(join(dataDir, f), readFileSync(join(data, f), "utf8").split("\n").slice(0, subset).join("\n") + "\n");
}

function fairseq(title: string, args: string[]): string {
  console.log(`\n=== ${title}\n$ fairseq-ts ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 1 << 28 });
  process.stdout.write(r.stdout ?? "");
  if (r.status !== 0) {
    console.error(`recipe: '${title}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  return r.stdout ?? "";
}

fairseq("binarize (fairseq-preprocess --only-source)", [
  "preprocess",
  "--only-source",
  "--trainpref",
  join(dataDir, splits.train),
  "--validpref",
  join(dataDir, splits.valid),
  "--testpref",
  join(dataDir, splits.test),
  "--destdir",
  join(work, "data-bin"),
  "--workers",
  "2",
]);
const model = tiny
  ? ["--decoder-layers", "1", "--decoder-embed-dim", "64", "--decoder-ffn-embed-dim", "128", "--decoder-attention-heads", "2"]
  : ["--decoder-layers", "2", "--decoder-embed-dim", "256", "--decoder-ffn-embed-dim", "1024", "--decoder-attention-heads", "4"];
const train = fairseq("train transformer_lm", [
  "train",
  join(work, "data-bin"),
  "--task",
  "language_modeling",
  "--arch",
  "transformer_lm",
  ...model,
  "--share-decoder-input-output-embed",
  "--dropout",
  "0.1",
  "--optimizer",
  "adam",
  "--adam-betas",
  "(0.9, 0.98)",
  "--weight-decay",
  "0.01",
  "--clip-norm",
  "0.0",
  "--lr",
  "0.0005",
  "--lr-scheduler",
  "inverse_sqrt",
  "--warmup-updates",
  tiny ? "10" : "400",
  "--tokens-per-sample",
  tps,
  "--sample-break-mode",
  "none",
  "--max-tokens",
  "2048",
  "--max-update",
  arg("--max-update", "2000"),
  "--validate-interval-updates",
  tiny ? "10" : "500",
  "--save-interval-updates",
  tiny ? "10" : "500",
  "--no-epoch-checkpoints",
  "--save-dir",
  join(work, "checkpoints"),
  "--log-format",
  "simple",
  "--log-interval",
  tiny ? "5" : "50",
  "--distributed-world-size",
  arg("--distributed-world-size", "1"),
]);
const validPpl = [...train.matchAll(/\| valid on 'valid' subset \| .*? ppl ([\d.]+)/g)].map((m) => Number(m[1]));
const ckpt = join(work, "checkpoints/checkpoint_best.safetensors");
const evalPlain = fairseq("eval-lm on test", ["eval-lm", join(work, "data-bin"), "--path", ckpt, "--tokens-per-sample", tps]);
const half = String(Math.floor(Number(tps) / 2));
const evalCtx = fairseq("eval-lm on test with a context window", [
  "eval-lm",
  join(work, "data-bin"),
  "--path",
  ckpt,
  "--tokens-per-sample",
  tps,
  "--context-window",
  half,
]);
const ppl = (out: string) => Number(/Perplexity: ([\d.]+)/.exec(out)![1]);
const result = { validPpl, testPpl: ppl(evalPlain), testPplContextWindow: ppl(evalCtx) };
writeFileSync(join(work, "result.json"), JSON.stringify(result, null, 2));
console.log(
  `\nvalid perplexity by validation: ${validPpl.join(" -> ")}\ntest perplexity ${result.testPpl} (context window ${half}: ${result.testPplContextWindow})`,
);
