/** fairseq's dtype codes in `.idx` headers (indexed_dataset.py `dtypes`). Codes 6 and 7 are both float64. */
export type IndexedDtype = "uint8" | "int8" | "int16" | "int32" | "int64" | "float64" | "uint16";

export const DTYPE_BY_CODE: Record<number, IndexedDtype> = {
  1: "uint8",
  2: "int8",
  3: "int16",
  4: "int32",
  5: "int64",
  6: "float64",
  7: "float64",
  8: "uint16",
};

export const CODE_BY_DTYPE: Record<IndexedDtype, number> = {
  uint8: 1,
  int8: 2,
  int16: 3,
  int32: 4,
  int64: 5,
  float64: 7,
  uint16: 8,
};

export const ITEM_SIZE: Record<IndexedDtype, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  float64: 8,
  uint16: 2,
};

/** fairseq's `best_fitting_dtype`: uint16 when the vocabulary has fewer than 65500 symbols, else int32. */
export function bestFittingDtype(vocabSize: number | null | undefined): IndexedDtype {
  return vocabSize != null && vocabSize < 65500 ? "uint16" : "int32";
}

/** Read `count` items of `dtype` from little-endian bytes into an Int32Array (token ids); non-int32 values throw. */
export function decodeItems(bytes: Uint8Array, dtype: IndexedDtype, count: number): Int32Array {
  const out = new Int32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "uint16":
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(2 * i, true);
      break;
    case "int32":
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case "uint8":
      for (let i = 0; i < count; i++) out[i] = bytes[i]!;
      break;
    case "int8":
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      break;
    case "int16":
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case "int64":
    case "float64":
      for (let i = 0; i < count; i++) {
        const v = dtype === "int64" ? Number(dv.getBigInt64(8 * i, true)) : dv.getFloat64(8 * i, true);
        if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new RangeError(`value ${v} at position ${i} is not a valid token id (int32)`);
        }
        out[i] = v;
      }
      break;
  }
  return out;
}

/** Encode token ids as little-endian bytes of `dtype`; throws on a value the dtype cannot hold. */
export function encodeItems(ids: ArrayLike<number>, dtype: IndexedDtype): Uint8Array {
  const n = ids.length;
  const bytes = new Uint8Array(n * ITEM_SIZE[dtype]);
  const dv = new DataView(bytes.buffer);
  const range: Record<IndexedDtype, [number, number]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-2147483648, 2147483647],
    int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    float64: [-Infinity, Infinity],
  };
  const [lo, hi] = range[dtype];
  for (let i = 0; i < n; i++) {
    const v = ids[i]!;
    if (dtype !== "float64" && (!Number.isInteger(v) || v < lo || v > hi)) {
      throw new RangeError(`value ${v} does not fit dtype ${dtype}`);
    }
    switch (dtype) {
      case "uint16":
        dv.setUint16(2 * i, v, true);
        break;
      case "int32":
        dv.setInt32(4 * i, v, true);
        break;
      case "uint8":
        dv.setUint8(i, v);
        break;
      case "int8":
        dv.setInt8(i, v);
        break;
      case "int16":
        dv.setInt16(2 * i, v, true);
        break;
      case "int64":
        dv.setBigInt64(8 * i, BigInt(v), true);
        break;
      case "float64":
        dv.setFloat64(8 * i, v, true);
        break;
    }
  }
  return bytes;
}
