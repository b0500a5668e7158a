// Big checkpoints in Node: four random-initialised transformer_vaswani_wmt_en_de_big models (fairseq's
// shapes, 40k source and target vocabularies: ~300 M parameters, ~1.2 GB in float32 each) saved as
// fairseq-ts checkpoints, then, each phase in a fresh process (its own peak RSS):
//   load1     load one checkpoint (positioned reads, weights loaded one at a time): time, peak RSS / weight bytes
//   ensemble  the four as an ensemble (`--path a:b:c:d` semantics) on the default install's choice of backend
//             (auto: the weights exceed wasm's 4 GiB heap, so the cpu backend + native kernels), beam 5 over a
//             few Multi30k test sentences: load time, peak RSS, tokens/s
//   cli       `fairseq-ts interactive --path a:b:c:d --beam 5` end to end (the default install translates)
// Writes bench-results/big-models.md. Usage (after `pnpm build`): node bench/big-models.mjs [work-dir]
// Needs ~5 GB of disk and ~6 GB of free memory; takes several minutes on 2 cores.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const refBin = join(shared, "reference/fairseq/multi30k-de-en/bin");
const work = process.argv[2] ?? join(tmpdir(), "fairseq-ts-big-models");
const ARCH = "transformer_vaswani_wmt_en_de_big";
const VOCAB = 40000;
const N_MODELS = 4;
const N_SENT = Number(process.env.BIG_SENTENCES ?? 4);
const phase = process.env.BIG_PHASE;

const paths = Array.from({ length: N_MODELS }, (_, i) => join(work, `model${i + 1}.safetensors`));
/** This process's peak resident memory (VmHWM: unlike getrusage's maxRSS, not inherited from the parent at fork). */
const rss = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
const gb = (b) => (b / 1e9).toFixed(2);

/** dict.{de,en}.txt: the reference dictionaries filled up to 40,000 symbols (with fairseq's 4 specials). */
function writeDicts() {
  for (const lang of ["de", "en"]) {
    const lines = readFileSync(join(refBin, `dict.${lang}.txt`), "utf8")
      .trimEnd()
      .split("\n");
    for (let i = 0; lines.length < VOCAB - 4; i++) lines.push(`filler${i} 1`);
    writeFileSync(join(work, `dict.${lang}.txt`), lines.join("\n") + "\n");
  }
}

async function makeModels() {
  const { initBackend } = await import("@fairseq-ts/backend");
  const { buildModel, layoutCheckpoint } = await import("@fairseq-ts/models");
  const { writeCheckpointFiles } = await import("@fairseq-ts/trainer");
  await initBackend({ backend: "cpu", log: null });
  for (let i = 0; i < N_MODELS; i++) {
    if (existsSync(paths[i])) continue;
    const t0 = performance.now();
    const args = { arch: ARCH, dropout: 0.3 };
    const m = buildModel({ ...args }, { srcVocabSize: VOCAB, tgtVocabSize: VOCAB, padIdx: 1 }, { seed: 1 + i });
    await writeCheckpointFiles([paths[i]], layoutCheckpoint(m, { args: { ...args } }));
    console.error(`made ${paths[i]}: ${m.numParameters()} parameters in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    m.dispose();
  }
}

async function load1() {
  const { initBackend } = await import("@fairseq-ts/backend");
  const { loadModelCheckpoint, openCheckpointFile } = await import("@fairseq-ts/models");
  const info = await initBackend({ log: null, avoidWasm: process.env.BIG_AVOID_WASM });
  const base = rss();
  const t0 = performance.now();
  const src = await openCheckpointFile(paths[0]);
  const { model } = loadModelCheckpoint(src, { srcVocabSize: VOCAB, tgtVocabSize: VOCAB, padIdx: 1 });
  src.close();
  const ms = performance.now() - t0;
  const weights = model.numParameters() * 4;
  return { backend: info.name, loadSec: ms / 1000, weightBytes: weights, fileBytes: statSync(paths[0]).size, baseRss: base, peakRss: rss() };
}

async function ensemble() {
  const { initBackend } = await import("@fairseq-ts/backend");
  const { fromPretrained } = await import("@fairseq-ts/generate");
  const { checkpointWeightBytes, openCheckpointFile } = await import("@fairseq-ts/models");
  let total = 0;
  for (const p of paths) {
    const s = await openCheckpointFile(p);
    total += checkpointWeightBytes(s);
    s.close();
  }
  // what `fairseq-ts generate/interactive` does on `auto` (packages/cli/src/load-model.ts)
  const info = await initBackend({ log: null, avoidWasm: total > 3 * 2 ** 30 ? "weights beyond wasm's heap" : undefined });
  const base = rss();
  const t0 = performance.now();
  const tr = await fromPretrained(paths, { dataDir: work, sourceLang: "de", targetLang: "en", beam: 5, maxLenA: 0, maxLenB: 24 });
  const loadSec = (performance.now() - t0) / 1000;
  const loadRss = rss();
  const sents = readFileSync(join(shared, "data/multi30k/test.de"), "utf8").split("\n").slice(0, N_SENT);
  const t1 = performance.now();
  let tokens = 0;
  const outs = [];
  for (const s of sents) {
    const hyp = tr.translate(s.toLowerCase());
    const out = typeof hyp === "string" ? hyp : (hyp?.[0]?.text ?? String(hyp));
    outs.push(out);
    tokens += out.split(" ").length + 1; // + </s>
  }
  const genSec = (performance.now() - t1) / 1000;
  return {
    backend: info.name,
    native: info.native,
    weightBytes: total,
    baseRss: base,
    loadSec,
    loadRss,
    peakRss: rss(),
    sentences: sents.length,
    tokens,
    genSec,
    sample: outs[0],
  };
}

if (phase) {
  const result = phase === "load1" ? await load1() : await ensemble();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

mkdirSync(work, { recursive: true });
writeDicts();
const tMake = performance.now();
await makeModels();
console.error(`models ready in ${((performance.now() - tMake) / 1000).toFixed(0)} s`);
const run = (p, env = {}) => {
  const load = loadavg()[0];
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), work], {
    env: { ...process.env, BIG_PHASE: p, ...env },
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${p} failed:\n${r.stderr}`);
  return { ...JSON.parse(r.stdout.trim().split("\n").pop()), loadBefore: load, loadAfter: loadavg()[0] };
};
const l1wasm = run("load1");
console.error("load1 (auto)", l1wasm);
const l1cpu = run("load1", { FAIRSEQ_TS_BACKEND: "cpu" });
console.error("load1 (cpu)", l1cpu);
const ens = run("ensemble");
console.error("ensemble", ens);
// the CLI, end to end, on auto
const cli = join(here, "../dist/bin.js");
const t0 = performance.now();
const input = readFileSync(join(shared, "data/multi30k/test.de"), "utf8").split("\n").slice(0, 2).join("\n").toLowerCase() + "\n";
const c = spawnSync(
  process.execPath,
  [cli, "interactive", work, "-s", "de", "-t", "en", "--path", paths.join(":"), "--beam", "5", "--max-len-a", "0", "--max-len-b", "24"],
  {
    input,
    encoding: "utf8",
    maxBuffer: 1 << 26,
  },
);
const cliSec = (performance.now() - t0) / 1000;
if (c.status !== 0) throw new Error(`interactive failed:\n${c.stderr}`);
const hLines = c.stdout.split("\n").filter((l) => l.startsWith("H-"));
const backendLine = c.stderr.split("\n").find((l) => l.startsWith("backend:")) ?? "";
console.error(backendLine, hLines);

const os = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}`;
const md = `# Big models: loading, memory, a four-model transformer-big ensemble

