import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs a SentencePiece command-line tool (Debian's `sentencepiece`, see scripts/install-system-deps.sh).
 * Asynchronous: spm_train computes for seconds, and a synchronous child process would keep vitest's worker
 * from answering its RPC for as long (a timeout on a busy machine).
 */
export function spm(tool: "spm_train" | "spm_encode" | "spm_decode", args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(tool, args, { encoding: "utf8", maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(new Error(`${tool} not found: install Debian's sentencepiece (bash scripts/install-system-deps.sh)`));
      }
      reject(new Error(`${tool} ${args.join(" ")} failed: ${stderr || err.message}`));
    });
    child.stdin?.on("error", () => {}); // a tool that is missing or exits early: the callback reports it
    child.stdin?.end(input ?? "");
  });
}

/** A temporary directory removed by the returned cleanup function. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Trains a model with spm_train (one thread, quiet) and returns its `.model` path. */
export async function trainModel(dir: string, name: string, input: string, flags: string[]): Promise<string> {
  await spm("spm_train", [`--input=${input}`, `--model_prefix=${join(dir, name)}`, "--num_threads=1", "--minloglevel=2", ...flags]);
  return join(dir, `${name}.model`);
}

export function writeLines(path: string, lines: string[]): void {
  writeFileSync(path, lines.map((l) => `${l}\n`).join(""));
}
