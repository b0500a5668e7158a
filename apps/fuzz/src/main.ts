/**
 * `pnpm fuzz [--seconds 60] [--seed N]`: mutate valid files and feed every reader; report any input
 * that escapes the reader's own error types or takes too long (saved under fuzz-crashes/).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runFuzz } from "./fuzz.js";
import { fuzzTargets } from "./targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (k: string, d: string) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1]! : d);
const shared = process.env.FAIRSEQ_TS_SHARED ?? resolve(here, "../../../../shared");
const report = runFuzz(fuzzTargets(shared), { seconds: Number(arg("--seconds", "60")), seed: Number(arg("--seed", String(Date.now() % 1e9))), crashDir: join(here, "../fuzz-crashes") });
for (const [t, n] of Object.entries(report.iterations)) console.log(`${t}: ${n} inputs`);
for (const f of report.findings) console.log(`FINDING ${f.target} [${f.kind}] ${f.message}${f.file ? ` (${f.file})` : ""}`);
process.exitCode = report.findings.length ? 1 : 0;
