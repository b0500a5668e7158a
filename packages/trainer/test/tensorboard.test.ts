import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TensorboardWriter, crc32c, encodeEvent, maskedCrc32c, tfRecord } from "../src/index.js";

/** An independent reader of TFRecord + the few Event/Summary fields (hand-written protobuf decoding). */
function readEvents(file: string) {
  const buf = readFileSync(file);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: { wallTime: number; step: number; fileVersion?: string; scalars: Record<string, number> }[] = [];
  let off = 0;
  while (off < buf.length) {
    const len = Number(v.getBigUint64(off, true));
    expect(v.getUint32(off + 8, true)).toBe(maskedCrc32c(buf.subarray(off, off + 8)));
    const data = buf.subarray(off + 12, off + 12 + len);
    expect(v.getUint32(off + 12 + len, true)).toBe(maskedCrc32c(data));
    off += 16 + len;
    const ev = { wallTime: 0, step: 0, scalars: {} as Record<string, number>, fileVersion: undefined as string | undefined };
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let p = 0;
    const varint = () => {
      let x = 0;
      let shift = 1;
      for (;;) {
        const b = data[p++]!;
        x += (b & 0x7f) * shift;
        shift *= 128;
        if (!(b & 0x80)) return x;
      }
    };
    while (p < data.length) {
      const key = varint();
      if (key === 0x09) {
        ev.wallTime = dv.getFloat64(p, true);
        p += 8;
      } else if (key === 0x10) ev.step = varint();
      else if (key === 0x1a) {
        const n = varint();
        ev.fileVersion = new TextDecoder().decode(data.subarray(p, p + n));
        p += n;
      } else if (key === 0x2a) {
        const end = varint() + p;
        while (p < end) {
          expect(data[p++]).toBe(0x0a); // Summary.value
          const vend = varint() + p;
          let tag = "";
          let value = NaN;
          while (p < vend) {
            const k = varint();
            if (k === 0x0a) {
              const n = varint();
              tag = new TextDecoder().decode(data.subarray(p, p + n));
              p += n;
            } else if (k === 0x15) {
              value = dv.getFloat32(p, true);
              p += 4;
            } else throw new Error(`unexpected Value field ${k}`);
          }
          ev.scalars[tag] = value;
        }
      } else throw new Error(`unexpected Event field ${key}`);
    }
    events.push(ev);
  }
  return events;
}

describe("TensorBoard event files", () => {
  it("CRC-32C check value and TFRecord masking", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283); // the standard CRC-32C check
    const c = 0xe3069283;
    expect(maskedCrc32c(new TextEncoder().encode("123456789"))).toBe((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
    expect(tfRecord(new Uint8Array([1, 2, 3])).length).toBe(8 + 4 + 3 + 4);
  });

  it("encodes a scalar exactly as the Event/Summary protos define it (hand-assembled bytes)", () => {
    const e = encodeEvent(0, 5, { scalars: [["loss", 1.5]] });
    // Event: wall_time (09 + 8 zero bytes), step (10 05), summary (2a len) { value (0a len) { tag (0a 04 'loss'), simple_value (15 00 00 c0 3f) } }
    expect(Array.from(e)).toEqual([0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x05, 0x2a, 13, 0x0a, 11, 0x0a, 4, 0x6c, 0x6f, 0x73, 0x73, 0x15, 0, 0, 0xc0, 0x3f]);
  });

  it("a writer's files read back: file_version first, then the stats by num_updates, one run per tag", () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-tb-"));
    const w = new TensorboardWriter(dir);
    w.log(
      "train_inner",
      new Map<string, unknown>([
        ["loss", 9.5],
        ["lr", 0.0005],
        ["num_updates", 10],
      ]),
      10,
    );
    w.log(
      "train_inner",
      new Map<string, unknown>([
        ["loss", 8.25],
        ["lr", 0.001],
        ["num_updates", 20],
      ]),
      20,
    );
    w.log(
      "valid",
      new Map<string, unknown>([
        ["loss", 8.5],
        ["ppl", null],
      ]),
      20,
    );
    expect(readdirSync(dir).sort()).toEqual(["train_inner", "valid"]);
    const [file] = readdirSync(join(dir, "train_inner"));
    expect(file).toMatch(/^events\.out\.tfevents\.\d+\./);
    const ev = readEvents(join(dir, "train_inner", file!));
    expect(ev[0]!.fileVersion).toBe("brain.Event:2");
    expect(ev.slice(1).map((e) => [e.step, e.scalars])).toEqual([
      [10, { loss: 9.5, lr: Math.fround(0.0005) }],
      [20, { loss: 8.25, lr: Math.fround(0.001) }],
    ]);
    expect(readEvents(join(dir, "valid", readdirSync(join(dir, "valid"))[0]!))[1]!.scalars).toEqual({ loss: 8.5 });
  });
});

describe("--log-format tqdm on a terminal", () => {
  it("draws fairseq's bar with cli-progress: percentage, count and the latest stats", async () => {
    const { ProgressBar } = await import("@fairseq-ts/logging");
    const { cliProgressBar } = await import("../src/terminal-bar.js");
    let written = "";
    // a TTY stand-in with the cursor methods cli-progress uses
    const stream = Object.assign(new (await import("node:stream")).Writable({ write: (c, _e, cb) => ((written += String(c)), cb()) }), {
      isTTY: true,
      columns: 200,
      cursorTo: (_x: number, _y?: unknown, cb?: () => void) => (cb?.(), true),
      clearLine: (_d: number, cb?: () => void) => (cb?.(), true),
      moveCursor: (_dx: number, _dy: number, cb?: () => void) => (cb?.(), true),
      clearScreenDown: (cb?: () => void) => (cb?.(), true),
      getWindowSize: () => [200, 50],
    }) as unknown as NodeJS.WriteStream;
    const lines: string[] = [];
    const bar = new ProgressBar({ format: "tqdm", size: 4, epoch: 1, logInterval: 2, sink: (_n, m) => lines.push(m), stream, createBar: cliProgressBar });
    for (let i = 0; i < 4; i++) {
      bar.tick(i);
      bar.log(new Map([["loss", 3.25]]), "train_inner", i + 1);
    }
    bar.close();
    expect(written).toMatch(/epoch 001: 100%\|█+\| 4\/4 .*loss=3\.25/);
    expect(lines).toEqual([]); // mid-epoch stats go to the bar, not to log lines
  });
});
