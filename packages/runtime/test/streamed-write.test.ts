import { mkdtempSync, openSync, readSync, closeSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileAtomic, type StreamedFile } from "../src/index.js";

describe("writeFileAtomic of a streamed file (checkpoints over 2 GiB)", () => {
  it("writes chunks at positions past 4 GiB (a sparse file), then renames; nothing else is left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fairseq-ts-streamed-"));
    try {
      const far = 4 * 2 ** 30 + 2 ** 31 + 12345; // 6 GiB: a 32-bit position would wrap, a 31-bit half would go negative
      const head = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
      const tail = Uint8Array.from([9, 10, 11, 12]);
      const file: StreamedFile = {
        size: far + tail.length,
        write: (sink) => {
          sink(head, 0);
          sink(tail, far);
        },
      };
      const path = join(dir, "big.safetensors");
      await writeFileAtomic(path, file);
      const st = statSync(path);
      expect(st.size).toBe(far + tail.length);
      expect(st.blocks * 512).toBeLessThan(2 ** 20); // the hole takes no disk
      const fd = openSync(path, "r");
      const got = new Uint8Array(8);
      readSync(fd, got, 0, 4, far);
      readSync(fd, got, 4, 4, 0);
      const mid = new Uint8Array(4).fill(0xff);
      readSync(fd, mid, 0, 4, 2 ** 32);
      closeSync(fd);
      expect(Array.from(got)).toEqual([9, 10, 11, 12, 1, 2, 3, 4]);
      expect(Array.from(mid)).toEqual([0, 0, 0, 0]);
      expect(readdirSync(dir)).toEqual(["big.safetensors"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a writer going backwards or past its size fails naming the file, and the previous file is unchanged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fairseq-ts-streamed-"));
    try {
      const path = join(dir, "ckpt.safetensors");
      await writeFileAtomic(path, "old");
      const back: StreamedFile = { size: 8, write: (sink) => (sink(new Uint8Array(4), 4), sink(new Uint8Array(4), 0)) };
      await expect(writeFileAtomic(path, back)).rejects.toThrow(/ckpt\.safetensors: chunk at byte 0 overlaps/);
      const past: StreamedFile = { size: 4, write: (sink) => sink(new Uint8Array(8), 0) };
      await expect(writeFileAtomic(path, past)).rejects.toThrow(/ends past the announced 4 bytes/);
      expect(readdirSync(dir)).toEqual(["ckpt.safetensors"]);
      expect(statSync(path).size).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
