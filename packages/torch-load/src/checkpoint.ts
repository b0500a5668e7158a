import { nodeBuiltin } from "@fairseq-ts/runtime";
import { TorchLoadError } from "./errors.js";
import { DTYPE_BYTES, PyGlobal, STORAGE_DTYPES, type TorchTensor, unpickle, type TorchStorage } from "./unpickler.js";
import { bufferSource, checkStored, entryBytes, readZipEntries, type ByteSource, type ZipEntry } from "./zip.js";

export interface LoadOptions {
  /** Unknown classes are an error instead of inert placeholders. */
  strict?: boolean;
}

/** A loaded checkpoint: the unpickled object graph, and access to tensor data. */
export interface TorchCheckpoint {
  /** Dicts are `Map`s (OrderedDict keeps its order), lists/tuples arrays, Namespace a `PyNamespace`. */
  root: unknown;
  /** The tensor's values as a contiguous typed array (float16/bfloat16 widened to Float32Array). */
  tensorData(t: TorchTensor): Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;
}

/** A checkpoint as the loaders return it: `close()` releases the file one read from disk keeps open (tensorData fails afterwards); a no-op for bytes. */
export interface OpenTorchCheckpoint extends TorchCheckpoint {
  close(): void;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

type TensorArray = ReturnType<TorchCheckpoint["tensorData"]>;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function newArray(dtype: TorchTensor["dtype"], n: number): TensorArray {
  switch (dtype) {
    case "float32":
    case "float16":
    case "bfloat16":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int16":
      return new Int16Array(n);
    case "int8":
      return new Int8Array(n);
    default:
      return new Uint8Array(n);
  }
}

/** Row-major with no gaps (dimensions of size 1 may have any stride): the storage bytes are the values. */
function isContiguous(t: TorchTensor): boolean {
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expected) return false;
    expected *= t.shape[d]!;
  }
  return true;
}

/**
 * Read a `torch.save` file (PyTorch >= 1.6 zip format) without executing anything: only dicts, lists,
 * tuples, numbers, strings, tensors, `argparse.Namespace` and inert placeholders are built. Only the
 * zip's directory and `data.pkl` are read up front; each tensor's bytes are read when `tensorData`
 * asks for them, straight into the array it returns, so what is never asked for (a training
 * checkpoint's `last_optimizer_state`) is never read.
 */
export function loadTorchCheckpoint(archive: Uint8Array | ByteSource, options: LoadOptions = {}): OpenTorchCheckpoint {
  const src = archive instanceof Uint8Array ? bufferSource(archive) : archive;
  const head = src.read(0, Math.min(4, src.size));
  if (head.length >= 2 && head[0] === 0x80) {
    throw new TorchLoadError("legacy (PyTorch < 1.6) non-zip checkpoint format is not supported; re-save it with a recent torch.save");
  }
  if (!(head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b)) throw new TorchLoadError("not a PyTorch checkpoint (no zip signature)");
  const entries = readZipEntries(src);
  const pkl = [...entries.keys()].find((k) => k.endsWith("data.pkl") && !k.slice(0, -"data.pkl".length).slice(0, -1).includes("/"));
  if (!pkl) throw new TorchLoadError("no data.pkl in the archive");
  const prefix = pkl.slice(0, -"data.pkl".length);
  const storages = new Map<string, { storage: TorchStorage; entry: ZipEntry }>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) throw new TorchLoadError("unsupported persistent id in checkpoint");
    const [, type, key, location, numel] = pid as unknown[];
    const typeName = type instanceof PyGlobal ? type.name : String(type);
    const dtype = STORAGE_DTYPES[typeName];
    if (!dtype) throw new TorchLoadError(`unsupported storage type ${typeName}`);
    if (typeof key !== "string" || !/^[\w.-]+$/.test(key)) throw new TorchLoadError("bad storage key");
    if (typeof numel !== "number" || !Number.isInteger(numel) || numel < 0) throw new TorchLoadError("bad storage size");
    const cached = storages.get(key);
    if (cached) return cached.storage;
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new TorchLoadError(`storage ${key} is missing from the archive`);
    checkStored(entry);
    if (entry.size < numel * DTYPE_BYTES[dtype]) {
      throw new TorchLoadError(`storage ${key} has ${entry.size} bytes, fewer than ${numel} ${dtype} values need (truncated file?)`);
    }
    const storage: TorchStorage = { dtype, key, location: String(location), numel };
    storages.set(key, { storage, entry });
    return storage;
  };
  const root = unpickle(entryBytes(src, entries.get(pkl)!), { persistentLoad, strict: options.strict });

  const tensorData: TorchCheckpoint["tensorData"] = (t) => {
    const s = storages.get(t.storage.key);
    if (!s) throw new TorchLoadError("tensor storage not from this checkpoint");
    const size = DTYPE_BYTES[t.dtype];
    const n = t.numel;
    // A view may cover more elements than its storage holds (stride 0, as torch's expand() makes), so the
    // loader's storage-size check does not bound n. Refuse what would be a huge allocation from a few bytes.
    const cap = Math.max(t.storage.numel, 1 << 24);
    if (!(n <= cap)) {
      throw new TorchLoadError(
        `tensor of shape [${t.shape}] has ${n} elements, more than its storage (${t.storage.numel}) and than the ${1 << 24} a broadcast view may materialize`,
      );
    }
    const out = newArray(t.dtype, n);
    if (n === 0) return out;
    // the storage elements the view touches: [first, last]
    const rank = t.shape.length;
    let last = t.storageOffset;
    for (let d = 0; d < rank; d++) last += (t.shape[d]! - 1) * t.stride[d]!;
    if (t.storageOffset < 0 || (last + 1) * size > s.entry.size)
      throw new TorchLoadError(`tensor of shape [${t.shape}] reaches past its storage ${t.storage.key}`);
    const sameWidth = t.dtype !== "float16" && t.dtype !== "bfloat16";
    if (sameWidth && LITTLE_ENDIAN_HOST && isContiguous(t)) {
      // the one copy: file (or buffer) bytes straight into the returned array
      src.readInto(new Uint8Array(out.buffer, out.byteOffset, out.byteLength), s.entry.dataOffset + t.storageOffset * size);
      return out;
    }
    const first = t.storageOffset;
    const raw = src.read(s.entry.dataOffset + first * size, (last - first + 1) * size);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let e = t.storageOffset - first;
      for (let d = 0; d < rank; d++) e += idx[d]! * t.stride[d]!;
      const o = e * size;
      switch (t.dtype) {
        case "float32":
          (out as Float32Array)[i] = dv.getFloat32(o, true);
          break;
        case "float64":
          (out as Float64Array)[i] = dv.getFloat64(o, true);
          break;
        case "float16":
          (out as Float32Array)[i] = f16ToF32(dv.getUint16(o, true));
          break;
        case "bfloat16":
          (out as Float32Array)[i] = new Float32Array(new Uint32Array([dv.getUint16(o, true) << 16]).buffer)[0]!;
          break;
        case "int64":
          (out as BigInt64Array)[i] = dv.getBigInt64(o, true);
          break;
        case "int32":
          (out as Int32Array)[i] = dv.getInt32(o, true);
          break;
        case "int16":
          (out as Int16Array)[i] = dv.getInt16(o, true);
          break;
        case "int8":
          (out as Int8Array)[i] = dv.getInt8(o);
          break;
        default:
          (out as Uint8Array)[i] = raw[o]!;
      }
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d]! < t.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  };
  return { root, tensorData, close: () => (src as Partial<FileSource>).close?.() };
}

