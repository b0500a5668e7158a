import { closeSync, fstatSync, openSync, readFileSync, rmSync, statSync, writeSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TorchTensor, bufferSource, loadTorchCheckpoint, readTorchCheckpoint, readZipEntries, type ByteSource } from "../src/index.js";
import { SHARED } from "./shared.js";

const MODEL = join(SHARED, "reference/fairseq/multi30k-de-en/model.pt");

/**
 * Rewrite `entries` as a zip64 archive (every size and offset in zip64 extra fields, zip64 end records),
 * with the entry named `far` stored after a hole that puts its data past `gap` bytes. The hole is never
 * written, so the file is sparse: a 5 GiB archive that takes a few MB of disk.
 */
function writeZip64(path: string, entries: [string, Uint8Array][], far: string, gap: number): void {
  const enc = new TextEncoder();
  const fd = openSync(path, "w");
  const central: Uint8Array[] = [];
  let pos = 0;
  const put = (b: Uint8Array) => {
    for (let done = 0; done < b.length;) done += writeSync(fd, b, done, b.length - done, pos + done);
    pos += b.length;
  };
  const le = (n: number, bytes: number) => {
    const b = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) b[i] = Math.floor(n / 2 ** (8 * i)) % 256;
    return b;
  };
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) out.set(p, (o += p.length) - p.length);
    return out;
  };
  for (const [name, data] of entries) {
    if (name === far) pos = gap;
    const nameBytes = enc.encode(name);
    const local = pos;
    // local header: signature, version 45, flags 0, stored, time/date 0, crc 0 (readers of torch files do not check it)
    put(
      cat(
        le(0x04034b50, 4),
        le(45, 2),
        le(0, 2),
        le(0, 2),
        le(0, 4),
        le(0, 4),
        le(0xffffffff, 4),
        le(0xffffffff, 4),
        le(nameBytes.length, 2),
        le(0, 2),
        nameBytes,
      ),
    );
    put(data);
    const extra = cat(le(1, 2), le(24, 2), le(data.length, 8), le(data.length, 8), le(local, 8));
    central.push(
      cat(
        le(0x02014b50, 4),
        le(45, 2),
        le(45, 2),
        le(0, 2),
        le(0, 2),
        le(0, 4),
        le(0, 4),
        le(0xffffffff, 4),
        le(0xffffffff, 4),
        le(nameBytes.length, 2),
        le(extra.length, 2),
        le(0, 2),
        le(0, 2),
        le(0, 2),
        le(0, 4),
        le(0xffffffff, 4),
        nameBytes,
        extra,
      ),
    );
  }
  const cdOffset = pos;
  const cd = cat(...central);
  put(cd);
  const recAt = pos;
  put(
    cat(
      le(0x06064b50, 4),
      le(44, 8),
      le(45, 2),
      le(45, 2),
      le(0, 4),
      le(0, 4),
      le(entries.length, 8),
      le(entries.length, 8),
      le(cd.length, 8),
      le(cdOffset, 8),
    ),
  );
  put(cat(le(0x07064b50, 4), le(0, 4), le(recAt, 8), le(1, 4)));
  put(cat(le(0x06054b50, 4), le(0, 2), le(0, 2), le(0xffff, 2), le(0xffff, 2), le(0xffffffff, 4), le(0xffffffff, 4), le(0, 2)));
  closeSync(fd);
}

describe("checkpoints larger than a buffer: positioned reads, zip64, 64-bit offsets", () => {
  it("a zip64 archive whose storage lies past 5 GiB (a sparse file) reads the same tensors as the original", async () => {
    const original = new Uint8Array(readFileSync(MODEL));
    const entries = readZipEntries(original);
    const list: [string, Uint8Array][] = [...entries.values()].map((e) => [e.name, original.subarray(e.dataOffset, e.dataOffset + e.size)]);
    const ref = loadTorchCheckpoint(original);
    const model = (ref.root as Map<string, Map<string, TorchTensor>>).get("model")!;
    const emb = model.get("encoder.embed_tokens.weight")!;
    const far = `archive/data/${emb.storage.key}`;
    expect(entries.has(far)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "fairseq-ts-zip64-"));
    const path = join(dir, "big.pt");
    const gap = 5 * 2 ** 30 + 12345; // past 2^32: a 32-bit offset would wrap, a 31-bit one go negative
    try {
      writeZip64(path, list, far, gap);
      const st = statSync(path);
      expect(st.size).toBeGreaterThan(gap);
      expect(st.blocks * 512).toBeLessThan(64 * 2 ** 20); // sparse: the hole takes no disk
      const fd = openSync(path, "r");
      expect(fstatSync(fd).size).toBe(st.size);
      closeSync(fd);

      const big = await readTorchCheckpoint(path);
      try {
        const bigModel = (big.root as Map<string, Map<string, TorchTensor>>).get("model")!;
        expect([...bigModel.keys()]).toEqual([...model.keys()]);
        for (const [k, t] of bigModel)
          expect(Array.from(big.tensorData(t) as Float32Array), k).toEqual(Array.from(ref.tensorData(model.get(k)!) as Float32Array));
        // a strided view of the far storage reads in logical order too
        const view = new TorchTensor(bigModel.get("encoder.embed_tokens.weight")!.storage, 4 * 64, [64, 2], [1, 64], false);
        const flat = ref.tensorData(emb) as Float32Array;
        const t = big.tensorData(view) as Float32Array;
        for (let c = 0; c < 64; c++) for (let r = 0; r < 2; r++) expect(t[c * 2 + r]).toBe(flat[(4 + r) * 64 + c]);
      } finally {
        big.close();
      }
      expect(() => big.tensorData(model.get("encoder.embed_tokens.weight")!)).toThrow(/read after close/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("only the directory, data.pkl and the tensors asked for are read (a training checkpoint's optimizer state is skipped)", () => {
    const original = new Uint8Array(readFileSync(MODEL));
    const inner = bufferSource(original);
    let bytesRead = 0;
    const counting: ByteSource = {
      size: inner.size,
      read: (p, n) => ((bytesRead += n), inner.read(p, n)),
      readInto: (d, p) => ((bytesRead += d.length), inner.readInto(d, p)),
    };
    const ckpt = loadTorchCheckpoint(counting);
    const entries = readZipEntries(original);
    const pkl = entries.get("archive/data.pkl")!.size;
    // the end records (at most 64 KiB + 22 bytes), the central directory, 30 bytes per local header, data.pkl
    expect(bytesRead).toBeLessThan(pkl + 65557 + 200 * entries.size);
    const before = bytesRead;
    const model = (ckpt.root as Map<string, Map<string, TorchTensor>>).get("model")!;
    let weightBytes = 0;
    for (const t of model.values()) {
      if (!(t instanceof TorchTensor)) continue;
      ckpt.tensorData(t);
      weightBytes += t.numel * 4;
    }
    // each weight read once, straight into its array; the Adam moments (twice the weights) never
    expect(bytesRead - before).toBe(weightBytes);
    expect(bytesRead).toBeLessThan(original.length / 2);
  });
});
