/** UTF-8 helpers shared by the SentencePiece normalizer and models (they work on UTF-8 bytes, as C++ does). */

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** SentencePiece's OneCharLen: the length of the UTF-8 sequence a lead byte starts (1 for stray bytes). */
export function oneCharLen(lead: number): number {
  return lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/** A growable byte buffer. */
export class ByteBuilder {
  buf: Uint8Array;
  length = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private grow(extra: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  push(b: number): void {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
  }

  append(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.length + n > this.buf.length) this.grow(n);
    for (let i = start; i < end; i++) this.buf[this.length++] = src[i]!;
  }

  endsWith(tail: Uint8Array): boolean {
    if (tail.length > this.length) return false;
    const off = this.length - tail.length;
    for (let i = 0; i < tail.length; i++) if (this.buf[off + i] !== tail[i]) return false;
    return true;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** A byte-keyed trie (pieces -> values) walked one byte at a time. */
export class ByteTrie {
  private edges: Map<number, number> | null = new Map<number, number>();
  private values: Int32Array = new Int32Array(64).fill(-1);
  private nodes = 1;
  // frozen form (built on first lookup): a 256-entry table for the root, sorted edge lists for the rest
  private root: Int32Array = new Int32Array(0);
  private start: Int32Array = new Int32Array(0);
  private edgeByte: Uint8Array = new Uint8Array(0);
  private edgeChild: Int32Array = new Int32Array(0);

  /** Adds `key` with `value` (>= 0); returns false if the key was already present. */
  insert(key: Uint8Array, value: number): boolean {
    const edges = this.edges;
    if (edges === null) throw new Error("ByteTrie: insert after lookup");
    let node = 0;
    for (let i = 0; i < key.length; i++) {
      const k = node * 256 + key[i]!;
      let next = edges.get(k);
      if (next === undefined) {
        next = this.nodes++;
        if (next >= this.values.length) {
          const grown = new Int32Array(this.values.length * 2).fill(-1);
          grown.set(this.values);
          this.values = grown;
        }
        edges.set(k, next);
      }
      node = next;
    }
    if (this.values[node]! >= 0) return false;
    this.values[node] = value;
    return true;
  }

  private freeze(): void {
    const edges = [...(this.edges as Map<number, number>)].sort((a, b) => a[0] - b[0]);
    this.edges = null;
    this.root = new Int32Array(256).fill(-1);
    this.start = new Int32Array(this.nodes + 1);
    this.edgeByte = new Uint8Array(edges.length);
    this.edgeChild = new Int32Array(edges.length);
    edges.forEach(([k, child], i) => {
      const node = Math.floor(k / 256);
      if (node === 0) this.root[k] = child;
      this.start[node + 1]!++;
      this.edgeByte[i] = k % 256;
      this.edgeChild[i] = child;
    });
    for (let n = 0; n < this.nodes; n++) this.start[n + 1]! += this.start[n]!;
  }

  /** The child of `node` along byte `b`, or -1. The root is node 0. */
  step(node: number, b: number): number {
    if (this.edges !== null) this.freeze();
    if (node === 0) return this.root[b]!;
    let lo = this.start[node]!;
    let hi = this.start[node + 1]!;
    const bytes = this.edgeByte;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = bytes[mid]!;
      if (m === b) return this.edgeChild[mid]!;
      if (m < b) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** The value stored at `node`, or -1. */
  value(node: number): number {
    return this.values[node]!;
  }

  /** The length of the longest key that is a prefix of bytes[start..end), or 0. */
  longestPrefix(bytes: Uint8Array, start: number, end: number): number {
    let node = 0;
    let best = 0;
    for (let i = start; i < end; i++) {
      node = this.step(node, bytes[i]!);
      if (node < 0) break;
      if (this.values[node]! >= 0) best = i - start + 1;
    }
    return best;
  }
}
