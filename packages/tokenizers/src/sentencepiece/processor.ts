import { readBytesSync } from "../node-fs.js";
import { utf8Decoder, utf8Encoder } from "./bytes.js";
import { BpeModel, CharModel, type Encoded, pieceToByte, SPACE_CHAR, type SpmModel, UnigramModel, WordModel } from "./model.js";
import { Normalizer } from "./normalizer.js";
import { type ModelProto, parseModelProto, PieceType } from "./proto.js";

const DEFAULT_UNK_SURFACE = " \u2047 ";

/** Decodes one UTF-8 character at `i` (< `end`): its length, or 0 if the bytes there are not valid UTF-8. */
function validCharLen(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let min: number;
  let cp: number;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    min = 0x80;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    min = 0x800;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    min = 0x10000;
    cp = c & 0x07;
  } else return 0;
  if (i + n > end) return 0;
  for (let k = 1; k < n; k++) {
    const d = b[i + k]!;
    if ((d & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/**
 * A SentencePiece model loaded from its `.model` file (SentencePieceProcessor): normalizes text,
 * segments it with the model's algorithm (unigram, BPE, word or char) and decodes pieces back.
 */
export class SentencePieceProcessor {
  readonly proto: ModelProto;
  private readonly model: SpmModel;
  private readonly normalizer: Normalizer;
  private readonly denormalizer: Normalizer | null;
  private readonly unkSurface: string;

  constructor(proto: ModelProto, what = "sentencepiece model") {
    this.proto = proto;
    const t = proto.trainerSpec.modelType;
    this.model =
      t === "unigram"
        ? new UnigramModel(proto, what)
        : t === "bpe"
          ? new BpeModel(proto, what)
          : t === "word"
            ? new WordModel(proto, what)
            : new CharModel(proto, what);
    this.normalizer = new Normalizer(proto.normalizerSpec, proto.trainerSpec.treatWhitespaceAsSuffix, this.model.userDefined, what);
    this.denormalizer = proto.denormalizerSpec === null ? null : new Normalizer(proto.denormalizerSpec, false, null, `${what} (denormalizer)`);
    this.unkSurface = proto.trainerSpec.unkSurface ?? DEFAULT_UNK_SURFACE;
  }

  /** Parses the bytes of a `.model` file; `what` names it in errors. */
  static fromBytes(bytes: Uint8Array, what = "sentencepiece model"): SentencePieceProcessor {
    return new SentencePieceProcessor(parseModelProto(bytes, what), what);
  }

  /** Reads a `.model` file (Node); `what` names the flag or role in errors. */
  static load(path: string, what = "sentencepiece model"): SentencePieceProcessor {
    return SentencePieceProcessor.fromBytes(readBytesSync(path, what), `${what} ${path}`);
  }

  get modelType(): string {
    return this.proto.trainerSpec.modelType;
  }

  /** The number of pieces (ids are 0..size-1). */
  get pieceSize(): number {
    return this.model.pieces.length;
  }

  get unkId(): number {
    return this.model.unkId;
  }

  get bosId(): number {
    return this.proto.trainerSpec.bosId;
  }

  get eosId(): number {
    return this.proto.trainerSpec.eosId;
  }

  get padId(): number {
    return this.proto.trainerSpec.padId;
  }

  pieceToId(piece: string): number {
    return this.model.pieceToId(piece);
  }

  idToPiece(id: number): string {
    this.checkId(id);
    return this.model.pieces[id]!;
  }

  score(id: number): number {
    this.checkId(id);
    return this.model.scores[id]!;
  }

  isUnknown(id: number): boolean {
    return this.model.types[id] === PieceType.UNKNOWN;
  }

  isControl(id: number): boolean {
    return this.model.types[id] === PieceType.CONTROL;
  }

  isUnused(id: number): boolean {
    return this.model.types[id] === PieceType.UNUSED;
  }

  isUserDefined(id: number): boolean {
    return this.model.types[id] === PieceType.USER_DEFINED;
  }

  isByte(id: number): boolean {
    return this.model.types[id] === PieceType.BYTE;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.model.pieces.length) {
      throw new RangeError(`sentencepiece: invalid id ${id} (the model has ${this.model.pieces.length} pieces)`);
    }
  }

  /** The normalized form of `text` (spm_normalize), with U+2581 for whitespace. */
  normalize(text: string): string {
    return utf8Decoder.decode(this.normalizer.normalize(utf8Encoder.encode(text)));
  }

  /** Pieces and ids of `text`, exactly as spm_encode (runs of unknown pieces merged, byte fallback). */
  encode(text: string): Encoded {
    const bytes = this.normalizer.normalize(utf8Encoder.encode(text));
    const raw = this.model.encode(bytes, bytes.length === 0 ? "" : utf8Decoder.decode(bytes));
    const pieces: string[] = [];
    const ids: number[] = [];
    const model = this.model;
    let prevUnk = false;
    for (let i = 0; i < raw.ids.length; i++) {
      const id = raw.ids[i]!;
      const w = raw.pieces[i]!;
      const unk = model.types[id] === PieceType.UNKNOWN;
      if (model.types[id] === PieceType.CONTROL) {
        pieces.push(w);
        ids.push(id);
      } else if (unk && model.byteFallback) {
        for (const b of utf8Encoder.encode(w)) {
          const piece = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
          pieces.push(piece);
          ids.push(model.pieceToId(piece));
        }
      } else if (unk && prevUnk) {
        // the previous unknown piece was pushed (byte fallback is off)
        pieces[pieces.length - 1]! += w;
      } else {
        pieces.push(w);
        ids.push(id);
      }
      prevUnk = unk;
    }
    return { pieces, ids };
  }

  encodeAsPieces(text: string): string[] {
    return this.encode(text).pieces;
  }

  encodeAsIds(text: string): number[] {
    return this.encode(text).ids;
  }

  /** Text from pieces (SentencePieceProcessor::Decode): U+2581 -> space, first dummy prefix dropped. */
  decodePieces(pieces: readonly string[]): string {
    const model = this.model;
    const spec = this.proto.normalizerSpec;
    const ids = pieces.map((p) => model.pieceToId(p));
    let text = "";
    let byteStart = 0;
    let isBosWs = true;
    let bosWsSeen = false;

    const flushBytes = (begin: number, end: number): void => {
      if (begin >= end) return;
      const bytes = new Uint8Array(end - begin);
      for (let i = begin; i < end; i++) bytes[i - begin] = pieceToByte(pieces[i]!);
      for (let off = 0; off < bytes.length;) {
        const n = validCharLen(bytes, off, bytes.length);
        if (n === 0) {
          text += "\ufffd";
          off += 1;
        } else {
          text += utf8Decoder.decode(bytes.subarray(off, off + n));
          off += n;
        }
      }
    };

    for (let i = 0; i < pieces.length; i++) {
      const id = ids[i]!;
      const type = model.types[id];
      if (type === PieceType.BYTE) continue;
      flushBytes(byteStart, i);
      if (bosWsSeen || text.length > 0) isBosWs = false;
      byteStart = i + 1;
      let piece = pieces[i]!;
      bosWsSeen = false;
      if (type === PieceType.CONTROL) continue;
      if (type === PieceType.UNKNOWN) {
        text += model.pieces[id] === piece ? this.unkSurface : piece;
        continue;
      }
      if (isBosWs && (spec.addDummyPrefix || spec.removeExtraWhitespaces)) {
        if (piece.startsWith(SPACE_CHAR)) {
          piece = piece.slice(1);
          bosWsSeen = !spec.removeExtraWhitespaces;
        }
      }
      text += piece.replaceAll(SPACE_CHAR, " ");
    }
    flushBytes(byteStart, pieces.length);
    if (this.denormalizer !== null) {
      text = utf8Decoder.decode(this.denormalizer.normalize(utf8Encoder.encode(text)));
    }
    return text;
  }

  /** Text from ids (an Error for ids outside the vocabulary). */
  decodeIds(ids: readonly number[]): string {
    return this.decodePieces(ids.map((id) => this.idToPiece(id)));
  }
}
