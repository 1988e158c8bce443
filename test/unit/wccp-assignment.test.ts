// Assignment helpers: the draft's hash (values computed independently in Python), keys from the
// service flags, table lookup with the alternate flag, bucket bitmaps, mask/value matching and
// tables built from weights. The bitmap's bit order is checked against tshark in wccp-captures.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  bitmapForCache,
  bucketBitmap,
  bucketsOf,
  buildHashTable,
  hashBucket,
  hashKey,
  hasBucket,
  lookupHash,
  matchMask,
  ServiceFlag,
  WEB_CACHE_HASH_FLAGS,
} from '../../firmware/shell/wccp/index.ts';
import type { FlowFields, MaskValueSet } from '../../firmware/shell/wccp/index.ts';
import { ip, squidMaskSet } from './wccp-fixtures.ts';

const FLOW: FlowFields = { srcAddr: ip('192.0.2.1'), dstAddr: ip('198.51.100.7'), srcPort: 51000, dstPort: 443 };

test('hashBucket is the draft\'s h ^= h>>16; h ^= h>>8; h & 0xFF (Python-computed values)', () => {
  const cases: Array<[number, number]> = [
    [0, 0],
    [1, 1],
    [0x12345678, 8],
    [0xffffffff, 0],
    [0xdeadbeef, 34],
    [ip('198.51.100.7'), 150],
    [ip('203.0.113.200'), 114],
  ];
  for (const [key, bucket] of cases) assert.is(hashBucket(key), bucket, `key 0x${key.toString(16)}`);
});

test('hashKey: dst IP alone is the key; other flag sets XOR their fields from 0', () => {
  assert.is(hashKey(ServiceFlag.DstIpHash, FLOW), FLOW.dstAddr);
  assert.is(hashKey(WEB_CACHE_HASH_FLAGS, FLOW), FLOW.dstAddr, 'the web-cache service hashes on the destination');
  assert.is(hashKey(ServiceFlag.SrcIpHash, FLOW), FLOW.srcAddr);
  assert.is(hashKey(ServiceFlag.SrcIpHash | ServiceFlag.DstIpHash, FLOW), (FLOW.srcAddr ^ FLOW.dstAddr) >>> 0);
  assert.is(hashBucket(hashKey(ServiceFlag.SrcIpHash | ServiceFlag.DstIpHash, FLOW)), 85);
  const all = ServiceFlag.SrcIpHash | ServiceFlag.DstIpHash | ServiceFlag.SrcPortHash | ServiceFlag.DstPortHash;
  assert.is(hashBucket(hashKey(all, FLOW)), 16);
  assert.is(hashKey(ServiceFlag.DstPortHash, FLOW), 443);
  assert.is(hashKey(0, FLOW), 0, 'no primary flags: the initial key 0');
  assert.is(hashKey(ServiceFlag.PortsDefined | ServiceFlag.SrcIpAltHash, FLOW), 0, 'alternate flags do not feed the primary key');
});

test('hashKey alternate: XOR of the alternate-hash fields only', () => {
  assert.is(hashKey(ServiceFlag.DstPortAltHash, FLOW, true), 443);
  assert.is(hashKey(ServiceFlag.DstIpAltHash, FLOW, true), FLOW.dstAddr);
  assert.is(hashKey(ServiceFlag.SrcIpAltHash | ServiceFlag.SrcPortAltHash, FLOW, true), (FLOW.srcAddr ^ 51000) >>> 0);
  assert.is(hashKey(ServiceFlag.DstIpHash, FLOW, true), 0, 'primary flags do not feed the alternate key');
});

test('lookupHash: unassigned → null, plain index, alternate flag → secondary bucket', () => {
  const flags = ServiceFlag.DstIpHash | ServiceFlag.DstPortAltHash;
  const primary = hashBucket(FLOW.dstAddr); // 150
  const secondary = hashBucket(443); // 186
  const table = new Uint8Array(256).fill(0xff);
  assert.is(lookupHash(table, flags, FLOW), null);
  table[primary] = 3;
  assert.equal(lookupHash(table, flags, FLOW), { cacheIndex: 3, primaryBucket: 150, alternateBucket: null });
  table[primary] = 0x80 | 3;
  assert.is(lookupHash(table, flags, FLOW), null, 'flagged primary, unassigned secondary: forwarded normally');
  table[secondary] = 7;
  assert.equal(lookupHash(table, flags, FLOW), { cacheIndex: 7, primaryBucket: 150, alternateBucket: 186 });
  assert.throws(() => lookupHash(new Uint8Array(255), flags, FLOW), (e: unknown) => e instanceof RangeError);
});

test('bucket bitmaps: bucket 8i+j is bit j of byte i (LSB first)', () => {
  const bm = bucketBitmap([0, 7, 8, 255]);
  assert.is(bm.length, 32);
  assert.is(bm[0], 0x81);
  assert.is(bm[1], 0x01);
  assert.is(bm[31], 0x80);
  assert.equal(bucketsOf(bm), [0, 7, 8, 255]);
  assert.ok(hasBucket(bm, 7));
  assert.not.ok(hasBucket(bm, 6));
  const every = Array.from({ length: 256 }, (_, b) => b);
  assert.ok(bucketBitmap(every).every((x) => x === 0xff));
  assert.equal(bucketsOf(bucketBitmap(every)), every);
  assert.equal(bucketsOf(new Uint8Array(32)), []);
  assert.throws(() => bucketBitmap([256]), (e: unknown) => e instanceof RangeError);
  assert.throws(() => bucketBitmap([-1]), (e: unknown) => e instanceof RangeError);
  assert.throws(() => bucketsOf(new Uint8Array(31)), (e: unknown) => e instanceof RangeError);
  assert.throws(() => hasBucket(bm, 1.5), (e: unknown) => e instanceof RangeError);
});

