/**
 * A 32-bit FNV-1a hash of the bit patterns of float32 arrays, in order: replicas that stay identical
 * have equal checksums; one flipped bit anywhere changes it.
 */
export function weightsChecksum(arrays: Iterable<Float32Array>): number {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const words = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < words.length; i++) {
      h ^= words[i]!;
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}
