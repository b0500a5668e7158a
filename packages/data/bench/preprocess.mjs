// Preprocess and dataset-read throughput on a ~1M-line corpus (Multi30k train repeated 35 times, as in
// the fairseq timing in ../shared/reference/fairseq/timings.md: 107 s wall, ~9,500 pairs/s, 1 worker).
// Writes bench-results/preprocess.md. Usage: node bench/preprocess.mjs [--repeats 35]
import { spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Dictionary } from "@fairseq-ts/dictionary";
import { MMapIndexedDataset } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const cli = join(root, "packages/cli/dist/bin.js");
const ri = process.argv.indexOf("--repeats");
const repeats = ri > 0 ? Number(process.argv[ri + 1]) : 35;
const work = mkdtempSync(join(tmpdir(), "fsts-bench-pre-"));

async function writeRepeated(src, dst, n) {
  const text = readFileSync(src);
  const out = createWriteStream(dst);
  for (let i = 0; i < n; i++) if (!out.write(text)) await new Promise((r) => out.once("drain", r));
  await new Promise((r) => out.end(r));
}
for (const l of ["de", "en"]) await writeRepeated(join(shared, "data/multi30k", `train.${l}`), join(work, `big.${l}`), repeats);
const lines = 29000 * repeats;
const mb = (statSync(join(work, "big.de")).size + statSync(join(work, "big.en")).size) / 1e6;

function timePreprocess(workers) {
  const dest = join(work, `bin-${workers}`);
  rmSync(dest, { recursive: true, force: true });
  const t0 = performance.now();
  // /usr/bin/time (if installed) reports the child's peak RSS.
  const hasTime = existsSync("/usr/bin/time");
  const cmd = hasTime ? "/usr/bin/time" : process.execPath;
  const pre = hasTime ? ["-f", "%M", process.execPath] : [];
  const r = spawnSync(
    cmd,
    [
      ...pre,
      cli,
      "preprocess",
      "-s",
      "de",
      "-t",
      "en",
      "--trainpref",
      join(work, "big"),
      "--thresholdsrc",
      "2",
      "--thresholdtgt",
      "2",
      "--workers",
      String(workers),
      "--destdir",
      dest,
    ],
    { encoding: "utf8" },
  );
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(r.stderr);
  const rssKb = hasTime ? Number(r.stderr.trim().split("\n").pop()) : NaN;
  return { s, rssMb: rssKb / 1024 };
}

const rows = [];
for (const workers of [1, 2]) {
  const runs = [timePreprocess(workers), timePreprocess(workers), timePreprocess(workers)].sort((a, b) => a.s - b.s);
  const med = runs[1];
  rows.push({ workers, s: med.s, pairs: lines / med.s, mbs: mb / med.s, rss: med.rssMb, ratio: 107 / med.s });
}

// Dataset read throughput: every training item of the big set in random order.
const ds = MMapIndexedDataset.open(join(work, "bin-1", "train.de-en.de"));
const order = Array.from({ length: ds.length }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
let t0 = performance.now();
let tok = 0;
for (const i of order) tok += ds.get(i).length;
const readS = (performance.now() - t0) / 1000;
ds.close();

// dict.txt load: a 1M-entry dictionary.
const dictPath = join(work, "dict1m.txt");
writeFileSync(dictPath, Array.from({ length: 1_000_000 }, (_, i) => `w${i.toString(36)} ${1_000_000 - i}\n`).join(""));
const dictRuns = [];
for (let k = 0; k < 3; k++) {
  t0 = performance.now();
  await Dictionary.load(dictPath);
  dictRuns.push((performance.now() - t0) / 1000);
}
dictRuns.sort((a, b) => a - b);
rmSync(work, { recursive: true, force: true });

const f = (x, d = 1) => x.toFixed(d);
const md = [
  "# Preprocess and data-read benchmark",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine: \`pnpm --filter @fairseq-ts/data bench\` (median of 3 runs).`,
  `Corpus: Multi30k train repeated ${repeats}× (${lines.toLocaleString("en")} sentence pairs, ${f(mb)} MB), thresholds 2, train split only.`,
  "fairseq-preprocess on the same corpus and machine: 107 s wall, ~9,500 pairs/s, peak RSS 308 MiB (reference timings.md).",
  "",
  "| workers | wall s | sentence pairs/s | MB/s | peak RSS MiB | speed vs fairseq (1 worker) |",
  "|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.workers} | ${f(r.s)} | ${Math.round(r.pairs).toLocaleString("en")} | ${f(r.mbs)} | ${Math.round(r.rss)} | ${f(r.ratio, 2)}× |`),
  "",
  `Dataset read: ${Math.round(order.length / readS).toLocaleString("en")} items/s (${Math.round(tok / readS / 1e6)}M tokens/s), all ${order.length.toLocaleString("en")} items of the binarized source side in random order.`,
  "",
  `dict.txt load, 1,000,000 entries: ${f(dictRuns[1], 2)} s.`,
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results", "preprocess.md"), md.join("\n"));
console.log(md.join("\n"));
