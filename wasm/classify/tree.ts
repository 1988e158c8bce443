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
// the leaf has its first match. The rules are spread over a few trees (a forest, see
// firmware/shell/tables/forest.ts); a tree that cannot change a key's answer is skipped.
//
// Keys are classified a batch at a time: eight walks advance in lockstep so the loads of one walk
// overlap those of the others (measured: 8 beat 4 by about 10 %, and a breadth-first pass over the
// whole batch per level lost 20 %).
//
// Contract: the bank is trusted (built and validated by the control plane); the key is the
// parser's output. No allocation; reads only the bank and the key.

import { Bank, Forest, ForestTree, Lane, Leaf, Node, Prefilter, Rule } from '../abi';

@inline const CATEGORY_SHIFT: u32 = 26; // leaf entry = rule index | category << 26
@inline const RULE_INDEX_MASK: u32 = (1 << CATEGORY_SHIFT) - 1;

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

@inline const NONE: u32 = 0xffffffff;

export namespace Result {
  @inline export const Mask: u32 = 0; // u64 sessions with a matching rule
  @inline export const First: u32 = 8; // u32 best matching rule index, NONE when none
  @inline export const Size: u32 = 16;
}

/** The "no rule" value of Result.First. */
export const NO_RULE: u32 = NONE;

/** Scans one leaf for the key, updating the key's result (mask and best rule). */
@inline function scanLeaf(leaf: usize, rules: usize, key: usize, result: usize): void {
  const k0 = v128.load(key);
  if (!i32x4.all_true(i32x4.le_u(i32x4.sub(k0, v128.load(leaf, Leaf.BoundLo)), v128.load(leaf, Leaf.BoundWidth)))) return;
  const count = load<u32>(leaf, Leaf.Count);
  const categories = load<u64>(leaf, Leaf.CategoryMask);
  let resolved = load<u64>(result, Result.Mask);
  let first = load<u32>(result, Result.First);
  for (let i: u32 = 0; i < count; i++) {
    const entry = load<u32>(leaf + (<usize>i << 2), Leaf.Rules);
    const index = entry & RULE_INDEX_MASK;
    const bit: u64 = <u64>1 << <u64>(entry >> CATEGORY_SHIFT);
    if (index >= first) {
      if ((categories & ~resolved) == 0) break;
      if ((resolved & bit) != 0) continue;
    }
    const rule = rules + <usize>index * Rule.Size;
    if (!groupFits(k0, rule, 0)) continue;
    if (!groupFits(v128.load(key, 16), rule, 1)) continue;
    if (!groupFits(v128.load(key, 32), rule, 2)) continue;
    if (!groupFits(v128.load(key, 48), rule, 3)) continue;
    if (!groupFits(v128.load(key, 64), rule, 4)) continue;
    resolved |= bit;
    if (index < first) first = index;
    if ((categories & ~resolved) == 0) break;
  }
  store<u64>(result, resolved, Result.Mask);
  store<u32>(result, first, Result.First);
}

/** One node step of a walk: the child of `ref` for `key` (the ref carries the node's lane). */
@inline function step(bank: usize, ref: u32, key: usize): u32 {
  const node = bank + <usize>(ref & ~Node.LaneMask);
  const child = childIndex(node, load<u32>(key + (<usize>(ref & Node.LaneMask) << 2)));
  return load<u32>(node + (<usize>child << 2), Node.Children);
}

/** Whether tree `tree` can still change the result of a key. */
@inline function treeMatters(bank: usize, tree: usize, result: usize, key: usize): bool {
  if ((load<u64>(tree, ForestTree.CategoryMask) & ~load<u64>(result, Result.Mask)) == 0 &&
      load<u32>(tree, ForestTree.MinRule) >= load<u32>(result, Result.First)) return false;
  const lane = load<u32>(tree, ForestTree.PrefilterLane);
  if (lane == Prefilter.None) return true;
  const bit = (load<u32>(key + (<usize>lane << 2)) * Prefilter.HashMultiplier) >> (32 - Prefilter.Bits);
  return (load<u8>(bank + <usize>load<u32>(tree, ForestTree.Prefilter) + <usize>(bit >> 3)) & (1 << (bit & 7))) != 0;
}

/**
 * Classifies a batch: keys[todo[j]] for j < count (todo: u16 key indices; keys Lane.Bytes apart),
 * writing results[todo[j]] (Result layout). Eight walks advance in lockstep so that their
 * dependent loads overlap (a walk is a chain of loads; one packet at a time leaves the core
 * waiting on each). A walk whose tree cannot change its key's answer starts at a leaf and is
 * ignored.
 */
