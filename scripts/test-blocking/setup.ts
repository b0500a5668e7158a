// Records, for every test, the longest time the worker's event loop went without running a timer: a test
// that computes for 37 s without yielding blocks vitest's RPC (`Timeout calling "onTaskUpdate"`) on a busy
// machine. Loaded by vitest.config.ts beside it; writes one TSV line per test (and per stretch between
// tests: hooks, imports) to $FAIRSEQ_TS_BLOCKING_OUT.
import { appendFileSync } from "node:fs";
import { afterAll, afterEach, beforeEach } from "vitest";

const out = process.env.FAIRSEQ_TS_BLOCKING_OUT ?? "/tmp/test-blocking.tsv";
const tickMs = 20;
let last = performance.now();
let worstGap = 0;
let since = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  worstGap = Math.max(worstGap, now - last - tickMs);
  last = now;
}, tickMs);
timer.unref();

function checkpoint(label: string): void {
  // the stretch since the last tick has not been seen by the timer yet
  const now = performance.now();
  const gap = Math.max(worstGap, now - last - tickMs);
  appendFileSync(out, `${process.cwd()}\t${label}\t${(gap / 1000).toFixed(2)}\t${((now - since) / 1000).toFixed(2)}\n`);
  worstGap = 0;
  last = now;
  since = now;
}

beforeEach((ctx) => checkpoint(`(before) ${ctx.task.file?.name} > ${ctx.task.name}`));
afterEach((ctx) => checkpoint(`${ctx.task.file?.name} > ${ctx.task.name}`));
afterAll(() => checkpoint("(after all)"));
