import { formatFixed } from "@fairseq-ts/logging";

/** fairseq's BLEU statistics (fairseq/clib/libbleu). */
export interface BleuStat {
  reflen: number;
  predlen: number;
  match: [number, number, number, number];
  count: [number, number, number, number];
}

/** Drop leading and trailing eos/pad tokens (libbleu's bleu_trim). */
function trim(s: ArrayLike<number>, pad: number, eos: number): number[] {
  let end = s.length - 1;
  while (end > 0 && (s[end] === eos || s[end] === pad)) end--;
  let start = 0;
  while (start < end && (s[start] === eos || s[start] === pad)) start++;
  const out: number[] = [];
  for (let i = start; i <= end && s.length > 0; i++) out.push(s[i]!);
  return out;
}

/**
 * libbleu's `bleu_hash` of an n-gram: 64-bit FNV-1a over the ids' bytes (int32, little-endian), except that each
 * byte is read as a *signed* char, so a byte ≥ 0x80 is XORed in sign-extended (0xFF…FFxx). libbleu counts n-grams
 * by this hash alone, and the sign extension makes distinct n-grams collide (on Multi30k's English dictionary
 * "man in" = [9, 6] and [241, 254] hash alike), which adds matches; fairseq's BLEU lines include them.
 * Returned as "hi:lo" (two uint32 halves).
 */
function libbleuHash(ids: readonly number[], start: number, n: number): string {
  // 14695981039346656037 = 0xCBF29CE484222325
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = start; i < start + n; i++) {
    const id = ids[i]!;
    for (let k = 0; k < 4; k++) {
      const byte = (id >>> (8 * k)) & 0xff;
      lo = (lo ^ (byte >= 0x80 ? 0xffffff00 | byte : byte)) >>> 0;
      if (byte >= 0x80) hi = (hi ^ 0xffffffff) >>> 0;
      // h *= 0x100000001b3 (mod 2^64): lo·0x1b3 is exact in a double (< 2^41); the other terms only reach hi
      const p = lo * 0x1b3;
      const carry = Math.floor(p / 0x100000000);
      hi = (carry + ((lo * 0x100) % 0x100000000) + (Math.imul(hi, 0x1b3) >>> 0)) >>> 0;
      lo = p >>> 0;
    }
  }
  return `${hi}:${lo}`;
}

/**
 * fairseq's corpus BLEU over token ids (`fairseq.scoring.bleu.Scorer` + libbleu): clipped n-gram
 * matches up to order 4 (n-grams compared by libbleu's hash, collisions included), unknown words in
 * the reference never match, brevity penalty min(1, e^(1-r/c)).
 */
export class BleuScorer {
  stat: BleuStat;
  constructor(
    readonly pad: number,
    readonly eos: number,
    readonly unk: number,
  ) {
    this.stat = BleuScorer.zero(0);
  }
  private static zero(v: number): BleuStat {
    return { reflen: v, predlen: v, match: [v, v, v, v], count: [v, v, v, v] };
  }
  /**
   * `reset(one_init=True)` gives fairseq's smoothed sentence BLEU: libbleu's bleu_one_init sets the
   * 2-, 3- and 4-gram counts and matches to 1 (unigrams and lengths stay 0).
   */
  reset(oneInit = false): void {
    this.stat = BleuScorer.zero(0);
    if (oneInit) {
      this.stat.match = [0, 1, 1, 1];
      this.stat.count = [0, 1, 1, 1];
    }
  }
  add(ref: ArrayLike<number>, pred: ArrayLike<number>): void {
    const r = trim(
      Array.from(ref, (x) => (x === this.unk ? -999 : x)),
      this.pad,
      this.eos,
    );
    const p = trim(pred, this.pad, this.eos);
    this.stat.reflen += r.length;
    this.stat.predlen += p.length;
    for (let n = 1; n <= 4; n++) {
      if (p.length < n) continue;
      const refCounts = new Map<string, number>();
      for (let i = 0; i + n <= r.length; i++) {
        const k = libbleuHash(r, i, n);
        refCounts.set(k, (refCounts.get(k) ?? 0) + 1);
      }
      let match = 0;
      for (let i = 0; i + n <= p.length; i++) {
        const k = libbleuHash(p, i, n);
        const c = refCounts.get(k) ?? 0;
        if (c > 0) {
          match++;
          refCounts.set(k, c - 1);
        }
      }
      this.stat.match[n - 1]! += match;
      this.stat.count[n - 1]! += p.length - n + 1;
    }
  }
  precision(): number[] {
    return [0, 1, 2, 3].map((i) => (this.stat.count[i]! > 0 ? this.stat.match[i]! / this.stat.count[i]! : 0));
  }
  brevity(): number {
    const r = this.stat.reflen / this.stat.predlen;
    return Math.min(1, Math.exp(1 - r));
  }
  score(order = 4): number {
    const psum = this.precision()
      .slice(0, order)
      .reduce((a, p) => a + (p > 0 ? Math.log(p) : -Infinity), 0);
    return this.brevity() * Math.exp(psum / order) * 100;
  }
  /** `BLEU4 = 19.43, 53.9/26.9/14.3/7.7 (BP=0.974, ratio=0.974, syslen=12630, reflen=12968)` */
  resultString(order = 4): string {
    const p = this.precision()
      .slice(0, order)
      .map((x) => formatFixed(x * 100, 1));
    return `BLEU${order} = ${formatFixed(this.score(order), 2)}, ${p.join("/")} (BP=${formatFixed(this.brevity(), 3)}, ratio=${formatFixed(this.stat.predlen / this.stat.reflen, 3)}, syslen=${this.stat.predlen}, reflen=${this.stat.reflen})`;
  }
}
