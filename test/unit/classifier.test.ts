// The compiled classifier (forest of trees, leaf bounds, prefilters, eight walks in lockstep)
// against a brute-force first match over the same rules, on seeded random rule sets and keys:
// prefix/port-range sets like ClassBench, exact host lists (which get prefilters), and mixes with
// several categories. The two must agree on every key.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lane, LaneValue } from '../../wasm/abi.ts';
import { anyBox, boxMatches, prefixWordRanges, type Box } from '../../firmware/shell/tables/box.ts';
import { buildTree, TableTooLargeError, type ClassifierRule } from '../../firmware/shell/tables/tree.ts';
import { prefilterLane } from '../../firmware/shell/tables/bank.ts';
import { TupleClassifier } from '../../firmware/runtime/classify.ts';

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

interface RuleSetShape {
  readonly rules: number;
  readonly exactHosts: boolean;
  readonly categories: number;
}

function ruleSet(seed: number, shape: RuleSetShape): ClassifierRule[] {
  const rnd = xorshift(seed);
  const hosts = Array.from({ length: 64 }, () => (0x0a000000 | (rnd() & 0xffff)) >>> 0);
  const out: ClassifierRule[] = [];
  for (let i = 0; i < shape.rules; i++) {
    const b: Box = anyBox();
    b.lo[Lane.Family] = b.hi[Lane.Family] = LaneValue.FamilyIpv4;
    const side = shape.exactHosts ? (rnd() & 1 ? Lane.Src0 : Lane.Dst0) : -1;
    for (const lane of [Lane.Src0, Lane.Dst0]) {
      if (shape.exactHosts) {
        if (lane === side) b.lo[lane] = b.hi[lane] = hosts[rnd() % hosts.length];
      } else {
        const len = [0, 8, 16, 24, 32][rnd() % 5];
        [[b.lo[lane], b.hi[lane]]] = prefixWordRanges([hosts[rnd() % hosts.length]], len);
      }
    }
    for (const lane of [Lane.SrcPort, Lane.DstPort]) {
      const r = rnd() % 4;
      if (r === 1) b.lo[lane] = b.hi[lane] = [22, 53, 80, 443][rnd() % 4];
      else if (r === 2) { b.lo[lane] = 1024; b.hi[lane] = 65535; }
      else if (r === 3) { const a = rnd() % 2000; b.lo[lane] = a; b.hi[lane] = a + rnd() % 500; }
    }
    if (rnd() % 3 !== 0) b.lo[Lane.Proto] = b.hi[Lane.Proto] = rnd() & 1 ? 6 : 17;
    out.push({ box: b, category: rnd() % shape.categories, id: i + 1 });
  }
  return out;
}

function keys(seed: number, rules: readonly ClassifierRule[], count: number): Uint8Array {
  const rnd = xorshift(seed);
  const t = new Uint8Array(count * 16);
  const dv = new DataView(t.buffer);
  for (let i = 0; i < count; i++) {
    // Half the keys inside a random rule, half anywhere near the rules' addresses.
    const r = rules[rnd() % rules.length].box;
    const inside = (rnd() & 1) === 0;
    const pick = (lane: number, wide: () => number): number => {
      if (!inside) return wide();
      const lo = r.lo[lane];
      const hi = Math.min(r.hi[lane], lane === Lane.SrcPort || lane === Lane.DstPort ? 65535 : 0xffffffff);
      return lo + (rnd() % (hi - lo + 1));
    };
    dv.setUint32(i * 16, pick(Lane.Src0, () => (0x0a000000 | (rnd() & 0xffff)) >>> 0), true);
    dv.setUint32(i * 16 + 4, pick(Lane.Dst0, () => (0x0a000000 | (rnd() & 0xffff)) >>> 0), true);
    dv.setUint16(i * 16 + 8, pick(Lane.SrcPort, () => [22, 53, 80, 443, 1500, 40000][rnd() % 6]), true);
    dv.setUint16(i * 16 + 10, pick(Lane.DstPort, () => [22, 53, 80, 443, 1500, 40000][rnd() % 6]), true);
    dv.setUint32(i * 16 + 12, rnd() % 3 === 0 ? 1 : rnd() & 1 ? 6 : 17, true);
  }
  return t;
}

