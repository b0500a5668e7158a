// Training words/s (fairseq's wps: target tokens per wall second) for the tiny and small configs of
// ../shared/reference/fairseq/timings.md, on the reference Multi30k binarization, median of the
// train_inner intervals after the first, in three layouts:
//   1proc  = one process using both cores (default threads)
//   1w1t   = one process with one thread (FAIRSEQ_TS_THREADS=1): a worker's share on 2 cores
//   2w     = --distributed-world-size 2 (node cluster), each worker one thread (fairseq's whole batch each)
//   2w-split = the same with --distributed-split-batches (the workers divide every update's micro-batches)
//   2x1w1t = two independent 1w1t runs at the same time (seeds 1 and 2), words/s added: what the two
//            cores give with no synchronisation at all, the ceiling for 2w on this machine
// Writes bench-results/training.md.
// Usage: node bench/train-speed.mjs [--updates 60] [--configs tiny,small] [--layouts 1proc,1w1t,2w,2x1w1t] [--repeats 1]
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const arg = (k, d) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : d);
const updates = Number(arg("--updates", "60"));
const repeats = Number(arg("--repeats", "1"));
const configs = arg("--configs", "tiny,small").split(",");
const layouts = arg("--layouts", "1proc,1w1t,2w,2w-split,2x1w1t").split(",");
const fairseq = { tiny: 6860, small: 2190 };
const dims = { tiny: [2, 64, 128], small: [3, 256, 1024] };
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const rows = [];
let backendLine = "?";
// Repeats are interleaved (every layout once, then again) so that a noisy minute on this shared
// machine (see the steal column) spreads over the layouts instead of sinking one of them.
const acc = new Map();
const steal = () => Number(readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/)[8] ?? NaN);
for (let rep = 0; rep < repeats; rep++) {
  for (const name of configs) {
    for (const layout of layouts) {
      const key = `${name}/${layout}`;
      if (!acc.has(key)) acc.set(key, { name, layout, runs: [], comm: [], steal: [], err: "" });
      const a = acc.get(key);
      const s0 = steal();
      const [L, E, F] = dims[name];
      const extra = layout.startsWith("2w") ? ["--distributed-world-size", "2", ...(layout === "2w-split" ? ["--distributed-split-batches"] : [])] : [];
      const env = { ...process.env, ...(layout.includes("1w1t") ? { FAIRSEQ_TS_THREADS: "1" } : {}) };
      const train = (seed) =>
        run(
          [
            join(root, "packages/cli/dist/bin.js"),
            "train",
            join(shared, "reference/fairseq/multi30k-de-en/bin"),
            "--arch",
            "transformer",
            "--encoder-layers",
            L,
            "--decoder-layers",
            L,
            "--encoder-embed-dim",
            E,
            "--decoder-embed-dim",
            E,
            "--encoder-ffn-embed-dim",
            F,
            "--decoder-ffn-embed-dim",
            F,
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
            String(updates),
            "--seed",
            String(seed),
            "--log-format",
            "json",
            "--log-interval",
            "10",
            "--disable-validation",
            "--no-save",
            "--save-dir",
            mkdtempSync(join(tmpdir(), "bench-")),
            ...extra,
          ].map(String),
          env,
        );
      const results = await Promise.all(layout === "2x1w1t" ? [train(1), train(2)] : [train(1)]);
      let total = 0;
      for (const r of results) {
        const wps = [...r.stdout.matchAll(/\| train_inner \| (\{.*\})/g)].map((m) => Number(JSON.parse(m[1]).wps)).slice(1);
        total += wps.length ? median(wps) : NaN;
        const c = (r.stdout + r.stderr).match(/([\d.]+) ms in communication per update/);
        if (c) a.comm.push(Number(c[1]));
        const b = r.stderr.match(/backend: .*/);
        if (b && layout === "1proc") backendLine = b[0];
        if (r.status) a.err = r.stderr.slice(-300).replace(/\n/g, " ");
      }
      a.runs.push(total);
      a.steal.push(steal() - s0);
      console.log(name, layout, rep, total, a.err);
    }
  }
}
for (const a of acc.values()) rows.push({ ...a, med: median(a.runs.filter(Number.isFinite)), comm: median(a.comm) });
function run(args, env) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { env });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const get = (name, layout) => rows.find((r) => r.name === name && r.layout === layout)?.med ?? NaN;
// The machine's speed drifts between minutes (other tenants): a layout compares best with the 1w1t run
// of the same repeat, a minute apart, so the scaling is also given as the median of per-repeat ratios.
const pairedRatios = (name, layout) => {
  const a = rows.find((r) => r.name === name && r.layout === layout)?.runs ?? [];
  const b = rows.find((r) => r.name === name && r.layout === "1w1t")?.runs ?? [];
  return a.map((x, i) => x / b[i]).filter(Number.isFinite);
};
const paired = (name, layout) => {
  const r = pairedRatios(name, layout);
  return r.length ? `${fmt(median(r), 2)}× (${r.map((x) => fmt(x, 2)).join(", ")})` : "—";
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const md = [
  "# Training speed (words/s = target tokens per second, fairseq's wps)",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine: \`node packages/trainer/bench/train-speed.mjs --updates ${updates} --repeats ${repeats}\`,`,
  "Multi30k reference binarization, --max-tokens 4096 (micro-batches of 2048 padded tokens), label-smoothed CE, Adam;",
  "per run the median of the 10-update train_inner intervals after the first; the table gives the median over runs.",
  "fairseq v0.10.2 figures from ../shared/reference/fairseq/timings.md (1 process, OpenBLAS 2 threads).",
  "",
  `Backend: ${backendLine}`,
  "",
  "Layouts: **1proc** one process, both cores; **1w1t** one process, one thread (a worker's share);",
  "**2w** `--distributed-world-size 2` (node cluster, one thread each; fairseq's whole batch per worker);",
  "**2w-split** the same with `--distributed-split-batches` (both workers read the update's batches and divide their micro-batches, balanced in padded tokens);",
  "**2x1w1t** two independent 1w1t runs at once (seeds 1, 2), words/s added: the two cores with no synchronisation, the ceiling for 2w.",
  "",
  "| config | layout | fairseq-ts wps (median) | runs | vs fairseq | comm ms/update | steal (1/100 s) per run |",
  "|---|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.layout} | ${r.err && !Number.isFinite(r.med) ? `failed (${r.err})` : fmt(r.med)} | ${r.runs.map((x) => fmt(x)).join(", ")} | ${fmt(r.med / fairseq[r.name], 2)}× of ${fairseq[r.name]} | ${r.layout.startsWith("2w") ? fmt(r.comm) : ""} | ${r.steal.join(", ")} |`,
  ),
  "",
  "Scaling (2w vs 1w1t; goal ≥ 1.7×), 2w vs 1proc, and the ceiling (2x1w1t vs 1w1t):",
  "",
  ...configs.map(
    (c) =>
      `- ${c}: 2w/1w1t = ${fmt(get(c, "2w") / get(c, "1w1t"), 2)}×, 2w-split/1w1t = ${fmt(get(c, "2w-split") / get(c, "1w1t"), 2)}×, 2w/1proc = ${fmt(get(c, "2w") / get(c, "1proc"), 2)}×, ceiling 2x1w1t/1w1t = ${fmt(get(c, "2x1w1t") / get(c, "1w1t"), 2)}× (2w reaches ${fmt((100 * get(c, "2w")) / get(c, "2x1w1t"), 0)}% of it)`,
  ),
  "",
  "The same ratios per repeat (each layout against the 1w1t run of its own repeat), median and values:",
  "",
  ...configs.map((c) => `- ${c}: 2w/1w1t = ${paired(c, "2w")}, 2w-split/1w1t = ${paired(c, "2w-split")}, 2x1w1t/1w1t = ${paired(c, "2x1w1t")}`),
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results", "training.md"), md.join("\n"));
console.log(md.join("\n"));
