import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IndexedDatasetError, MMapIndexedDataset, formatMMapIndex } from "@fairseq-ts/data";
import { describe, expect, it } from "vitest";
import { packIdxBin, readIdxBinPair } from "../src/targets.js";

/** An .idx for uint16 items with explicit sizes and pointers (fairseq's layout: header, int32 sizes, int64 pointers). */
function idxWith(sizes: number[], pointers: bigint[]): Uint8Array {
  const b = formatMMapIndex("uint16", sizes);
  const dv = new DataView(b.buffer);
  pointers.forEach((p, i) => dv.setBigInt64(26 + 4 * sizes.length + 8 * i, p, true));
  return b;
}
const bin = new Uint8Array(new Uint16Array([10, 11, 12, 13, 14, 15]).buffer); // 12 bytes

describe(".bin read against a mutated .idx", () => {
  const dir = mkdtempSync(join(tmpdir(), "fsts-idxbin-"));
  const read = (idx: Uint8Array, b = bin) => readIdxBinPair(packIdxBin(idx, b), dir);

  it("pointers or sizes reaching past the .bin are an IndexedDatasetError naming the .bin, item and byte", () => {
    expect(() => read(idxWith([2], [12n]))).toThrow(`${join(dir, "d.bin")}: shorter than its index says: item 0 ends at byte 16 but the file has 12 bytes`);
    expect(() => read(idxWith([3, 0x7fffffff], [0n, 0n]))).toThrow(/item 1 ends at byte 4294967294 but the file has 12 bytes/);
    expect(() => read(idxWith([1], [1n << 62n]))).toThrow(IndexedDatasetError);
    expect(() => read(idxWith([1], [-8n]))).toThrow(/item 0: invalid pointer -8/);
    // the .bin truncated under a valid index
    expect(() => read(idxWith([3, 3], [0n, 6n]), bin.subarray(0, 11))).toThrow(/item 1 ends at byte 12 but the file has 11 bytes/);
  });

  it("overlapping, out-of-order and empty items inside the .bin read exactly the bytes at their pointers", () => {
    // (readIdxBinPair compares every item with the .bin decoded independently; here also by hand)
    read(idxWith([1, 6, 0, 1], [10n, 0n, 12n, 2n]));
    const ds = MMapIndexedDataset.open(join(dir, "d"));
    expect([0, 1, 2, 3].map((i) => Array.from(ds.get(i)))).toEqual([[15], [10, 11, 12, 13, 14, 15], [], [11]]);
    ds.close();
  });
});