export function classifyBatch(bank: usize, keys: usize, results: usize, todo: usize, count: u32): void {
  for (let j: u32 = 0; j < count; j++) {
    const r = results + <usize>load<u16>(todo + (<usize>j << 1)) * Result.Size;
    store<u64>(r, 0, Result.Mask);
    store<u32>(r, NONE, Result.First);
  }
  const forest = bank + <usize>load<u32>(bank, Bank.Forest);
  const trees = load<u32>(forest, Forest.Count);
  const rules = bank + <usize>load<u32>(bank, Bank.Rules);
  for (let t: u32 = 0; t < trees; t++) {
    const tree = forest + Forest.Trees + <usize>t * ForestTree.Size;
    const root = load<u32>(tree, ForestTree.Root);
    for (let j: u32 = 0; j < count; j += 8) {
      let r0: u32 = Node.LeafFlag, r1: u32 = Node.LeafFlag, r2: u32 = Node.LeafFlag, r3: u32 = Node.LeafFlag;
      let r4: u32 = Node.LeafFlag, r5: u32 = Node.LeafFlag, r6: u32 = Node.LeafFlag, r7: u32 = Node.LeafFlag;
      const i0 = <usize>load<u16>(todo + (<usize>j << 1));
      const i1 = j + 1 < count ? <usize>load<u16>(todo + (<usize>(j + 1) << 1)) : i0;
      const i2 = j + 2 < count ? <usize>load<u16>(todo + (<usize>(j + 2) << 1)) : i0;
      const i3 = j + 3 < count ? <usize>load<u16>(todo + (<usize>(j + 3) << 1)) : i0;
      const i4 = j + 4 < count ? <usize>load<u16>(todo + (<usize>(j + 4) << 1)) : i0;
      const i5 = j + 5 < count ? <usize>load<u16>(todo + (<usize>(j + 5) << 1)) : i0;
      const i6 = j + 6 < count ? <usize>load<u16>(todo + (<usize>(j + 6) << 1)) : i0;
      const i7 = j + 7 < count ? <usize>load<u16>(todo + (<usize>(j + 7) << 1)) : i0;
      const a0 = treeMatters(bank, tree, results + i0 * Result.Size, keys + i0 * Lane.Bytes);
      const a1 = j + 1 < count && treeMatters(bank, tree, results + i1 * Result.Size, keys + i1 * Lane.Bytes);
      const a2 = j + 2 < count && treeMatters(bank, tree, results + i2 * Result.Size, keys + i2 * Lane.Bytes);
      const a3 = j + 3 < count && treeMatters(bank, tree, results + i3 * Result.Size, keys + i3 * Lane.Bytes);
      const a4 = j + 4 < count && treeMatters(bank, tree, results + i4 * Result.Size, keys + i4 * Lane.Bytes);
      const a5 = j + 5 < count && treeMatters(bank, tree, results + i5 * Result.Size, keys + i5 * Lane.Bytes);
      const a6 = j + 6 < count && treeMatters(bank, tree, results + i6 * Result.Size, keys + i6 * Lane.Bytes);
      const a7 = j + 7 < count && treeMatters(bank, tree, results + i7 * Result.Size, keys + i7 * Lane.Bytes);
      if (a0) r0 = root;
      if (a1) r1 = root;
      if (a2) r2 = root;
      if (a3) r3 = root;
      if (a4) r4 = root;
      if (a5) r5 = root;
      if (a6) r6 = root;
      if (a7) r7 = root;
      const k0 = keys + i0 * Lane.Bytes, k1 = keys + i1 * Lane.Bytes, k2 = keys + i2 * Lane.Bytes, k3 = keys + i3 * Lane.Bytes;
      const k4 = keys + i4 * Lane.Bytes, k5 = keys + i5 * Lane.Bytes, k6 = keys + i6 * Lane.Bytes, k7 = keys + i7 * Lane.Bytes;
      while ((r0 & r1 & r2 & r3 & r4 & r5 & r6 & r7 & Node.LeafFlag) == 0) {
        if ((r0 & Node.LeafFlag) == 0) r0 = step(bank, r0, k0);
        if ((r1 & Node.LeafFlag) == 0) r1 = step(bank, r1, k1);
        if ((r2 & Node.LeafFlag) == 0) r2 = step(bank, r2, k2);
        if ((r3 & Node.LeafFlag) == 0) r3 = step(bank, r3, k3);
        if ((r4 & Node.LeafFlag) == 0) r4 = step(bank, r4, k4);
        if ((r5 & Node.LeafFlag) == 0) r5 = step(bank, r5, k5);
        if ((r6 & Node.LeafFlag) == 0) r6 = step(bank, r6, k6);
        if ((r7 & Node.LeafFlag) == 0) r7 = step(bank, r7, k7);
      }
      if (a0) scanLeaf(bank + <usize>(r0 & ~Node.LeafFlag), rules, k0, results + i0 * Result.Size);
      if (a1) scanLeaf(bank + <usize>(r1 & ~Node.LeafFlag), rules, k1, results + i1 * Result.Size);
      if (a2) scanLeaf(bank + <usize>(r2 & ~Node.LeafFlag), rules, k2, results + i2 * Result.Size);
      if (a3) scanLeaf(bank + <usize>(r3 & ~Node.LeafFlag), rules, k3, results + i3 * Result.Size);
      if (a4) scanLeaf(bank + <usize>(r4 & ~Node.LeafFlag), rules, k4, results + i4 * Result.Size);
      if (a5) scanLeaf(bank + <usize>(r5 & ~Node.LeafFlag), rules, k5, results + i5 * Result.Size);
      if (a6) scanLeaf(bank + <usize>(r6 & ~Node.LeafFlag), rules, k6, results + i6 * Result.Size);
      if (a7) scanLeaf(bank + <usize>(r7 & ~Node.LeafFlag), rules, k7, results + i7 * Result.Size);
    }
  }
}

// The key layout this file assumes.
// @ts-ignore: compile-time assertion
assert(Lane.Count == 20 && Rule.Width == 80);
