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
 * fairseq's corpus BLEU over token ids (`fairseq.scoring.bleu.Scorer` + libbleu): clipped n-gram
 * matches up to order 4, unknown words in the reference never match, brevity penalty min(1, e^(1-r/c)).
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
        const k = r.slice(i, i + n).join(",");
        refCounts.set(k, (refCounts.get(k) ?? 0) + 1);
      }
      let match = 0;
      for (let i = 0; i + n <= p.length; i++) {
        const k = p.slice(i, i + n).join(",");
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
