// Load and hostile-request benchmark of `fairseq-ts serve` with fairseq's Multi30k reference model (beam 5):
//  1. `fairseq-ts generate --beam 5 --batch-size 64` on the test set: sentences/s of the generation loop (the figure to approach);
//  2. autocannon on loopback at 1, 8 and 64 concurrent clients, one test-set sentence per LibreTranslate request:
//     requests (= sentences)/s, latency p50/p99, errors; the server's RSS and tfjs tensors before and after;
//  3. 10,000 hostile requests (bench/hostile-cases.mjs: bad JSON, huge fields, wrong types, prototype keys, garbage,
//     slow bodies, abrupt disconnects), 32 at a time: every status as expected, then a correct translation, and
//     RSS / tensors before and after.
// Writes bench-results/serve.md. Usage: node bench/serve.mjs [--seconds 20] [--hostile 10000]  (needs `pnpm build` first)
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { hostileCase, rawRequest } from "./hostile-cases.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const ref = join(shared, "reference/fairseq/multi30k-de-en");
const cli = join(root, "packages/cli/dist/bin.js");
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg("--seconds", 20);
const HOSTILE = arg("--hostile", 10_000);
const MODEL = [join(ref, "bin"), "--path", join(ref, "model.pt"), "--beam", "5"];

// the test set's sources and fairseq's hypotheses (the server must give the same)
const sources = new Map();
const hyps = new Map();
for (const line of readFileSync(join(ref, "gen-beam5.txt"), "utf8").split("\n")) {
  const [tag, a, b] = line.split("\t");
  if (/^S-\d+$/.test(tag)) sources.set(tag.slice(2), a);
  if (/^H-\d+$/.test(tag)) hyps.set(tag.slice(2), b);
}
const ids = [...sources.keys()].sort((x, y) => Number(x) - Number(y));

