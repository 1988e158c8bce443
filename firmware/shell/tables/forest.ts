// Splits a rule set into a few decision trees (a forest) so that rules that overlap badly do not
// replicate into each other's leaves.
//
// Why: a single HyperSplit tree over a firewall-style set (many rules wildcard on some fields and
// specific on others) replicates the wildcard rules into nearly every leaf; on ClassBench fw1_10K
// one tree exceeds 16M leaf entries. EffiCuts (Vamanan et al., SIGCOMM 2010) observed that rules
// which are "large" (cover at least half the domain) on different fields are what cause it, and
// separated them. Here rules are grouped by which of the four main lanes (source, destination,
// source port, destination port) are large; then groups are merged greedily, biggest first,
// while a merged tree stays within `mergeGrowth` × the memory of the trees it replaces, up to
// `maxTrees` trees. The hot path searches the trees in order of their best rule and skips a tree
// that cannot improve the answer.

import { Lane, Leaf, Node } from '../../../wasm/abi.ts';
import { LANE_DOMAIN } from './box.ts';
import { buildTree, TableTooLargeError, type ClassifierRule, type CompiledForest, type CompiledTree, type TreeOptions } from './tree.ts';

export interface ForestOptions extends TreeOptions {
  /** Most trees a lookup searches. */
  readonly maxTrees?: number;
  /** A merge is kept when the merged tree is at most this many times the memory of its parts. */
  readonly mergeGrowth?: number;
}

const FOREST_DEFAULTS = { maxTrees: 6, mergeGrowth: 2 };
const SEPARATING_LANES = [Lane.Src0, Lane.Dst0, Lane.SrcPort, Lane.DstPort];

/** Bytes a tree occupies in a bank (nodes, leaf headers, leaf entries). */
export function treeBytes(t: CompiledTree): number {
  return t.nodes.length * Node.Size + t.leaves.length * Leaf.Rules + t.leafEntries * 4;
}

function signature(rule: ClassifierRule): number {
  let sig = 0;
  SEPARATING_LANES.forEach((lane, bit) => {
    const [dlo, dhi] = LANE_DOMAIN[lane];
    if (rule.box.hi[lane] - rule.box.lo[lane] >= (dhi - dlo) / 2) sig |= 1 << bit;
  });
  return sig;
}

function mergeSorted(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] < b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

/** Compiles rules into a forest of at most maxTrees trees. Deterministic. */
export function buildForest(rules: readonly ClassifierRule[], options: ForestOptions = {}): CompiledForest {
  const opt = { ...FOREST_DEFAULTS, ...options };
  if (rules.length === 0) return { trees: [buildTree(rules, opt)] };

  const byGroup = new Map<number, number[]>();
  rules.forEach((r, i) => {
    const sig = signature(r);
    const list = byGroup.get(sig);
    if (list) list.push(i);
    else byGroup.set(sig, [i]);
  });
  const groups = [...byGroup.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0] - b[0])
    .map(([, ids]) => Int32Array.from(ids));

  const trees: Array<{ ids: Int32Array; tree: CompiledTree }> = [];
  for (const ids of groups) {
    const alone = buildTree(rules, opt, ids);
    let best: { at: number; ids: Int32Array; tree: CompiledTree; growth: number } | null = null;
    for (let t = 0; t < trees.length; t++) {
      const parts = treeBytes(trees[t].tree) + treeBytes(alone);
      const merged = mergeSorted(trees[t].ids, ids);
      const limit = trees.length >= opt.maxTrees ? undefined : opt.mergeGrowth;
      try {
        const budget = limit === undefined ? opt.maxLeafEntries : Math.ceil((limit * parts) / 4);
        const tree = buildTree(rules, { ...opt, maxLeafEntries: budget }, merged);
        const growth = treeBytes(tree) / parts;
        if ((limit === undefined || growth <= limit) && (!best || growth < best.growth)) best = { at: t, ids: merged, tree, growth };
      } catch (e) {
        if (!(e instanceof TableTooLargeError)) throw e;
      }
    }
    if (best) trees[best.at] = { ids: best.ids, tree: best.tree };
    else if (trees.length < opt.maxTrees) trees.push({ ids, tree: alone });
    else throw new TableTooLargeError(`rules cannot be arranged in ${opt.maxTrees} trees within the table budget`);
  }
  trees.sort((a, b) => a.tree.minRule - b.tree.minRule);
  return { trees: trees.map((t) => t.tree) };
}
