// Per-kernel profile: where the time of one beam-search step and of one training update goes.
// Runs `fairseq-ts generate` (reference tiny checkpoint, Multi30k test, beam 5, batch 64) and
// `fairseq-ts train` (small config, 4096 tokens, 6 updates) in this process with every tfjs kernel call
// timed (wasm and the native kernels run synchronously, so a call's wall time is its cost, engine
// overhead included). Writes bench-results/profile.md. Usage: node bench/profile.mjs (after `pnpm build`).
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const ref = join(shared, "reference/fairseq/multi30k-de-en");

let stats = new Map();
let recording = true;
const engine = tf.engine();
const runKernel = engine.runKernel.bind(engine);
engine.runKernel = function (name, inputs, attrs) {
  if (!recording) return runKernel(name, inputs, attrs);
  const t0 = performance.now();
  const out = runKernel(name, inputs, attrs);
  const s = stats.get(name) ?? { n: 0, ms: 0 };
  s.n++;
  s.ms += performance.now() - t0;
  stats.set(name, s);
  return out;
};

/** Table rows per unit (step or update), the top `most` kernels by time. */
function table(units, unitName, wallMs, most = 15) {
  const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, v]) => s + v.ms, 0);
  const calls = rows.reduce((s, [, v]) => s + v.n, 0);
  const lines = rows
    .slice(0, most)
    .map(([k, v]) => `| ${k} | ${(v.n / units).toFixed(1)} | ${((v.ms / units) * 1000).toFixed(0)} | ${((100 * v.ms) / total).toFixed(1)}% |`);
  return [
    `${units} ${unitName}s; per ${unitName}: ${(calls / units).toFixed(0)} kernel calls, ${(total / units).toFixed(1)} ms in kernels of ${(wallMs / units).toFixed(1)} ms wall.`,
    "",
    `| kernel | calls per ${unitName} | µs per ${unitName} | share of kernel time |`,
    "|---|---|---|---|",
    ...lines,
  ].join("\n");
}

const quiet =
  (f) =>
  async (...a) => {
    const w = process.stdout.write.bind(process.stdout);
    process.stdout.write = () => true;
    try {
      return await f(...a);
    } finally {
      process.stdout.write = w;
    }
  };

const load0 = loadavg()[0];
stats = new Map();
let t0 = performance.now();
await quiet(main)(["generate", join(ref, "bin"), "--path", join(ref, "model.pt"), "--gen-subset", "test", "--batch-size", "64", "--beam", "5", "--quiet"]);
const genWall = performance.now() - t0;
const steps = stats.get("TopK")?.n ?? 1;
const gen = table(steps, "step", genWall);

const save = mkdtempSync(join(tmpdir(), "fsts-profile-"));
const trainArgs = (n) => [
  "train",
  join(ref, "bin"),
  "--arch",
  "transformer",
  "--encoder-layers",
  "3",
  "--decoder-layers",
  "3",
  "--encoder-embed-dim",
  "256",
  "--decoder-embed-dim",
  "256",
  "--encoder-ffn-embed-dim",
  "1024",
  "--decoder-ffn-embed-dim",
  "1024",
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
  "5e-4",
  "--lr-scheduler",
  "inverse_sqrt",
  "--warmup-updates",
  "400",
  "--criterion",
  "label_smoothed_cross_entropy",
  "--label-smoothing",
  "0.1",
  "--dropout",
  "0.1",
  "--max-tokens",
  "4096",
  "--max-update",
  String(n),
  "--seed",
  "1",
  "--disable-validation",
  "--no-save",
  "--log-format",
  "none",
  "--save-dir",
  save,
];
// warm-up updates (first-call compilation, allocations) are not recorded: 2 updates, then 4 more recorded
recording = false;
await quiet(main)(trainArgs(2));
recording = true;
stats = new Map();
t0 = performance.now();
await quiet(main)(trainArgs(6));
const trainWall = performance.now() - t0;
const train = table(6, "update", trainWall);
const load1 = loadavg()[0];

const out = `# Per-kernel profile (one decoding step, one training update)

Measured ${new Date().toISOString().slice(0, 10)} with \`node packages/cli/bench/profile.mjs\` (every tfjs kernel call timed in
process; load average ${load0.toFixed(2)} → ${load1.toFixed(2)} on 2 cores). Backend as \`fairseq-ts\` picks it (wasm + native kernels here).

## Beam search: \`generate\` reference tiny checkpoint, Multi30k test, beam 5, batch 64

${gen}

## Training: small config (3+3 layers, d256, ffn 1024), --max-tokens 4096, label-smoothed CE, Adam

${train}

(The training run starts from scratch each time; the 6 recorded updates include its start-up: model build and data
loading, which call few kernels.)
`;
writeFileSync(join(root, "bench-results/profile.md"), out);
process.stderr.write(out);
