import { nodeBuiltin } from "./node-builtin.js";

/**
 * Write a file so that readers see either the old content or the whole new content: write a
 * temporary file beside it, fsync, then rename over the target (Node only; `node:` modules are
 * loaded by nodeBuiltin when called, so browser bundles of this package stay free of them).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const { open, rename, unlink } = await nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises", "writeFileAtomic");
  // eslint-disable-next-line @typescript-eslint/unbound-method -- node:path's functions do not use `this`
  const { basename, dirname, join } = await nodeBuiltin<typeof import("node:path")>("node:path", "writeFileAtomic");
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fh = await open(tmp, "w");
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    // Two halves, so that a failpoint (and a real crash) can land between them.
    const half = bytes.length >> 1;
    // write() may write less than asked: loop to the end of each half
    for (let off = 0; off < half;) off += (await fh.write(bytes, off, half - off)).bytesWritten;
    failpoint("atomic-write:mid");
    for (let off = half; off < bytes.length;) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
    await fh.sync();
    failpoint("atomic-write:before-rename");
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    // Node's messages name no file ("ENOSPC: no space left on device, write"): name it, keep the code
    const code = (err as { code?: string }).code;
    if (code === undefined) throw err;
    throw Object.assign(new Error(`${path}: cannot write (${(err as Error).message}); the previous ${basename(path)}, if any, is unchanged`, { cause: err }), {
      code,
    });
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
 * Fault injection for crash tests: `FAIRSEQ_TS_FAILPOINT=name@N[:action]` acts the N-th time (default
 * 1st) execution reaches `failpoint(name)`: `kill` (default) SIGKILLs this process, `enospc` throws the
 * error a full disk gives (code ENOSPC), `flag` makes this call return true for the caller to act on
 * (e.g. poison a batch with NaN). A no-op returning false unless the variable names it.
 */
export function failpoint(name: string): boolean {
  const spec = typeof process !== "undefined" ? process.env?.FAIRSEQ_TS_FAILPOINT : undefined;
  if (!spec) return false;
  const m = /^([^@]+)(?:@(\d+))?(?::(kill|enospc|flag))?$/.exec(spec);
  if (!m || m[1] !== name) return false;
  const hits = (failpointHits.get(name) ?? 0) + 1;
  failpointHits.set(name, hits);
  if (hits !== Number(m[2] ?? 1)) return false;
  const action = m[3] ?? "kill";
  if (action === "kill") process.kill(process.pid, "SIGKILL");
  if (action === "enospc") throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
  return true;
}
