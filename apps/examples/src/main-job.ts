/**
 * README command 1: the main job. Generates a German→English number-words corpus, binarizes it with
 * `fairseq-ts preprocess` (fairseq's formats), and — as the toolkit grows — trains a small transformer
 * on it and translates with it.
 *
 *   pnpm demo                                   (work dir: apps/examples/work/numbers)
 *   pnpm demo --distributed-world-size 2        (train with 2 worker processes, node cluster)
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { numberCorpus } from "./numbers.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const cli = join(root, "packages/cli/dist/bin.js");
const work = process.env.FAIRSEQ_TS_WORK ?? join(here, "../work/numbers");

function step(title: string, args: string[]): void {
  console.log(`\n=== ${title}\n$ fairseq-ts ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`main job: '${title}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

rmSync(work, { recursive: true, force: true });
const raw = join(work, "raw");
mkdirSync(raw, { recursive: true });
const splits: [string, number, number][] = [
  ["train", 12000, 1],
  ["valid", 500, 2],
  ["test", 500, 3],
];
for (const [name, count, seed] of splits) {
  const pairs = numberCorpus(count, { seed, maxNumber: 9999 });
  writeFileSync(join(raw, `${name}.de`), pairs.map((p) => `${p.de}\n`).join(""));
  writeFileSync(join(raw, `${name}.en`), pairs.map((p) => `${p.en}\n`).join(""));
}
console.log(`generated ${splits.map(([n, c]) => `${c} ${n}`).join(", ")} sentence pairs in ${raw}`);

step("binarize (fairseq-preprocess)", [
  "preprocess",
  "--source-lang",
  "de",
  "--target-lang",
  "en",
  "--trainpref",
  join(raw, "train"),
  "--validpref",
  join(raw, "valid"),
  "--testpref",
  join(raw, "test"),
  "--destdir",
  join(work, "data-bin"),
  "--workers",
  "2",
]);

const epochs = process.env.FAIRSEQ_TS_DEMO_EPOCHS ?? "15";
const wsFlag = process.argv.indexOf("--distributed-world-size");
const worldSize = wsFlag >= 0 ? process.argv[wsFlag + 1]! : (process.env.FAIRSEQ_TS_DEMO_WORKERS ?? "1");
step("train a small transformer (fairseq-train)", [
  "train",
  join(work, "data-bin"),
  "--arch",
  "transformer",
  "--encoder-layers",
  "2",
  "--decoder-layers",
  "2",
  "--encoder-embed-dim",
  "64",
  "--decoder-embed-dim",
  "64",
  "--encoder-ffn-embed-dim",
  "128",
  "--decoder-ffn-embed-dim",
  "128",
  "--encoder-attention-heads",
  "4",
  "--decoder-attention-heads",
  "4",
  "--share-decoder-input-output-embed",
  "--optimizer",
  "adam",
  "--adam-betas",
  "(0.9,0.98)",
  "--lr",
  "2e-3",
  "--lr-scheduler",
  "inverse_sqrt",
  "--warmup-updates",
  "100",
  "--criterion",
  "label_smoothed_cross_entropy",
  "--label-smoothing",
  "0.1",
  "--dropout",
  "0.1",
  "--max-tokens",
  "4096",
  "--max-epoch",
  epochs,
  "--seed",
  "1",
  "--no-epoch-checkpoints",
  "--log-interval",
  "50",
  "--save-dir",
  join(work, "checkpoints"),
  "--distributed-world-size",
  worldSize,
]);

const ckpt = join(work, "checkpoints", "checkpoint_best.safetensors");
console.log(
  `\n=== translate the test set (fairseq-generate)\n$ fairseq-ts generate ${join(work, "data-bin")} --path ${ckpt} --beam 5 --batch-size 128 --quiet`,
);
const gen = spawnSync(process.execPath, [cli, "generate", join(work, "data-bin"), "--path", ckpt, "--beam", "5", "--batch-size", "128", "--quiet"], {
  encoding: "utf8",
});
if (gen.status !== 0) {
  console.error(gen.stderr);
  process.exit(gen.status ?? 1);
}
process.stdout.write(gen.stdout);
const bleuLine = gen.stdout.split("\n").find((l) => l.startsWith("Generate test"));

const sentences = [
  "ich habe drei hundert vier und zwanzig katzen .",
  "wir sehen sieben tausend ein hundert elf hunde .",
  "neun und neunzig",
  "dort sind zwei tausend acht hundert fünf und vierzig bücher .",
];
console.log(`\n=== translate new sentences (fairseq-interactive)`);
const inter = spawnSync(process.execPath, [cli, "interactive", join(work, "data-bin"), "--path", ckpt, "--beam", "5"], {
  input: sentences.join("\n") + "\n",
  encoding: "utf8",
});
if (inter.status !== 0) {
  console.error(inter.stderr);
  process.exit(inter.status ?? 1);
}
const hyps = inter.stdout
  .split("\n")
  .filter((l) => l.startsWith("H-"))
  .map((l) => l.split("\t")[2]);
sentences.forEach((s, i) => console.log(`  ${s}\n    -> ${hyps[i]}`));
writeFileSync(join(work, "result.json"), JSON.stringify({ bleu: bleuLine, translations: sentences.map((s, i) => ({ de: s, en: hyps[i] })) }, null, 2));
console.log(`\nmain job done: ${bleuLine}`);
