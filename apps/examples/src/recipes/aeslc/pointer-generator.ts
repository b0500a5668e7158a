/**
 * AESLC (email → subject line) with fairseq's pointer-generator, the way examples/pointer_generator/README.xsum.md
 * does it for XSum: lowercase and Moses-tokenize the raw text, build a vocabulary of the most frequent words plus
 * `<unk-0>..<unk-(N-1)>` source position markers, replace out-of-vocabulary words by their markers (preprocess.py),
 * binarize with that dictionary joined, train `transformer_pointer_generator` (loaded with `--user-dir`), generate
 * the test subjects with beam search (length and unknown-word penalties chosen on the valid split), put the copied
 * source words back (postprocess.py) and detokenize.
 *
 * Tokenizer: fairseq's `--tokenizer moses` (sacremoses, English, aggressive dash splits) without escaping, on
 * lowercased text, so hypotheses detokenize to plain lowercase text. Sources are truncated to `truncate` words
 * (400; tiny 100) after tokenization, and there are as many markers, so every source position has one.
 */
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { FairseqMosesTokenizer } from "@fairseq-ts/tokenizers";
import { meanRougeF1 } from "./lead.js";
import { buildPointerGeneratorDictionary, dictionaryWords, replaceOovs, restoreOovs } from "@fairseq-ts/example-pointer-generator";

export interface PointerGeneratorRun {
  /** AESLC raw text: train/valid/test .src (email bodies) and .tgt (subject lines), one example per line. */
  raw: string;
  /** Work directory (tokenized text, dictionary, data-bin, checkpoints, logs). */
  work: string;
  /** The fairseq-ts CLI (packages/cli/dist/bin.js). */
  cli: string;
  /**
   * A 1+1-layer d=64 model, 1000 words, sources cut at 100 words: checks the pipeline, summaries are not good.
   * Otherwise 3+3 layers, d=128 (pointing with the penultimate decoder layer, as the README), 10000 words, 400.
   */
  tiny: boolean;
  maxUpdate?: number;
  /** Default: 1 (tiny) or 5, unless maxUpdate alone is given. */
  maxEpoch?: number;
  /** Use only the first N examples of every split (train, valid and test, as the recipe's --subset). */
  subset?: number;
  /** Source words kept after tokenization, and as many position markers (default 400; tiny 100). */
  truncate?: number;
  /** Dropout of the model (default 0.1, README.xsum.md's). */
  dropout?: number;
  /** Generation penalties tried on the valid split (default POINTER_GENERATION_GRID); the best generates the test set. */
  generationGrid?: readonly PointerGenerationFlags[];
}

/** The pointer-generator package's entry point, which `--user-dir` imports. */
function pointerGeneratorUserDir(): string {
  return createRequire(import.meta.url).resolve("@fairseq-ts/example-pointer-generator");
}

/** Runs `node cli ...args`, its output appended to `log`; resolves with its stdout, rejects naming the step on failure. */
function fairseqTs(cli: string, step: string, args: string[], log: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(log, { flags: "a" });
    out.write(`\n=== ${step}\n$ fairseq-ts ${args.join(" ")}\n`);
    const p = spawn(process.execPath, [cli, ...args]);
    let stdout = "";
    let tail = "";
    p.stdout.on("data", (d) => {
      stdout += String(d);
      out.write(d);
    });
    p.stderr.on("data", (d) => {
      tail = (tail + String(d)).slice(-4000);
      out.write(d);
    });
    p.on("error", reject);
    p.on("close", (status) => {
      out.end();
      if (status === 0) resolve(stdout);
      else reject(new Error(`aeslc pointer-generator: ${step} failed (exit ${status}; log ${log}):\n${tail}`));
    });
  });
}

