// Multi-field classification: walk the compiled decision tree, then scan one small leaf.
//
// Why a decision tree: lookup cost is the tree depth plus one leaf, and depth grows with the
// logarithm of the rule count, where a linear scan grows with the count itself and tuple-space
// search with the number of distinct prefix-length pairs. The tree is a HyperSplit-style
// partition of the key space built by the control plane (firmware/shell/tables/tree.ts): each
// node cuts one lane at up to seven thresholds, so a 10K-rule set is a few levels deep, and each
// step is branch-free: two v128 compares and a popcount pick the child.
//
// One pass answers for every session (a DPDK ACL "categories" style result): a leaf lists its
// rules in priority order with their category, and the scan stops once every category present in
// the leaf has its first match.
//
// Contract: the bank is trusted (built and validated by the control plane); the key is the
// parser's output. No allocation; reads only the bank and the key.

import { Bank, Forest, ForestTree, Lane, Leaf, Node, Rule } from '../abi';

@inline const CATEGORY_SHIFT: u32 = 26; // leaf entry = rule index | category << 26
@inline const RULE_INDEX_MASK: u32 = (1 << CATEGORY_SHIFT) - 1;

/** Sessions whose rules matched the last key looked up (bit i = session i). */
export let matchedMask: u64 = 0;
/** 1 + index of the highest-priority rule that matched, or 0. */
export let firstRule: u32 = 0;

/** Number of thresholds in a node strictly below v: the child to follow. */
@inline function childIndex(node: usize, v: u32): u32 {
  const vs = i32x4.splat(v);
  const below0 = i32x4.bitmask(i32x4.lt_u(v128.load(node, Node.Thresholds), vs));
  const below1 = i32x4.bitmask(i32x4.lt_u(v128.load(node, Node.Thresholds + 16), vs));
  return <u32>(popcnt(below0) + popcnt(below1));
}

/** key ∈ rule: (key − lo) ≤ width on every lane, unsigned, one lane group at a time. */
@inline function groupFits(k: v128, rule: usize, group: u32): bool {
  const lo = v128.load(rule + group * 16, Rule.Lo);
  const width = v128.load(rule + group * 16, Rule.Width);
  return i32x4.all_true(i32x4.le_u(i32x4.sub(k, lo), width));
}

/** Follows one tree from `ref` to its leaf; returns the leaf's address. */
@inline function walk(bank: usize, ref: u32, key: usize): usize {
  while ((ref & Node.LeafFlag) == 0) {
    const node = bank + <usize>ref;
    const lane = load<u32>(node, Node.Dim);
    const child = childIndex(node, load<u32>(key + (<usize>lane << 2)));
    ref = load<u32>(node + (<usize>child << 2), Node.Children);
  }
  return bank + <usize>(ref & ~Node.LeafFlag);
}

@inline const NONE: u32 = 0xffffffff;

/**
 * Looks up `key` in the bank at `bank`; sets matchedMask (every session with a matching rule) and
 * firstRule (the best matching rule over all trees).
 */
export function classifyKey(bank: usize, key: usize): void {
  const forest = bank + <usize>load<u32>(bank, Bank.Forest);
  const trees = load<u32>(forest, Forest.Count);
  const rules = bank + <usize>load<u32>(bank, Bank.Rules);
  const k0 = v128.load(key);
  const k1 = v128.load(key, 16);
  const k2 = v128.load(key, 32);
  const k3 = v128.load(key, 48);
  const k4 = v128.load(key, 64);

  let resolved: u64 = 0;
  let first: u32 = NONE;
  for (let t: u32 = 0; t < trees; t++) {
    const tree = forest + Forest.Trees + <usize>t * ForestTree.Size;
    // Skip a tree that can neither resolve a new category nor beat the best rule found so far.
    if ((load<u64>(tree, ForestTree.CategoryMask) & ~resolved) == 0 && load<u32>(tree, ForestTree.MinRule) >= first) continue;
    const leaf = walk(bank, load<u32>(tree, ForestTree.Root), key);
    const count = load<u32>(leaf, Leaf.Count);
    const categories = load<u64>(leaf, Leaf.CategoryMask);
    for (let i: u32 = 0; i < count; i++) {
      const entry = load<u32>(leaf + (<usize>i << 2), Leaf.Rules);
      const index = entry & RULE_INDEX_MASK;
      const bit: u64 = <u64>1 << <u64>(entry >> CATEGORY_SHIFT);
      if (index >= first) {
        // Entries are in priority order: from here on only unresolved categories matter.
        if ((categories & ~resolved) == 0) break;
        if ((resolved & bit) != 0) continue;
      }
      const rule = rules + <usize>index * Rule.Size;
      if (!groupFits(k0, rule, 0)) continue;
      if (!groupFits(k1, rule, 1)) continue;
      if (!groupFits(k2, rule, 2)) continue;
      if (!groupFits(k3, rule, 3)) continue;
      if (!groupFits(k4, rule, 4)) continue;
      resolved |= bit;
      if (index < first) first = index;
      if ((categories & ~resolved) == 0) break;
    }
  }
  matchedMask = resolved;
  firstRule = first == NONE ? 0 : first + 1;
}

// The key layout this file assumes.
// @ts-ignore: compile-time assertion
assert(Lane.Count == 20 && Rule.Width == 80);
