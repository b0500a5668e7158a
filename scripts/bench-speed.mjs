#!/usr/bin/env node
// `pnpm bench:speed`: the speed of the jobs people run, in one run (issue #29), each also on one thread.
//  - the machine's sgemm GFLOP/s (OpenBLAS through the native addon, 1024², all threads and one thread);
//  - training tiny and small (timings.md (a)'s flags): one process on all cores (1p), one process on one
//    thread (1t: FAIRSEQ_TS_THREADS=1 OPENBLAS_NUM_THREADS=1), and --distributed-world-size 2 (2w);
//  - beam-5 and beam-1 decoding, fixed length (--min-len 20 --max-len-a 0 --max-len-b 20, batch 64), of
//    the first N Multi30k test sentences with the reference tiny model and with randomly initialised
//    transformer_wmt_en_de and transformer_vaswani_wmt_en_de_big models on the reference dictionaries
//    (timings.md §e), on all cores (1p) and on one thread (1t).
// For each job: words/s (training: target tokens per second, fairseq's wps) or tokens/s (decoding:
// generate's "Translated" line), the model FLOP/s it achieves (counted from the layer shapes, below)
// as a fraction of the sgemm figure of the same thread count, and the peak RSS (/usr/bin/time; the
// largest process of a 2w run). Jobs are interleaved per repeat; medians over repeats, and the 1p/1t
// ratio per repeat (its median), since the machine is shared and its speed drifts between minutes.
// Writes bench-results/speed.md (or --out FILE).
// Usage: node scripts/bench-speed.mjs [--quick] [--repeats N] [--jobs train,decode] [--label TEXT] [--out FILE]
//   --quick: 16 updates, 40 sentences, 1 repeat (runs under load in ~10 minutes); default 40 updates,
//   200 sentences, 3 repeats (for a quiet machine). Needs `pnpm build` first (the CLI's dist).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, copyFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const ref = join(shared, "reference/fairseq/multi30k-de-en");
const cli = join(root, "packages/cli/dist/bin.js");
const argv = process.argv.slice(2);
const has = (k) => argv.includes(k);
const arg = (k, d) => (has(k) ? argv[argv.indexOf(k) + 1] : d);

// ---- child mode: build a randomly initialised model and save it as a fairseq-ts checkpoint (weights only)
if (has("--make-checkpoint")) {
  const [arch, out, srcV, tgtV] = argv.slice(argv.indexOf("--make-checkpoint") + 1);
  const { initBackend } = await import(pathToFileURL(join(root, "packages/backend/dist/index.js")).href);
  const models = await import(pathToFileURL(join(root, "packages/models/dist/index.js")).href);
  await initBackend({ log: null });
  const args = { arch };
  const model = models.buildModel(args, { srcVocabSize: Number(srcV), tgtVocabSize: Number(tgtV), padIdx: 1 }, { seed: 1 });
  const bytes = models.encodeCheckpoint(model, { args });
  writeFileSync(`${out}.tmp`, bytes);
  renameSync(`${out}.tmp`, out);
  process.exit(0);
}

const quick = has("--quick");
const repeats = Number(arg("--repeats", quick ? "1" : "3"));
const updates = Number(arg("--updates", quick ? "16" : "40"));
const logInterval = quick ? 4 : 5;
const sentences = Number(arg("--sentences", quick ? "40" : "200"));
const jobsWanted = arg("--jobs", "train,decode").split(",");
const outFile = arg("--out", join(root, "bench-results/speed.md"));
const label = arg("--label", "");
if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npx -y pnpm@9.15.9 turbo run build --filter=@fairseq-ts/cli...\` first`);
if (!existsSync(join(ref, "bin"))) throw new Error(`${ref}/bin is missing: the reference material is read from ../shared (or FAIRSEQ_TS_SHARED)`);

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const work = join(tmpdir(), "fairseq-ts-bench-speed");
mkdirSync(work, { recursive: true });

