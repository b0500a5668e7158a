// Milliseconds per forward+backward pass of one 4096-target-token batch (128 sentences x 32 tokens,
// sources of 32 tokens), in training mode (dropout on), loss = summed cross-entropy, gradients for
// every parameter — the work of one training update without the optimizer. Like the trainer (its
// --micro-batch-tokens, default 2048) the batch runs as row chunks of at most that many tokens whose
// gradients are added; --micro-batch-tokens 0 runs it in one piece. Configs: the transformer
// "tiny" and "small" of ../shared/reference/fairseq/timings.md and lstm_wiseman_iwslt_de_en, with the
// Multi30k reference dictionaries' sizes. Median of the timed repetitions after one warm-up pass;
// tf.memory().numTensors before/after shows there is no leak. Writes bench-results/models.md.
// Usage: node bench/forward-backward.mjs [--reps 3] [--micro-batch-tokens 2048] [--configs tiny,small,lstm_wiseman_iwslt_de_en]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel } from "../dist/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const arg = (k, d) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : d);
const reps = Math.max(1, Number(arg("--reps", "3")));
const configs = arg("--configs", "tiny,small,lstm_wiseman_iwslt_de_en").split(",");
const microBatchTokens = Number(arg("--micro-batch-tokens", "2048"));
const BSZ = 128;
const LEN = 32;
const PAD = 1;
const rowsPerChunk = microBatchTokens > 0 ? Math.max(1, Math.floor(microBatchTokens / LEN)) : BSZ;
const EOS = 2;

// dictionary sizes: fairseq's 4 special symbols + one per dict.txt line
const bin = join(shared, "reference/fairseq/multi30k-de-en/bin");
const dictSize = (lang, fallback) => {
  const f = join(bin, `dict.${lang}.txt`);
  return existsSync(f)
    ? 4 +
        readFileSync(f, "utf8")
          .split("\n")
          .filter((l) => l.trim()).length
    : fallback;
};
const srcVocab = dictSize("de", 8000);
const tgtVocab = dictSize("en", 6000);

const transformer = (L, E, F) => ({
  arch: "transformer",
  encoder_layers: L,
  decoder_layers: L,
  encoder_embed_dim: E,
  decoder_embed_dim: E,
  encoder_ffn_embed_dim: F,
  decoder_ffn_embed_dim: F,
  encoder_attention_heads: 4,
  decoder_attention_heads: 4,
  share_decoder_input_output_embed: true,
  dropout: 0.1,
});
const ARGS = {
  tiny: () => transformer(2, 64, 128),
  small: () => transformer(3, 256, 1024),
  lstm_wiseman_iwslt_de_en: () => ({ arch: "lstm_wiseman_iwslt_de_en" }),
};

const info = await initBackend({ log: null });
const loadBefore = loadavg()[0];

// fixed random batch (no padding: every row has LEN tokens, ending in EOS)
let s = 12345;
const rnd = (n) => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), 4 + (s % (n - 4)));
const rows = (n) => Array.from({ length: BSZ }, () => [...Array.from({ length: LEN - 1 }, () => rnd(n)), EOS]);
const srcRows = rows(srcVocab);
const tgtRows = rows(tgtVocab);

const results = [];
for (const name of configs) {
  const model = buildModel(ARGS[name](), { srcVocabSize: srcVocab, tgtVocabSize: tgtVocab, padIdx: PAD }, { seed: 1 });
  model.train();
  const params = [...model.namedParameters().values()];
  const chunks = [];
  for (let r = 0; r < BSZ; r += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, BSZ - r);
    chunks.push({
      rows,
      src: tf.tensor2d(srcRows.slice(r, r + rows), [rows, LEN], "int32"),
      lens: tf.tensor1d(new Array(rows).fill(LEN), "int32"),
      prev: tf.tensor2d(
        tgtRows.slice(r, r + rows).map((row) => [EOS, ...row.slice(0, -1)]),
        [rows, LEN],
        "int32",
      ),
      target: tf.tensor1d(tgtRows.slice(r, r + rows).flat(), "int32"),
    });
  }
  const step = () => {
    const t0 = performance.now();
    let total = null;
    for (const c of chunks) {
      const { value, grads } = tf.variableGrads(() => {
        const lp = tf.reshape(tf.logSoftmax(model.forward(c.src, c.lens, c.prev)[0], -1), [c.rows * LEN, tgtVocab]);
        return tf.neg(tf.sum(tf.mul(lp, tf.oneHot(c.target, tgtVocab)))); // summed NLL, as fairseq's criterion
      }, params);
      value.dataSync();
      if (!total) total = grads;
      else {
        for (const k of Object.keys(grads)) {
          const sum = tf.add(total[k], grads[k]);
          tf.dispose([total[k], grads[k]]);
          total[k] = sum;
        }
      }
      value.dispose();
    }
    for (const g of Object.values(total)) g.dataSync(); // wait for every gradient
    const ms = performance.now() - t0;
    tf.dispose(Object.values(total));
    return ms;
  };
  step(); // warm-up (kernel compilation, buffer allocation)
  const before = tf.memory().numTensors;
  const times = [];
  for (let i = 0; i < reps; i++) times.push(step());
  const after = tf.memory().numTensors;
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  results.push({ name, params: model.numParameters(), median, times, before, after });
  console.log(
    `${name}: ${median.toFixed(0)} ms per ${BSZ * LEN}-token forward+backward (runs ${times.map((t) => t.toFixed(0)).join(", ")}); tensors ${before} -> ${after}`,
  );
  for (const c of chunks) tf.dispose([c.src, c.lens, c.prev, c.target]);
  model.dispose();
}

const md = [
  "# Model forward+backward time (one 4096-target-token batch)",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine (shared with other jobs; 1-min load average ${loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end): \`node packages/models/bench/forward-backward.mjs --reps ${reps} --micro-batch-tokens ${microBatchTokens}\`.`,
  `Batch: ${BSZ} sentences x ${LEN} source and ${LEN} target tokens, no padding; training mode (dropout on); loss = summed cross-entropy;`,
  `${microBatchTokens > 0 ? `Run as the trainer runs it by default: micro-batches of ${rowsPerChunk * LEN} tokens (${rowsPerChunk} rows), gradients added.` : "One piece (no micro-batches)."}`,
  "gradients of every parameter (no optimizer step). Vocabularies: Multi30k reference dictionaries " + `(de ${srcVocab}, en ${tgtVocab} symbols).`,
  `Median of ${reps} timed passes after one warm-up pass.`,
  "",
  `Backend: ${info.name}${info.kernels?.length ? ` (kernel fixes: ${info.kernels.join(", ")})` : ""}${info.native ? `; native: ${JSON.stringify(info.native)}` : ""}`,
  "",
  "| config | parameters | ms per forward+backward | runs (ms) | tensors before/after timed runs |",
  "|---|---|---|---|---|",
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.params.toLocaleString("en-US")} | ${r.median.toFixed(0)} | ${r.times.map((t) => t.toFixed(0)).join(", ")} | ${r.before} / ${r.after} |`,
  ),
  "",
  "tiny = transformer L=2, E=64, FFN=128; small = transformer L=3, E=256, FFN=1024 (4 heads, tied decoder input/output embeddings);",
  "lstm_wiseman_iwslt_de_en = fairseq's preset (1-layer LSTMs of 256 units, attention, dropout 0.1 on the decoder output).",
  "fairseq v0.10.2 needs ≈1.6 s per whole update of ~3.6k target tokens for small (timings.md, incl. optimizer and data).",
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results/models.md"), md.join("\n"));
console.log(`wrote ${join(root, "bench-results/models.md")}`);
