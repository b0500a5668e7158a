import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs a SentencePiece command-line tool (Debian's `sentencepiece`, see scripts/install-system-deps.sh). */
export function spm(tool: "spm_train" | "spm_encode" | "spm_decode", args: string[], input?: string): string {
  try {
    return execFileSync(tool, args, { input, encoding: "utf8", maxBuffer: 1 << 28, stdio: ["pipe", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") {
      throw new Error(`${tool} not found: install Debian's sentencepiece (bash scripts/install-system-deps.sh)`);
    }
    throw new Error(`${tool} ${args.join(" ")} failed: ${err.stderr ?? err.message}`);
  }
}

/** A temporary directory removed by the returned cleanup function. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Trains a model with spm_train (one thread, quiet) and returns its `.model` path. */
export function trainModel(dir: string, name: string, input: string, flags: string[]): string {
  spm("spm_train", [`--input=${input}`, `--model_prefix=${join(dir, name)}`, "--num_threads=1", "--minloglevel=2", ...flags]);
  return join(dir, `${name}.model`);
}

export function writeLines(path: string, lines: string[]): void {
  writeFileSync(path, lines.map((l) => `${l}\n`).join(""));
}
