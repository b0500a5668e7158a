/**
 * CPython (3.8+, 64-bit) hashes of ints and tuples of ints: fairseq derives numpy seeds with
 * `hash((seed, epoch, ...)) % 1e6`, so exact reproduction needs Python's values.
 */

const MASK64 = (1n << 64n) - 1n;
const MODULUS = (1n << 61n) - 1n; // _PyHASH_MODULUS
const XXPRIME_1 = 11400714785074694791n;
const XXPRIME_2 = 14029467366897019727n;
const XXPRIME_5 = 2870177450012600261n;

/** `hash(n)` for a Python int. */
export function pythonIntHash(n: number | bigint): bigint {
  const v = BigInt(n);
  const neg = v < 0n;
  let h = (neg ? -v : v) % MODULUS;
  if (neg) h = -h;
  return h === -1n ? -2n : h;
}

/** `hash(tuple)` for a tuple of Python ints (CPython's xxHash-based tuplehash). */
export function pythonTupleHash(items: readonly (number | bigint)[]): bigint {
  let acc = XXPRIME_5;
  for (const item of items) {
    const lane = pythonIntHash(item) & MASK64;
    acc = (acc + lane * XXPRIME_2) & MASK64;
    acc = ((acc << 31n) | (acc >> 33n)) & MASK64;
    acc = (acc * XXPRIME_1) & MASK64;
  }
  acc = (acc + (BigInt(items.length) ^ (XXPRIME_5 ^ 3527539n))) & MASK64;
  if (acc === MASK64) return 1546275796n;
  // As a signed 64-bit Py_hash_t.
  return acc >= 1n << 63n ? acc - (1n << 64n) : acc;
}

/**
 * fairseq's `data_utils.numpy_seed(seed, *addl)` seed: the seed itself when alone, else
 * `int(hash((seed, *addl)) % 1e6)`. `% 1e6` is a float operation in Python: the hash is first rounded
 * to a double, then fmod'ed and moved to the divisor's sign.
 */
export function fairseqNumpySeed(seed: number, ...addl: number[]): number {
  if (addl.length === 0) return seed;
  const x = Number(pythonTupleHash([seed, ...addl]));
  let r = x % 1e6;
  if (r !== 0 && r < 0) r += 1e6;
  return Math.trunc(r);
}
