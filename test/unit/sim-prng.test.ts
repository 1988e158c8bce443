// hal/prng.ts: xorshift32 against a BigInt transcription of Marsaglia's generator
// (the one test/fixtures/packets.ts uses as the sampling oracle), range helpers, and the mixer.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { mix32, XorShift32 } from '../../hal/drivers/sim/index.ts';
import { ZERO_SEED_REPLACEMENT } from '../../hal/prng.ts';

/** xorshift32 (13, 17, 5) in BigInt arithmetic, independent of the 32-bit tricks under test. */
function reference(seed: number, n: number): number[] {
  const M = 0xffffffffn;
  let x = BigInt(seed >>> 0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= (x << 13n) & M;
    x ^= x >> 17n;
    x ^= (x << 5n) & M;
    out.push(Number(x));
  }
  return out;
}

test('xorshift32 draws match the reference sequence', () => {
  for (const seed of [1, 7, 12345, 0x80000000, 0xffffffff, -1, 2 ** 32 + 5]) {
    const r = new XorShift32(seed);
    assert.equal(Array.from({ length: 1000 }, () => r.next()), reference(seed, 1000), `seed ${seed}`);
  }
  assert.equal(reference(1, 3), [270369, 67634689, 2647435461]);
});

test('a zero seed is replaced, never stuck at zero', () => {
  const r = new XorShift32(0);
  assert.equal([r.next(), r.next()], reference(ZERO_SEED_REPLACEMENT, 2));
  assert.ok([r.next(), r.next()].every((x) => x !== 0));
});

test('below, between and chance stay in range and are roughly uniform', () => {
  const r = new XorShift32(42);
  const bins = new Array<number>(10).fill(0);
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const v = r.below(10);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 10);
    bins[v]++;
  }
  // χ² with 9 degrees of freedom: 27.9 is the 0.1% critical value.
  const chi = bins.reduce((s, b) => s + (b - N / 10) ** 2 / (N / 10), 0);
  assert.ok(chi < 27.9, `χ² = ${chi}`);
  for (let i = 0; i < 1000; i++) {
    const v = r.between(5, 7);
    assert.ok(v >= 5 && v <= 7);
  }
  assert.is(r.between(3, 3), 3);
  assert.ok(Array.from({ length: 1000 }, () => r.chance(0)).every((x) => !x));
  assert.ok(Array.from({ length: 1000 }, () => r.chance(1)).every((x) => x));
  const hits = Array.from({ length: N }, () => r.chance(0.3)).filter(Boolean).length;
  assert.ok(Math.abs(hits / N - 0.3) < 0.01, `${hits / N}`);
});

test('mix32 is a function of its words, and one changed bit changes about half the output', () => {
  assert.is(mix32(1, 2, 3), mix32(1, 2, 3));
  assert.is.not(mix32(1, 2, 3), mix32(1, 2, 4));
  assert.is.not(mix32(1, 2), mix32(2, 1));
  let flipped = 0;
  const N = 2000;
  for (let i = 0; i < N; i++) {
    const a = mix32(i, 99);
    const b = mix32(i ^ (1 << (i % 32)), 99);
    let d = (a ^ b) >>> 0;
    while (d) { flipped += d & 1; d >>>= 1; }
  }
  const mean = flipped / N;
  assert.ok(mean > 14 && mean < 18, `mean bits changed ${mean}`);
});

test.run();
