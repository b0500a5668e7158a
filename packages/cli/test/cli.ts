import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI (tests run after `build`). */
export const BIN = join(dirname(fileURLToPath(import.meta.url)), "../dist/bin.js");

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as they arrived */
  out: string;
  stdout: string;
  stderr: string;
}

/**
 * Run `fairseq-ts ARGS` in a child process, asynchronously (a blocked event loop would starve vitest's
 * worker messages). `onLine` sees every output line with the child's pid (to signal it).
 */
export function runCli(
  args: string[],
  o: { env?: Record<string, string>; input?: string; onLine?: (line: string, pid: number) => void } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...o.env } });
    let out = "";
    let stdout = "";
    let stderr = "";
    const take = (d: Buffer, which: "stdout" | "stderr") => {
      const s = String(d);
      out += s;
      if (which === "stdout") stdout += s;
      else stderr += s;
      if (o.onLine) for (const line of s.split("\n")) if (line) o.onLine(line, p.pid!);
    };
    p.stdout.on("data", (d: Buffer) => take(d, "stdout"));
    p.stderr.on("data", (d: Buffer) => take(d, "stderr"));
    if (o.input !== undefined) p.stdin.end(o.input);
    p.on("close", (status, signal) => resolve({ status, signal, out, stdout, stderr }));
  });
}
