import { appendFileSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

// CRC-32C (Castagnoli), as TFRecord framing uses it.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

class ProtoWriter {
  private parts: number[] = [];
  varint(v: number): this {
    let x = BigInt(v);
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.parts.push(b);
    } while (x > 0n);
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.tag(field, 1);
    for (const x of b) this.parts.push(x);
    return this;
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5);
    for (const x of b) this.parts.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One `Event` proto: wall_time (1), step (2), file_version (3) or summary (5) of simple_value scalars. */
export function encodeEvent(wallTime: number, step: number, body: { fileVersion: string } | { scalars: [string, number][] }): Uint8Array {
  const w = new ProtoWriter().double(1, wallTime).tag(2, 0).varint(step);
  if ("fileVersion" in body) return w.bytes(3, new TextEncoder().encode(body.fileVersion)).finish();
  const summary = new ProtoWriter();
  for (const [tag, value] of body.scalars) {
    summary.bytes(1, new ProtoWriter().bytes(1, new TextEncoder().encode(tag)).float(2, value).finish());
  }
  return w.bytes(5, summary.finish()).finish();
}

/** A TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(data.length), true);
  v.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  v.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * `--tensorboard-logdir`: scalars in TensorBoard's event-file format, one run per tag (`train_inner`,
 * `train`, `valid`, …) as fairseq's TensorboardProgressBarWrapper writes them, step = num_updates.
 */
export class TensorboardWriter {
  private files = new Map<string, string>();
  constructor(readonly logdir: string) {}

  private file(tag: string): string {
    let f = this.files.get(tag);
    if (!f) {
      const dir = join(this.logdir, tag);
      mkdirSync(dir, { recursive: true });
      f = join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}`);
      appendFileSync(f, tfRecord(encodeEvent(Date.now() / 1000, 0, { fileVersion: "brain.Event:2" })));
      this.files.set(tag, f);
    }
    return f;
  }

  /** Log every numeric stat except num_updates (the step) under its key. */
  log(tag: string, stats: ReadonlyMap<string, unknown>, step: number): void {
    const scalars: [string, number][] = [];
    for (const [k, v] of stats) if (k !== "num_updates" && typeof v === "number" && Number.isFinite(v)) scalars.push([k, v]);
    if (scalars.length) appendFileSync(this.file(tag), tfRecord(encodeEvent(Date.now() / 1000, step, { scalars })));
  }
}