test('bitmapForCache: the buckets a table gives one cache, alternate flag ignored', () => {
  const table = new Uint8Array(256).fill(0xff);
  table[1] = 2;
  table[9] = 0x80 | 2;
  table[200] = 1;
  assert.equal(bucketsOf(bitmapForCache(table, 2)), [1, 9]);
  assert.equal(bucketsOf(bitmapForCache(table, 1)), [200]);
  assert.equal(bucketsOf(bitmapForCache(table, 0)), []);
});

test('matchMask: AND with the mask, values in order, sets in order, first match wins', () => {
  const a = ip('10.0.0.11');
  const b = ip('10.0.0.12');
  const sets: MaskValueSet[] = [
    {
      mask: { srcAddr: 0, dstAddr: 0x000000ff, srcPort: 0, dstPort: 0 },
      values: [
        { srcAddr: 0, dstAddr: 0x07, srcPort: 0, dstPort: 0, cacheAddress: a },
        { srcAddr: 0, dstAddr: 0x07, srcPort: 0, dstPort: 0, cacheAddress: b },
      ],
    },
    {
      mask: { srcAddr: 0, dstAddr: 0, srcPort: 0, dstPort: 0x0001 },
      values: [{ srcAddr: 0, dstAddr: 0, srcPort: 0, dstPort: 1, cacheAddress: b }],
    },
  ];
  assert.is(matchMask(sets, FLOW)?.cacheAddress, a, '198.51.100.7 & 0xff = 7: first value of the first set');
  assert.is(matchMask(sets, { ...FLOW, dstAddr: ip('198.51.100.8') })?.cacheAddress, b, 'no match in set 0; port 443 is odd');
  assert.is(matchMask(sets, { ...FLOW, dstAddr: ip('198.51.100.8'), dstPort: 80 }), null);
  assert.is(matchMask([], FLOW), null);
});

test("matchMask with Squid's 0x1741 set: every address lands on exactly the cache its masked value names", () => {
  const caches = [ip('10.0.0.11'), ip('10.0.0.12'), ip('10.0.0.13')];
  const set = squidMaskSet(0x1741, caches);
  assert.is(set.values.length, 64, 'six mask bits: 64 values, as Squid sends');
  for (let n = 0; n < 5000; n++) {
    const src = (n * 2654435761) >>> 0;
    const hit = matchMask([set], { srcAddr: src, dstAddr: 0, srcPort: 0, dstPort: 0 });
    assert.ok(hit !== null);
    assert.is(hit!.srcAddr, (src & 0x1741) >>> 0);
  }
});

test('buildHashTable: round robin for equal or all-zero weights (bucket b → b mod n)', () => {
  for (const weights of [[1, 1, 1], [0, 0, 0], [10000, 10000, 10000]]) {
    const t = buildHashTable(weights);
    assert.is(t.length, 256);
    t.forEach((v, b) => assert.is(v, b % 3));
  }
  assert.ok(buildHashTable([7]).every((v) => v === 0));
});

test('buildHashTable: shares follow weights, within one bucket', () => {
  const count = (t: Uint8Array, i: number) => t.filter((v) => v === i).length;
  const t31 = buildHashTable([3, 1]);
  assert.is(count(t31, 0), 192);
  assert.is(count(t31, 1), 64);
  const t50 = buildHashTable([5, 0]);
  assert.is(count(t50, 0), 256, 'weight 0 beside non-zero weights: no buckets');
  let seed = 12345;
  for (let round = 0; round < 50; round++) {
    const n = 1 + (round % 32);
    const weights = Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % 1000;
    });
    const t = buildHashTable(weights);
    const total = weights.reduce((a, b) => a + b, 0);
    weights.forEach((w, i) => {
      const share = total === 0 ? 256 / n : (256 * w) / total;
      assert.ok(Math.abs(count(t, i) - share) <= 1, `weights ${weights}: cache ${i} has ${count(t, i)}, share ${share}`);
    });
    assert.ok(t.every((v) => v < n));
  }
});

test('buildHashTable: no caches → all unassigned; more than 32 caches or bad weights → RangeError', () => {
  assert.ok(buildHashTable([]).every((v) => v === 0xff));
  assert.is(buildHashTable(Array(32).fill(1))[31], 31);
  assert.throws(() => buildHashTable(Array(33).fill(1)), (e: unknown) => e instanceof RangeError);
  assert.throws(() => buildHashTable([-1]), (e: unknown) => e instanceof RangeError);
  assert.throws(() => buildHashTable([65536]), (e: unknown) => e instanceof RangeError);
  assert.throws(() => buildHashTable([0.5]), (e: unknown) => e instanceof RangeError);
});

test.run();
