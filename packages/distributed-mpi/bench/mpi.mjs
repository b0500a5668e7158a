// The MPI transport's figures (bench-results/mpi.md):
//  1. allReduce time by message size, 2 ranks, over Open MPI's shared-memory BTL (vader) and over TCP (loopback),
//     beside the float32 elements' count of the tiny and small configs;
//  2. training words/s (fairseq's wps, median of the train_inner lines after the first) of 2 MPI ranks against
//     2 node cluster workers (each one thread), interleaved repeats, tiny and small configs;
//  3. the inputs of docs/distributed.md's scaling model (bytes per update, latency, bandwidth).
// Usage: node bench/mpi.mjs [--repeats 3] [--updates 40] [--configs tiny,small]  (after building the CLI)
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const arg = (k, d) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : d);
const repeats = Number(arg("--repeats", "3"));
const updates = Number(arg("--updates", "40"));
const configs = arg("--configs", "tiny,small").split(",");
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg()[0].toFixed(1);

function run(cmd, args, extraEnv = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...env, ...extraEnv } });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (status) => resolve({ status, out }));
  });
}

// 1. allReduce by size
const sizes = [256, 16_384, 262_144, 1_050_112, 4_194_304, 9_060_352];
const ar = [];
for (const [name, mca] of [
  ["shared memory (vader)", []],
  ["TCP, loopback", ["--mca", "btl", "tcp,self"]],
]) {
  const r = await run("mpirun", ["-np", "2", "--oversubscribe", ...mca, "-x", "SIZES", "-x", "REPEATS", "node", join(here, "allreduce-rank.mjs")], {
    SIZES: JSON.stringify(sizes),
    REPEATS: "10",
  });
  const m = /BENCH (.*)/.exec(r.out);
  if (!m) throw new Error(`allreduce bench failed: ${r.out.slice(-500)}`);
  ar.push({ name, ...JSON.parse(m[1]), load: load() });
  console.log(name, m[1]);
}

// 2. training words/s
const dims = { tiny: [2, 64, 128], small: [3, 256, 1024] };
const trainArgs = (name) => {
  const [L, E, F] = dims[name];
  return [
    ...["train", join(shared, "reference/fairseq/multi30k-de-en/bin"), "--arch", "transformer"],
    ...["--encoder-layers", L, "--decoder-layers", L, "--encoder-embed-dim", E, "--decoder-embed-dim", E],
    ...["--encoder-ffn-embed-dim", F, "--decoder-ffn-embed-dim", F, "--encoder-attention-heads", 4, "--decoder-attention-heads", 4],
    ...["--share-decoder-input-output-embed", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "5e-4"],
    ...["--lr-scheduler", "inverse_sqrt", "--warmup-updates", 400, "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", 0.1],
    ...["--dropout", 0.1, "--max-tokens", 4096, "--max-update", updates, "--log-format", "json", "--log-interval", 10],
    ...["--disable-validation", "--no-save", "--save-dir", mkdtempSync(join(tmpdir(), "bench-mpi-"))],
  ].map(String);
};
const bin = join(root, "packages/cli/dist/bin.js");
const train = [];
for (const name of configs) {
  const acc = { cluster: [], mpi: [], commCluster: [], commMpi: [], mb: [], params: 0, loads: [] };
  for (let rep = 0; rep < repeats; rep++) {
    for (const layout of ["cluster", "mpi"]) {
      const r =
        layout === "cluster"
          ? await run("node", [bin, ...trainArgs(name), "--distributed-world-size", "2"], { FAIRSEQ_TS_THREADS: "1" })
          : await run("mpirun", ["-np", "2", "--oversubscribe", "-x", "FAIRSEQ_TS_THREADS", "node", bin, ...trainArgs(name)], { FAIRSEQ_TS_THREADS: "1" });
      const wps = [...r.out.matchAll(/\| train_inner \| (\{.*\})/g)].map((m) => Number(JSON.parse(m[1]).wps)).slice(1);
      const c = /distributed: (\d+) collectives, ([\d.]+) MB sent by rank 0, ([\d.]+) ms in communication per update/.exec(r.out);
      const p = /num\. model params: (\d+)/.exec(r.out);
      if (p) acc.params = Number(p[1]);
      if (r.status || !wps.length) console.error(`${name} ${layout}: failed: ${r.out.slice(-400)}`);
      acc[layout].push(median(wps));
      if (c) (layout === "cluster" ? acc.commCluster : acc.commMpi).push(Number(c[3]));
      if (c && layout === "mpi") acc.mb.push(Number(c[2]));
      acc.loads.push(Number(load()));
      console.log(name, layout, rep, median(wps), c?.[0] ?? "", "load", load());
    }
  }
  train.push({ name, ...acc });
}

const today = new Date().toISOString().slice(0, 10);
const md = [
  "# MPI transport (`@fairseq-ts/distributed-mpi`)",
  "",
  `Measured ${today} with \`node packages/distributed-mpi/bench/mpi.mjs --repeats ${repeats} --updates ${updates}\` on this 2-core machine,`,
  `${ar[0].library.split(",")[0]}. The machine was shared (1-minute load average during the runs: ${Math.min(...train.flatMap((t) => t.loads))} to ${Math.max(...train.flatMap((t) => t.loads))}): figures move between runs.`,
  "",
  "## allReduce by size (2 ranks, no compute; median of 10 after 2 warm-ups; float32 buffer + 8 float64 stats)",
  "",
  "Each rank sends half of the buffer to the other, which adds the halves in rank order, and receives the other half's sum:",
  "2·(N-1)/N·4·n bytes sent per rank and call (4·n for N = 2).",
  "",
  `| elements | MB | ${ar.map((a) => `${a.name}: ms`).join(" | ")} | ${ar.map((a) => `${a.name}: MB/s sent+received per rank`).join(" | ")} |`,
  `|---|---|${ar.map(() => "---|").join("")}${ar.map(() => "---|").join("")}`,
  ...sizes.map((n, i) => {
    const mb = (n * 4) / 1e6;
    return `| ${n.toLocaleString("en-US")} | ${mb.toFixed(3)} | ${ar.map((a) => a.rows[i].ms.toFixed(2)).join(" | ")} | ${ar.map((a) => ((2 * mb) / (a.rows[i].ms / 1000)).toFixed(0)).join(" | ")} |`;
  }),
  "",
  "## Training words/s: 2 MPI ranks against 2 node cluster workers (one thread each)",
  "",
  `Median of the train_inner wps values after the first (${updates} updates, log interval 10), then the median over ${repeats} interleaved repeats.`,
  "",
  "| config | params | 2 cluster workers, words/s | 2 MPI ranks, words/s | MPI / cluster | ms in communication per update: cluster / MPI | MB sent by rank 0 per run (MPI) |",
  "|---|---|---|---|---|---|---|",
  ...train.map(
    (t) =>
      `| ${t.name} | ${t.params.toLocaleString("en-US")} | ${median(t.cluster).toFixed(0)} (${t.cluster.map((x) => x.toFixed(0)).join(", ")}) | ${median(t.mpi).toFixed(0)} (${t.mpi.map((x) => x.toFixed(0)).join(", ")}) | ${(median(t.mpi) / median(t.cluster)).toFixed(3)} | ${median(t.commCluster).toFixed(1)} / ${median(t.commMpi).toFixed(1)} | ${median(t.mb).toFixed(1)} |`,
  ),
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results/mpi.md"), md.join("\n"));
console.log(md.join("\n"));