// ---- the reference data: dictionaries, token counts, and the first N test sentences as their own split
function idxSizes(path) {
  // fairseq's MMapIndexedDataset index: magic (9), version u64, dtype u8, len u64, doc count u64, sizes int32[len]
  const b = readFileSync(path);
  const len = Number(b.readBigUInt64LE(18));
  return new Int32Array(b.buffer.slice(b.byteOffset + 34, b.byteOffset + 34 + 4 * len));
}
const dictLen = (lang) =>
  4 +
  readFileSync(join(ref, "bin", `dict.${lang}.txt`), "utf8")
    .split("\n")
    .filter(Boolean).length;
const V = { de: dictLen("de"), en: dictLen("en") };
const sum = (a) => a.reduce((s, x) => s + x, 0);
// source tokens per target token in training (both include eos): the encoder's share of the work
const srcPerTgt = sum(idxSizes(join(ref, "bin/train.de-en.de.idx"))) / sum(idxSizes(join(ref, "bin/train.de-en.en.idx")));
const testSrcLens = idxSizes(join(ref, "bin/test.de-en.de.idx")).slice(0, sentences);

async function subsetData() {
  const dir = join(work, `test${sentences}`);
  if (existsSync(join(dir, "test.de-en.en.idx"))) return dir;
  mkdirSync(dir, { recursive: true });
  const { MMapIndexedDataset, MMapIndexedDatasetBuilder } = await import(pathToFileURL(join(root, "packages/data/dist/index.js")).href);
  for (const lang of ["de", "en"]) {
    copyFileSync(join(ref, "bin", `dict.${lang}.txt`), join(dir, `dict.${lang}.txt`));
    const ds = MMapIndexedDataset.open(join(ref, "bin", `test.de-en.${lang}`));
    const b = new MMapIndexedDatasetBuilder(join(dir, `test.de-en.${lang}.bin`), ds.dtype ?? "uint16");
    for (let i = 0; i < sentences; i++) b.addItem(ds.get(i));
    await b.finalize(join(dir, `test.de-en.${lang}.idx`));
    ds.close();
  }
  return dir;
}

function run(args, env = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn("/usr/bin/time", ["-f", "MAXRSS_KB %M", process.execPath, ...args.map(String)], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => {
      const rss = [...stderr.matchAll(/MAXRSS_KB (\d+)/g)].map((m) => Number(m[1]) * 1024);
      resolve({ status, stdout, stderr, wall: (performance.now() - t0) / 1000, rss: rss.length ? Math.max(...rss) : NaN });
    });
  });
}

// ---- model FLOPs (multiply-adds × 2) from the layer shapes: linear layers, attention products, output layer
const CONFIGS = {
  tiny: { L: 2, E: 64, F: 128, H: 4 },
  small: { L: 3, E: 256, F: 1024, H: 4 },
  base: { L: 6, E: 512, F: 2048, H: 8, arch: "transformer_wmt_en_de" },
  big: { L: 6, E: 1024, F: 4096, H: 16, arch: "transformer_vaswani_wmt_en_de_big" },
};
// The tiny reference model.pt is the "tiny" config (timings.md (b)).
/** Training FLOPs per target token (forward ×3 for forward + backward); S, T = mean source / target length. */
function trainFlopsPerTgtToken({ L, E, F }, S, T) {
  const encPerTok = L * (2 * 4 * E * E + 2 * 2 * E * F + 2 * 2 * S * E); // q,k,v,o + ffn + QKᵀ, AV
  const decPerTok = L * (2 * 4 * E * E + 2 * 4 * E * E + 2 * 2 * E * F + 2 * 2 * T * E + 2 * 2 * S * E) + 2 * E * V.en;
  return 3 * (encPerTok * srcPerTgt + decPerTok);
}
/** Decoding FLOPs per sentence: encoder once, cross-attention K/V once, then `steps` steps of `beam` hypotheses. */
function decodeFlopsPerSentence({ L, E, F }, S, steps, beam) {
  const enc = S * L * (2 * 4 * E * E + 2 * 2 * E * F + 2 * 2 * S * E);
  const crossKV = S * L * 2 * 2 * E * E;
  let dec = 0;
  for (let t = 1; t <= steps; t++) dec += L * (2 * 4 * E * E + 2 * 2 * E * E + 2 * 2 * E * F + 2 * 2 * t * E + 2 * 2 * S * E) + 2 * E * V.en;
  return enc + crossKV + beam * dec;
}

