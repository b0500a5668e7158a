import { nodeBuiltin } from "./node-builtin.js";

/**
 * Write a file so that readers see either the old content or the whole new content: write a
 * temporary file beside it, fsync, then rename over the target (Node only; `node:` modules are
 * loaded by nodeBuiltin when called, so browser bundles of this package stay free of them).
 */
/**
 * A file produced in order, chunk by chunk, at known absolute positions (e.g. a checkpoint: header, then each
 * tensor read off its backend only when written), so that no buffer of the whole file is ever held.
 */
export interface StreamedFile {
  /** Total bytes; may exceed 2^32 (positions are plain numbers, exact to 2^53). */
  size: number;
  /** Call `sink` with each chunk at increasing positions; bytes never written stay zero (a sparse hole). */
  write(sink: (chunk: Uint8Array, position: number) => void): void;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array | StreamedFile): Promise<void> {
  const { open, rename, unlink } = await nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises", "writeFileAtomic");
  // eslint-disable-next-line @typescript-eslint/unbound-method -- node:path's functions do not use `this`
  const { basename, dirname, join } = await nodeBuiltin<typeof import("node:path")>("node:path", "writeFileAtomic");
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  if (typeof data !== "string" && !(data instanceof Uint8Array)) return writeStreamedAtomic(path, tmp, data);
  const fh = await open(tmp, "w");
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    // Two halves, so that a failpoint (and a real crash) can land between them. (Not `length >> 1`: a file
    // over 2 GiB would get a negative half.)
    const half = Math.floor(bytes.length / 2);
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

/** writeFileAtomic of a StreamedFile: synchronous positioned writes at running 64-bit-safe offsets. */
async function writeStreamedAtomic(path: string, tmp: string, file: StreamedFile): Promise<void> {
  const fs = await nodeBuiltin<typeof import("node:fs")>("node:fs", "writeFileAtomic");
  // eslint-disable-next-line @typescript-eslint/unbound-method -- node:path's functions do not use `this`
  const { basename } = await nodeBuiltin<typeof import("node:path")>("node:path", "writeFileAtomic");
  const fd = fs.openSync(tmp, "w");
  let closed = false;
  try {
    const half = Math.floor(file.size / 2);
    let written = 0;
    let midPassed = false;
    const put = (chunk: Uint8Array, position: number) => {
      // writeSync may write less than asked: loop to the end of the chunk
      for (let off = 0; off < chunk.length;) off += fs.writeSync(fd, chunk, off, chunk.length - off, position + off);
    };
    file.write((chunk, position) => {
      // forward only; a gap stays a hole in the file (reads as zeros, takes no disk)
      if (position < written) throw new Error(`${path}: chunk at byte ${position} overlaps what was written (up to ${written})`);
      if (position + chunk.length > file.size) throw new Error(`${path}: chunk at byte ${position} ends past the announced ${file.size} bytes`);
      // the same failpoint as a buffer's: after exactly the first half of the bytes
      if (!midPassed && position + chunk.length >= half) {
        const k = Math.max(0, half - position);
        put(chunk.subarray(0, k), position);
        failpoint("atomic-write:mid");
        midPassed = true;
        put(chunk.subarray(k), position + k);
      } else {
        put(chunk, position);
      }
      written = position + chunk.length;
    });
    if (written !== file.size) fs.ftruncateSync(fd, file.size); // a trailing hole
    fs.fsyncSync(fd);
    failpoint("atomic-write:before-rename");
    fs.closeSync(fd);
    closed = true;
    fs.renameSync(tmp, path);
  } catch (err) {
    if (!closed) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing: the write error is the one to report
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      // the temporary file may not exist (rename failed after it moved, or open failed)
    }
    const code = (err as { code?: string }).code;
    if (code === undefined) throw err;
    throw Object.assign(new Error(`${path}: cannot write (${(err as Error).message}); the previous ${basename(path)}, if any, is unchanged`, { cause: err }), {
      code,
    });
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
