import { TorchLoadError } from "./errors.js";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's data (after its local header); may exceed 2^32 (zip64). */
  dataOffset: number;
}

/**
 * Random access to an archive's bytes: a buffer in memory, or a file read with positioned reads, so
 * that a checkpoint larger than a Node buffer (2 GiB) or than memory never has to be read whole.
 * Positions and sizes are plain numbers (exact up to 2^53).
 */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes from `position` (a view when the source is in memory). */
  read(position: number, length: number): Uint8Array;
  /** Fill `dst` with the bytes from `position`: the one copy from the file into the final array. */
  readInto(dst: Uint8Array, position: number): void;
}

/** A buffer as a ByteSource (reads are views, no copy). */
export function bufferSource(buf: Uint8Array): ByteSource {
  return {
    size: buf.length,
    read: (position, length) => {
      if (position < 0 || position + length > buf.length) throw new TorchLoadError("read past the end of the archive (truncated file?)");
      return buf.subarray(position, position + length);
    },
    readInto: (dst, position) => {
      if (position < 0 || position + dst.length > buf.length) throw new TorchLoadError("read past the end of the archive (truncated file?)");
      dst.set(buf.subarray(position, position + dst.length));
    },
  };
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
function u64(b: Uint8Array, o: number): number {
  const lo = u32(b, o);
  const hi = u32(b, o + 4);
  if (hi > 0x1fffff) throw new TorchLoadError("zip: 64-bit field too large");
  return hi * 2 ** 32 + lo;
}

/**
 * The entries of a zip archive as PyTorch writes them (stored, possibly zip64), from a buffer or any
 * ByteSource: only the end records, the central directory and each entry's 30-byte local header are
 * read. Every offset and size is checked against the archive's size: nothing read from it is trusted.
 */
export function readZipEntries(archive: Uint8Array | ByteSource): Map<string, ZipEntry> {
  const src = archive instanceof Uint8Array ? bufferSource(archive) : archive;
  const n = src.size;
  if (n < 22) throw new TorchLoadError("not a zip archive (too short)");
  // End of central directory: search backwards over the maximal comment length.
  const tailStart = Math.max(0, n - 22 - 65535);
  const tail = src.read(tailStart, n - tailStart);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new TorchLoadError("not a zip archive (no end of central directory; truncated?)");
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    const loc = tailStart + eocd - 20;
    if (loc < 0) throw new TorchLoadError("zip64 locator missing");
    const locator = src.read(loc, 20);
    if (u32(locator, 0) !== 0x07064b50) throw new TorchLoadError("zip64 locator missing");
    const recAt = u64(locator, 8);
    if (recAt + 56 > n) throw new TorchLoadError("zip64 end record out of range");
    const rec = src.read(recAt, 56);
    if (u32(rec, 0) !== 0x06064b50) throw new TorchLoadError("zip64 end record out of range");
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  }
  if (cdOffset + cdSize > n) throw new TorchLoadError("zip central directory out of range (truncated?)");
  // a central directory entry is at least 46 bytes: a count beyond that is corrupt, not a reason to loop
  if (count * 46 > cdSize) throw new TorchLoadError(`zip central directory claims ${count} entries in ${cdSize} bytes (corrupt)`);
  const cd = src.read(cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  const dec = new TextDecoder("utf-8", { fatal: false });
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdSize || u32(cd, p) !== 0x02014b50) throw new TorchLoadError(`zip central directory entry ${k} is corrupt`);
    const method = u16(cd, p + 10);
    let csize = u32(cd, p + 20);
    let size = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    let local = u32(cd, p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw new TorchLoadError(`zip entry ${k}: header out of range`);
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field (id 1): the fields that were 0xffffffff, in order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = u16(cd, e);
      const len = u16(cd, e + 2);
      if (id === 1) {
        let q = e + 4;
        const need = (size === 0xffffffff ? 8 : 0) + (csize === 0xffffffff ? 8 : 0) + (local === 0xffffffff ? 8 : 0);
        if (need > len || e + 4 + need > eEnd) throw new TorchLoadError(`zip entry ${name}: zip64 extra field too short`);
        if (size === 0xffffffff) {
          size = u64(cd, q);
          q += 8;
        }
        if (csize === 0xffffffff) {
          csize = u64(cd, q);
          q += 8;
        }
        if (local === 0xffffffff) local = u64(cd, q);
      }
      e += 4 + len;
    }
    if (local + 30 > n) throw new TorchLoadError(`zip entry ${name}: local header out of range`);
    const lh = src.read(local, 30);
    if (u32(lh, 0) !== 0x04034b50) throw new TorchLoadError(`zip entry ${name}: local header out of range`);
    const dataOffset = local + 30 + u16(lh, 26) + u16(lh, 28);
    if (dataOffset + csize > n) throw new TorchLoadError(`zip entry ${name}: data out of range (truncated file?)`);
    entries.set(name, { name, method, compressedSize: csize, size, dataOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Check that an entry is stored (PyTorch never compresses). */
export function checkStored(e: ZipEntry): void {
  if (e.method !== 0) throw new TorchLoadError(`zip entry ${e.name}: compression method ${e.method} is not supported (PyTorch stores entries uncompressed)`);
  if (e.compressedSize !== e.size) throw new TorchLoadError(`zip entry ${e.name}: inconsistent sizes`);
}

/** The bytes of a stored (uncompressed) entry. */
export function entryBytes(archive: Uint8Array | ByteSource, e: ZipEntry): Uint8Array {
  checkStored(e);
  const src = archive instanceof Uint8Array ? bufferSource(archive) : archive;
  return src.read(e.dataOffset, e.size);
}