const loadAtStart = loadavg();
// 1. generate (again after the load rows: on a shared machine the two figures bracket the server's)
function generateSentencesPerSecond() {
  const gen = spawnSync(process.execPath, [cli, "generate", ...MODEL, "--batch-size", "64", "--gen-subset", "test"], { encoding: "utf8", maxBuffer: 1 << 28 });
  const genLine = /Translated (\d+) sentences \((\d+) tokens\) in ([\d.]+)s \(([\d.]+) sentences\/s/.exec(gen.stdout + gen.stderr);
  if (!genLine) throw new Error(`generate printed no 'Translated' line:\n${gen.stderr.slice(-2000)}`);
  console.log(`generate: ${genLine[4]} sentences/s`);
  return Number(genLine[4]);
}
const generateBefore = generateSentencesPerSecond();

// the server, with the hostile cases' limits (64 KiB bodies, 2000 characters a sentence) and room for every client
const server = spawn(process.execPath, [
  cli,
  "serve",
  ...MODEL,
  "--batch-size",
  "64",
  "--port",
  "0",
  "--batch-wait-ms",
  "5",
  "--max-queue",
  "100000",
  "--max-client-queue",
  "100000",
  "--max-body-bytes",
  "65536",
  "--max-text-chars",
  "2000",
]);
let serverErr = "";
const url = await new Promise((resolve, reject) => {
  server.stderr.on("data", (d) => {
    serverErr += String(d);
    const m = /serve: listening on (http:\/\/\S+) with/.exec(serverErr);
    if (m) resolve(m[1]);
  });
  server.on("close", (code) => reject(new Error(`serve exited with ${code}: ${serverErr}`)));
});
const port = Number(new URL(url).port);
const health = async () => (await (await fetch(`${url}/health`)).json()).memory;
const post = async (q) =>
  (
    await (
      await fetch(`${url}/translate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ q, source: "de", target: "en" }),
      })
    ).json()
  ).translatedText;

// warm up (first batches build kernels), and check the served hypotheses equal fairseq's on the whole test set
const served = [];
for (let i = 0; i < ids.length; i += 100) served.push(...(await post(ids.slice(i, i + 100).map((id) => sources.get(id)))));
const same = ids.filter((id, i) => served[i] === hyps.get(id)).length;
console.log(`served = fairseq on ${same}/${ids.length}`);

// 2. load
const load = [];
const memBeforeLoad = await health();
for (const connections of [1, 8, 64]) {
  let k = 0;
  const result = await autocannon({
    url,
    connections,
    duration: SECONDS,
    // (autocannon's default, 10 s, cuts requests that wait behind long batches on a loaded machine)
    timeout: 60,
    requests: [
      {
        method: "POST",
        path: "/translate",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ q: sources.get(ids[k++ % ids.length]), source: "de", target: "en" }) }),
      },
    ],
  });
  const row = {
    connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  load.push(row);
  console.log(JSON.stringify(row));
}
const memAfterLoad = await health();
const generateAfter = generateSentencesPerSecond();
const generateSps = (generateBefore + generateAfter) / 2;

// 3. hostile
const memBeforeHostile = await health();
const t0 = Date.now();
// 64 slow bodies (slowloris) held open meanwhile: each must get 408 once --receive-timeout-ms (default 10 s) passes
const SLOW = 64;
const slow = Array.from({ length: SLOW }, () =>
  rawRequest(port, { chunks: ['POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"q": "ein'] }),
);
const mismatches = new Map();
const kinds = new Map();
let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < HOSTILE) {
      const c = hostileCase(next++);
      const r = await rawRequest(port, c);
      kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
      if (c.expect !== null && r.status !== c.expect) mismatches.set(`${c.kind}: ${r.head}`, (mismatches.get(`${c.kind}: ${r.head}`) ?? 0) + 1);
    }
  }),
);
const hostileSeconds = (Date.now() - t0) / 1000;
const slow408 = (await Promise.all(slow)).filter((r) => r.status === 408).length;
await new Promise((resolve) => setTimeout(resolve, 500));
const afterHostile = await post(sources.get(ids[0]));
const memAfterHostile = await health();
console.log(
  `hostile: ${HOSTILE} in ${hostileSeconds}s, mismatches ${JSON.stringify([...mismatches])}, then ${afterHostile === hyps.get(ids[0]) ? "correct" : "WRONG"}`,
);

server.kill("SIGTERM");
const exitCode = await new Promise((resolve) => server.on("close", resolve));

const mb = (x) => (x / 2 ** 20).toFixed(1);
const md = `# serve: load and hostile requests (\`pnpm --filter @fairseq-ts/serve bench\`)

fairseq's Multi30k de→en reference model (\`../shared/reference/fairseq/multi30k-de-en/model.pt\`), beam 5, the server
with \`--batch-size 64 --batch-wait-ms 5\`, on loopback; ${cpus().length} cores, load average (1/5/15 min) ${loadAtStart.map((x) => x.toFixed(2)).join(" / ")} at the start and ${loadavg()
  .map((x) => x.toFixed(2))
  .join(" / ")} at the end (a shared machine: other jobs ran beside this one). ${new Date().toISOString().slice(0, 10)}.

The served hypotheses equal fairseq-generate's (gen-beam5.txt) on **${same}/${ids.length}** test sentences.

## Throughput and latency (autocannon, ${SECONDS} s per row, one test-set sentence per LibreTranslate request)

\`fairseq-ts generate --beam 5 --batch-size 64\` on the same 1,000 sentences (its "Translated" line): ${generateBefore} sentences/s before the load rows and
${generateAfter} after, mean **${generateSps.toFixed(1)}** (the "vs generate" column).

| concurrent clients | sentences/s | vs generate | p50 latency (ms) | p99 latency (ms) | requests | non-2xx | errors |
|---|---|---|---|---|---|---|---|
${load.map((r) => `| ${r.connections} | ${r.rps.toFixed(1)} | ${((100 * r.rps) / generateSps).toFixed(0)}% | ${r.p50} | ${r.p99} | ${r.total} | ${r.non2xx} | ${r.errors + r.timeouts} |`).join("\n")}

Server memory (its \`/health\`): RSS ${mb(memBeforeLoad.rss)} MB and ${memBeforeLoad.tensors} tensors before the load,
${mb(memAfterLoad.rss)} MB and ${memAfterLoad.tensors} tensors after.

## Hostile requests

${HOSTILE.toLocaleString("en")} requests, 32 at a time, in ${hostileSeconds.toFixed(1)} s: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}
(see \`bench/hostile-cases.mjs\`), with ${SLOW} slow bodies held open meanwhile (${slow408} of them got 408 at the receive timeout). Statuses other than expected: ${mismatches.size === 0 ? "**none**" : [...mismatches].map(([k, n]) => `${k} ×${n}`).join(", ")}.
Afterwards the server translated correctly: **${afterHostile === hyps.get(ids[0]) ? "yes" : "NO"}**. RSS ${mb(memBeforeHostile.rss)} MB → ${mb(memAfterHostile.rss)} MB,
tensors ${memBeforeHostile.tensors} → ${memAfterHostile.tensors}. SIGTERM: exit code ${exitCode}.
`;
writeFileSync(join(root, "bench-results/serve.md"), md);
console.log(md);
