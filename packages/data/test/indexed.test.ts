import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IndexedDatasetError, MMapIndexedDataset, MMapIndexedDatasetBuilder, bestFittingDtype, formatMMapIndex, type IndexedDtype } from "../src/index.js";
import { REF_BIN } from "./shared.js";

const tmp = () => mkdtempSync(join(tmpdir(), "fsts-idx-"));

describe("mmap indexed dataset", () => {
  it("fairseq's dtype choice: uint16 below 65500 symbols, else int32", () => {
    expect(bestFittingDtype(7864)).toBe("uint16");
    expect(bestFittingDtype(65499)).toBe("uint16");
    expect(bestFittingDtype(65500)).toBe("int32");
    expect(bestFittingDtype(null)).toBe("int32");
  });

  it("the reference .idx layout: magic, version 1, dtype code 8 (uint16), count, sizes, pointers", () => {
    const idx = readFileSync(join(REF_BIN, "test.de-en.de.idx"));
    expect(idx.subarray(0, 9).toString("latin1")).toBe("MMIDIDX\0\0");
    const ds = MMapIndexedDataset.open(join(REF_BIN, "test.de-en.de"));
    expect(ds.dtype).toBe("uint16");
    expect(ds.length).toBe(1000);
    // Re-serialising the parsed sizes gives the same index bytes (pointers are derived from sizes).
    expect(Buffer.from(formatMMapIndex(ds.dtype, ds.sizes)).equals(idx)).toBe(true);
    ds.close();
  });

  for (const [dtype, values] of [
    ["uint8", [0, 255, 7]],
    ["int8", [-128, 127, 0]],
    ["int16", [-32768, 32767, 1]],
    ["uint16", [0, 65535, 4]],
    ["int32", [-2147483648, 2147483647, 9]],
    ["int64", [-2147483648, 2147483647, 3]],
    ["float64", [-2, 65536, 1e9]],
  ] as [IndexedDtype, number[]][]) {
    it(`writer -> reader round trip, ${dtype}, many items across cache blocks`, async () => {
      const dir = tmp();
      const b = new MMapIndexedDatasetBuilder(join(dir, "x.bin"), dtype);
      const items: number[][] = [];
      for (let i = 0; i < 3000; i++) {
        const item = Array.from({ length: (i * 7919) % 500 }, (_, j) => values[(i + j) % values.length]!);
        items.push(item);
        b.addItem(item);
      }
      await b.finalize(join(dir, "x.idx"));
      const ds = MMapIndexedDataset.open(join(dir, "x"));
      expect(ds.length).toBe(items.length);
      for (const i of [0, 1, 2, 1500, 2999, 17, 2500]) expect(Array.from(ds.get(i))).toEqual(items[i]);
      ds.close();
    });
  }

  it("64-bit values that are not int32 token ids are an error, not silently truncated", async () => {
    const dir = tmp();
    const b = new MMapIndexedDatasetBuilder(join(dir, "w.bin"), "int64");
    b.addItem([2 ** 40]);
    await b.finalize(join(dir, "w.idx"));
    const ds = MMapIndexedDataset.open(join(dir, "w"));
    expect(() => ds.get(0)).toThrow(/not a valid token id/);
    // an IndexedDatasetError naming the .bin and the item (found by apps/fuzz: was a bare RangeError)
    expect(() => ds.get(0)).toThrow(IndexedDatasetError);
    expect(() => ds.get(0)).toThrow(`${join(dir, "w.bin")}: item 0: value 1099511627776 at position 0 is not a valid token id`);
    ds.close();
  });

  it("a directory where the .idx or .bin should be is an IndexedDatasetError naming it (was Node's EISDIR, naming nothing)", () => {
    const dir = tmp();
    mkdirSync(join(dir, "a.idx"));
    expect(() => MMapIndexedDataset.open(join(dir, "a"))).toThrow(`${join(dir, "a.idx")}: is a directory`);
    writeFileSync(join(dir, "b.idx"), formatMMapIndex("uint16", []));
    mkdirSync(join(dir, "b.bin"));
    expect(() => MMapIndexedDataset.open(join(dir, "b"))).toThrow(`${join(dir, "b.bin")}: is a directory`);
  });

  it("bad files are errors that name the file", async () => {
    const dir = tmp();
    const b = new MMapIndexedDatasetBuilder(join(dir, "ok.bin"), "uint16");
    for (let i = 0; i < 10; i++) b.addItem([1, 2, 3, i]);
    await b.finalize(join(dir, "ok.idx"));
    const idx = readFileSync(join(dir, "ok.idx"));
    const bin = readFileSync(join(dir, "ok.bin"));
    const bad = (name: string, idxBytes: Uint8Array, binBytes: Uint8Array = bin) => {
      writeFileSync(join(dir, `${name}.idx`), idxBytes);
      writeFileSync(join(dir, `${name}.bin`), binBytes);
      return () => MMapIndexedDataset.open(join(dir, name));
    };
    const magic = Buffer.from(idx);
    magic[0] = 0x4e;
    expect(bad("magic", magic)).toThrow(/magic\.idx: not a fairseq mmap index/);
    const version = Buffer.from(idx);
    version[9] = 2;
    expect(bad("version", version)).toThrow(/version\.idx: unsupported index version 2/);
    const dtype = Buffer.from(idx);
    dtype[17] = 42;
    expect(bad("dtype", dtype)).toThrow(/dtype\.idx: unknown dtype code 42/);
    expect(bad("trunc", idx.subarray(0, idx.length - 3))).toThrow(/trunc\.idx: length .* truncated or corrupt/);
    expect(bad("huge", Buffer.concat([idx.subarray(0, 18), Buffer.from([255, 255, 255, 255, 255, 255, 255, 127]), idx.subarray(26)]))).toThrow(
      IndexedDatasetError,
    );
    expect(bad("short", idx, bin.subarray(0, bin.length - 2))).toThrow(/short\.bin: shorter than its index says/);
    expect(() => MMapIndexedDataset.open(join(dir, "missing"))).toThrow(/missing\.idx: cannot open \(ENOENT\)/);
  });
});
