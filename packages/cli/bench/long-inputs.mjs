// Long sources with a BART-size model: fairseq's summarization settings on a toy binarized set whose sources are
// 1000 tokens (random init, bart_base, --max-source-positions 1024). Runs, each in a child process,
//   train    --max-tokens 2048 --micro-batch-tokens 1024, a few updates, without and with --checkpoint-activations
//   generate --beam 4 --lenpen 2.0 --max-len-b 100 --min-len 10 --no-repeat-ngram-size 3 --batch-size 16,
//            with --micro-batch-tokens 0 (no row chunks) and with the default
// and reports each run's exit, peak wasm heap, peak RSS and wall time. Writes bench-results/long-inputs.md.
// Usage (after `pnpm build`): node bench/long-inputs.mjs [--updates 3] [--only after]
import * as tf from "@tensorflow/tfjs-core";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), "../../..");

if (process.argv[2] === "--child") {
  // One fairseq-ts command in this process; its peak wasm heap (the heap only grows) and RSS as JSON on stderr.
  const { main } = await import("../dist/index.js");
  const t0 = performance.now();
  let code;
  try {
    code = await main(process.argv.slice(3));
  } catch (err) {
    code = `${err}`;
  }
  const be = tf.engine().backendInstance;
  const heap = be?.wasm?.HEAPU8?.length ?? 0;
  process.stderr.write(
    `\nRESULT ${JSON.stringify({ code, heapMiB: heap / 2 ** 20, maxRssMiB: process.resourceUsage().maxRSS / 1024, wallS: (performance.now() - t0) / 1000 })}\n`,
  );
  process.exit(0);
}

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const updates = Number(arg("--updates", "3"));
const only = arg("--only", "all");
const { preprocess } = await import("@fairseq-ts/data");

// toy summarization data: 1000-token sources over 300 words, the summary is the first 40 words
const dir = mkdtempSync(join(tmpdir(), "fsts-long-bench-"));
let seed = 1;
const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
for (const [split, n] of [
  ["train", 32],
  ["valid", 8],
  ["test", 16],
]) {
  const src = [];
  const tgt = [];
  for (let i = 0; i < n; i++) {
    const s = Array.from({ length: 1000 }, () => `w${rand(300)}`);
    src.push(s.join(" "));
    tgt.push(s.slice(0, 40).join(" "));
  }
  writeFileSync(join(dir, `${split}.src`), `${src.join("\n")}\n`);
  writeFileSync(join(dir, `${split}.tgt`), `${tgt.join("\n")}\n`);
}
const bin = join(dir, "bin");
const p = (s) => join(dir, s);
await preprocess({
  sourceLang: "src",
  targetLang: "tgt",
  trainpref: p("train"),
  validpref: p("valid"),
  testpref: p("test"),
  joinedDictionary: true,
  workers: 1,
  destdir: bin,
  log: () => {},
});

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [here, "--child", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", () => {
      const m = /RESULT (.*)/.exec(err);
      const r = m ? JSON.parse(m[1]) : { code: "crashed", heapMiB: NaN, maxRssMiB: NaN, wallS: NaN };
      const fail = /(Aborted\(\)|memory access out of bounds|RangeError[^\n]*)/.exec(err + out);
      r.error = r.code === 0 ? "" : fail ? fail[1] : String(r.code);
      r.lines = out.split("\n");
      resolve(r);
    });
  });
}

const POS = ["--max-source-positions", "1024", "--max-target-positions", "1024"];
const train = (save, extra) => [
  "train",
  bin,
  "--task",
  "translation",
  "--arch",
  "bart_base",
  "--share-all-embeddings",
  ...POS,
  "--max-tokens",
  "2048",
  "--micro-batch-tokens",
  "1024",
  "--optimizer",
  "adam",
  "--lr",
  "1e-4",
  "--criterion",
  "label_smoothed_cross_entropy",
  "--label-smoothing",
  "0.1",
  "--max-update",
  String(updates),
  "--disable-validation",
  "--no-epoch-checkpoints",
  "--log-interval",
  "1",
  "--save-dir",
  save,
  ...extra,
];
const generate = (ckpt, extra) => [
  "generate",
  bin,
  "--path",
  ckpt,
  "--gen-subset",
  "test",
  ...POS,
  "--beam",
  "4",
  "--lenpen",
  "2.0",
  "--max-len-b",
  "100",
  "--min-len",
  "10",
  "--no-repeat-ngram-size",
  "3",
  "--batch-size",
  "16",
  ...extra,
];

const rows = [];
const record = (what, r, note = "") => {
  const ok = r.code === 0 ? "ok" : `fails: ${r.error}`;
  rows.push(`| ${what} | ${ok} | ${r.heapMiB.toFixed(0)} | ${r.maxRssMiB.toFixed(0)} | ${r.wallS.toFixed(0)} | ${note} |`);
  console.log(rows[rows.length - 1]);
};
const load0 = loadavg()[0];
if (only !== "after") record("train (plain)", await run(train(p("ckpt-plain"), ["--no-save"])));
const t = await run(train(p("ckpt"), ["--checkpoint-activations"]));
const losses = t.lines.filter((l) => l.includes("train_inner")).map((l) => /loss=([\d.]+)/.exec(l)?.[1]);
record("train --checkpoint-activations", t, `${updates} updates, loss ${losses.join(" → ")} (incl. saving a 1.2 GB checkpoint)`);
const ck = p("ckpt/checkpoint_last.safetensors");
if (only !== "after") record("generate --micro-batch-tokens 0 (batch of 16 unsplit)", await run(generate(ck, ["--micro-batch-tokens", "0"])));
const g = await run(generate(ck, []));
const hyps = g.lines.filter((l) => l.startsWith("H-"));
const lens = hyps.map((l) => l.split("\t")[2].split(" ").length);
record("generate (default --micro-batch-tokens 16384: 4 chunks of 4)", g, `${hyps.length} hypotheses, ${Math.min(...lens)}–${Math.max(...lens)} tokens`);

const doc = `# Long sources: bart_base with 1000-token sources

Measured ${new Date().toISOString().slice(0, 10)}: \`node packages/cli/bench/long-inputs.mjs --updates ${updates}\` (random-init \`bart_base\`,
101M parameters, translation task, a toy binarized set of 1000-token sources and 40-token targets; backend wasm with
the native kernels; ${cpus().length} cores shared with other jobs, load average ${load0.toFixed(1)} at the start, so wall times are
indicative). Heap = the wasm heap's final size (it only grows; its limit is 4096 MiB), RSS = the process's peak.

| run | result | wasm heap (MiB) | peak RSS (MiB) | wall (s) | notes |
|---|---|---|---|---|---|
${rows.join("\n")}

train: \`--max-tokens 2048 --micro-batch-tokens 1024 --max-source-positions 1024 --max-target-positions 1024\` (2 sentences
per batch, one per micro-batch). Without \`--checkpoint-activations\` the backward pass of a single 1000-token sentence
needs every layer's attention maps and other intermediates at once and the heap runs out; with it, only one layer's.
generate: \`--beam 4 --lenpen 2.0 --max-len-b 100 --min-len 10 --no-repeat-ngram-size 3 --batch-size 16\`. Unsplit, the
batch's 16 × 4 encoder outputs and the decoder layers' encoder-attention keys/values (12 × 196 MB) plus the encoder's
attention maps do not fit; in chunks of 4 sentences they do, with the same hypotheses (tested on a small model).
`;
writeFileSync(join(root, "bench-results/long-inputs.md"), doc);
console.log(doc);
