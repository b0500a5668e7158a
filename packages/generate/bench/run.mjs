// Generation speed on the Multi30k test set (1,000 sentences) with fairseq's reference checkpoint,
// through the CLI exactly as fairseq's figure was taken (`generate ... --batch-size 64 --beam B`):
// the "Translated N sentences (T tokens) in Xs" line, i.e. the generation loop without model load.
// Each setting runs RUNS times in fresh processes; the median is reported, next to fairseq's figure
// (../shared/reference/fairseq/timings.md) and with a check that the hypotheses equal fairseq's.
// Writes bench-results/generate.md. Usage: node bench/run.mjs [--runs 3]  (needs `pnpm build` first)
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const shared = process.env.FAIRSEQ_TS_SHARED ?? join(root, "../shared");
const ref = join(shared, "reference/fairseq/multi30k-de-en");
const cli = join(root, "packages/cli/dist/bin.js");
const ri = process.argv.indexOf("--runs");
const RUNS = Math.max(1, ri > 0 ? Number(process.argv[ri + 1]) : 3);

// fairseq v0.10.2 on this machine (timings.md): beam 5 median of 3 clean runs; beam 1 a single run.
const FAIRSEQ = { 5: { sents: 159, toks: 2170, file: "gen-beam5.txt" }, 1: { sents: 341.84, toks: 5814.7, file: "gen-beam1.txt" } };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** H- lines as id -> tokens. */
function hyps(text) {
  const m = new Map();
  for (const line of text.split("\n")) {
    const f = line.split("\t");
    if (/^H-\d+$/.test(f[0])) m.set(f[0], f[2]);
  }
  return m;
}

const loadBefore = loadavg()[0];
const rows = [];
let backendLine = "";
for (const beam of [5, 1]) {
  const want = hyps(readFileSync(join(ref, FAIRSEQ[beam].file), "utf8"));
  const sents = [];
  const toks = [];
  let same = 0;
  for (let r = 0; r < RUNS; r++) {
    const p = spawnSync(
      process.execPath,
      [cli, "generate", join(ref, "bin"), "--path", join(ref, "model.pt"), "--gen-subset", "test", "--batch-size", "64", "--beam", String(beam)],
      { encoding: "utf8", maxBuffer: 1 << 28 },
    );
    if (p.status !== 0) throw new Error(`generate failed: ${p.stderr}`);
    const m = /Translated (\d+) sentences \((\d+) tokens\) in [\d.]+s \(([\d.]+) sentences\/s, ([\d.]+) tokens\/s\)/.exec(p.stdout);
    if (!m) throw new Error("no 'Translated' line in generate's output");
    sents.push(Number(m[3]));
    toks.push(Number(m[4]));
    backendLine = p.stderr.split("\n").find((l) => l.startsWith("backend:")) ?? backendLine;
    const got = hyps(p.stdout);
    same = [...want].filter(([id, h]) => got.get(id) === h).length;
    process.stderr.write(`beam ${beam} run ${r + 1}: ${m[3]} sentences/s\n`);
  }
  const s = median(sents);
  rows.push(
    `| ${beam} | ${s.toFixed(1)} | ${median(toks).toFixed(0)} | ${sents.map((x) => x.toFixed(1)).join(", ")} | ${FAIRSEQ[beam].sents} | ${(s / FAIRSEQ[beam].sents).toFixed(2)}× | ${same} / ${want.size} |`,
  );
}
const loadAfter = loadavg()[0];

const out = `# Generation speed (sentences/s, fairseq's own "Translated" line)

Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine: \`node packages/generate/bench/run.mjs --runs ${RUNS}\`:
\`fairseq-ts generate <ref>/bin --path <ref>/model.pt --gen-subset test --batch-size 64 --beam B\` on the
Multi30k test set (1,000 sentences) with fairseq's reference tiny checkpoint; median of ${RUNS} processes.
fairseq v0.10.2 figures from ../shared/reference/fairseq/timings.md (beam 5: median of 3 clean runs; beam 1: one run).
Load average before / after: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)} (2 cores).

${backendLine}

| beam | sentences/s | tokens/s | runs | fairseq sentences/s | vs fairseq | hypotheses equal to fairseq's |
|---|---|---|---|---|---|---|
${rows.join("\n")}
`;
writeFileSync(join(root, "bench-results/generate.md"), out);
process.stdout.write(out);
