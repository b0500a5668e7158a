import { ByteTrie, oneCharLen, utf8Encoder } from "./bytes.js";
import { type ModelProto, PieceType } from "./proto.js";

/** The output of a model: parallel piece strings and ids. */
export interface Encoded {
  pieces: string[];
  ids: number[];
}

/** The escaped whitespace U+2581 as a UTF-16 string. */
export const SPACE_CHAR = "\u2581";

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;
const UNK_PENALTY = 10;

/**
 * UTF-16 offsets of a UTF-8 byte string: offsets[b] is the index in the decoded JS string of the
 * character starting at byte b (and offsets[length] = string length). Only char starts are filled.
 */
export function utf16Offsets(bytes: Uint8Array): Int32Array {
  const off = new Int32Array(bytes.length + 1);
  let u = 0;
  let i = 0;
  while (i < bytes.length) {
    off[i] = u;
    const n = Math.min(oneCharLen(bytes[i]!), bytes.length - i);
    u += n === 4 ? 2 : 1;
    i += n;
  }
  off[bytes.length] = u;
  return off;
}

/**
 * What every SentencePiece model shares (model_interface.cc): the vocabulary with piece types,
 * reserved (control/unknown/byte) pieces looked up first, the unknown id, user-defined symbols.
 */
export abstract class SpmModel {
  readonly pieces: string[];
  readonly scores: Float64Array;
  readonly types: Uint8Array;
  readonly unkId: number;
  readonly byteFallback: boolean;
  /** NORMAL, USER_DEFINED and UNUSED pieces. */
  protected readonly normal = new Map<string, number>();
  /** CONTROL, UNKNOWN and BYTE pieces. */
  protected readonly reserved = new Map<string, number>();
  /** The user-defined symbols as a byte trie (null if none): matched whole, never split or normalized. */
  readonly userDefined: ByteTrie | null;

  constructor(proto: ModelProto, what: string) {
    const n = proto.pieces.length;
    this.pieces = new Array<string>(n);
    this.scores = new Float64Array(n);
    this.types = new Uint8Array(n);
    this.byteFallback = proto.trainerSpec.byteFallback;
    let unkId = -1;
    let userDefined: ByteTrie | null = null;
    const bytesFound = new Uint8Array(256);
    for (let i = 0; i < n; i++) {
      const { piece, score, type } = proto.pieces[i]!;
      if (piece.length === 0) throw new Error(`${what}: piece ${i} is empty`);
      if (type < PieceType.NORMAL || type > PieceType.BYTE) throw new Error(`${what}: piece ${i} has unknown type ${type}`);
      this.pieces[i] = piece;
      this.scores[i] = score;
      this.types[i] = type;
      const isNormal = type === PieceType.NORMAL || type === PieceType.USER_DEFINED || type === PieceType.UNUSED;
      const table = isNormal ? this.normal : this.reserved;
      if (table.has(piece)) throw new Error(`${what}: piece ${JSON.stringify(piece)} is already defined`);
      table.set(piece, i);
      if (type === PieceType.USER_DEFINED) {
        userDefined ??= new ByteTrie();
        userDefined.insert(utf8Encoder.encode(piece), i);
      }
      if (type === PieceType.UNKNOWN) {
        if (unkId >= 0) throw new Error(`${what}: unk is already defined`);
        unkId = i;
      }
      if (type === PieceType.BYTE) {
        if (!this.byteFallback) throw new Error(`${what}: byte piece ${piece} is found although byte_fallback is false`);
        const b = pieceToByte(piece);
        if (b < 0) throw new Error(`${what}: byte piece ${piece} is invalid`);
        bytesFound[b] = 1;
      }
    }
    if (unkId < 0) throw new Error(`${what}: unk is not defined`);
    if (this.byteFallback && bytesFound.includes(0)) {
      throw new Error(`${what}: there are not 256 byte pieces although byte_fallback is true`);
    }
    this.unkId = unkId;
    this.userDefined = userDefined;
  }

  /** SentencePiece's PieceToId: reserved pieces first, then the vocabulary, else the unknown id. */
  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.normal.get(piece) ?? this.unkId;
  }

  /**
   * The length in bytes of the symbol at `pos`: a whole user-defined symbol if one starts there
   * (`frozen[0]` then true), else one UTF-8 character (PrefixMatcher::PrefixMatch).
   */
  protected prefixMatch(bytes: Uint8Array, pos: number, frozen?: [boolean]): number {
    if (this.userDefined !== null) {
      const n = this.userDefined.longestPrefix(bytes, pos, bytes.length);
      if (n > 0) {
        if (frozen) frozen[0] = true;
        return n;
      }
    }
    if (frozen) frozen[0] = false;
    return Math.min(oneCharLen(bytes[pos]!), bytes.length - pos);
  }

  /** Segments normalized UTF-8 `bytes` (`text` is the same string decoded). */
  abstract encode(bytes: Uint8Array, text: string): Encoded;
}

