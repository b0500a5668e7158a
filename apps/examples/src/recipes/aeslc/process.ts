/** Child processes of the AESLC recipe: spawned asynchronously (the event loop keeps running), logged to a file, timed. */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** The children still running: stopped with the recipe (Ctrl-C, kill), or train would go on writing to a closed pipe. */
const running = new Set<ChildProcess>();
let handlersInstalled = false;
function stopChildrenOnSignals(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      for (const p of running) p.kill("SIGKILL");
      process.exit(130);
    });
  }
}

export interface RunResult {
  stdout: string;
  seconds: number;
}

/**
 * Runs `command args` under `nice` when asked; stderr (and stdout unless `captureOnly`) is echoed with a `[title]`
 * prefix and both go to `log`. Rejects with an error naming the stage and the tail of its output when it exits non-zero.
 */
export function run(title: string, command: string, args: readonly string[], o: { log: string; quietStdout?: boolean; input?: string }): Promise<RunResult> {
  mkdirSync(dirname(o.log), { recursive: true });
  const log = createWriteStream(o.log);
  log.write(`$ ${command} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n`);
  console.log(`\n=== ${title}\n$ ${command} ${args.join(" ")}`);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    stopChildrenOnSignals();
    const p = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    running.add(p);
    let stdout = "";
    let tail = "";
    const echo = (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
      for (const line of chunk.split("\n")) if (line.length > 0) console.log(`  [${title}] ${line}`);
    };
    p.stdout.setEncoding("utf8");
    p.stderr.setEncoding("utf8");
    p.stdout.on("data", (d: string) => {
      stdout += d;
      log.write(d);
      if (!o.quietStdout) echo(d);
      else tail = (tail + d).slice(-4000);
    });
    p.stderr.on("data", (d: string) => {
      log.write(d);
      echo(d);
    });
    p.on("error", (e) => {
      running.delete(p);
      log.end();
      reject(new Error(`recipe stage '${title}': cannot start ${command}: ${e.message}`));
    });
    p.on("close", (status, signal) => {
      running.delete(p);
      log.end();
      const seconds = (performance.now() - t0) / 1000;
      if (status === 0) resolve({ stdout, seconds });
      else reject(new Error(`recipe stage '${title}' failed (exit ${status ?? signal}); log: ${o.log}\n${tail}`));
    });
    p.stdin.end(o.input ?? "");
  });
}
