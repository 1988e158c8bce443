// The classifier compiler: a HyperSplit-style decision tree over the 20-lane key, with multiway
// nodes (up to Node.MaxChildren children per node, chosen on one lane) and small leaves scanned in
// priority order by the hot path (wasm/classify/tree.ts).
//
// Why this structure (see also the hot-path side): lookup cost is depth × one branch-free node
// step plus one leaf, and the depth grows with log(rules) instead of the rule count (linear scan)
// or the number of prefix-length tuples (tuple space search). Rules are never rewritten into
// prefixes, so port ranges cost nothing extra. Memory grows with rule replication across leaves;
// two measures keep it bounded: per-category redundancy pruning (a rule that covers its whole
// region hides every later rule of its category there), and sharing of identical leaves.
//
// Contract: input rules are boxes in priority order (index 0 first), each with a category
// (session index, < 64) and a user id. The result is a flat description the bank writer lays out;
// the build is deterministic. Limits: throws TableTooLargeError when the tree would exceed the
// node or leaf-entry budget (the caller maps that to a clear board-limit error).

import { Lane, Node } from '../../../wasm/abi.ts';
import { LANE_DOMAIN, type Box } from './box.ts';

export interface ClassifierRule {
  readonly box: Box;
  readonly category: number; // 0..63
  readonly id: number; // what the classifier reports for this rule (e.g. its 1-based line)
}

export interface TreeOptions {
  /** Leaves hold at most this many rules unless no lane separates them. */
  readonly leafSize?: number;
  /** Children per node (2..Node.MaxChildren). */
  readonly fanout?: number;
  /** Upper bounds; exceeding either throws TableTooLargeError. */
  readonly maxNodes?: number;
  readonly maxLeafEntries?: number;
  /**
   * Rule visits the build may make (the sum of the rule counts of every region it considers); it
   * bounds build time, a few seconds at the default, for rule sets that overlap pathologically.
   */
  readonly maxWork?: number;
}

/** A compiled tree: internal nodes and leaves, referencing each other by index. */
export interface CompiledTree {
  readonly nodes: TreeNode[];
  readonly leaves: TreeLeaf[];
  /** Root reference: { leaf: false, index } into nodes or { leaf: true, index } into leaves. */
  readonly root: TreeRef;
  readonly depth: number;
  readonly leafEntries: number;
  /** Rule visits the build made (see TreeOptions.maxWork). */
  readonly work: number;
  /** Index of the highest-priority rule in the tree (lookups skip trees that cannot improve). */
  readonly minRule: number;
  /** Categories with at least one rule in the tree. */
  readonly categoryMask: bigint;
  readonly ruleCount: number;
}

/** Several trees searched one after another; the first match over all of them wins. */
export interface CompiledForest {
  readonly trees: CompiledTree[];
}

export interface TreeRef {
  readonly leaf: boolean;
  readonly index: number;
}

export interface TreeNode {
  readonly lane: number;
  /** Inclusive upper bounds of children 0..n−2; the last child takes the rest. */
  readonly thresholds: number[];
  readonly children: TreeRef[];
}

export interface TreeLeaf {
  /** Rule indices (into the input array) in priority order. */
  readonly rules: number[];
  readonly categoryMask: bigint;
}

export class TableTooLargeError extends Error {
  override readonly name = 'TableTooLargeError';
}

const DEFAULTS = { leafSize: 8, fanout: Node.MaxChildren, maxNodes: 2_000_000, maxLeafEntries: 16_000_000, maxWork: 10_000_000 };
const MAX_DEPTH = 64;
/** A node of at most this many leaf sizes of rules … */
const LITTLE_PROGRESS_RULES = 4;
/** … whose best cut keeps more than this share of them in one child becomes a leaf instead. */
const LITTLE_PROGRESS_SHARE = 0.75;

/**
 * Compiles rules into one tree. `subset` (ascending rule indices) restricts the tree to those
 * rules; leaves always hold indices into `rules`. Deterministic for a given input.
 */