/** "<0xAB>" -> 0xAB, else -1. */
export function pieceToByte(piece: string): number {
  const m = /^<0x([0-9A-F]{2})>$/.exec(piece);
  return m === null ? -1 : parseInt(m[1]!, 16); // the group is not optional
}

/** The unigram language model (unigram_model.cc, EncodeOptimized: Viterbi over all vocabulary matches). */
export class UnigramModel extends SpmModel {
  private readonly trie = new ByteTrie();
  readonly minScore: number;
  readonly maxScore: number;

  constructor(proto: ModelProto, what: string) {
    super(proto, what);
    let minScore = FLT_MAX;
    let maxScore = FLT_MIN;
    for (let i = 0; i < this.pieces.length; i++) {
      if (this.types[i] === PieceType.NORMAL) {
        minScore = Math.min(minScore, this.scores[i]!);
        maxScore = Math.max(maxScore, this.scores[i]!);
      }
    }
    this.minScore = minScore;
    this.maxScore = maxScore;
    for (const [piece, id] of this.normal) this.trie.insert(utf8Encoder.encode(piece), id);
  }

  encode(bytes: Uint8Array, text: string): Encoded {
    const size = bytes.length;
    if (size === 0) return { pieces: [], ids: [] };
    const f32 = Math.fround;
    const unkScore = f32(this.minScore - UNK_PENALTY);
    const maxScore = this.maxScore;
    const types = this.types;
    const scores = this.scores;
    const trie = this.trie;
    // best path ending at each byte position: score (a float32 value), start, id
    const bestScore = new Float64Array(size + 1);
    const startsAt = new Int32Array(size + 1).fill(-1);
    const bestId = new Int32Array(size + 1);
    let pos = 0;
    while (pos < size) {
      const base = bestScore[pos]!;
      const mblen = Math.min(oneCharLen(bytes[pos]!), size - pos);
      let hasSingleNode = false;
      let node = 0;
      for (let k = pos; k < size; k++) {
        node = trie.step(node, bytes[k]!);
        if (node < 0) break;
        const id = trie.value(node);
        if (id < 0 || types[id] === PieceType.UNUSED) continue;
        const length = k + 1 - pos;
        // C++: `auto score = user_defined ? (length * max_score_ - 0.1) : GetScore(id)` is a double;
        // the candidate sum is a double compared with the stored float, then stored as a float.
        const score = types[id] === PieceType.USER_DEFINED ? f32(length * maxScore) - 0.1 : scores[id]!;
        const candidate = score + base;
        const t = k + 1;
        if (startsAt[t] === -1 || candidate > bestScore[t]!) {
          bestScore[t] = f32(candidate);
          startsAt[t] = pos;
          bestId[t] = id;
        }
        if (length === mblen) hasSingleNode = true;
      }
      if (!hasSingleNode) {
        const t = pos + mblen;
        const candidate = f32(unkScore + base); // float + float in C++
        if (startsAt[t] === -1 || candidate > bestScore[t]!) {
          bestScore[t] = candidate;
          startsAt[t] = pos;
          bestId[t] = this.unkId;
        }
      }
      pos += mblen;
    }
    const off = utf16Offsets(bytes);
    const pieces: string[] = [];
    const ids: number[] = [];
    for (let end = size; end > 0;) {
      // every char boundary up to `size` was reached (at worst as unk), so the back-pointers are set
      const start = startsAt[end]!;
      const id = bestId[end]!;
      pieces.push(id === this.unkId ? text.slice(off[start], off[end]) : this.pieces[id]!);
      ids.push(id);
      end = start;
    }
    pieces.reverse();
    ids.reverse();
    return { pieces, ids };
  }
}

/** A binary max-heap of candidate merges ordered like bpe_model.cc's agenda. */
class Agenda {
  private left: number[] = [];
  private right: number[] = [];
  private score: number[] = [];
  private size: number[] = [];

  get length(): number {
    return this.left.length;
  }

  /** a before b: higher score, then smaller left index. */
  private before(a: number, b: number): boolean {
    const sa = this.score[a]!;
    const sb = this.score[b]!;
    return sa > sb || (sa === sb && this.left[a]! < this.left[b]!);
  }

