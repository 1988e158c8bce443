// The fault wrapper on the receive side: port 0's memory driver is wrapped, frames injected on
// port 0 cross the real data plane (wire mode) and leave on port 1, where they are compared with
// what was injected. Frames are scapy-built and distinct, so each delivered frame names its
// origin. Every run ends with the frame pools full (no frame leaked or released twice) and the
// wrapper's counters conserved: seen + duplicated = passed + dropped + holdOverflow + held.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { simSpec } from '../../firmware/runtime/simulate.ts';
import { FaultDriver, type FaultConfig } from '../../hal/drivers/fault/index.ts';
import { CORRUPT_FROM } from '../../hal/drivers/fault/fate.ts';
import { conserved, hex, inject, poolsFull, rig, runToDrained, scapyFrames, sentHex, STEP_NS, type Rig } from './fault-helpers.ts';

const N = 2000;
const FRAMES = scapyFrames(N);
const HEX = FRAMES.map(hex);
const INDEX = new Map(HEX.map((h, i) => [h, i]));
/** Sigmas of a binomial count accepted around its mean (false alarm ≈ 6e-7 per check). */
const SIGMAS = 5;

interface Run {
  readonly rig: Rig;
  readonly fault: FaultDriver;
  readonly sent: string[];
}

/** Injects `frames` on port 0 wrapped with `config`, runs to drained, checks pools and counters. */
async function runRx(config: FaultConfig, frames: readonly Uint8Array[] = FRAMES, spec = simSpec()): Promise<Run> {
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 0 ? (fault = new FaultDriver(m, config)) : m), spec);
  inject(r, 0, frames);
  runToDrained(r);
  await r.card.close();
  assert.ok(poolsFull(r), 'frame pools are full again');
  const c = fault.counters();
  assert.ok(conserved(c.rx), `rx counters conserved: ${JSON.stringify(c.rx)}`);
  assert.is(c.rx.seen, frames.length);
  assert.is(c.tx.seen, 0);
  return { rig: r, fault, sent: sentHex(r, 1) };
}

function withinSigmas(count: number, n: number, p: number): boolean {
  return Math.abs(count - n * p) <= SIGMAS * Math.sqrt(n * p * (1 - p));
}

/** Indices (into FRAMES) of the frames a run delivered, in delivery order. */
function delivered(sent: readonly string[]): number[] {
  return sent.map((h) => {
    const i = INDEX.get(h);
    if (i === undefined) throw new Error('a delivered frame is not one of the injected frames');
    return i;
  });
}

test('transparent: all probabilities 0 and no delay give exactly the unwrapped run', async () => {
  const zero = { drop: 0, corrupt: 0, duplicate: 0, delayNs: 0, jitterNs: 0 };
  const plain = rig();
  let a!: FaultDriver;
  let b!: FaultDriver;
  const wrapped = rig((p, m) => (p === 0 ? (a = new FaultDriver(m, { rx: zero, tx: zero })) : p === 1 ? (b = new FaultDriver(m, { rx: zero, tx: zero })) : m));
  for (const r of [plain, wrapped]) {
    inject(r, 0, FRAMES.slice(0, 1000));
    inject(r, 1, FRAMES.slice(1000), 1000);
    runToDrained(r);
    await r.card.close();
  }
  for (const port of [0, 1]) {
    assert.equal(wrapped.media[port]!.sent, plain.media[port]!.sent, `port ${port}: bytes, queues and descriptors`);
  }
  assert.is(wrapped.media[1]!.sent.length, 1000);
  assert.equal(delivered(sentHex(wrapped, 1)), [...Array(1000).keys()]);
  assert.is(a.counters().rx.passed, 1000);
  assert.is(b.counters().tx.passed, 1000);
  assert.ok(poolsFull(wrapped));
});

test('drop: the count is binomially sane for several seeds; survivors are unchanged and in order', async () => {
  const p = 0.25;
  for (const seed of [1, 2, 3, 0xdeadbeef, 0]) {
    const { fault, sent } = await runRx({ rx: { drop: p, seed } });
    const c = fault.counters().rx;
    assert.is(c.dropped + c.passed, N);
    assert.is(sent.length, c.passed);
    assert.ok(withinSigmas(c.dropped, N, p), `seed ${seed}: ${c.dropped} drops of ${N} at p=${p}`);
    const order = delivered(sent);
    for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! < order[i]!, 'survivors keep their order');
  }
});

