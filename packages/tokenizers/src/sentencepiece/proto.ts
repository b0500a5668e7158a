/**
 * A small protobuf (proto2) reader for SentencePiece's ModelProto (sentencepiece_model.proto): only the
 * fields encoding needs, with the proto's defaults for absent ones.
 */

/** ModelProto.SentencePiece.Type. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export type ModelType = "unigram" | "bpe" | "word" | "char";

export interface ModelPiece {
  piece: string;
  score: number; // float32 value
  type: PieceType;
}

export interface TrainerSpec {
  modelType: ModelType;
  vocabSize: number;
  treatWhitespaceAsSuffix: boolean;
  allowWhitespaceOnlyPieces: boolean;
  byteFallback: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  /** null when absent (decode then uses the default " \u2047 "). */
  unkSurface: string | null;
}

export interface NormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface ModelProto {
  pieces: ModelPiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
  /** null unless the model has a denormalizer with a precompiled charsmap. */
  denormalizerSpec: NormalizerSpec | null;
}

const MODEL_TYPES: Record<number, ModelType> = { 1: "unigram", 2: "bpe", 3: "word", 4: "char" };

class Reader {
  pos: number;
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(msg: string): never {
    throw new Error(`${this.what}: not a SentencePiece model (${msg} at byte ${this.pos})`);
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    return this.fail("varint too long");
  }

  /** int32 fields: negative values are sign-extended 10-byte varints; the low 32 bits hold the value. */
  int32(): number {
    let lo = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++]!;
      if (i < 5) lo |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return lo | 0;
    }
    return this.fail("varint too long");
  }

  float32(): number {
    if (this.pos + 4 > this.end) this.fail("truncated float");
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail("truncated field");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  sub(): Reader {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail("truncated message");
    const r = new Reader(this.buf, this.what, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.varint(); // (not `pos += varint()`: that adds to the pos before the length)
        this.pos += n;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) this.fail("truncated field");
  }

  /** Iterates (field number, wire type) tags until the end of this message. */
  *fields(): Generator<[number, number]> {
    while (this.pos < this.end) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      if (field === 0) this.fail("field number 0");
      yield [field, tag & 7];
    }
  }
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const str = (r: Reader): string => utf8.decode(r.bytes());

function expectWire(r: Reader, field: number, wire: number, expected: number): void {
  if (wire !== expected) r.fail(`field ${field} has wire type ${wire}, expected ${expected}`);
}

function readPiece(r: Reader): ModelPiece {
  const p: ModelPiece = { piece: "", score: 0, type: PieceType.NORMAL };
  for (const [f, w] of r.fields()) {
    if (f === 1) p.piece = (expectWire(r, f, w, 2), str(r));
    else if (f === 2) p.score = (expectWire(r, f, w, 5), r.float32());
    else if (f === 3) p.type = (expectWire(r, f, w, 0), r.varint() as PieceType);
    else r.skip(w);
  }
  return p;
}

function readTrainerSpec(r: Reader | null): TrainerSpec {
  const t: TrainerSpec = {
    modelType: "unigram",
    vocabSize: 8000,
    treatWhitespaceAsSuffix: false,
    allowWhitespaceOnlyPieces: false,
    byteFallback: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: "<unk>",
    bosPiece: "<s>",
    eosPiece: "</s>",
    padPiece: "<pad>",
    unkSurface: null,
  };
  if (r === null) return t;
  for (const [f, w] of r.fields()) {
    switch (f) {
      case 3: {
        expectWire(r, f, w, 0);
        const v = r.varint();
        t.modelType = MODEL_TYPES[v] ?? r.fail(`unknown trainer_spec.model_type ${v}`);
        break;
      }
      case 4:
        t.vocabSize = r.int32();
        break;
      case 24:
        t.treatWhitespaceAsSuffix = r.varint() !== 0;
        break;
      case 26:
        t.allowWhitespaceOnlyPieces = r.varint() !== 0;
        break;
      case 35:
        t.byteFallback = r.varint() !== 0;
        break;
      case 40:
        t.unkId = r.int32();
        break;
      case 41:
        t.bosId = r.int32();
        break;
      case 42:
        t.eosId = r.int32();
        break;
      case 43:
        t.padId = r.int32();
        break;
      case 44:
        t.unkSurface = str(r);
        break;
      case 45:
        t.unkPiece = str(r);
        break;
      case 46:
        t.bosPiece = str(r);
        break;
      case 47:
        t.eosPiece = str(r);
        break;
      case 48:
        t.padPiece = str(r);
        break;
      default:
        r.skip(w);
    }
  }
  return t;
}

function readNormalizerSpec(r: Reader | null): NormalizerSpec {
  const n: NormalizerSpec = {
    name: "",
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  if (r === null) return n;
  for (const [f, w] of r.fields()) {
    if (f === 1) n.name = (expectWire(r, f, w, 2), str(r));
    else if (f === 2) n.precompiledCharsmap = (expectWire(r, f, w, 2), r.bytes());
    else if (f === 3) n.addDummyPrefix = r.varint() !== 0;
    else if (f === 4) n.removeExtraWhitespaces = r.varint() !== 0;
    else if (f === 5) n.escapeWhitespaces = r.varint() !== 0;
    else r.skip(w);
  }
  return n;
}

/** Parses a serialized ModelProto (`.model` file bytes); `what` names the file in errors. */
export function parseModelProto(bytes: Uint8Array, what = "sentencepiece model"): ModelProto {
  const r = new Reader(bytes, what);
  const pieces: ModelPiece[] = [];
  let trainer: Reader | null = null;
  let normalizer: Reader | null = null;
  let denormalizer: Reader | null = null;
  for (const [f, w] of r.fields()) {
    if (f >= 1 && f <= 5) expectWire(r, f, w, 2);
    if (f === 1) pieces.push(readPiece(r.sub()));
    else if (f === 2) trainer = r.sub();
    else if (f === 3) normalizer = r.sub();
    else if (f === 5) denormalizer = r.sub();
    else r.skip(w);
  }
  if (pieces.length === 0) throw new Error(`${what}: not a SentencePiece model (no pieces)`);
  const denorm = denormalizer === null ? null : readNormalizerSpec(denormalizer);
  return {
    pieces,
    trainerSpec: readTrainerSpec(trainer),
    normalizerSpec: readNormalizerSpec(normalizer),
    denormalizerSpec: denorm !== null && denorm.precompiledCharsmap.length > 0 ? denorm : null,
  };
}
