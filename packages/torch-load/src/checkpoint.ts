import { nodeBuiltin } from "@fairseq-ts/runtime";
import { TorchLoadError } from "./errors.js";
import { DTYPE_BYTES, PyGlobal, STORAGE_DTYPES, type TorchTensor, unpickle, type TorchStorage } from "./unpickler.js";
import { entryBytes, readZipEntries, type ZipEntry } from "./zip.js";

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

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * Read a `torch.save` file (PyTorch >= 1.6 zip format) without executing anything: only dicts, lists,
 * tuples, numbers, strings, tensors, `argparse.Namespace` and inert placeholders are built.
 */
export function loadTorchCheckpoint(bytes: Uint8Array, options: LoadOptions = {}): TorchCheckpoint {
  if (bytes.length >= 2 && bytes[0] === 0x80) {
    throw new TorchLoadError("legacy (PyTorch < 1.6) non-zip checkpoint format is not supported; re-save it with a recent torch.save");
  }
  if (!(bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b)) throw new TorchLoadError("not a PyTorch checkpoint (no zip signature)");
  const entries = readZipEntries(bytes);
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
    if (entry.size < numel * DTYPE_BYTES[dtype]) {
      throw new TorchLoadError(`storage ${key} has ${entry.size} bytes, fewer than ${numel} ${dtype} values need (truncated file?)`);
    }
    const storage: TorchStorage = { dtype, key, location: String(location), numel };
    storages.set(key, { storage, entry });
    return storage;
  };
  const root = unpickle(entryBytes(bytes, entries.get(pkl)!), { persistentLoad, strict: options.strict });

  const tensorData: TorchCheckpoint["tensorData"] = (t) => {
    const s = storages.get(t.storage.key);
    if (!s) throw new TorchLoadError("tensor storage not from this checkpoint");
    const raw = entryBytes(bytes, s.entry);
    const size = DTYPE_BYTES[t.dtype];
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const n = t.numel;
    // A view may cover more elements than its storage holds (stride 0, as torch's expand() makes), so the
    // loader's storage-size check does not bound n. Refuse what would be a huge allocation from a few bytes.
    const cap = Math.max(t.storage.numel, 1 << 24);
    if (!(n <= cap)) {
      throw new TorchLoadError(
        `tensor of shape [${t.shape}] has ${n} elements, more than its storage (${t.storage.numel}) and than the ${1 << 24} a broadcast view may materialize`,
      );
    }
    const rank = t.shape.length;
    const out =
      t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16"
        ? new Float32Array(n)
        : t.dtype === "float64"
          ? new Float64Array(n)
          : t.dtype === "int64"
            ? new BigInt64Array(n)
            : t.dtype === "int32"
              ? new Int32Array(n)
              : t.dtype === "int16"
                ? new Int16Array(n)
                : t.dtype === "int8"
                  ? new Int8Array(n)
                  : new Uint8Array(n);
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let e = t.storageOffset;
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
  return { root, tensorData };
}

/** Read a checkpoint file (Node only); errors name the file. */
export async function readTorchCheckpoint(path: string, options: LoadOptions = {}): Promise<TorchCheckpoint> {
  const { readFile } = await nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises", "readTorchCheckpoint");
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new TorchLoadError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return loadTorchCheckpoint(bytes, options);
  } catch (err) {
    if (err instanceof TorchLoadError) throw new TorchLoadError(`${path}: ${err.message}`);
    throw err;
  }
}