\`node packages/cli/bench/big-models.mjs\` (${new Date().toISOString().slice(0, 16)}Z, ${os}; other helpers' jobs ran meanwhile:
1-minute load average ${ens.loadBefore.toFixed(1)}–${ens.loadAfter.toFixed(1)} during the ensemble run).

Four random-initialised \`${ARCH}\` models (fairseq's shapes: 6+6 layers, 1024/4096, 16 heads), ${VOCAB} source and
${VOCAB} target symbols, no shared embeddings: ${(l1cpu.weightBytes / 4 / 1e6).toFixed(1)} M parameters,
${gb(l1cpu.weightBytes)} GB of float32 weights each (${gb(l1cpu.fileBytes)} GB file), saved as fairseq-ts checkpoints
by the streamed writer.

## One model: load time and peak resident memory

Each in a fresh process; peak RSS is the process's maximum (\`process.resourceUsage().maxRSS\`), baseline = after
the backend is initialised, before the load.

| backend | load | baseline RSS | peak RSS | peak / weights | (peak − baseline) / weights |
|---|---|---|---|---|---|
| ${l1wasm.backend} (auto) | ${l1wasm.loadSec.toFixed(1)} s | ${gb(l1wasm.baseRss)} GB | ${gb(l1wasm.peakRss)} GB | ${(l1wasm.peakRss / l1wasm.weightBytes).toFixed(2)} | ${((l1wasm.peakRss - l1wasm.baseRss) / l1wasm.weightBytes).toFixed(2)} |
| ${l1cpu.backend} | ${l1cpu.loadSec.toFixed(1)} s | ${gb(l1cpu.baseRss)} GB | ${gb(l1cpu.peakRss)} GB | ${(l1cpu.peakRss / l1cpu.weightBytes).toFixed(2)} | ${((l1cpu.peakRss - l1cpu.baseRss) / l1cpu.weightBytes).toFixed(2)} |

## Four-model ensemble, beam 5

Backend chosen by \`auto\` for ${gb(ens.weightBytes)} GB of weights: **${ens.backend}**${"threads" in ens.native ? ` with native OpenBLAS kernels (${ens.native.threads} threads)` : ""}.
${N_SENT} Multi30k test sentences (lower-cased), one at a time, \`--max-len-a 0 --max-len-b 24\` (random models rarely
emit </s>, so most hypotheses run to the length limit).

| load (4 models) | RSS after load | peak RSS | peak / weights | sentences | target tokens | time | tokens/s (2 threads) | tokens/s per thread |
|---|---|---|---|---|---|---|---|---|
| ${ens.loadSec.toFixed(1)} s | ${gb(ens.loadRss)} GB | ${gb(ens.peakRss)} GB | ${(ens.peakRss / ens.weightBytes).toFixed(2)} | ${ens.sentences} | ${ens.tokens} | ${ens.genSec.toFixed(1)} s | ${(ens.tokens / ens.genSec).toFixed(2)} | ${(ens.tokens / ens.genSec / 2).toFixed(2)} |

## The CLI on the default install

\`fairseq-ts interactive DATA -s de -t en --path model1:model2:model3:model4 --beam 5\` (2 sentences): ${cliSec.toFixed(0)} s wall
in total, ${hLines.length} H- lines. Its backend line:

\`\`\`
${backendLine}
\`\`\`
`;
writeFileSync(join(root, "bench-results/big-models.md"), md);
console.error(md);
