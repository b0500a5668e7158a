import { TorchLoadError } from "./errors.js";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's data (after its local header). */
  dataOffset: number;
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
 * The entries of a zip archive as PyTorch writes them (stored, possibly zip64). Every offset and size
 * is checked against the buffer: nothing read from the file is trusted.
 */
export function readZipEntries(buf: Uint8Array): Map<string, ZipEntry> {
  const n = buf.length;
  if (n < 22) throw new TorchLoadError("not a zip archive (too short)");
  // End of central directory: search backwards over the maximal comment length.
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - 65535); i--) {
    if (buf[i] === 0x50 && buf[i + 1] === 0x4b && buf[i + 2] === 0x05 && buf[i + 3] === 0x06) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new TorchLoadError("not a zip archive (no end of central directory; truncated?)");
  let count = u16(buf, eocd + 10);
  let cdSize = u32(buf, eocd + 12);
  let cdOffset = u32(buf, eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(buf, loc) !== 0x07064b50) throw new TorchLoadError("zip64 locator missing");
    const rec = u64(buf, loc + 8);
    if (rec + 56 > n || u32(buf, rec) !== 0x06064b50) throw new TorchLoadError("zip64 end record out of range");
    count = u64(buf, rec + 32);
    cdSize = u64(buf, rec + 40);
    cdOffset = u64(buf, rec + 48);
  }
  if (cdOffset + cdSize > n) throw new TorchLoadError("zip central directory out of range (truncated?)");
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  const dec = new TextDecoder("utf-8", { fatal: false });
  for (let k = 0; k < count; k++) {
    if (p + 46 > n || u32(buf, p) !== 0x02014b50) throw new TorchLoadError(`zip central directory entry ${k} is corrupt`);
    const method = u16(buf, p + 10);
    let csize = u32(buf, p + 20);
    let size = u32(buf, p + 24);
    const nameLen = u16(buf, p + 28);
    const extraLen = u16(buf, p + 30);
    const commentLen = u16(buf, p + 32);
    let local = u32(buf, p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > n) throw new TorchLoadError(`zip entry ${k}: header out of range`);
    const name = dec.decode(buf.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field (id 1): the fields that were 0xffffffff, in order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = u16(buf, e);
      const len = u16(buf, e + 2);
      if (id === 1) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = u64(buf, q);
          q += 8;
        }
        if (csize === 0xffffffff) {
          csize = u64(buf, q);
          q += 8;
        }
        if (local === 0xffffffff) local = u64(buf, q);
      }
      e += 4 + len;
    }
    if (local + 30 > n || u32(buf, local) !== 0x04034b50) throw new TorchLoadError(`zip entry ${name}: local header out of range`);
    const dataOffset = local + 30 + u16(buf, local + 26) + u16(buf, local + 28);
    if (dataOffset + csize > n) throw new TorchLoadError(`zip entry ${name}: data out of range (truncated file?)`);
    entries.set(name, { name, method, compressedSize: csize, size, dataOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of a stored (uncompressed) entry. */
export function entryBytes(buf: Uint8Array, e: ZipEntry): Uint8Array {
  if (e.method !== 0) throw new TorchLoadError(`zip entry ${e.name}: compression method ${e.method} is not supported (PyTorch stores entries uncompressed)`);
  if (e.compressedSize !== e.size) throw new TorchLoadError(`zip entry ${e.name}: inconsistent sizes`);
  return buf.subarray(e.dataOffset, e.dataOffset + e.size);
}
