import { nodeBuiltin } from "./node-builtin.js";

/**
 * Write a file so that readers see either the old content or the whole new content: write a
 * temporary file beside it, fsync, then rename over the target (Node only; `node:` modules are
 * loaded by nodeBuiltin when called, so browser bundles of this package stay free of them).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const { open, rename, unlink } = await nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises", "writeFileAtomic");
  const { basename, dirname, join } = await nodeBuiltin<typeof import("node:path")>("node:path", "writeFileAtomic");
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fh = await open(tmp, "w");
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    // Two halves, so that a failpoint (and a real crash) can land between them.
    const half = bytes.length >> 1;
    // write() may write less than asked: loop to the end of each half
    for (let off = 0; off < half; ) off += (await fh.write(bytes, off, half - off)).bytesWritten;
    failpoint("atomic-write:mid");
    for (let off = half; off < bytes.length; ) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
    await fh.sync();
    failpoint("atomic-write:before-rename");
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

const failpointHits = new Map<string, number>();

/**
 * Fault injection for crash tests: `FAIRSEQ_TS_FAILPOINT=name@N` kills this process with SIGKILL the
 * N-th time (default 1st) execution reaches `failpoint(name)`. A no-op unless the variable names it.
 */
export function failpoint(name: string): void {
  const spec = typeof process !== "undefined" ? process.env?.FAIRSEQ_TS_FAILPOINT : undefined;
  if (!spec) return;
  const [want, nth] = spec.split("@");
  if (want !== name) return;
  const hits = (failpointHits.get(name) ?? 0) + 1;
  failpointHits.set(name, hits);
  if (hits === Number(nth ?? 1)) process.kill(process.pid, "SIGKILL");
}
