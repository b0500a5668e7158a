/**
 * Reader for a Darts-clone double array (the trie inside SentencePiece's precompiled_charsmap): 32-bit
 * little-endian units; each unit packs a label, a leaf flag and an offset to its children.
 */
export class DoubleArray {
  private readonly units: Uint32Array;

  /** `bytes` holds the units (length a multiple of 4, little-endian). */
  constructor(bytes: Uint8Array, what: string) {
    if (bytes.length % 4 !== 0 || bytes.length === 0) throw new Error(`${what}: broken double-array trie (${bytes.length} bytes)`);
    const n = bytes.length / 4;
    const units = new Uint32Array(n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) units[i] = view.getUint32(i * 4, true);
    this.units = units;
  }

  private static offset(unit: number): number {
    return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
  }

  private static label(unit: number): number {
    return (unit & 0x800000ff) >>> 0;
  }

  private unit(i: number): number {
    // Out-of-range reads only happen on malformed tries; treat them as a mismatch.
    return i < this.units.length ? this.units[i]! : 0x80000000;
  }

  /**
   * The longest key in the trie that is a prefix of key[start..end): [length in bytes, value], or
   * [0, 0] if none (Darts' commonPrefixSearch, keeping the longest result as SentencePiece does).
   */
  longestPrefix(key: Uint8Array, start: number, end: number): [number, number] {
    let nodePos = DoubleArray.offset(this.unit(0));
    let bestLen = 0;
    let bestValue = 0;
    for (let i = start; i < end; i++) {
      const c = key[i]!;
      nodePos = (nodePos ^ c) >>> 0;
      const unit = this.unit(nodePos);
      if (DoubleArray.label(unit) !== c) break;
      nodePos = (nodePos ^ DoubleArray.offset(unit)) >>> 0;
      if ((unit >>> 8) & 1) {
        bestLen = i - start + 1;
        bestValue = this.unit(nodePos) & 0x7fffffff;
      }
    }
    return [bestLen, bestValue];
  }
}
