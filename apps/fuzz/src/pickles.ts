/**
 * Seeds for fuzzing the `.pt` reader: a tiny torch.save-shaped zip written here, and hand-made hostile
 * pickles (code execution via GLOBAL/REDUCE, huge lengths, deep nesting, work amplification through
 * the memo, views larger than their storage, truncated archives).
 *
 * Opcodes are CPython's (Lib/pickletools.py); the archive layout is torch.save's zip format:
 * `<name>/data.pkl`, `<name>/data/<storage key>`, `<name>/version`, all entries stored uncompressed.
 */

const enc = new TextEncoder();

/** Builds a pickle opcode by opcode, so each seed below reads like the disassembly it stands for. */
export class PickleWriter {
  private readonly parts: number[] = [];
  op(code: string): this {
    this.parts.push(code.charCodeAt(0));
    return this;
  }
  raw(...b: number[]): this {
    this.parts.push(...b);
    return this;
  }
  proto(v: number): this {
    return this.raw(0x80, v);
  }
  /** BINUNICODE: 4-byte little-endian length, UTF-8 bytes. */
  str(s: string): this {
    const b = enc.encode(s);
    this.raw(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24);
    for (const x of b) this.parts.push(x);
    return this;
  }
  /** BININT1 / BININT2 / BININT. */
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= 0 && v < 65536) return this.raw(0x4d, v & 0xff, v >> 8);
    return this.raw(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
  }
  /** GLOBAL (text form, protocol 0–3). */
  global(module: string, name: string): this {
    this.op("c");
    for (const x of enc.encode(`${module}\n${name}\n`)) this.parts.push(x);
    return this;
  }
  /** BINPUT / BINGET. */
  put(k: number): this {
    return this.raw(0x71, k);
  }
  get(k: number): this {
    return this.raw(0x68, k);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` over a FloatStorage of `numel` values. */
function tensor(w: PickleWriter, key: string, numel: number, offset: number, size: number[], stride: number[]): PickleWriter {
  w.global("torch._utils", "_rebuild_tensor_v2").op("(");
  w.op("(").str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op("t").op("Q");
  w.int(offset).op("(");
  for (const s of size) w.int(s);
  w.op("t").op("(");
  for (const s of stride) w.int(s);
  w.op("t").raw(0x89).global("collections", "OrderedDict").op(")").op("R").op("t").op("R");
  return w;
}

/**
 * A fairseq-shaped checkpoint pickle: `{'args': Namespace(arch='transformer', lr=[0.25]),
 * 'model': OrderedDict(w=<2x3 float tensor>, w_t=<its transpose, a strided view>)}`.
 */
export function fairseqLikePickle(): Uint8Array {
  const w = new PickleWriter().proto(2).op("}").op("(");
  w.str("args")
    .global("argparse", "Namespace")
    .op(")")
    .raw(0x81)
    .op("}")
    .op("(")
    .str("arch")
    .str("transformer")
    .str("lr")
    .op("]")
    .op("(")
    .raw(0x47, 0x3f, 0xd0, 0, 0, 0, 0, 0, 0)
    .op("e")
    .op("u")
    .op("b");
  w.str("model").global("collections", "OrderedDict").op(")").op("R").op("(");
  tensor(w.str("w"), "0", 6, 0, [2, 3], [3, 1]);
  tensor(w.str("w_t"), "0", 6, 0, [3, 2], [1, 3]);
  w.op("u").op("u").op(".");
  return w.bytes();
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip of stored (uncompressed) entries, as torch.save writes them. */
export function storedZip(entries: [string, Uint8Array][]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nb = enc.encode(name);
    const crc = crc32(data);
    const local = new Uint8Array(30 + nb.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nb.length, true);
    local.set(nb, 30);
    const cd = new Uint8Array(46 + nb.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nb.length, true);
    cv.setUint32(42, offset, true);
    cd.set(nb, 46);
    chunks.push(local, data);
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let p = 0;
  for (const c of [...chunks, ...central, eocd]) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** A torch.save-shaped archive around `pkl`, with storage "0" holding six float32 values 1..6. */
export function torchZip(pkl: Uint8Array): Uint8Array {
  return storedZip([
    ["archive/data.pkl", pkl],
    ["archive/data/0", new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)],
    ["archive/version", enc.encode("3\n")],
  ]);
}

/** Hand-made hostile pickles: what each one tries, and the bytes. */
export function hostilePickles(): Record<string, Uint8Array> {
  const marker = "/tmp/fsts-fuzz-pickle-pwned";
  // Deep nesting: 30k EMPTY_LISTs, each APPENDed into the one below (a recursive reader overflows its stack).
  const depth = 30_000; // V8 overflows at ~11k frames of a simple recursive reader
  const deep = new Uint8Array(2 + depth + (depth - 1) + 1);
  deep.set([0x80, 2]);
  deep.fill(0x5d, 2, 2 + depth);
  deep.fill(0x61, 2 + depth, 2 + depth + depth - 1);
  deep[deep.length - 1] = 0x2e;
  // Work amplification ("billion laughs" for pickle): one tuple of 1k items in the memo, then 5k
  // calls over it — set((t,)) and an unknown class called with t itself: 5e6 element copies if unbounded, 4x the bound.
  const laughs = new PickleWriter().proto(2).global("builtins", "set").put(0).op("(");
  for (let i = 0; i < 1_000; i++) laughs.raw(0x4b, i & 0xff);
  laughs.op("t").put(1).op("0");
  for (let i = 0; i < 5_000; i++) laughs.get(0).op("(").get(1).op("t").op("R").op("0");
  laughs.get(1).op(".");
  const unknownLaughs = new PickleWriter().proto(2).global("numpy.core.multiarray", "_reconstruct").put(0).op("(");
  for (let i = 0; i < 1_000; i++) unknownLaughs.raw(0x4b, i & 0xff);
  unknownLaughs.op("t").put(1).op("0");
  for (let i = 0; i < 5_000; i++) unknownLaughs.get(0).get(1).op("R").op("0");
  unknownLaughs.get(1).op(".");
  // A [2^31, 2^31] view with stride 0 over a 6-element storage: passes the extent check, 2^62 elements.
  const broadcast = tensor(new PickleWriter().proto(2), "0", 6, 0, [0x7fffffff, 0x7fffffff], [0, 0]).op(".").bytes();
  return {
    "os.system via GLOBAL+REDUCE": new PickleWriter().global("os", "system").op("(").str(`touch ${marker}`).op("t").op("R").op(".").bytes(),
    "builtins.eval via STACK_GLOBAL+REDUCE": new PickleWriter()
      .proto(4)
      .raw(0x8c, 8, ...enc.encode("builtins"), 0x8c, 4, ...enc.encode("eval"), 0x93)
      .str(`open('${marker}','w')`)
      .raw(0x85)
      .op("R")
      .op(".")
      .bytes(),
    "subprocess.Popen via NEWOBJ": new PickleWriter()
      .proto(2)
      .global("subprocess", "Popen")
      .op("(")
      .op("]")
      .op("(")
      .str("touch")
      .str(marker)
      .op("e")
      .op("t")
      .raw(0x81)
      .op(".")
      .bytes(),
    "BUILD on an unknown object (__setstate__)": new PickleWriter().proto(2).global("os", "system").op(")").op("R").op("}").op("b").op(".").bytes(),
    "INST of os.system": new Uint8Array([0x28, ...enc.encode(`ios\nsystem\nS'touch ${marker}'\n.`)]),
    "BINUNICODE length 0x7fffffff": new Uint8Array([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61, 0x2e]),
    "BINUNICODE8 length 2^63-1": new Uint8Array([0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x2e]),
    "BINBYTES8 length 2^64-1": new Uint8Array([0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2e]),
    "LONG4 of 2^31 bytes": new Uint8Array([0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e]),
    "LONG text of 100k digits": enc.encode(`L${"9".repeat(100_000)}L\n.`),
    "30k nested lists": deep,
    "30k MARKs": new Uint8Array([0x80, 2, ...new Uint8Array(30_000).fill(0x28), 0x4e, 0x2e]),
    "memo amplification through builtins.set": laughs.bytes(),
    "memo amplification through an unknown class": unknownLaughs.bytes(),
    "stride-0 view of 2^62 elements": broadcast,
  };
}
