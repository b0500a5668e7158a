import { describe, expect, it } from "vitest";
import { SafetensorsError, decodeSafetensors, encodeSafetensors, f32, toFloat32 } from "../src/index.js";

describe("safetensors", () => {
  it("round-trips tensors and metadata exactly; data is 8-byte aligned", () => {
    const a = Float32Array.from([1.5, -2, 3.25, 1e-30]);
    const bytes = encodeSafetensors(
      new Map([
        ["w", f32([2, 2], a)],
        ["b", f32([1], Float32Array.from([7]))],
      ]),
      { format: "pt", x: '{"k":1}' },
    );
    const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + hlen) % 8).toBe(0);
    // The header is the format's JSON: names, dtypes, shapes, offsets.
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
    expect(header.w).toEqual({ dtype: "F32", shape: [2, 2], data_offsets: [0, 16] });
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(Array.from(toFloat32(tensors.get("w")!))).toEqual(Array.from(a));
    expect(metadata).toEqual({ format: "pt", x: '{"k":1}' });
  });

  it("rejects truncated files, out-of-range or overlapping offsets, inconsistent sizes and huge headers", () => {
    const good = encodeSafetensors(new Map([["w", f32([2], Float32Array.from([1, 2]))]]));
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1))).toThrow(SafetensorsError);
    const mk = (header: object, dataLen: number) => {
      const h = new TextEncoder().encode(JSON.stringify(header));
      const b = new Uint8Array(8 + h.length + dataLen);
      new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
      b.set(h, 8);
      return b;
    };
    expect(() => decodeSafetensors(mk({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, 8))).toThrow(/out of range/);
    expect(() =>
      decodeSafetensors(mk({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 12)),
    ).toThrow(/overlaps/);
    expect(() => decodeSafetensors(mk({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(/do not match/);
    expect(() => decodeSafetensors(mk({ w: { dtype: "X9", shape: [1], data_offsets: [0, 1] } }, 1))).toThrow(/unsupported dtype/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/exceeds the file/);
  });
});