test('drop: exactly reproducible for a seed, different for another', async () => {
  const a = await runRx({ rx: { drop: 0.3, seed: 42 } });
  const b = await runRx({ rx: { drop: 0.3, seed: 42 } });
  const c = await runRx({ rx: { drop: 0.3, seed: 43 } });
  assert.equal(a.sent, b.sent);
  assert.equal(a.fault.counters(), b.fault.counters());
  assert.not.equal(delivered(a.sent), delivered(c.sent));
});

test('drop: p = 1 loses everything, p = 0 nothing', async () => {
  const all = await runRx({ rx: { drop: 1 } }, FRAMES.slice(0, 300));
  assert.is(all.sent.length, 0);
  assert.is(all.fault.counters().rx.dropped, 300);
  const none = await runRx({ rx: { drop: 0 } }, FRAMES.slice(0, 300));
  assert.equal(none.sent, HEX.slice(0, 300));
});

/** Bit positions (byte × 8 + bit) where two equal-length frames differ. */
function differingBits(a: Uint8Array, b: Uint8Array): number[] {
  assert.is(a.length, b.length);
  const bits: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    for (let bit = 0; bit < 8; bit++) if (x & (1 << bit)) bits.push(i * 8 + bit);
  }
  return bits;
}

test('corrupt: affected frames differ from the input in exactly one bit, at or after byte 14', async () => {
  const p = 0.3;
  const { rig: r, fault } = await runRx({ rx: { corrupt: p, seed: 11 } });
  const out = r.media[1]!.sent;
  assert.is(out.length, N);
  let changed = 0;
  out.forEach((s, i) => {
    const bits = differingBits(FRAMES[i]!, s.bytes);
    assert.ok(bits.length <= 1, `frame ${i}: ${bits.length} bits differ`);
    if (bits.length === 1) {
      changed++;
      assert.ok(bits[0]! >= CORRUPT_FROM * 8, `frame ${i}: bit ${bits[0]} is in the Ethernet header`);
    }
  });
  assert.is(changed, fault.counters().rx.corrupted);
  assert.ok(withinSigmas(changed, N, p), `${changed} corrupted of ${N}`);
});

test('corrupt: p = 1 flips one bit in every frame, reproducibly; positions spread over the frame', async () => {
  const frames = FRAMES.slice(0, 400);
  const a = await runRx({ rx: { corrupt: 1, seed: 3 } }, frames);
  const b = await runRx({ rx: { corrupt: 1, seed: 3 } }, frames);
  assert.equal(a.sent, b.sent);
  const offsets = new Set<number>();
  a.rig.media[1]!.sent.forEach((s, i) => {
    const bits = differingBits(frames[i]!, s.bytes);
    assert.is(bits.length, 1);
    offsets.add(bits[0]! >> 3);
  });
  assert.ok(offsets.size > 100, `${offsets.size} distinct corrupted offsets`);
});

test('duplicate: copies follow their original, identical, and are counted', async () => {
  const p = 0.2;
  const { fault, sent } = await runRx({ rx: { duplicate: p, seed: 8 } });
  const c = fault.counters().rx;
  assert.is(sent.length, N + c.duplicated);
  assert.ok(withinSigmas(c.duplicated, N, p), `${c.duplicated} copies of ${N}`);
  const order = delivered(sent);
  const expected: number[] = [];
  for (let i = 0, k = 0; i < N; i++) {
    expected.push(i);
    k++;
    if (order[k] === i) {
      expected.push(i);
      k++;
    }
  }
  assert.equal(order, expected);
});

test('duplicate: p = 1 doubles every frame; with no free frame the copy is skipped and counted', async () => {
  const frames = FRAMES.slice(0, 200);
  const { sent } = await runRx({ rx: { duplicate: 1 } }, frames);
  assert.equal(sent, HEX.slice(0, 200).flatMap((h) => [h, h]));
  // One receive frame: the medium holds it while the wrapper asks the pool for another.
  const starved = await runRx({ rx: { duplicate: 1 } }, frames, simSpec({ rxFrames: 1 }));
  assert.equal(starved.sent, HEX.slice(0, 200));
  const c = starved.fault.counters().rx;
  assert.is(c.duplicateFailed, 200);
  assert.is(c.duplicated, 0);
});