export function buildTree(rules: readonly ClassifierRule[], options: TreeOptions = {}, subset?: Int32Array): CompiledTree {
  const opt = { ...DEFAULTS, ...options };
  if (opt.fanout < 2 || opt.fanout > Node.MaxChildren) throw new RangeError(`fanout must be 2..${Node.MaxChildren}`);
  const n = rules.length;
  const lo = new Float64Array(n * Lane.Count);
  const hi = new Float64Array(n * Lane.Count);
  const cat = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const b = rules[r].box;
    for (let l = 0; l < Lane.Count; l++) {
      lo[r * Lane.Count + l] = b.lo[l];
      hi[r * Lane.Count + l] = b.hi[l];
    }
    const c = rules[r].category;
    if (!Number.isInteger(c) || c < 0 || c > 63) throw new RangeError(`rule ${r}: category ${c} outside 0..63`);
    cat[r] = c;
  }

  const nodes: TreeNode[] = [];
  const leaves: TreeLeaf[] = [];
  const leafByContent = new Map<string, number>();
  const nodeByContent = new Map<string, number>();
  let leafEntries = 0;
  let maxDepth = 0;

  const makeLeaf = (ids: Int32Array, regionLo: Float64Array, regionHi: Float64Array): TreeRef => {
    const kept = pruneDominated(ids, regionLo, regionHi, lo, hi, cat);
    const signature = kept.join(',');
    const existing = leafByContent.get(signature);
    if (existing !== undefined) return { leaf: true, index: existing };
    let mask = 0n;
    for (const r of kept) mask |= 1n << BigInt(cat[r]);
    leafEntries += kept.length;
    if (leafEntries > opt.maxLeafEntries) throw new TableTooLargeError(`classifier leaves exceed ${opt.maxLeafEntries} entries`);
    leaves.push({ rules: kept, categoryMask: mask });
    leafByContent.set(signature, leaves.length - 1);
    return { leaf: true, index: leaves.length - 1 };
  };

  let work = 0;
  const build = (ids: Int32Array, regionLo: Float64Array, regionHi: Float64Array, depth: number): TreeRef => {
    if (depth > maxDepth) maxDepth = depth;
    work += ids.length;
    if (work > opt.maxWork) {
      throw new TableTooLargeError(`rules overlap too much to separate within the build budget (${opt.maxWork} rule visits); split them into fewer or simpler filters`);
    }
    ids = pruneCovered(ids, regionLo, regionHi, lo, hi, cat);
    if (ids.length <= opt.leafSize || depth >= MAX_DEPTH) return makeLeaf(ids, regionLo, regionHi);
    const split = chooseSplit(ids, regionLo, regionHi, lo, hi, opt.fanout);
    if (!split) return makeLeaf(ids, regionLo, regionHi);
    // A cut that keeps most rules together in one child is not worth a level for a few rules:
    // such rules overlap in most of the region, and a leaf scans them in order anyway.
    if (ids.length <= LITTLE_PROGRESS_RULES * opt.leafSize && split.max > LITTLE_PROGRESS_SHARE * ids.length) {
      return makeLeaf(ids, regionLo, regionHi);
    }

    const l = split.lane;
    const children: TreeRef[] = [];
    let from = regionLo[l];
    for (let c = 0; c <= split.thresholds.length; c++) {
      const to = c < split.thresholds.length ? split.thresholds[c] : regionHi[l];
      const childIds = rulesOverlapping(ids, l, from, to, lo, hi);
      const childLo = regionLo.slice();
      const childHi = regionHi.slice();
      childLo[l] = from;
      childHi[l] = to;
      children.push(build(childIds, childLo, childHi, depth + 1));
      from = to + 1;
    }
    // Identical subtrees are shared: a node whose children are all one subtree is that subtree,
    // and equal nodes (same cut, same children) are stored once.
    if (children.every((c) => c.leaf === children[0].leaf && c.index === children[0].index)) return children[0];
    const signature = `${l}|${split.thresholds.join(',')}|${children.map((c) => (c.leaf ? 'l' : 'n') + c.index).join(',')}`;
    const existing = nodeByContent.get(signature);
    if (existing !== undefined) return { leaf: false, index: existing };
    if (nodes.length >= opt.maxNodes) throw new TableTooLargeError(`classifier tree exceeds ${opt.maxNodes} nodes`);
    nodes.push({ lane: l, thresholds: split.thresholds, children });
    nodeByContent.set(signature, nodes.length - 1);
    return { leaf: false, index: nodes.length - 1 };
  };

  const rootLo = new Float64Array(Lane.Count);
  const rootHi = new Float64Array(Lane.Count);
  for (let l = 0; l < Lane.Count; l++) {
    rootLo[l] = LANE_DOMAIN[l][0];
    rootHi[l] = LANE_DOMAIN[l][1];
  }
  let all = subset;
  if (!all) {
    all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
  }
  let categoryMask = 0n;
  for (const r of all) categoryMask |= 1n << BigInt(cat[r]);
  const root = build(all, rootLo, rootHi, 0);
  return { nodes, leaves, root, depth: maxDepth, leafEntries, work, minRule: all.length ? all[0] : 0, categoryMask, ruleCount: all.length };
}

