// The fault wrapper's configuration: every invalid field is refused with a FaultConfigError that
// names it, defaults are applied, and the dice are the documented xorshift32.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import {
  CORRUPT_FROM,
  DEFAULT_HOLD_CAPACITY,
  DEFAULT_SEED,
  FateDealer,
  FAULT_CONFIG_ERRORS,
  FaultConfigError,
  FaultDriver,
  MAX_DELAY_NS,
  validateFaultConfig,
  XorShift32,
} from '../../hal/drivers/fault/index.ts';

/** [description, config, field named by the error, fixed part of the message]. */
const INVALID: Array<[string, unknown, string, string]> = [
  ['not an object', 42, '(config)', FAULT_CONFIG_ERRORS.notObject],
  ['null', null, '(config)', FAULT_CONFIG_ERRORS.notObject],
  ['unknown direction', { both: {} }, 'both', FAULT_CONFIG_ERRORS.unknownField],
  ['direction not an object', { rx: 0.5 }, 'rx', FAULT_CONFIG_ERRORS.notObject],
  ['direction an array', { tx: [] }, 'tx', FAULT_CONFIG_ERRORS.notObject],
  ['misspelt field', { rx: { dorp: 0.1 } }, 'rx.dorp', FAULT_CONFIG_ERRORS.unknownField],
  ['drop above 1', { rx: { drop: 1.5 } }, 'rx.drop', FAULT_CONFIG_ERRORS.probability],
  ['drop below 0', { tx: { drop: -0.01 } }, 'tx.drop', FAULT_CONFIG_ERRORS.probability],
  ['drop NaN', { rx: { drop: Number.NaN } }, 'rx.drop', FAULT_CONFIG_ERRORS.probability],
  ['drop a string', { rx: { drop: '0.5' } }, 'rx.drop', FAULT_CONFIG_ERRORS.probability],
  ['corrupt above 1', { tx: { corrupt: 2 } }, 'tx.corrupt', FAULT_CONFIG_ERRORS.probability],
  ['duplicate infinite', { rx: { duplicate: Number.POSITIVE_INFINITY } }, 'rx.duplicate', FAULT_CONFIG_ERRORS.probability],
  ['negative delay', { rx: { delayNs: -1 } }, 'rx.delayNs', FAULT_CONFIG_ERRORS.delay],
  ['fractional delay', { tx: { delayNs: 1.5 } }, 'tx.delayNs', FAULT_CONFIG_ERRORS.delay],
  ['delay over 10 s', { rx: { delayNs: MAX_DELAY_NS + 1 } }, 'rx.delayNs', FAULT_CONFIG_ERRORS.delay],
  ['delay a bigint', { rx: { delayNs: 5n } }, 'rx.delayNs', FAULT_CONFIG_ERRORS.delay],
  ['negative jitter', { tx: { jitterNs: -5 } }, 'tx.jitterNs', FAULT_CONFIG_ERRORS.delay],
  ['jitter over 10 s', { rx: { jitterNs: 2 * MAX_DELAY_NS } }, 'rx.jitterNs', FAULT_CONFIG_ERRORS.delay],
  ['negative seed', { rx: { seed: -1 } }, 'rx.seed', FAULT_CONFIG_ERRORS.seed],
  ['seed of 2^32', { tx: { seed: 2 ** 32 } }, 'tx.seed', FAULT_CONFIG_ERRORS.seed],
  ['fractional seed', { rx: { seed: 0.5 } }, 'rx.seed', FAULT_CONFIG_ERRORS.seed],
  ['hold capacity 0', { rx: { holdCapacity: 0 } }, 'rx.holdCapacity', FAULT_CONFIG_ERRORS.holdCapacity],
];

for (const [what, config, field, detail] of INVALID) {
  test(`config error: ${what} names ${field}`, () => {
    try {
      validateFaultConfig(config);
      assert.unreachable('accepted');
    } catch (err) {
      assert.instance(err, FaultConfigError);
      assert.instance(err, RangeError);
      const e = err as FaultConfigError;
      assert.is(e.field, field);
      assert.is(e.detail, detail);
      assert.ok(e.message.startsWith(`fault config ${field}: ${detail}, got `), e.message);
    }
  });
}

test('the driver validates its configuration at construction', () => {
  assert.throws(() => new FaultDriver(new MemoryPortDriver(), { rx: { corrupt: 1.01 } }), (e: unknown) => e instanceof FaultConfigError && e.field === 'rx.corrupt');
});

test('defaults: everything off, the default seed and hold capacity; limits are inclusive', () => {
  const c = validateFaultConfig({});
  for (const d of [c.rx, c.tx]) {
    assert.equal(d, { drop: 0, corrupt: 0, duplicate: 0, delayNs: 0, jitterNs: 0, seed: DEFAULT_SEED, holdCapacity: DEFAULT_HOLD_CAPACITY, delays: false });
  }
  const edge = validateFaultConfig({ rx: { drop: 1, corrupt: 0, delayNs: MAX_DELAY_NS, seed: 0xffff_ffff }, tx: { jitterNs: 1, seed: 0 } });
  assert.is(edge.rx.delays, true);
  assert.is(edge.tx.delays, true);
  assert.is(edge.rx.seed, 0xffff_ffff);
});

test('xorshift32 is Marsaglia\'s 13/17/5 generator (seed 1 gives 270369, 67634689, 2647435461)', () => {
  const x = new XorShift32(1);
  assert.equal([x.next(), x.next(), x.next()], [270369, 67634689, 2647435461]);
  const zero = new XorShift32(0);
  assert.is.not(zero.next(), 0);
});

test('fates: a pure function of seed and position; corruption never below byte 14', () => {
  const config = validateFaultConfig({ rx: { drop: 0.3, corrupt: 0.5, duplicate: 0.2, jitterNs: 1000, seed: 99 } }).rx;
  const a = new FateDealer(config);
  const b = new FateDealer(config);
  for (let i = 0; i < 1000; i++) {
    const len = 15 + (i % 100);
    const fa = a.deal(len);
    assert.equal(fa, b.deal(len));
    if (fa.corruptByte >= 0) {
      assert.ok(fa.corruptByte >= CORRUPT_FROM && fa.corruptByte < len);
      assert.ok(fa.corruptBit >= 0 && fa.corruptBit < 8);
    }
    assert.ok(fa.holdNs >= 0 && fa.holdNs <= 1000);
  }
  const short = new FateDealer(validateFaultConfig({ rx: { corrupt: 1 } }).rx);
  assert.is(short.deal(CORRUPT_FROM).corruptByte, -1);
  assert.is(short.deal(CORRUPT_FROM + 1).corruptByte, CORRUPT_FROM);
});

test('fates: enabling corruption does not change which frames are dropped', () => {
  const dropOnly = new FateDealer(validateFaultConfig({ rx: { drop: 0.4, seed: 5 } }).rx);
  const both = new FateDealer(validateFaultConfig({ rx: { drop: 0.4, corrupt: 0.7, duplicate: 0.5, seed: 5 } }).rx);
  for (let i = 0; i < 500; i++) assert.is(dropOnly.deal(100).drop, both.deal(100).drop);
});

test.run();
