/**
 * numpy's legacy `RandomState` (MT19937), bit for bit, for the parts fairseq uses: integer seeding,
 * `random_sample`, `uniform`, `permutation`, `shuffle`, bounded integers, `poisson` and `binomial`.
 * fairseq shuffles data and noises samples with it, so the same seed must give the same numbers here.
 */
import { numpyBinomial, numpyPoisson } from "./numpy-random.js";

const N = 624;
const M = 397;

export interface RandomStateSnapshot {
  key: number[];
  pos: number;
}

export class RandomState {
  private mt = new Uint32Array(N);
  private pos = N;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** numpy's `seed(int)` for 0 <= seed < 2^32 (`mt19937_seed`: Knuth's init_genrand). */
  seed(seed: number): void {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`Seed must be between 0 and 2**32 - 1, got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, modulo 2^32, without losing precision.
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.pos = N;
  }

  private generate(): void {
    const mt = this.mt;
    let y: number;
    let i = 0;
    for (; i < N - M; i++) {
      y = (mt[i]! & 0x80000000) | (mt[i + 1]! & 0x7fffffff);
      mt[i] = mt[i + M]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    for (; i < N - 1; i++) {
      y = (mt[i]! & 0x80000000) | (mt[i + 1]! & 0x7fffffff);
      mt[i] = mt[i + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    y = (mt[N - 1]! & 0x80000000) | (mt[0]! & 0x7fffffff);
    mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    this.pos = 0;
  }

  /** The next 32-bit output (genrand_int32). */
  nextUint32(): number {
    if (this.pos >= N) this.generate();
    let y = this.mt[this.pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits (numpy's `random_sample`). */
  random(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  /** A uniform integer in [0, max] by masked rejection (numpy's legacy `random_interval`, max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new RangeError("interval: max must be < 2^32");
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    while ((v = (this.nextUint32() & mask) >>> 0) > max);
    return v;
  }

  /** In-place shuffle of an array (numpy's legacy `shuffle` of a 1-d array or list). */
  shuffle<T>(x: T[] | Int32Array | Float64Array | Uint32Array): void {
    for (let i = x.length - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = x[i]!;
      x[i] = x[j]!;
      x[j] = t as never;
    }
  }

  /** numpy's `permutation(n)`: a shuffled `arange(n)`. */
  permutation(n: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    this.shuffle(a);
    return a;
  }

  /** numpy's legacy `randint(low, high)` for high - low <= 2^32 (masked rejection). */
  randint(low: number, high: number): number {
    if (high <= low) throw new RangeError("randint: low >= high");
    return low + this.interval(high - low - 1);
  }

  /** numpy's `rand(n)` / `random_sample(n)`: n doubles in [0, 1). */
  rand(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.random();
    return out;
  }

  /** numpy's legacy `uniform(low, high, n)`: `low + (high - low) * random_sample()` each. */
  uniform(low: number, high: number, n: number): Float64Array {
    const range = high - low;
    if (!Number.isFinite(range)) throw new RangeError("uniform: high - low must be finite");
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = low + range * this.random();
    return out;
  }

  /** numpy's legacy `randint(low, high, n)`: n draws from [low, high). */
  randintArray(low: number, high: number, n: number): Int32Array | Float64Array {
    if (high <= low) throw new RangeError("randint: low >= high");
    const out = Number.isInteger(low) && low >= -0x80000000 && high <= 0x80000000 ? new Int32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.randint(low, high);
    return out;
  }

  /** numpy's legacy `poisson(lam)`: one draw (multiplication for lam < 10, PTRS above). */
  poisson(lam: number): number {
    return numpyPoisson(this, lam);
  }

  /** numpy's legacy `poisson(lam, n)`. */
  poissonArray(lam: number, n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = numpyPoisson(this, lam);
    return out;
  }

  /** numpy's legacy `binomial(n, p)`: one draw (inversion branch). */
  binomial(n: number, p: number): number {
    return numpyBinomial(this, n, p);
  }

  /** numpy's legacy `binomial(n, p, size)`. */
  binomialArray(n: number, p: number, size: number): Float64Array {
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++) out[i] = numpyBinomial(this, n, p);
    return out;
  }

  getState(): RandomStateSnapshot {
    return { key: Array.from(this.mt), pos: this.pos };
  }

  setState(s: RandomStateSnapshot): void {
    if (s.key.length !== N) throw new RangeError(`state key must have ${N} words`);
    this.mt = Uint32Array.from(s.key);
    this.pos = s.pos;
  }
}
