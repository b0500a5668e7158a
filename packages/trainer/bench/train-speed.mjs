// Training words/s (fairseq's wps: target tokens per wall second) for the tiny and small configs of
// ../shared/reference/fairseq/timings.md, on the reference Multi30k binarization, median of the
// train_inner intervals after the first. Writes bench-results/training.md.
// Usage: node bench/train-speed.mjs [--updates 60] [--configs tiny,small]
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const arg = (k, d) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : d);
const updates = Number(arg("--updates", "60"));
const configs = arg("--configs", "tiny,small").split(",");
const fairseq = { tiny: 6860, small: 2190 };
const dims = { tiny: [2, 64, 128], small: [3, 256, 1024] };
const rows = [];
for (const name of configs) {
  const [L, E, F] = dims[name];
  const r = spawnSync(process.execPath, [join(root, "packages/cli/dist/bin.js"), "train", join(shared, "reference/fairseq/multi30k-de-en/bin"),
    "--arch", "transformer", "--encoder-layers", L, "--decoder-layers", L, "--encoder-embed-dim", E, "--decoder-embed-dim", E,
    "--encoder-ffn-embed-dim", F, "--decoder-ffn-embed-dim", F, "--encoder-attention-heads", "4", "--decoder-attention-heads", "4",
    "--share-decoder-input-output-embed", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "5e-4",
    "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "400", "--criterion", "label_smoothed_cross_entropy",
    "--label-smoothing", "0.1", "--dropout", "0.1", "--max-tokens", "4096", "--max-update", String(updates), "--seed", "1",
    "--log-format", "json", "--log-interval", "10", "--disable-validation", "--no-save", "--save-dir", mkdtempSync(join(tmpdir(), "bench-"))].map(String),
    { encoding: "utf8", maxBuffer: 1 << 26 });
  const wps = [...r.stdout.matchAll(/\| train_inner \| (\{.*\})/g)].map((m) => Number(JSON.parse(m[1]).wps)).slice(1).sort((a, b) => a - b);
  const med = wps.length ? wps[Math.floor(wps.length / 2)] : NaN;
  const backend = (r.stderr.match(/backend: .*/) ?? ["?"])[0];
  rows.push({ name, med, n: wps.length, ratio: med / fairseq[name], status: r.status, backend, err: r.status ? r.stderr.slice(-300) : "" });
  console.log(name, med, r.status, r.status ? r.stderr.slice(-300) : "");
}
const md = [
  "# Training speed (words/s = target tokens per second, fairseq's wps)",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine: \`node packages/trainer/bench/train-speed.mjs --updates ${updates}\`,`,
  "Multi30k reference binarization, --max-tokens 4096, label-smoothed CE, Adam; median of the 10-update",
  "train_inner intervals after the first. fairseq v0.10.2 figures from ../shared/reference/fairseq/timings.md.",
  "",
  `Backend: ${rows[0]?.backend ?? "?"}`,
  "",
  "| config | fairseq-ts wps | fairseq wps | ratio | intervals |",
  "|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.name} | ${Number.isFinite(r.med) ? r.med.toFixed(1) : `failed (${r.err.replace(/\n/g, " ")})`} | ${fairseq[r.name]} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(2) + "×" : "—"} | ${r.n} |`),
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results", "training.md"), md.join("\n"));
console.log(md.join("\n"));
