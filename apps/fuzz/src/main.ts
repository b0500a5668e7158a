/**
 * `pnpm fuzz [--seconds 60] [--seed N]`: mutate valid files and feed every reader, then random command
 * lines through the CLI; report any input that escapes the reader's own error types or takes too long
 * (saved under fuzz-crashes/), and any command line ending in an unclear error.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runCliFuzz } from "./cli-fuzz.js";
import { runFuzz } from "./fuzz.js";
import { fuzzTargets } from "./targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (k: string, d: string) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1]! : d);
const shared = process.env.FAIRSEQ_TS_SHARED ?? resolve(here, "../../../../shared");
const seconds = Number(arg("--seconds", "60"));
const seed = Number(arg("--seed", String(Date.now() % 1e9)));
console.log(`seed ${seed}`);
const targets = fuzzTargets(shared);
// the CLI gets one reader's share of the time
const report = await runFuzz(targets, { seconds: (seconds * targets.length) / (targets.length + 1), seed, crashDir: join(here, "../fuzz-crashes") });
for (const t of targets) t.dispose?.();
for (const [t, n] of Object.entries(report.iterations)) console.log(`${t}: ${n} inputs`);
for (const f of report.findings) console.log(`FINDING ${f.target} [${f.kind}] ${f.message}${f.file ? ` (${f.file})` : ""}`);
const ref = join(shared, "reference/fairseq/multi30k-de-en");
const cli = await runCliFuzz({ seconds: seconds / (targets.length + 1), seed, model: { data: join(ref, "bin"), path: join(ref, "model.pt") } });
console.log(
  `fairseq-ts argv: ${cli.cases} command lines (${Object.entries(cli.outcomes)
    .map(([k, n]) => `${k}: ${n}`)
    .join(", ")})`,
);
for (const f of cli.findings) console.log(`FINDING ${f.target} [${f.kind}] ${f.message}\n  argv: ${JSON.stringify(f.argv)}`);
process.exitCode = report.findings.length + cli.findings.length ? 1 : 0;