function readLines(path: string): string[] {
  if (!existsSync(path)) throw new Error(`aeslc pointer-generator: ${path} not found (AESLC raw text: train/valid/test .src and .tgt)`);
  const lines = readFileSync(path, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * Train on AESLC and summarize its test set; returns one hypothesis per line of test.src, in order, as detokenized
 * lowercase text.
 */
export async function runPointerGenerator(o: PointerGeneratorRun): Promise<string[]> {
  const truncate = o.truncate ?? (o.tiny ? 100 : 400);
  const vocabSize = o.tiny ? 1000 : 10000;
  const log = join(o.work, "log.txt");
  mkdirSync(join(o.work, "text"), { recursive: true });
  const moses = new FairseqMosesTokenizer({ mosesSourceLang: "en", mosesTargetLang: "en", mosesNoEscape: true });
  const tok = (line: string) => moses.encode(line.toLowerCase());
  const data: Record<string, { src: string[]; tgt: string[] }> = {};
  for (const split of ["train", "valid", "test"]) {
    let src = readLines(join(o.raw, `${split}.src`));
    let tgt = readLines(join(o.raw, `${split}.tgt`));
    if (src.length !== tgt.length) throw new Error(`aeslc pointer-generator: ${split}.src has ${src.length} lines, ${split}.tgt ${tgt.length}`);
    if (o.subset) [src, tgt] = [src.slice(0, o.subset), tgt.slice(0, o.subset)];
    data[split] = {
      src: src.map((l) => tok(l).split(" ").filter(Boolean).slice(0, truncate).join(" ")),
      tgt: tgt.map(tok),
    };
  }
  // the README's dictionary from the training text (sources as the model sees them: truncated)
  const dict = buildPointerGeneratorDictionary([...data.train!.src, ...data.train!.tgt], vocabSize, truncate);
  const dictPath = join(o.work, "text/dict.pg.txt");
  writeFileSync(dictPath, dict);
  const vocab = dictionaryWords(dict);
  for (const [split, d] of Object.entries(data)) {
    const marked = d.src.map((s, i) => replaceOovs(s, d.tgt[i], vocab));
    // an empty line would be an empty example, which the binarizer keeps but generate cannot summarize: one token stays
    writeFileSync(join(o.work, `text/${split}.pg.src`), marked.map((m) => m.source || "<unk>").join("\n") + "\n");
    writeFileSync(join(o.work, `text/${split}.pg.tgt`), marked.map((m) => m.target || "<unk>").join("\n") + "\n");
  }
  const bin = join(o.work, "data-bin");
  const pg = (s: string) => join(o.work, `text/${s}.pg`);
  await fairseqTs(
    o.cli,
    "preprocess",
    ["preprocess", "-s", "src", "-t", "tgt", "--trainpref", pg("train"), "--validpref", pg("valid"), "--testpref", pg("test")].concat([
      "--srcdict",
      dictPath,
      "--joined-dictionary",
      "--destdir",
      bin,
    ]),
    log,
  );
  const userDir = pointerGeneratorUserDir();
  const size = o.tiny
    ? ["--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "64", "--decoder-embed-dim", "64"].concat(
        ["--encoder-ffn-embed-dim", "128", "--decoder-ffn-embed-dim", "128", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"],
        ["--alignment-layer", "-1"],
      )
    : ["--encoder-layers", "3", "--decoder-layers", "3", "--encoder-embed-dim", "128", "--decoder-embed-dim", "128"].concat(
        ["--encoder-ffn-embed-dim", "512", "--decoder-ffn-embed-dim", "512", "--encoder-attention-heads", "4", "--decoder-attention-heads", "4"],
        ["--alignment-layer", "-2"],
      );
  const limits = [
    ...(o.maxUpdate !== undefined ? ["--max-update", String(o.maxUpdate)] : []),
    ...(o.maxEpoch !== undefined || o.maxUpdate === undefined ? ["--max-epoch", String(o.maxEpoch ?? (o.tiny ? 1 : 5))] : []),
  ];
  const checkpoints = join(o.work, "checkpoints");
  // README.xsum.md's training flags (smaller model, warmup and batches for CPUs)
  await fairseqTs(
    o.cli,
    "train",
    [
      "train",
      bin,
      "--user-dir",
      userDir,
      "--task",
      "translation",
      "--source-lang",
      "src",
      "--target-lang",
      "tgt",
      "--arch",
      "transformer_pointer_generator",
    ].concat(
      size,
      ["--layernorm-embedding", "--share-all-embeddings", "--encoder-normalize-before", "--decoder-normalize-before"],
      ["--alignment-heads", "1", "--source-position-markers", String(truncate)],
      ["--required-batch-size-multiple", "1", "--skip-invalid-size-inputs-valid-test"],
      ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--dropout", String(o.dropout ?? 0.1), "--attention-dropout", "0.1"],
      ["--weight-decay", "0.01", "--optimizer", "adam", "--adam-betas", "(0.9, 0.999)", "--adam-eps", "1e-08", "--clip-norm", "0.1"],
      ["--lr-scheduler", "inverse_sqrt", "--lr", "0.001", "--warmup-updates", o.tiny ? "20" : "500", "--max-tokens", "4096"],
      ["--save-dir", checkpoints, "--no-epoch-checkpoints", "--log-format", "simple", "--log-interval", "50"],
      limits,
    ),
    log,
  );
  // README.xsum.md's generation flags (beam 6, at most 60 tokens) with the length and unknown-word penalties chosen on
  // the valid split: the 5-epoch model's subjects are short (2 words on average) and 1 in 6 is a bare <unk> at lenpen 1
  const generate = async (split: "valid" | "test", g: PointerGenerationFlags): Promise<string[]> => {
    const flags = ["--beam", "6", "--lenpen", String(g.lenpen), "--unkpen", String(g.unkpen), "--max-len-a", "0", "--max-len-b", "60", "--batch-size", "32"];
    const out = await fairseqTs(
      o.cli,
      `generate ${split} (${flags.join(" ")})`,
      ["generate", bin, "--user-dir", userDir, "--path", join(checkpoints, "checkpoint_last.safetensors"), "--gen-subset", split, ...flags],
      log,
    );
    const src = data[split]!.src;
    const hyps = new Array<string | undefined>(src.length);
    for (const m of out.matchAll(/^H-(\d+)\t[^\t]*\t(.*)$/gm)) hyps[Number(m[1])] = m[2]!;
    const missing = hyps.findIndex((h) => h === undefined);
    if (missing >= 0) throw new Error(`aeslc pointer-generator: generate printed no hypothesis for ${split} line ${missing + 1} (log ${log})`);
    // postprocess.py against the (tokenized, truncated) source the markers index, then Moses detokenization
    return hyps.map((h, i) => moses.decode(restoreOovs(src[i]!, h!, i + 1)).toLowerCase());
  };
  const references = validReferences(o.raw, o.subset);
  const grid = o.generationGrid ?? POINTER_GENERATION_GRID;
  const tried: { flags: PointerGenerationFlags; meanF1: number }[] = [];
  for (const g of grid) tried.push({ flags: g, meanF1: meanRougeF1(await generate("valid", g), references) });
  const best = tried.reduce((a, b) => (b.meanF1 > a.meanF1 ? b : a));
  writeFileSync(join(o.work, "generation.json"), JSON.stringify({ chosen: best.flags, valid: tried }, null, 2) + "\n");
  const summaries = await generate("test", best.flags);
  writeFileSync(join(o.work, "test.hyp"), summaries.join("\n") + "\n");
  return summaries;
}

/** The generation penalties runPointerGenerator tries on the valid split. */
export interface PointerGenerationFlags {
  lenpen: number;
  unkpen: number;
}

/** lenpen 1 or 2 × unkpen 0 or 10. */
export const POINTER_GENERATION_GRID: readonly PointerGenerationFlags[] = [
  { lenpen: 1, unkpen: 0 },
  { lenpen: 2, unkpen: 0 },
  { lenpen: 1, unkpen: 10 },
  { lenpen: 2, unkpen: 10 },
];

/** Each valid example's references: its subject and, where the files exist, its three annotations (`.ann0-2`). */
function validReferences(raw: string, subset: number | undefined): string[][] {
  const files = ["tgt", "ann0", "ann1", "ann2"].map((e) => join(raw, `valid.${e}`)).filter((f, i) => i === 0 || existsSync(f));
  const columns = files.map((f) => {
    const lines = readLines(f);
    return subset ? lines.slice(0, subset) : lines;
  });
  return columns[0]!.map((_, i) => columns.map((c) => c[i]!));
}