test('delay: frames are held until now ≥ receive time + delay, then released in order', async () => {
  const delay = 5n * STEP_NS;
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 0 ? (fault = new FaultDriver(m, { rx: { delayNs: Number(delay) } })) : m));
  const out = r.media[1]!.sent;
  const batchA = FRAMES.slice(0, 50);
  const batchB = FRAMES.slice(50, 80);
  inject(r, 0, batchA);
  const start = STEP_NS;
  const seen: Array<[bigint, number]> = [];
  for (let now = start; now <= start + 12n * STEP_NS; now += STEP_NS) {
    if (now === start + 2n * STEP_NS) inject(r, 0, batchB, 50);
    r.card.step(now);
    seen.push([now - start, out.length]);
  }
  // A arrives at `start` and is due at start + delay; B arrives two steps later.
  for (const [t, n] of seen) {
    const expected = t < delay ? 0 : t < delay + 2n * STEP_NS ? 50 : 80;
    assert.is(n, expected, `at +${t} ns`);
  }
  assert.equal(sentHex(r, 1), HEX.slice(0, 80));
  const c = fault.counters().rx;
  assert.is(c.delayed, 80);
  assert.is(c.held, 0);
  assert.ok(conserved(c));
  assert.ok(r.card.drained());
  await r.card.close();
  assert.ok(poolsFull(r));
});

test('delay: a finite source with frames held is not exhausted, so the card is not drained', async () => {
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 0 ? (fault = new FaultDriver(m, { rx: { delayNs: 1_000_000 } })) : m));
  inject(r, 0, FRAMES.slice(0, 5));
  r.card.step(1n);
  assert.is(r.media[0]!.exhausted, true);
  assert.is(fault.exhausted, false);
  assert.is(r.card.drained(), false);
  r.card.step(1_000_001n);
  assert.is(fault.exhausted, true);
  assert.is(r.card.drained(), true);
  assert.is(r.media[1]!.sent.length, 5);
  await r.card.close();
});

test('delay: a full hold queue drops and counts (holdOverflow); close releases what is still held', async () => {
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 0 ? (fault = new FaultDriver(m, { rx: { delayNs: 1_000_000, holdCapacity: 8 } })) : m));
  inject(r, 0, FRAMES.slice(0, 20));
  r.card.step(STEP_NS);
  let c = fault.counters().rx;
  assert.is(c.held, 8);
  assert.is(c.holdOverflow, 12);
  assert.ok(conserved(c));
  assert.is(r.card.dp.rxFree.used(), r.card.dp.spec.rxFrames - 8, 'held frames pin their receive frames');
  await r.card.close();
  c = fault.counters().rx;
  assert.is(c.held, 0);
  assert.is(c.dropped, 8);
  assert.ok(conserved(c));
  assert.ok(poolsFull(r));
});

test('jitter: frames are reordered but none is lost; the order is reproducible for a seed', async () => {
  const frames = FRAMES.slice(0, 600);
  const config: FaultConfig = { rx: { delayNs: 20_000, jitterNs: 100_000, seed: 77 } };
  const a = await runRx(config, frames);
  const b = await runRx(config, frames);
  assert.equal(a.sent, b.sent);
  const order = delivered(a.sent);
  assert.equal([...order].sort((x, y) => x - y), [...Array(600).keys()], 'every frame delivered exactly once');
  let inversions = 0;
  for (let i = 1; i < order.length; i++) if (order[i]! < order[i - 1]!) inversions++;
  assert.ok(inversions > 0, 'jitter reorders');
  assert.is(a.fault.counters().rx.delayed, 600);
});

test('conservation under every fault at once: each injected frame is delivered or counted', async () => {
  const { fault, sent } = await runRx({ rx: { drop: 0.1, corrupt: 0.1, duplicate: 0.1, delayNs: 5_000, jitterNs: 50_000, holdCapacity: 64, seed: 2024 } });
  const c = fault.counters().rx;
  assert.is(sent.length, c.passed);
  assert.is(N + c.duplicated, c.passed + c.dropped + c.holdOverflow);
  assert.ok(c.holdOverflow > 0 && c.dropped > 0 && c.duplicated > 0 && c.corrupted > 0, JSON.stringify(c));
});

test.run();
