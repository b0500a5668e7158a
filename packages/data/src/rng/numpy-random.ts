/**
 * numpy's legacy distributions (numpy/random/src/distributions/distributions.c and
 * legacy/legacy-distributions.c, numpy 1.24), on top of the legacy MT19937 stream: fairseq's noising
 * classes draw Poisson span lengths, uniforms and Bernoulli keep-masks from `np.random` after
 * `numpy_seed`, so the same seed must give the same numbers here, bit for bit.
 */

/** The source of doubles these samplers read: `random_standard_uniform` (53 bits, [0, 1)). */
export interface UniformSource {
  random(): number;
}

const LOGGAM_COEFFS = [
  8.333333333333333e-2, -2.777777777777778e-3, 7.936507936507937e-4, -5.952380952380952e-4, 8.417508417508418e-4, -1.917526917526918e-3, 6.41025641025641e-3,
  -2.955065359477124e-2, 1.796443723688307e-1, -1.3924322169059,
];

/** numpy's `random_loggam`: log(Gamma(x)) by the Stirling series, shifted up to x >= 7 first. */
export function numpyLoggam(x: number): number {
  if (x === 1.0 || x === 2.0) return 0.0;
  const n = x < 7.0 ? Math.trunc(7 - x) : 0;
  let x0 = x + n;
  const x2 = (1.0 / x0) * (1.0 / x0);
  const lg2pi = 1.8378770664093453;
  let gl0 = LOGGAM_COEFFS[9]!;
  for (let k = 8; k >= 0; k--) {
    gl0 *= x2;
    gl0 += LOGGAM_COEFFS[k]!;
  }
  let gl = gl0 / x0 + 0.5 * lg2pi + (x0 - 0.5) * Math.log(x0) - x0;
  if (x < 7.0) {
    for (let k = 1; k <= n; k++) {
      gl -= Math.log(x0 - 1.0);
      x0 -= 1.0;
    }
  }
  return gl;
}

/** Multiplication method (Knuth), numpy's choice for lam < 10. */
function poissonMult(src: UniformSource, lam: number): number {
  const enlam = Math.exp(-lam);
  let x = 0;
  let prod = 1.0;
  for (;;) {
    prod *= src.random();
    if (prod > enlam) x += 1;
    else return x;
  }
}

/** Hörmann's transformed rejection with squeeze (PTRS), numpy's choice for lam >= 10. */
function poissonPtrs(src: UniformSource, lam: number): number {
  const slam = Math.sqrt(lam);
  const loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = src.random() - 0.5;
    const v = src.random();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - numpyLoggam(k + 1)) return k;
  }
}

/** numpy's legacy `poisson(lam)` (one draw). */
export function numpyPoisson(src: UniformSource, lam: number): number {
  if (!(lam >= 0) || !Number.isFinite(lam)) throw new RangeError(`poisson: lam must be a finite number >= 0, got ${lam}`);
  if (lam >= 10) return poissonPtrs(src, lam);
  if (lam === 0) return 0;
  return poissonMult(src, lam);
}

/** numpy's `random_binomial_inversion` (p <= 0.5, n * p <= 30). */
function binomialInversion(src: UniformSource, n: number, p: number): number {
  const q = 1.0 - p;
  const qn = Math.exp(n * Math.log(q));
  const np = n * p;
  const bound = Math.trunc(Math.min(n, np + 10.0 * Math.sqrt(np * q + 1)));
  let x = 0;
  let px = qn;
  let u = src.random();
  while (u > px) {
    x++;
    if (x > bound) {
      x = 0;
      px = qn;
      u = src.random();
    } else {
      u -= px;
      px = ((n - x + 1) * p * px) / (x * q);
    }
  }
  return x;
}

/**
 * numpy's legacy `binomial(n, p)` (one draw). Only the inversion branch (min(p, 1-p) * n <= 30) is
 * implemented: BTPE (larger n) is not needed by fairseq's data classes and says so rather than differ.
 */
export function numpyBinomial(src: UniformSource, n: number, p: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`binomial: n must be an integer >= 0, got ${n}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomial: p must be in [0, 1], got ${p}`);
  if (n === 0 || p === 0) return 0;
  if (p <= 0.5) {
    if (p * n > 30.0) throw new RangeError(`binomial: n * p = ${p * n} > 30 needs numpy's BTPE sampler, which is not implemented`);
    return binomialInversion(src, n, p);
  }
  const q = 1.0 - p;
  if (q * n > 30.0) throw new RangeError(`binomial: n * (1 - p) = ${q * n} > 30 needs numpy's BTPE sampler, which is not implemented`);
  return n - binomialInversion(src, n, q);
}