/** Rules among `ids` whose range on `lane` meets [from, to]. */
function rulesOverlapping(ids: Int32Array, lane: number, from: number, to: number, lo: Float64Array, hi: Float64Array): Int32Array {
  const out = new Int32Array(ids.length);
  let k = 0;
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i];
    if (lo[r * Lane.Count + lane] <= to && hi[r * Lane.Count + lane] >= from) out[k++] = r;
  }
  return out.subarray(0, k);
}

function coversRegion(r: number, regionLo: Float64Array, regionHi: Float64Array, lo: Float64Array, hi: Float64Array): boolean {
  const base = r * Lane.Count;
  for (let l = 0; l < Lane.Count; l++) {
    if (lo[base + l] > regionLo[l] || hi[base + l] < regionHi[l]) return false;
  }
  return true;
}

/** Drops rules hidden in this region by an earlier rule of the same category that covers it. */
function pruneCovered(ids: Int32Array, regionLo: Float64Array, regionHi: Float64Array, lo: Float64Array, hi: Float64Array, cat: Int32Array): Int32Array {
  let covered = 0n;
  const out = new Int32Array(ids.length);
  let k = 0;
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i];
    const bit = 1n << BigInt(cat[r]);
    if ((covered & bit) !== 0n) continue;
    out[k++] = r;
    if (coversRegion(r, regionLo, regionHi, lo, hi)) covered |= bit;
  }
  return k === ids.length ? ids : out.subarray(0, k);
}

/**
 * Leaf-level pruning: a rule is dropped when an earlier rule of its category contains its part of
 * the region (the earlier one always answers first). Quadratic, so leaves only.
 */
function pruneDominated(ids: Int32Array, regionLo: Float64Array, regionHi: Float64Array, lo: Float64Array, hi: Float64Array, cat: Int32Array): number[] {
  const kept: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i];
    let hidden = false;
    for (const e of kept) {
      if (cat[e] !== cat[r]) continue;
      let contains = true;
      for (let l = 0; l < Lane.Count; l++) {
        const rLo = Math.max(lo[r * Lane.Count + l], regionLo[l]);
        const rHi = Math.min(hi[r * Lane.Count + l], regionHi[l]);
        if (lo[e * Lane.Count + l] > rLo || hi[e * Lane.Count + l] < rHi) { contains = false; break; }
      }
      if (contains) { hidden = true; break; }
    }
    if (!hidden) kept.push(r);
  }
  return kept;
}

interface Split {
  readonly lane: number;
  readonly thresholds: number[];
  /** Rules in the largest child. */
  readonly max: number;
}

/** Elementary intervals of one lane within a region: their upper ends and how many rules overlap each. */
interface Segments {
  readonly points: number[];
  readonly weights: number[];
  readonly total: number;
}

