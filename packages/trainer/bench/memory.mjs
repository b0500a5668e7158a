// Memory over a long training run: tf.memory().numTensors and the process's resident set size every 20
// updates for 200 updates of the tiny config on the reference Multi30k binarization (wasm backend).
// Flat tensor counts = no leak; RSS should level off after warm-up. Writes bench-results/memory.md.
// Usage: node bench/memory.mjs [--updates 200]
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "@fairseq-ts/backend";
import { TranslationTask } from "@fairseq-ts/tasks";
import { train } from "../dist/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const arg = (k, d) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : d);
const updates = Number(arg("--updates", "200"));
const info = await initBackend({ log: null });
const task = await TranslationTask.setup({ data: join(shared, "reference/fairseq/multi30k-de-en/bin") });
const samples = [];
await train(task, {
  model: {
    arch: "transformer",
    encoder_layers: 2,
    decoder_layers: 2,
    encoder_embed_dim: 64,
    decoder_embed_dim: 64,
    encoder_ffn_embed_dim: 128,
    decoder_ffn_embed_dim: 128,
    encoder_attention_heads: 4,
    decoder_attention_heads: 4,
    share_decoder_input_output_embed: true,
  },
  criterion: "label_smoothed_cross_entropy",
  labelSmoothing: 0.1,
  optimizer: "adam",
  adamBetas: "(0.9,0.98)",
  lr: [5e-4],
  lrScheduler: "inverse_sqrt",
  scheduler: { warmupUpdates: 400 },
  maxTokens: 4096,
  maxUpdate: updates,
  seed: 1,
  microBatchTokens: 2048,
  disableValidation: true,
  noSave: true,
  saveDir: mkdtempSync(join(tmpdir(), "bench-mem-")),
  logFormat: "none",
  sink: () => {},
  onUpdate: (t) => {
    if (t.numUpdates % 20 === 0 || t.numUpdates === 1)
      samples.push({
        update: t.numUpdates,
        tensors: tf.memory().numTensors,
        rssMb: process.memoryUsage().rss / 2 ** 20,
        wasmMb: (tf.memory().numBytesInGPU ?? tf.memory().numBytes) / 2 ** 20,
      });
  },
});
const md = [
  "# Memory over a training run",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)}: \`node packages/trainer/bench/memory.mjs --updates ${updates}\` (tiny config, Multi30k, --max-tokens 4096,`,
  `backend ${info.name}). numTensors must stay constant after the first update; RSS levels off once the wasm heap has grown.`,
  "",
  "| update | tf numTensors | tf bytes (MiB) | RSS (MiB) |",
  "|---|---|---|---|",
  ...samples.map((s) => `| ${s.update} | ${s.tensors} | ${s.wasmMb.toFixed(1)} | ${s.rssMb.toFixed(0)} |`),
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results/memory.md"), md.join("\n"));
console.log(md.join("\n"));