/** The key classifyTuples builds from a tuple. */
function keyOf(dv: DataView, i: number): Uint32Array {
  const k = new Uint32Array(Lane.Count);
  k[Lane.Family] = LaneValue.FamilyIpv4;
  k[Lane.OutPort] = LaneValue.PortIndexNone;
  k[Lane.VlanOuter] = LaneValue.VlanNone;
  k[Lane.VlanInner] = LaneValue.VlanNone;
  k[Lane.WccpBucket] = LaneValue.BucketNone;
  k[Lane.Src0] = dv.getUint32(i * 16, true);
  k[Lane.Dst0] = dv.getUint32(i * 16 + 4, true);
  k[Lane.SrcPort] = dv.getUint16(i * 16 + 8, true);
  k[Lane.DstPort] = dv.getUint16(i * 16 + 10, true);
  k[Lane.Proto] = dv.getUint32(i * 16 + 12, true);
  return k;
}

const SHAPES: Array<[string, RuleSetShape]> = [
  // Random prefix/range rules overlap far more than real rule sets (a third are /0 or /8 on both
  // addresses with wildcard ports); a few hundred already make a deep forest.
  ['prefix and range rules, one category', { rules: 300, exactHosts: false, categories: 1 }],
  ['exact host lists (prefiltered trees), one category', { rules: 1200, exactHosts: true, categories: 1 }],
  ['exact host lists, eight categories', { rules: 800, exactHosts: true, categories: 8 }],
  ['prefix and range rules, 64 categories', { rules: 300, exactHosts: false, categories: 64 }],
];

for (const [name, shape] of SHAPES) {
  test(`classifier agrees with brute force: ${name}`, () => {
    for (const seed of [1, 2, 3]) {
      const rules = ruleSet(seed * 7919, shape);
      const count = 4000;
      const tuples = keys(seed * 104729, rules, count);
      const c = new TupleClassifier(rules, count);
      c.load(tuples);
      c.run(0, count, 256);
      const got = c.results(count);
      const dv = new DataView(tuples.buffer);
      const hit = new Set<number>();
      for (let i = 0; i < count; i++) {
        const k = keyOf(dv, i);
        const first = rules.find((r) => boxMatches(r.box, k));
        const want = first ? first.id : 0;
        hit.add(want);
        if (got[i] !== want) assert.unreachable(`seed ${seed} key ${i}: got rule ${got[i]}, brute force ${want}`);
      }
      assert.ok(hit.size > 20, `the keys reach many different first matches (${hit.size})`);
      if (shape.exactHosts) assert.ok(hit.has(0), 'some keys match no rule');
      if (shape.exactHosts) {
        assert.ok(c.forest.trees.some((t) => prefilterLane(t, rules) !== null), 'exact host lists get a prefilter');
      }
    }
  });
}

test('no prefilter when a tree has a rule that is not exact on any lane', () => {
  const rules = ruleSet(5, { rules: 200, exactHosts: false, categories: 1 });
  const c = new TupleClassifier(rules, 1);
  for (const t of c.forest.trees) {
    const lane = prefilterLane(t, rules);
    if (lane === null) continue;
    for (const leaf of t.leaves) for (const r of leaf.rules) assert.is(rules[r].box.lo[lane], rules[r].box.hi[lane]);
  }
});


test('a rule set too complex for the build budget is refused with a clear error', () => {
  const rules = ruleSet(99, { rules: 120, exactHosts: false, categories: 1 });
  const needed = buildTree(rules).work;
  assert.ok(needed > 1000, `the set takes ${needed} rule visits`);
  assert.throws(() => buildTree(rules, { maxWork: Math.floor(needed / 2) }), (e: Error) => e instanceof TableTooLargeError && /build budget/.test(e.message));
  assert.ok(buildTree(rules, { maxWork: needed }).nodes.length > 0);
});

test.run();
