// Seeded randomness for drivers (simulated hosts, the fault injector): xorshift32 (Marsaglia 2003, shifts 13/17/5, the same
// generator wasm/replicate/sample.ts uses) and a 32-bit mixing hash for deriving independent
// seeds from identifiers (a flow's 5-tuple, a request's sequence number).
//
// Contract: a generator's output is a pure function of its seed and the number of draws, so a
// simulation is reproducible from its configured seeds. Not for cryptography. Floating-point is
// used only as (draw / 2^32) × n, which IEEE 754 makes identical on every machine.

/** Replaces a zero seed (xorshift's one fixed point) — the golden-ratio constant. */
export const ZERO_SEED_REPLACEMENT = 0x9e3779b9;
const TWO_POW_32 = 2 ** 32;

/** xorshift32: period 2^32 − 1 over non-zero states. */
export class XorShift32 {
  private x: number;

  /** A zero seed is replaced by ZERO_SEED_REPLACEMENT; other values are taken mod 2^32. */
  constructor(seed: number) {
    this.x = (seed >>> 0) || ZERO_SEED_REPLACEMENT;
  }

  /** The next draw, a u32 never 0. */
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x;
  }

  /** A uniform integer in [0, n) (n ≥ 1). */
  below(n: number): number {
    return Math.floor((this.next() / TWO_POW_32) * n);
  }

  /** A uniform integer in [lo, hi] (lo ≤ hi). */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p (0 → never, 1 → always). */
  chance(p: number): boolean {
    return p >= 1 || this.next() < p * TWO_POW_32;
  }
}

/**
 * Mixes 32-bit words into one u32 (murmur3's finaliser applied after each word). Equal inputs give
 * equal outputs; any changed bit changes about half of the output bits.
 */
export function mix32(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    h = Math.imul(h ^ (w >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}
