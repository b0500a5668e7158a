import { nodeBuiltinSync } from "@fairseq-ts/runtime";

/**
 * Synchronous file reads for the encoder factories (fairseq builds its encoders synchronously), without a
 * static `node:` import so the package still loads in browsers: there, pass bytes/text instead of paths.
 */
interface NodeFs {
  readFileSync(path: string): Uint8Array;
}

/** Reads a whole file; `what` names the flag/file in the error. */
export function readBytesSync(path: string, what: string): Uint8Array {
  const fs = nodeBuiltinSync<NodeFs>("node:fs", what);
  try {
    return fs.readFileSync(path);
  } catch (e) {
    throw new Error(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Reads a whole UTF-8 text file; `what` names the flag/file in the error. */
export function readTextSync(path: string, what: string): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(readBytesSync(path, what));
}
