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

/** Serialise tensors (in the given order) and string metadata. */
export function encodeSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n * BYTES[t.dtype] !== t.data.length) throw new SafetensorsError(`${name}: ${t.data.length} bytes for shape [${t.shape}] ${t.dtype}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const t of tensors.values()) {
    out.set(t.data, p);
    p += t.data.length;
  }
  return out;
}

/** Parse and validate a safetensors buffer; tensor data are views into it. */
export function decodeSafetensors(buf: Uint8Array): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new SafetensorsError("too short for a safetensors file");
  const hlen = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (hlen > BigInt(Math.min(MAX_HEADER, buf.length - 8))) throw new SafetensorsError(`header length ${hlen} exceeds the file (truncated or not safetensors)`);
  const h = Number(hlen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + h))) as Record<string, unknown>;
  } catch {
    throw new SafetensorsError("header is not valid JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new SafetensorsError("header is not an object");
  const dataStart = 8 + h;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
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
    tensors.set(name, { dtype: e.dtype as SafeDtype, shape: e.shape as number[], data: buf.subarray(dataStart + start, dataStart + end) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) throw new SafetensorsError(`${ranges[i]![2]} overlaps ${ranges[i - 1]![2]}`);
  }
  return { tensors, metadata };
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