// ---- sgemm GFLOP/s of this machine through the addon (all threads, then one)
async function sgemm() {
  const k = await import(pathToFileURL(join(root, "packages/kernels-native/dist/index.js")).href);
  const loaded = await k.loadNativeBinding();
  if (!loaded.ok) return { all: NaN, one: NaN, threads: 0, why: loaded.reason };
  const b = loaded.binding;
  const n = 1024;
  const A = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const B = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const C = new Float32Array(n * n);
  const cores = b.getThreads();
  const measure = (threads) => {
    b.setThreads(threads);
    const rates = [];
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      let reps = 0;
      do {
        b.sgemmBatched(A.buffer, 0, 0, B.buffer, 0, 0, C.buffer, 0, 1, n, n, n, false, false);
        reps++;
      } while (performance.now() - t0 < 300);
      rates.push((2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9);
    }
    return median(rates.slice(1));
  };
  const all = measure(cores);
  const one = measure(1);
  b.setThreads(cores);
  return { all, one, threads: cores };
}

// ---- the jobs
const ONE_THREAD = { FAIRSEQ_TS_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
function trainArgs(name, seed) {
  const { L, E, F } = CONFIGS[name];
  return [
    cli, "train", join(ref, "bin"), "--arch", "transformer", "--encoder-layers", L, "--decoder-layers", L,
    "--encoder-embed-dim", E, "--decoder-embed-dim", E, "--encoder-ffn-embed-dim", F, "--decoder-ffn-embed-dim", F,
    "--encoder-attention-heads", 4, "--decoder-attention-heads", 4, "--share-decoder-input-output-embed",
    "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "5e-4", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", 400,
    "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", 0.1, "--dropout", 0.1, "--max-tokens", 4096,
    "--max-update", updates, "--seed", seed, "--log-format", "json", "--log-interval", logInterval,
    "--disable-validation", "--no-save", "--save-dir", join(work, "train-save"),
  ]; // prettier-ignore
}
/** Mean target length of a training batch's sentences (for the attention FLOPs): tokens / sentences of train_inner. */
function trainJob(name, layout) {
  return {
    kind: "train",
    key: `train ${name} ${layout}`,
    config: name,
    layout,
    async run() {
      const extra = layout === "2w" ? ["--distributed-world-size", 2] : [];
      const r = await run([...trainArgs(name, 1), ...extra], layout === "1t" ? ONE_THREAD : {});
      const recs = [...r.stdout.matchAll(/\| train_inner \| (\{.*\})/g)].map((m) => JSON.parse(m[1])).slice(1);
      if (r.status || !recs.length) return { err: `${r.stderr.slice(-400)}`.replace(/\s+/g, " ") };
      const wps = median(recs.map((x) => Number(x.wps)));
      const T = median(recs.map((x) => Number(x.wpb) / Number(x.bsz)));
      const flops = wps * trainFlopsPerTgtToken(CONFIGS[name], T * srcPerTgt, T);
      return { rate: wps, flops, rss: r.rss, backend: r.stderr.match(/backend: .*/)?.[0] };
    },
  };
}
function decodeJob(model, beam, layout, paths) {
  return {
    kind: "decode",
    key: `decode ${model} beam${beam} ${layout}`,
    config: model,
    layout,
    beam,
    async run() {
      const args = [cli, "generate", paths.data, "--path", paths[model], "--gen-subset", "test", "--batch-size", 64, "--beam", beam];
      const r = await run([...args, "--min-len", 20, "--max-len-a", 0, "--max-len-b", 20, "--quiet"], layout === "1t" ? ONE_THREAD : {});
      const m = /Translated (\d+) sentences \((\d+) tokens\) in [\d.]+s \(([\d.]+) sentences\/s, ([\d.]+) tokens\/s\)/.exec(r.stdout + r.stderr);
      if (r.status || !m) return { err: `${r.stderr.slice(-400)}`.replace(/\s+/g, " ") };
      const nsent = Number(m[1]);
      const tokPerSent = Number(m[2]) / nsent; // 20 + eos
      const steps = tokPerSent;
      const flopsPerSent = sum(Array.from(testSrcLens.slice(0, nsent), (S) => decodeFlopsPerSentence(CONFIGS[model], S, steps, beam))) / nsent;
      return { rate: Number(m[4]), flops: Number(m[3]) * flopsPerSent, rss: r.rss, wall: r.wall, backend: r.stderr.match(/backend: .*/)?.[0] };
    },
  };
}

async function ensureCheckpoint(model) {
  const out = join(work, `${CONFIGS[model].arch}.safetensors`);
  if (!existsSync(out)) {
    process.stderr.write(`building a randomly initialised ${CONFIGS[model].arch} → ${out}\n`);
    const r = await run([fileURLToPath(import.meta.url), "--make-checkpoint", CONFIGS[model].arch, out, V.de, V.en]);
    if (r.status) throw new Error(`building ${CONFIGS[model].arch} failed: ${r.stderr.slice(-600)}`);
  }
  return out;
}

const load0 = loadavg();
const started = new Date();
const gemm = await sgemm();
process.stderr.write(`sgemm 1024²: ${fmt(gemm.all)} GFLOP/s on ${gemm.threads} threads, ${fmt(gemm.one)} on one\n`);
const jobs = [];
if (jobsWanted.includes("train")) for (const name of ["tiny", "small"]) for (const layout of ["1p", "1t", "2w"]) jobs.push(trainJob(name, layout));
if (jobsWanted.includes("decode")) {
  const paths = { data: await subsetData(), tiny: join(ref, "model.pt"), base: await ensureCheckpoint("base"), big: await ensureCheckpoint("big") };
  for (const model of ["tiny", "base", "big"]) for (const beam of [5, 1]) for (const layout of ["1p", "1t"]) jobs.push(decodeJob(model, beam, layout, paths));
}
const results = new Map(jobs.map((j) => [j.key, []]));
let backendLine = "";
const loads = [];
for (let rep = 0; rep < repeats; rep++) {
  // rotate the order each repeat, so that a slow minute does not always hit the same job
  const order = jobs.map((_, i) => jobs[(i + rep * 5) % jobs.length]);
  for (const job of order) {
    const r = await job.run();
    loads.push(loadavg()[0]);
    if (r.backend && job.layout === "1p") backendLine = r.backend;
    results.get(job.key).push(r);
    process.stderr.write(
      `[${rep + 1}/${repeats}] ${job.key}: ${r.err ? `failed: ${r.err}` : `${fmt(r.rate)} ${job.kind === "train" ? "words/s" : "tokens/s"}, ${fmt(r.flops / 1e9)} GFLOP/s, RSS ${fmt(r.rss / 2 ** 30, 2)} GiB`}\n`,
    );
  }
}

// ---- the report
const get = (key) => results.get(key) ?? [];
const med = (key, f) => median(get(key).map(f));
const ratioPerRepeat = (a, b) => get(a).map((x, i) => x.rate / get(b)[i]?.rate);
const lines = [];
lines.push(`# Speed (\`pnpm bench:speed${quick ? " --quick" : ""}\`)${label ? `: ${label}` : ""}`, "");
lines.push(
  `Measured ${started.toISOString().slice(0, 16).replace("T", " ")} UTC on this machine (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}); ` +
    `${repeats} repeat${repeats > 1 ? "s" : ""}, jobs interleaved; medians over repeats. Load average (1 min) at the start ${load0[0].toFixed(2)}, ` +
    `during the jobs ${fmt(Math.min(...loads), 2)} to ${fmt(Math.max(...loads), 2)} (other work shares the machine: compare ratios of the same run).`,
  "",
  `Backend: ${backendLine || "?"}`,
  "",
  `sgemm 1024² (the native addon's sgemmBatched: OpenBLAS's kernel and threads): **${fmt(gemm.all)} GFLOP/s** on ${gemm.threads} threads, **${fmt(gemm.one)}** on one.`,
  "",
  "Layouts: **1p** one process, default threads (all cores); **1t** one process, one thread (`FAIRSEQ_TS_THREADS=1 OPENBLAS_NUM_THREADS=1`);",
  '**2w** `--distributed-world-size 2` (two processes, one thread each). "of sgemm" = the job\'s model FLOP/s (counted from',
  "the layer shapes: linear layers, attention products, output layer; training ×3 for the backward) ÷ the sgemm",
  "figure of the threads it had (1t: one thread; 1p and 2w: all).",
  "",
);
if (jobsWanted.includes("train")) {
  lines.push(
    `## Training (timings.md (a)'s flags, --max-update ${updates}, --log-interval ${logInterval}; words/s = median train_inner wps after the first)`,
    "",
    "| config | layout | words/s | runs | GFLOP/s | of sgemm | peak RSS GiB | vs 1t (per repeat) |",
    "|---|---|---|---|---|---|---|---|",
  );
  for (const name of ["tiny", "small"])
    for (const layout of ["1p", "1t", "2w"]) {
      const key = `train ${name} ${layout}`;
      const rs = get(key);
      const fl = med(key, (x) => x.flops);
      const peak = layout === "1t" ? gemm.one : gemm.all;
      const ratios = layout === "1t" ? [] : ratioPerRepeat(key, `train ${name} 1t`);
      const err = rs.find((x) => x.err)?.err;
      lines.push(
        `| ${name} | ${layout} | ${err && !rs.some((x) => Number.isFinite(x.rate)) ? `failed: ${err.slice(0, 200)}` : fmt(med(key, (x) => x.rate))} | ${rs.map((x) => fmt(x.rate)).join(", ")} | ${fmt(fl / 1e9)} | ${fmt((100 * fl) / 1e9 / peak, 0)}% | ${fmt(med(key, (x) => x.rss) / 2 ** 30, 2)} | ${ratios.length ? `${fmt(median(ratios), 2)}× (${ratios.map((x) => fmt(x, 2)).join(", ")})` : ""} |`,
      );
    }
  lines.push("");
}
if (jobsWanted.includes("decode")) {
  lines.push(
    `## Decoding (first ${sentences} Multi30k test sentences, --batch-size 64, --min-len 20 --max-len-a 0 --max-len-b 20; tokens/s of generate's "Translated" line)`,
    "",
    "tiny = the reference model.pt; base / big = randomly initialised `transformer_wmt_en_de` / `transformer_vaswani_wmt_en_de_big` (seed 1, weights only).",
    "",
    "| model | beam | layout | tokens/s | runs | GFLOP/s | of sgemm | peak RSS GiB | vs 1t (per repeat) |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const model of ["tiny", "base", "big"])
    for (const beam of [5, 1])
      for (const layout of ["1p", "1t"]) {
        const key = `decode ${model} beam${beam} ${layout}`;
        const rs = get(key);
        const fl = med(key, (x) => x.flops);
        const peak = layout === "1t" ? gemm.one : gemm.all;
        const ratios = layout === "1t" ? [] : ratioPerRepeat(key, `decode ${model} beam${beam} 1t`);
        const err = rs.find((x) => x.err)?.err;
        lines.push(
          `| ${model} | ${beam} | ${layout} | ${err && !rs.some((x) => Number.isFinite(x.rate)) ? `failed: ${err.slice(0, 200)}` : fmt(med(key, (x) => x.rate))} | ${rs.map((x) => fmt(x.rate)).join(", ")} | ${fmt(fl / 1e9)} | ${fmt((100 * fl) / 1e9 / peak, 0)}% | ${fmt(med(key, (x) => x.rss) / 2 ** 30, 2)} | ${ratios.length ? `${fmt(median(ratios), 2)}× (${ratios.map((x) => fmt(x, 2)).join(", ")})` : ""} |`,
        );
      }
  lines.push("");
}
const text = lines.join("\n");
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, text);
console.log(text);
