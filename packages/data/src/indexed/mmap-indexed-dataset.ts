import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { writeFileAtomic } from "@fairseq-ts/runtime";
import { CODE_BY_DTYPE, DTYPE_BY_CODE, ITEM_SIZE, decodeItems, encodeItems, type IndexedDtype } from "./dtypes.js";

/** A `.bin`/`.idx` file is missing, malformed or inconsistent; `file` names it. */
export class IndexedDatasetError extends Error {
  override name = "IndexedDatasetError";
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** `MMIDIDX\0\0`: fairseq's mmap index magic. */
export const MMAP_INDEX_MAGIC = Uint8Array.from([0x4d, 0x4d, 0x49, 0x44, 0x49, 0x44, 0x58, 0x00, 0x00]);
const HEADER_BYTES = 9 + 8 + 1 + 8;

export const indexFilePath = (prefix: string) => `${prefix}.idx`;
export const dataFilePath = (prefix: string) => `${prefix}.bin`;

/** What a dataset of token sequences offers to the datasets built on it. */
export interface TokenSequenceDataset {
  readonly length: number;
  /** Number of tokens of each item. */
  readonly sizes: Int32Array;
  /** Item `i` as token ids. */
  get(i: number): Int32Array;
}

function readWhole(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new IndexedDatasetError(`cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`, path);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new IndexedDatasetError("is a directory", path);
    const size = st.size;
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** The parsed `.idx`: dtype, sizes and byte pointers into the `.bin`. */
export interface MMapIndex {
  dtype: IndexedDtype;
  sizes: Int32Array;
  pointers: Float64Array;
}

/** Parse and validate a fairseq mmap `.idx` (all of it is small: 12 bytes per item). */
export function parseMMapIndex(bytes: Uint8Array, file: string): MMapIndex {
  if (bytes.length < HEADER_BYTES) throw new IndexedDatasetError(`too short for an mmap index (${bytes.length} bytes)`, file);
  for (let i = 0; i < MMAP_INDEX_MAGIC.length; i++) {
    if (bytes[i] !== MMAP_INDEX_MAGIC[i]) {
      throw new IndexedDatasetError("not a fairseq mmap index (wrong magic; expected MMIDIDX)", file);
    }
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getBigUint64(9, true);
  if (version !== 1n) throw new IndexedDatasetError(`unsupported index version ${version} (expected 1)`, file);
  const code = bytes[17]!;
  const dtype = DTYPE_BY_CODE[code];
  if (!dtype) throw new IndexedDatasetError(`unknown dtype code ${code}`, file);
  const len64 = dv.getBigUint64(18, true);
  const expected = BigInt(HEADER_BYTES) + len64 * 12n;
  if (expected !== BigInt(bytes.length)) {
    throw new IndexedDatasetError(`length ${bytes.length} bytes does not match ${len64} items (expected ${expected} bytes); truncated or corrupt`, file);
  }
  const len = Number(len64);
  const sizes = new Int32Array(len);
  const pointers = new Float64Array(len);
  let off = HEADER_BYTES;
  for (let i = 0; i < len; i++, off += 4) sizes[i] = dv.getInt32(off, true);
  for (let i = 0; i < len; i++, off += 8) {
    const p = dv.getBigInt64(off, true);
    if (p < 0n || p > BigInt(Number.MAX_SAFE_INTEGER)) throw new IndexedDatasetError(`item ${i}: invalid pointer ${p}`, file);
    pointers[i] = Number(p);
  }
  for (let i = 0; i < len; i++) if (sizes[i]! < 0) throw new IndexedDatasetError(`item ${i}: negative size ${sizes[i]}`, file);
  return { dtype, sizes, pointers };
}

/** Serialise an mmap index exactly as fairseq's `Index.writer` does. */
export function formatMMapIndex(dtype: IndexedDtype, sizes: ArrayLike<number>): Uint8Array {
  const n = sizes.length;
  const out = new Uint8Array(HEADER_BYTES + 12 * n);
  const dv = new DataView(out.buffer);
  out.set(MMAP_INDEX_MAGIC, 0);
  dv.setBigUint64(9, 1n, true);
  out[17] = CODE_BY_DTYPE[dtype];
  dv.setBigUint64(18, BigInt(n), true);
  let off = HEADER_BYTES;
  for (let i = 0; i < n; i++, off += 4) dv.setInt32(off, sizes[i]!, true);
  const item = ITEM_SIZE[dtype];
  let address = 0;
  for (let i = 0; i < n; i++, off += 8) {
    dv.setBigInt64(off, BigInt(address), true);
    address += sizes[i]! * item;
  }
  return out;
}

const BLOCK = 1 << 20;
const MAX_BLOCKS = 64;

/**
 * fairseq's `MMapIndexedDataset`: token sequences in a `.bin` with an `.idx` index. The index is read
 * at open; the `.bin` is read lazily in 1 MiB blocks (a small LRU cache), never whole.
 */
export class MMapIndexedDataset implements TokenSequenceDataset {
  readonly dtype: IndexedDtype;
  readonly sizes: Int32Array;
  private readonly pointers: Float64Array;
  private readonly binPath: string;
  private readonly binSize: number;
  private fd: number | null;
  private readonly blocks = new Map<number, Uint8Array>();

  private constructor(prefix: string, index: MMapIndex) {
    this.dtype = index.dtype;
    this.sizes = index.sizes;
    this.pointers = index.pointers;
    this.binPath = dataFilePath(prefix);
    try {
      this.fd = openSync(this.binPath, "r");
    } catch (err) {
      throw new IndexedDatasetError(`cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`, this.binPath);
    }
    const st = fstatSync(this.fd);
    if (st.isDirectory()) {
      closeSync(this.fd);
      this.fd = null;
      throw new IndexedDatasetError("is a directory", this.binPath);
    }
    this.binSize = st.size;
    const item = ITEM_SIZE[this.dtype];
    for (let i = 0; i < this.sizes.length; i++) {
      const end = this.pointers[i]! + this.sizes[i]! * item;
      if (end > this.binSize) {
        const fd = this.fd;
        this.fd = null;
        closeSync(fd);
        throw new IndexedDatasetError(`shorter than its index says: item ${i} ends at byte ${end} but the file has ${this.binSize} bytes`, this.binPath);
      }
    }
  }

  /** Open `<prefix>.idx` and `<prefix>.bin`. */
  static open(prefix: string): MMapIndexedDataset {
    const idx = indexFilePath(prefix);
    return new MMapIndexedDataset(prefix, parseMMapIndex(readWhole(idx), idx));
  }

  /** Whether both files of a dataset exist. */
  static async exists(prefix: string): Promise<boolean> {
    const { existsSync } = await import("node:fs");
    return existsSync(indexFilePath(prefix)) && existsSync(dataFilePath(prefix));
  }

  get length(): number {
    return this.sizes.length;
  }

  private block(b: number): Uint8Array {
    let blk = this.blocks.get(b);
    if (blk) {
      this.blocks.delete(b);
      this.blocks.set(b, blk);
      return blk;
    }
    if (this.fd === null) throw new IndexedDatasetError("dataset is closed", this.binPath);
    const start = b * BLOCK;
    const len = Math.min(BLOCK, this.binSize - start);
    blk = new Uint8Array(len);
    let off = 0;
    while (off < len) {
      const n = readSync(this.fd, blk, off, len - off, start + off);
      if (n === 0) throw new IndexedDatasetError(`unexpected end of file at byte ${start + off}`, this.binPath);
      off += n;
    }
    this.blocks.set(b, blk);
    if (this.blocks.size > MAX_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    return blk;
  }

  /** The raw bytes of item `i`. */
  private bytes(i: number): Uint8Array {
    const item = ITEM_SIZE[this.dtype];
    const start = this.pointers[i]!;
    const len = this.sizes[i]! * item;
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const pos = start + done;
      const b = Math.floor(pos / BLOCK);
      const blk = this.block(b);
      const from = pos - b * BLOCK;
      const take = Math.min(len - done, blk.length - from);
      out.set(blk.subarray(from, from + take), done);
      done += take;
    }
    return out;
  }

  /** Item `i` as token ids (every dtype widened to Int32Array). */
  get(i: number): Int32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.sizes.length) {
      throw new RangeError(`index ${i} out of range for ${this.binPath} (${this.sizes.length} items)`);
    }
    try {
      return decodeItems(this.bytes(i), this.dtype, this.sizes[i]!);
    } catch (err) {
      // int64/float64 data holding a value that is no token id (a corrupt .bin, or an .idx with the wrong dtype)
      if (err instanceof RangeError) throw new IndexedDatasetError(`item ${i}: ${err.message}`, this.binPath);
      throw err;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.blocks.clear();
  }
}

/**
 * fairseq's `MMapIndexedDatasetBuilder`: append items to a `.bin`, then write the `.idx`. Both are
 * written under temporary names and renamed into place by `finalize`, so an interrupted run never
 * leaves a dataset that looks valid.
 */
export class MMapIndexedDatasetBuilder {
  private readonly sizes: number[] = [];
  private fd: number | null;
  private readonly tmpBin: string;
  private written = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly binPath: string,
    readonly dtype: IndexedDtype,
  ) {
    this.tmpBin = `${binPath}.tmp-${process.pid}`;
    this.fd = openSync(this.tmpBin, "w");
  }

  addItem(ids: ArrayLike<number>): void {
    const bytes = encodeItems(ids, this.dtype);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.sizes.push(ids.length);
    if (this.pendingBytes >= BLOCK) this.flush();
  }

  private flush(): void {
    if (this.fd === null) throw new Error(`builder for ${this.binPath} is closed`);
    if (this.pendingBytes === 0) return;
    const buf = new Uint8Array(this.pendingBytes);
    let off = 0;
    for (const p of this.pending) {
      buf.set(p, off);
      off += p.length;
    }
    let done = 0;
    while (done < buf.length) done += writeSyncAll(this.fd, buf.subarray(done), this.written + done);
    this.written += buf.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Append another finished dataset (fairseq's `merge_file_`, used to join worker outputs). */
  mergeFile(prefix: string): void {
    const idxPath = indexFilePath(prefix);
    const index = parseMMapIndex(readWhole(idxPath), idxPath);
    if (index.dtype !== this.dtype) throw new IndexedDatasetError(`dtype ${index.dtype} != ${this.dtype}`, idxPath);
    this.flush();
    for (const s of index.sizes) this.sizes.push(s);
    const data = readWhole(dataFilePath(prefix));
    let done = 0;
    while (done < data.length) done += writeSyncAll(this.fd!, data.subarray(done), this.written + done);
    this.written += data.length;
  }

  /** Write the index and move both files into place (`.bin` first, then `.idx`). */
  async finalize(idxPath: string): Promise<void> {
    this.flush();
    fsyncSync(this.fd!);
    closeSync(this.fd!);
    this.fd = null;
    renameSync(this.tmpBin, this.binPath);
    await writeFileAtomic(idxPath, formatMMapIndex(this.dtype, this.sizes));
  }

  /** Abandon the output (removes the temporary file). */
  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    try {
      unlinkSync(this.tmpBin);
    } catch {
      /* already gone */
    }
  }

  get length(): number {
    return this.sizes.length;
  }
}

function writeSyncAll(fd: number, buf: Uint8Array, position: number): number {
  return writeSync(fd, buf, 0, buf.length, position);
}