  private swap(a: number, b: number): void {
    for (const arr of [this.left, this.right, this.score, this.size]) {
      const t = arr[a]!;
      arr[a] = arr[b]!;
      arr[b] = t;
    }
  }

  push(left: number, right: number, score: number, size: number): void {
    let i = this.left.length;
    this.left.push(left);
    this.right.push(right);
    this.score.push(score);
    this.size.push(size);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top into `out` = [left, right, size]; the agenda must not be empty. */
  pop(out: [number, number, number]): void {
    out[0] = this.left[0]!;
    out[1] = this.right[0]!;
    out[2] = this.size[0]!;
    const last = this.left.length - 1;
    this.swap(0, last);
    this.left.pop();
    this.right.pop();
    this.score.pop();
    this.size.pop();
    let i = 0;
    const n = last;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.before(l, best)) best = l;
      if (r < n && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
  }
}

/** The BPE model (bpe_model.cc): greedy merges of adjacent symbols by the score of the merged piece. */
export class BpeModel extends SpmModel {
  encode(bytes: Uint8Array, text: string): Encoded {
    if (bytes.length === 0) return { pieces: [], ids: [] };
    const off = utf16Offsets(bytes);
    const sym: string[] = [];
    const freeze: boolean[] = [];
    const frozen: [boolean] = [false];
    for (let pos = 0; pos < bytes.length;) {
      const n = this.prefixMatch(bytes, pos, frozen);
      sym.push(text.slice(off[pos], off[pos + n]));
      freeze.push(frozen[0]);
      pos += n;
    }
    const count = sym.length;
    const prev = new Int32Array(count);
    const next = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < count ? i + 1 : -1;
    }
    const agenda = new Agenda();
    const revMerge = new Map<string, [string, string]>();
    const maybeAdd = (left: number, right: number): void => {
      if (left === -1 || right === -1 || freeze[left] || freeze[right]) return;
      const piece = sym[left]! + sym[right]!;
      const id = this.normal.get(piece);
      if (id === undefined) return;
      agenda.push(left, right, this.scores[id]!, piece.length);
      if (this.types[id] === PieceType.UNUSED) revMerge.set(piece, [sym[left]!, sym[right]!]);
    };
    for (let i = 1; i < count; i++) maybeAdd(i - 1, i);
    const top: [number, number, number] = [0, 0, 0];
    while (agenda.length > 0) {
      agenda.pop(top);
      const [l, r, size] = top;
      // stale entries: a side was merged away or changed since the pair was queued
      const symL = sym[l]!;
      const symR = sym[r]!;
      if (symL.length === 0 || symR.length === 0 || symL.length + symR.length !== size) continue;
      sym[l] = symL + symR;
      const after = next[r]!;
      next[l] = after;
      if (after >= 0) prev[after] = l;
      sym[r] = "";
      maybeAdd(prev[l]!, l);
      maybeAdd(l, after);
    }
    const pieces: string[] = [];
    const ids: number[] = [];
    const resegment = (w: string): void => {
      const id = this.pieceToId(w);
      if (this.types[id] === PieceType.UNUSED) {
        const p = revMerge.get(w);
        if (p !== undefined) {
          resegment(p[0]);
          resegment(p[1]);
          return;
        }
      }
      pieces.push(w);
      ids.push(id);
    };
    for (let i = 0; i !== -1; i = next[i]!) resegment(sym[i]!);
    return { pieces, ids };
  }
}

/** The word model (word_model.cc): whitespace-delimited words looked up whole. */
export class WordModel extends SpmModel {
  encode(_bytes: Uint8Array, text: string): Encoded {
    const pieces: string[] = [];
    const ids: number[] = [];
    let cur = "";
    for (const ch of text) {
      if (ch === SPACE_CHAR && cur.length > 0) {
        pieces.push(cur);
        cur = "";
      }
      cur += ch;
    }
    if (cur.length > 0) pieces.push(cur);
    for (const p of pieces) ids.push(this.pieceToId(p));
    return { pieces, ids };
  }
}

/** The character model (char_model.cc): one piece per character (user-defined symbols whole). */
export class CharModel extends SpmModel {
  encode(bytes: Uint8Array, text: string): Encoded {
    const off = utf16Offsets(bytes);
    const pieces: string[] = [];
    const ids: number[] = [];
    for (let pos = 0; pos < bytes.length;) {
      const n = this.prefixMatch(bytes, pos);
      const p = text.slice(off[pos], off[pos + n]);
      pieces.push(p);
      ids.push(this.pieceToId(p));
      pos += n;
    }
    return { pieces, ids };
  }
}
