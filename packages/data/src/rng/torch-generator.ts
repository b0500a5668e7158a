/**
 * PyTorch 1.13's CPU generator and the few samplers fairseq's `DenoisingDataset` calls, bit for bit:
 * BART's text infilling draws span lengths (`Categorical.sample` = `multinomial` with replacement),
 * positions (`randperm`), random-token flags (`uniform_` on float32) and random tokens (`randint`)
 * from torch's global generator, not from numpy. torch's engine is the same MT19937 as numpy's legacy
 * one (Knuth's init of the low 32 bits of the seed), so this wraps `RandomState`'s raw stream and
 * turns it into values the way ATen's CPU kernels do (core/DistributionsHelper.h, TransformationHelper.h,
 * native/cpu/MultinomialKernel.cpp, TensorFactories.cpp's randperm_cpu, SumKernel.cpp's cascade sum).
 */
import { RandomState } from "./mt19937.js";

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_24 = 16777216;
/** AVX2's Vectorized<float> width, which fixes the order of torch's float sums (the reference machine's). */
const VEC_FLOAT = 8;

export class TorchGenerator {
  private readonly engine = new RandomState(0);

  /** `torch.manual_seed(seed)`; torch seeds the engine with the low 32 bits of the 64-bit seed. */
  constructor(seed: number | bigint = 67280421310721n) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number | bigint): void {
    const s = BigInt(seed);
    if (s < 0n) throw new RangeError(`torch seed must be >= 0, got ${seed}`);
    this.engine.seed(Number(s & 0xffffffffn));
  }

  /** `CPUGeneratorImpl::random()`: one 32-bit engine output. */
  random(): number {
    return this.engine.nextUint32();
  }

  /** `random64()` as [hi, lo]: the first 32-bit output is the high word. */
  random64(): [number, number] {
    const hi = this.engine.nextUint32();
    return [hi, this.engine.nextUint32()];
  }

  /** `uniform_real_distribution<double>(0, 1)`: the low 53 bits of `random64()` times 2^-53. */
  uniformDouble(): number {
    const [hi, lo] = this.random64();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) / TWO_POW_53;
  }

  /** `uniform_real_distribution<float>(0, 1)`: the low 24 bits of `random()` times 2^-24 (exact in float32). */
  uniformFloat(): number {
    return (this.random() & 0xffffff) / TWO_POW_24;
  }

  /** `torch.FloatTensor(n).uniform_()`. */
  uniformFloat32(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniformFloat();
    return out;
  }

  /** `torch.randint(low, high, (n,))` (int64): `random() % range + low`, 64-bit draws from a range of 2^32 up. */
  randint(low: number, high: number, n: number): Float64Array {
    const range = high - low;
    if (!(range >= 1) || !Number.isSafeInteger(range)) throw new RangeError(`randint: need low < high, got [${low}, ${high})`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (range >= TWO_POW_32) {
        const [hi, lo] = this.random64();
        out[i] = Number(((BigInt(hi) << 32n) | BigInt(lo)) % BigInt(range)) + low;
      } else {
        out[i] = (this.random() % range) + low;
      }
    }
    return out;
  }

  /** `torch.randperm(n)` on CPU: Fisher-Yates from the front, `random() % (n - i)`. */
  randperm(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`randperm: n must be an integer >= 0, got ${n}`);
    if (n >= 0xffffffff / 20) throw new RangeError(`randperm: n = ${n} is beyond the small-n path reproduced here`);
    const r = new Int32Array(n);
    for (let i = 0; i < n; i++) r[i] = i;
    for (let i = 0; i < n - 1; i++) {
      const z = this.random() % (n - i);
      const sav = r[i]!;
      r[i] = r[z + i]!;
      r[z + i] = sav;
    }
    return r;
  }

  /** `Tensor.exponential_(lambd)` on a float32 tensor without MKL: `-1/lambda * log(1 - u)`, u a double uniform. */
  exponentialFloat32(n: number, lambda = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (-1 / lambda) * Math.log(1 - this.uniformDouble());
    return out;
  }

  /**
   * `torch.multinomial(probs, n, replacement=True)` for one float32 distribution: each draw is a double
   * uniform looked up by binary search in the float32 cumulative distribution (torch 1.13 takes this path
   * for every n with replacement; its argmax-of-exponentials fast path is only for draws without).
   */
  multinomialWithReplacement(probs: Float32Array, n: number): Int32Array {
    const k = probs.length;
    if (k === 0) throw new RangeError("multinomial: empty distribution");
    const out = new Int32Array(n);
    if (n === 0) return out;
    const cum = new Float32Array(k);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      sum = Math.fround(sum + probs[j]!);
      cum[j] = sum;
    }
    if (!(sum > 0)) throw new RangeError("multinomial: invalid distribution (sum of probabilities <= 0)");
    for (let j = 0; j < k; j++) cum[j] = cum[j]! / sum;
    cum[k - 1] = 1;
    for (let s = 0; s < n; s++) {
      const u = this.uniformDouble();
      let left = 0;
      let right = k;
      while (right - left > 0) {
        const mid = left + ((right - left) >> 1);
        if (cum[mid]! < u) left = mid + 1;
        else right = mid;
      }
      out[s] = left;
    }
    return out;
  }

  getState(): { key: number[]; pos: number } {
    return this.engine.getState();
  }

  setState(s: { key: number[]; pos: number }): void {
    this.engine.setState(s);
  }
}

