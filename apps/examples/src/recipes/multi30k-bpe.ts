/**
 * Recipe: German→English on Multi30k from raw text, the way fairseq users do it with subword-nmt:
 * Moses-tokenize, learn joint BPE, apply it, preprocess, train a transformer, then translate raw
 * sentences with `interactive --tokenizer moses --bpe subword_nmt --bpe-codes` (detokenized output).
 *
 *   pnpm --filter @fairseq-ts/examples recipe:multi30k-bpe [--raw DIR] [--work DIR] [--merges 10000]
 *       [--max-epoch 30] [--max-update N] [--subset N] [--arch transformer_iwslt_de_en] [--distributed-world-size N]
 *       [--tiny]   (a 1+1-layer d64 model: checks the pipeline in a minute, translations are not good)
 *
 * --raw: Multi30k raw text (train/valid/test .de/.en). Default: ../shared/data/multi30k/raw beside the
 * repository; download it from https://github.com/multi30k/dataset (data/task1/raw) otherwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FairseqMosesTokenizer, SubwordNmtApplier, learnBpe } from "@fairseq-ts/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../../..");
const cli = join(root, "packages/cli/dist/bin.js");
const arg = (k: string, d: string) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1]! : d);
const raw = resolve(arg("--raw", join(root, "../shared/data/multi30k/raw")));
const work = resolve(arg("--work", join(here, "../../work/multi30k-bpe")));
const merges = Number(arg("--merges", "10000"));
const subset = Number(arg("--subset", "0"));
if (!existsSync(join(raw, "train.de"))) {
  console.error(`recipe: Multi30k raw text not found in ${raw} (train.de, train.en, ...): pass --raw DIR`);
  process.exit(2);
}

function fairseq(title: string, args: string[], input?: string): string {
  console.log(`\n=== ${title}\n$ fairseq-ts ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: input === undefined ? "inherit" : ["pipe", "pipe", "inherit"], input, encoding: "utf8" });
  if (r.status !== 0) {
    console.error(`recipe: '${title}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  return r.stdout ?? "";
}

const read = (split: string, lang: string) => {
  const lines = readFileSync(join(raw, `${split}.${lang}`), "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return split === "train" && subset > 0 ? lines.slice(0, subset) : lines;
};

// 1. Moses tokenization (fairseq's --tokenizer moses, so interactive applies the same rules later)
mkdirSync(join(work, "tok"), { recursive: true });
const tok = { de: new FairseqMosesTokenizer({ mosesSourceLang: "de" }), en: new FairseqMosesTokenizer({ mosesSourceLang: "en" }) };
const tokenized: Record<string, string[]> = {};
for (const split of ["train", "valid", "test"]) {
  for (const lang of ["de", "en"] as const) tokenized[`${split}.${lang}`] = read(split, lang).map((l) => tok[lang].encode(l));
}
// 2. joint BPE codes learned on the tokenized training text of both languages (subword-nmt learn_bpe)
const t0 = performance.now();
const codes = learnBpe([...tokenized["train.de"]!, ...tokenized["train.en"]!], merges);
writeFileSync(join(work, "codes"), codes);
console.log(`learned ${merges} BPE merges in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${join(work, "codes")}`);
// 3. apply them (subword-nmt apply_bpe, @@ continuation)
const bpe = new SubwordNmtApplier(codes);
for (const [name, lines] of Object.entries(tokenized)) writeFileSync(join(work, "tok", name), lines.map((l) => bpe.processLine(l)).join("\n") + "\n");

// 4. binarize with a joined dictionary, 5. train, 6. BLEU on the test set
fairseq("binarize", [
  "preprocess",
  "--source-lang",
  "de",
  "--target-lang",
  "en",
  "--joined-dictionary",
  "--trainpref",
  join(work, "tok/train"),
  "--validpref",
  join(work, "tok/valid"),
  "--testpref",
  join(work, "tok/test"),
  "--destdir",
  join(work, "data-bin"),
  "--workers",
  "2",
]);
const limits = process.argv.includes("--max-update") ? ["--max-update", arg("--max-update", "0")] : ["--max-epoch", arg("--max-epoch", "30")];
fairseq("train", [
  "train",
  join(work, "data-bin"),
  "--arch",
  arg("--arch", "transformer_iwslt_de_en"),
  "--share-all-embeddings",
  ...(process.argv.includes("--tiny")
    ? [
        "--encoder-layers",
        "1",
        "--decoder-layers",
        "1",
        "--encoder-embed-dim",
        "64",
        "--decoder-embed-dim",
        "64",
        "--encoder-ffn-embed-dim",
        "128",
        "--decoder-ffn-embed-dim",
        "128",
        "--encoder-attention-heads",
        "2",
        "--decoder-attention-heads",
        "2",
        "--warmup-updates",
        "50",
      ]
    : []),
  "--optimizer",
  "adam",
  "--adam-betas",
  "(0.9, 0.98)",
  "--clip-norm",
  "0.0",
  "--lr",
  "5e-4",
  "--lr-scheduler",
  "inverse_sqrt",
  "--warmup-updates",
  "4000",
  "--dropout",
  "0.3",
  "--weight-decay",
  "0.0001",
  "--criterion",
  "label_smoothed_cross_entropy",
  "--label-smoothing",
  "0.1",
  "--max-tokens",
  "4096",
  ...limits,
  "--save-dir",
  join(work, "checkpoints"),
  "--no-epoch-checkpoints",
  "--distributed-world-size",
  arg("--distributed-world-size", "1"),
]);
const ckpt = join(work, "checkpoints/checkpoint_best.safetensors");
// a barely trained --tiny model babbles up to max length: keep its outputs short
const genLimits = process.argv.includes("--tiny") ? ["--max-len-b", "30"] : [];
fairseq("BLEU on the test set (BPE removed, as fairseq's --remove-bpe)", [
  "generate",
  join(work, "data-bin"),
  "--path",
  ckpt,
  "--beam",
  "5",
  "--batch-size",
  "128",
  "--remove-bpe",
  "--quiet",
  ...genLimits,
]);

// 7. raw sentences in, detokenized translations out
const sentences = ["Ein Mann fährt Fahrrad.", "Zwei Kinder spielen im Sand.", "Eine Frau mit rotem Hut liest ein Buch."];
const out = fairseq(
  "translate raw sentences (fairseq-interactive with --tokenizer moses --bpe subword_nmt)",
  [
    "interactive",
    join(work, "data-bin"),
    "--path",
    ckpt,
    "--beam",
    "5",
    "--tokenizer",
    "moses",
    "--bpe",
    "subword_nmt",
    "--bpe-codes",
    join(work, "codes"),
    "-s",
    "de",
    "-t",
    "en",
    ...genLimits,
  ],
  sentences.join("\n") + "\n",
);
const translations = out
  .split("\n")
  .filter((l) => l.startsWith("D-"))
  .map((l) => l.split("\t")[2]!);
sentences.forEach((s, i) => console.log(`  ${s}\n    -> ${translations[i]}`));
writeFileSync(join(work, "result.json"), JSON.stringify({ sentences, translations }, null, 2));