function segments(ids: Int32Array, lane: number, rLo: number, rHi: number, lo: Float64Array, hi: Float64Array, events: Float64Array): Segments | null {
  const n = ids.length;
  let e = 0;
  let interior = false;
  for (let i = 0; i < n; i++) {
    const r = ids[i];
    const a = Math.max(lo[r * Lane.Count + lane], rLo);
    const b = Math.min(hi[r * Lane.Count + lane], rHi);
    events[e++] = a * 2 + 1; // start (odd sorts after an end at the same point: ends are b+1)
    events[e++] = (b + 1) * 2; // end, exclusive
    if (a > rLo || b < rHi) interior = true;
  }
  if (!interior) return null;
  const sorted = events.subarray(0, e).sort();
  const points: number[] = [];
  const weights: number[] = [];
  let active = 0;
  let prev = rLo;
  let total = 0;
  for (let i = 0; i < e; i++) {
    const v = sorted[i];
    const at = Math.floor(v / 2);
    if (at > prev && at <= rHi) {
      points.push(at - 1); // interval [prev, at-1] ends here
      weights.push(active);
      total += active;
      prev = at;
    }
    active += (v % 2 === 1) ? 1 : -1;
  }
  if (prev <= rHi) {
    points.push(rHi); // the last interval, [prev, rHi]: weighs in, but is never a threshold
    weights.push(active);
    total += active;
  }
  return points.length < 2 || total === 0 ? null : { points, weights, total };
}

/** Up to k−1 thresholds at weighted quantiles, on interval ends, strictly increasing, below rHi. */
function quantiles(seg: Segments, k: number, rHi: number): number[] {
  const thresholds: number[] = [];
  let acc = 0;
  let next = 1;
  for (let i = 0; i < seg.points.length && thresholds.length < k - 1; i++) {
    acc += seg.weights[i];
    if (acc * k >= next * seg.total && seg.points[i] < rHi) {
      if (thresholds.length === 0 || seg.points[i] > thresholds[thresholds.length - 1]) thresholds.push(seg.points[i]);
      while (acc * k >= next * seg.total) next++;
    }
  }
  if (thresholds.length === 0 && seg.points[0] < rHi) thresholds.push(seg.points[0]);
  return thresholds;
}

/** Largest child and total of children's rule counts when `ids` are cut at `thresholds` on `lane`. */
function score(ids: Int32Array, lane: number, thresholds: readonly number[], lo: Float64Array, hi: Float64Array): { max: number; sum: number } {
  const counts = new Int32Array(thresholds.length + 1);
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i];
    const first = childOf(thresholds, lo[r * Lane.Count + lane]);
    const last = childOf(thresholds, hi[r * Lane.Count + lane]);
    for (let c = first; c <= last; c++) counts[c]++;
  }
  let max = 0;
  let sum = 0;
  for (const c of counts) { if (c > max) max = c; sum += c; }
  return { max, sum };
}

/**
 * Picks the lane and thresholds for a node, HyperSplit style but multiway: on each lane with rule
 * boundaries inside the region, up to `fanout` − 1 thresholds at weighted quantiles of the
 * "weighted segments" (rules overlapping each elementary interval); the lane whose cut leaves the
 * smallest largest child (then the least replication) wins. Returns null when no lane makes
 * progress. (A variant that cut binary first and went multiway only when that replicated little
 * more built smaller trees but looked up 20–40 % slower on ClassBench; replication is bounded
 * instead by subtree sharing, the little-progress stop and the work budget in buildTree.)
 */
function chooseSplit(ids: Int32Array, regionLo: Float64Array, regionHi: Float64Array, lo: Float64Array, hi: Float64Array, fanout: number): Split | null {
  const n = ids.length;
  let best: Split | null = null;
  let bestSum = Infinity;
  const events = new Float64Array(2 * n);
  for (let lane = 0; lane < Lane.Count; lane++) {
    const rLo = regionLo[lane];
    const rHi = regionHi[lane];
    if (rLo === rHi) continue;
    const seg = segments(ids, lane, rLo, rHi, lo, hi, events);
    if (!seg) continue;
    const thresholds = quantiles(seg, fanout, rHi);
    if (thresholds.length === 0) continue;
    const { max, sum } = score(ids, lane, thresholds, lo, hi);
    if (max >= n) continue;
    if (!best || max < best.max || (max === best.max && sum < bestSum)) {
      best = { lane, thresholds, max };
      bestSum = sum;
    }
  }
  return best;
}

function childOf(thresholds: readonly number[], v: number): number {
  let c = 0;
  while (c < thresholds.length && thresholds[c] < v) c++;
  return c;
}
