/**
 * The safetensors format (a little-endian u64 header length, a JSON header, then raw little-endian
 * tensor bytes): no code runs on load. Everything in the header is validated against the file.
 */

export type SafeDtype = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** Little-endian bytes. */
  data: Uint8Array;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

const BYTES: Record<SafeDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

/** A tensor to write whose bytes are produced only when written (e.g. a model weight read off its backend). */
export interface SafeTensorWriter {
  dtype: SafeDtype;
  shape: number[];
  /** Its little-endian bytes: n(shape) × dtype size of them. */
  data(): Uint8Array;
}

/** A safetensors file laid out before any tensor is produced: its size, and a writer of its bytes. */
export interface SafetensorsLayout {
  /** Total bytes (may exceed 2^32: positions are plain numbers, exact to 2^53). */
  size: number;
  /** Produce the file in order: the header, then each tensor's bytes, at running absolute positions. */
  write(sink: (chunk: Uint8Array, position: number) => void): void;
}

/**
 * Lay out tensors (in the given order) and string metadata as a safetensors file without holding it in
 * memory: the header is computed from shapes alone, and each tensor's bytes are asked for only when they
 * are written, so a checkpoint bigger than a buffer (2–4 GiB) streams to disk one tensor at a time.
 */
export function layoutSafetensors(tensors: ReadonlyMap<string, SafeTensorWriter>, metadata: Record<string, string> = {}): SafetensorsLayout {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const hb = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + hb.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(hb.length), true);
  head.set(hb, 8);
  return {
    size: head.length + offset,
    write: (sink) => {
      sink(head, 0);
      let p = head.length;
      for (const [name, t] of tensors) {
        const data = t.data();
        const expected = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
        if (data.length !== expected) throw new SafetensorsError(`${name}: ${data.length} bytes for shape [${t.shape}] ${t.dtype}`);
        sink(data, p);
        p += data.length;
      }
    },
  };
}

/** Serialise tensors (in the given order) and string metadata. */
export function encodeSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const writers = new Map<string, SafeTensorWriter>();
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n * BYTES[t.dtype] !== t.data.length) throw new SafetensorsError(`${name}: ${t.data.length} bytes for shape [${t.shape}] ${t.dtype}`);
    writers.set(name, { dtype: t.dtype, shape: t.shape, data: () => t.data });
  }
  const layout = layoutSafetensors(writers, metadata);
  const out = new Uint8Array(layout.size);
  layout.write((chunk, position) => out.set(chunk, position));
  return out;
}

/** A tensor of a safetensors file not read yet: its place in the file, read on demand. */
export interface SafeTensorRef {
  dtype: SafeDtype;
  shape: number[];
  /** Absolute byte offset of the data in the file (exact to 2^53) and its length. */
  position: number;
  byteLength: number;
}

/** Where to read a safetensors file from: a buffer in memory or a file (torch-load's ByteSource has this shape). */
export interface SafetensorsSource {
  readonly size: number;
  read(position: number, length: number): Uint8Array;
  readInto(dst: Uint8Array, position: number): void;
}

/**
 * Parse and validate a safetensors header from `src` (a file: only the 8-byte length and the JSON are
 * read). Tensors stay in the file as SafeTensorRefs; every offset is checked against the file's size.
 */
export function readSafetensorsHeader(src: SafetensorsSource): { tensors: Map<string, SafeTensorRef>; metadata: Record<string, string> } {
  if (src.size < 8) throw new SafetensorsError("too short for a safetensors file");
  const lenBytes = src.read(0, 8);
  const hlen = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (hlen > BigInt(Math.min(MAX_HEADER, src.size - 8))) throw new SafetensorsError(`header length ${hlen} exceeds the file (truncated or not safetensors)`);
  const h = Number(hlen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(src.read(8, h))) as Record<string, unknown>;
  } catch {
    throw new SafetensorsError("header is not valid JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new SafetensorsError("header is not an object");
  const dataStart = 8 + h;
  const dataLen = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensorRef>();
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null) throw new SafetensorsError("__metadata__ must be an object");
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== "string") throw new SafetensorsError(`metadata ${k} is not a string`);
        metadata[k] = s;
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== "string" || !(e.dtype in BYTES)) throw new SafetensorsError(`${name}: unsupported dtype ${String(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`${name}: bad shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0) || off[0] > off[1] || off[1] > dataLen) {
      throw new SafetensorsError(`${name}: data offsets out of range`);
    }
    const [start, end] = off as [number, number];
    const n = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (n * BYTES[e.dtype as SafeDtype] !== end - start) throw new SafetensorsError(`${name}: ${end - start} bytes do not match shape and dtype`);
    ranges.push([start, end, name]);
    tensors.set(name, { dtype: e.dtype as SafeDtype, shape: e.shape as number[], position: dataStart + start, byteLength: end - start });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) throw new SafetensorsError(`${ranges[i]![2]} overlaps ${ranges[i - 1]![2]}`);
  }
  return { tensors, metadata };
}

/** Parse and validate a safetensors buffer; tensor data are views into it. */
export function decodeSafetensors(buf: Uint8Array): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const src: SafetensorsSource = {
    size: buf.length,
    read: (position, length) => buf.subarray(position, position + length),
    readInto: (dst, position) => dst.set(buf.subarray(position, position + dst.length)),
  };
  const { tensors, metadata } = readSafetensorsHeader(src);
  const out = new Map<string, SafeTensor>();
  for (const [name, r] of tensors) out.set(name, { dtype: r.dtype, shape: r.shape, data: buf.subarray(r.position, r.position + r.byteLength) });
  return { tensors: out, metadata };
}

/** A tensor's bytes in a buffer of their own (one read from `src`, aligned for any typed array). */
export function readSafeTensor(src: SafetensorsSource, ref: SafeTensorRef): SafeTensor {
  const data = new Uint8Array(ref.byteLength);
  src.readInto(data, ref.position);
  return { dtype: ref.dtype, shape: ref.shape, data };
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An F32 tensor's values read straight from `src` into the Float32Array returned (the one copy). */
export function readFloat32(src: SafetensorsSource, ref: SafeTensorRef): Float32Array {
  if (ref.dtype !== "F32") throw new SafetensorsError(`expected F32, got ${ref.dtype}`);
  const out = new Float32Array(ref.byteLength / 4);
  src.readInto(new Uint8Array(out.buffer), ref.position);
  if (!LITTLE_ENDIAN_HOST) {
    const dv = new DataView(out.buffer);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}

/** A Float32Array as an F32 safetensor (copying into little-endian bytes). */
export function f32(shape: number[], values: Float32Array): SafeTensor {
  return { dtype: "F32", shape, data: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

/** The values of an F32 safetensor. */
export function toFloat32(t: SafeTensor): Float32Array {
  if (t.dtype !== "F32") throw new SafetensorsError(`expected F32, got ${t.dtype}`);
  // Copy into a fresh buffer: `data` may be a view of a larger (pooled Node Buffer) allocation,
  // whose slice() does not copy.
  const copy = new Uint8Array(t.data.length);
  copy.set(t.data);
  return new Float32Array(copy.buffer);
}
