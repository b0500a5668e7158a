import { ByteBuilder, type ByteTrie, oneCharLen } from "./bytes.js";
import { DoubleArray } from "./darts.js";
import type { NormalizerSpec } from "./proto.js";

const SPACE = 0x20;
/** U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's escaped whitespace. */
export const SPACE_SYMBOL = new Uint8Array([0xe2, 0x96, 0x81]);
const SINGLE_SPACE = new Uint8Array([SPACE]);

/**
 * SentencePiece's Normalizer (normalizer.cc): longest-match rewriting with the precompiled charsmap
 * (a Darts double array over UTF-8 keys + a blob of NUL-terminated replacements), user-defined symbols
 * kept verbatim, leading/trailing/repeated whitespace removal, dummy prefix and whitespace escaping.
 */
export class Normalizer {
  private readonly trie: DoubleArray | null = null;
  private readonly replacements: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly spec: NormalizerSpec,
    private readonly treatWhitespaceAsSuffix: boolean,
    private readonly userDefined: ByteTrie | null,
    what: string,
  ) {
    const blob = spec.precompiledCharsmap;
    if (blob.length > 0) {
      if (blob.length <= 4) throw new Error(`${what}: precompiled_charsmap is broken`);
      const trieSize = new DataView(blob.buffer, blob.byteOffset, 4).getUint32(0, true);
      if (trieSize > blob.length - 4) {
        throw new Error(`${what}: precompiled_charsmap trie size ${trieSize} exceeds the blob`);
      }
      this.trie = new DoubleArray(blob.subarray(4, 4 + trieSize), `${what}: precompiled_charsmap`);
      this.replacements = blob.subarray(4 + trieSize);
    }
  }

  /**
   * NormalizePrefix: how many input bytes the next rule consumes, and where its output is:
   * writes [outStart, outEnd) into `out` within `src` (the input) or the replacement blob.
   */
  private prefix(input: Uint8Array, pos: number, out: { src: Uint8Array; start: number; end: number }): number {
    const end = input.length;
    if (this.userDefined !== null) {
      const n = this.userDefined.longestPrefix(input, pos, end);
      if (n > 0) {
        out.src = input;
        out.start = pos;
        out.end = pos + n;
        return n;
      }
    }
    if (this.trie !== null) {
      const [len, value] = this.trie.longestPrefix(input, pos, end);
      if (len > 0) {
        const r = this.replacements;
        let e = value;
        while (e < r.length && r[e] !== 0) e++;
        out.src = r;
        out.start = value;
        out.end = e;
        return len;
      }
    }
    const n = Math.min(oneCharLen(input[pos]!), end - pos);
    out.src = input;
    out.start = pos;
    out.end = pos + n;
    return n;
  }

  /** Normalizes UTF-8 `input` into UTF-8 bytes. */
  normalize(input: Uint8Array): Uint8Array {
    const spec = this.spec;
    const end = input.length;
    let pos = 0;
    const p = { src: input, start: 0, end: 0 };
    if (end === 0) return new Uint8Array(0);

    if (spec.removeExtraWhitespaces) {
      while (pos < end) {
        const n = this.prefix(input, pos, p);
        if (!(p.end - p.start === 1 && p.src[p.start] === SPACE)) break;
        pos += n;
      }
    }
    if (pos >= end) return new Uint8Array(0);

    const out = new ByteBuilder(end * 3);
    const addWs = (): void => {
      if (spec.escapeWhitespaces) out.append(SPACE_SYMBOL, 0, 3);
      else out.push(SPACE);
    };
    if (!this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();

    let isPrevSpace = spec.removeExtraWhitespaces;
    while (pos < end) {
      const n = this.prefix(input, pos, p);
      let s = p.start;
      const src = p.src;
      while (isPrevSpace && s < p.end && src[s] === SPACE) s++;
      if (s < p.end) {
        for (let i = s; i < p.end; i++) {
          const b = src[i]!;
          if (b === SPACE && spec.escapeWhitespaces) out.append(SPACE_SYMBOL, 0, 3);
          else out.push(b);
        }
        isPrevSpace = src[p.end - 1] === SPACE;
      }
      pos += n;
      if (!spec.removeExtraWhitespaces) isPrevSpace = false;
    }

    if (spec.removeExtraWhitespaces) {
      const space = spec.escapeWhitespaces ? SPACE_SYMBOL : SINGLE_SPACE;
      while (out.endsWith(space)) out.length -= space.length;
    }
    if (this.treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();
    return out.bytes();
  }
}
