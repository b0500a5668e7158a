/**
 * Write a file so that readers see either the old content or the whole new content: write a
 * temporary file beside it, fsync, then rename over the target (Node only; `node:` modules are
 * imported lazily so browser bundles of this package stay free of them).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const { open, rename, unlink } = await import("node:fs/promises");
  const { basename, dirname, join } = await import("node:path");
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
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