/**
 * `torch.sum` of a contiguous 1-d float32 tensor (up to 511 elements) on an AVX2 CPU: lane-wise sums of 8-float vectors
 * (in 4 interleaved accumulators once there are 4 or more), then the scalar tail, then the 8 lanes.
 * The order matters: BART's span-length distribution is normalised by this sum.
 */
export function torchFloat32Sum(x: Float32Array): number {
  const n = x.length;
  const f = Math.fround;
  if (n < VEC_FLOAT) {
    // Shorter than a vector: scalar_inner_sum, one row of 4 interleaved accumulators, then the rest.
    const part = [0, 0, 0, 0];
    const rows = Math.floor(n / 4);
    for (let i = 0; i < rows; i++) for (let a = 0; a < 4; a++) part[a] = f(part[a]! + x[i * 4 + a]!);
    for (let j = rows * 4; j < n; j++) part[0] = f(part[0]! + x[j]!);
    for (let a = 1; a < 4; a++) part[0] = f(part[0]! + part[a]!);
    return part[0]!;
  }
  const vecSize = Math.floor(n / VEC_FLOAT);
  const sizeIlp = Math.floor(vecSize / 4);
  if (sizeIlp >= 16) throw new RangeError(`torchFloat32Sum: ${n} elements is beyond the short-row path reproduced here`);
  // partial[a][lane]: accumulator a of multi_row_sum (rows of 4 vectors), each a vector of 8 lanes.
  const partial = [0, 1, 2, 3].map(() => new Float64Array(VEC_FLOAT));
  for (let i = 0; i < sizeIlp; i++) {
    for (let a = 0; a < 4; a++) {
      for (let l = 0; l < VEC_FLOAT; l++) partial[a]![l] = f(partial[a]![l]! + x[(i * 4 + a) * VEC_FLOAT + l]!);
    }
  }
  for (let v = sizeIlp * 4; v < vecSize; v++) {
    for (let l = 0; l < VEC_FLOAT; l++) partial[0]![l] = f(partial[0]![l]! + x[v * VEC_FLOAT + l]!);
  }
  for (let a = 1; a < 4; a++) {
    for (let l = 0; l < VEC_FLOAT; l++) partial[0]![l] = f(partial[0]![l]! + partial[a]![l]!);
  }
  let acc = 0;
  for (let j = vecSize * VEC_FLOAT; j < n; j++) acc = f(acc + x[j]!);
  for (let l = 0; l < VEC_FLOAT; l++) acc = f(acc + partial[0]![l]!);
  return acc;
}