/** A ByteSource over an open file (Node), closed by `close()`. */
export interface FileSource extends ByteSource {
  close(): void;
}

/** The synchronous `node:fs` calls a FileSource makes (pass `node:fs` itself). */
export type SyncFs = Pick<typeof import("node:fs"), "openSync" | "fstatSync" | "readSync" | "closeSync">;

/**
 * Open a file for positioned reads, synchronously, with the caller's `node:fs` (this package imports no
 * Node module). Positions are numbers, exact to 2^53: files over 2 or 4 GiB are read like small ones,
 * never as one buffer. Errors name `path`.
 */
export function fileSource(path: string, fs: SyncFs): FileSource {
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(path, "r");
    size = fs.fstatSync(fd).size;
  } catch (err) {
    throw new TorchLoadError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let open = true;
  const readInto = (dst: Uint8Array, position: number): void => {
    if (!open) throw new TorchLoadError(`${path}: read after close`);
    if (position < 0 || position + dst.length > size) throw new TorchLoadError("read past the end of the archive (truncated file?)");
    // readSync may read less than asked (and Linux reads at most ~2 GiB at once): loop to the end
    for (let done = 0; done < dst.length;) {
      const got = fs.readSync(fd, dst, done, Math.min(dst.length - done, 1 << 30), position + done);
      if (got === 0) throw new TorchLoadError(`${path}: file shrank while reading (at byte ${position + done})`);
      done += got;
    }
  };
  return {
    size,
    read: (position, length) => {
      const b = new Uint8Array(length);
      readInto(b, position);
      return b;
    },
    readInto,
    close: () => {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

/** `fileSource` with `node:fs` loaded when called (Node only). */
export async function openFileSource(path: string): Promise<FileSource> {
  return fileSource(path, await nodeBuiltin<typeof import("node:fs")>("node:fs", "openFileSource"));
}

/**
 * Read a checkpoint file (Node only); errors name the file. The file stays open for `tensorData`
 * until `close()`: only its directory and pickle are read here.
 */
export async function readTorchCheckpoint(path: string, options: LoadOptions = {}): Promise<OpenTorchCheckpoint> {
  const src = await openFileSource(path);
  try {
    const ckpt = loadTorchCheckpoint(src, options);
    const tensorData: TorchCheckpoint["tensorData"] = (t) => {
      try {
        return ckpt.tensorData(t);
      } catch (err) {
        if (err instanceof TorchLoadError && !err.message.startsWith(path)) throw new TorchLoadError(`${path}: ${err.message}`);
        throw err;
      }
    };
    return { root: ckpt.root, tensorData, close: () => ckpt.close() };
  } catch (err) {
    src.close();
    if (err instanceof TorchLoadError) throw new TorchLoadError(`${path}: ${err.message}`);
    throw err;
  }
}
