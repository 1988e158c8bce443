// Compiler: filter expression → union of boxes (the rule form of wasm/classify).
//
// Contract: the expression is untrusted. Negations are pushed down to the terms (De Morgan),
// a negated term becomes the exact complement of its boxes within LANE_DOMAIN, and `and` is
// multiplied out over `or` (disjunctive normal form), so the union of the returned boxes is
// exactly the set of keys the expression accepts: no approximation either way. Every union
// drops empty boxes and boxes contained in another; boxes that differ on one lane only and
// touch there are merged at the end (and whenever a union would exceed the cap). Every union,
// intermediate ones included, is capped at `maxBoxes` and the total number of box comparisons
// is capped too, so time and memory are bounded whatever the expression. Every failure is a
// FilterError pointing at a token: parse errors where parseFilter reports them, an oversized
// expansion at the operator (or negated term) whose expansion crossed a cap. The output order
// is deterministic and follows the order in which the expression names things.

import { Lane, LaneValue } from '../../../wasm/abi.ts';
import { anyBox, cloneBox, LANE_DOMAIN, prefixWordRanges, restrictLane, type Box } from '../tables/box.ts';
import type { FilterAst, FilterTerm, Side, SourceToken } from './ast.ts';
import { FilterError, FilterMessage } from './errors.ts';
import { parseFilter } from './parser.ts';

/** Default cap on the number of boxes an expression (or any part of it) may expand to. */
export const DEFAULT_MAX_BOXES = 4096;

/**
 * Box comparisons (containment tests and pairwise intersections) allowed per compile:
 * maxBoxes², twice what growing one union to the cap costs, and never fewer than this floor,
 * so a small cap still compiles ordinary filters. At the default cap the budget is spent in
 * roughly a quarter of a second.
 */
const MIN_COMPARISON_BUDGET = 1 << 22;

const SRC_ADDRESS_LANES = [Lane.Src0, Lane.Src1, Lane.Src2, Lane.Src3] as const;
const DST_ADDRESS_LANES = [Lane.Dst0, Lane.Dst1, Lane.Dst2, Lane.Dst3] as const;
const VLAN_ID_MAX = LaneValue.VlanNone - 1;
/** Merge passes over the result; each merges every adjacent pair it finds, so few are needed. */
const MAX_COALESCE_PASSES = 32;
/** Lane.Count read once: the loops below run millions of times at the cap. */
const LANE_COUNT: number = Lane.Count;

/**
 * The lanes in the order a complement is cut along: the coarse "what kind of packet" lanes
 * first, so `not tcp port 80` reads as "not TCP, or TCP with other ports".
 */
const COMPLEMENT_LANE_ORDER: readonly Lane[] = [
  Lane.Family, Lane.Proto, Lane.VlanOuter, Lane.VlanInner, Lane.Direction, Lane.InPort, Lane.OutPort,
  Lane.SrcPort, Lane.DstPort, Lane.Src0, Lane.Src1, Lane.Src2, Lane.Src3, Lane.Dst0, Lane.Dst1,
  Lane.Dst2, Lane.Dst3, Lane.WccpBucket, Lane.WccpMask0, Lane.WccpMask1,
];

export interface CompileOptions {
  /** Cap on the boxes of the result and of every intermediate union (default 4096). */
  readonly maxBoxes?: number;
}

/**
 * Compiles a filter expression to boxes whose union is exactly the set of keys it accepts.
 * Throws FilterError for a malformed or unsupported expression and for one that expands to
 * more than `maxBoxes` boxes; throws RangeError when `maxBoxes` is not a positive integer.
 */
export function compileFilter(expression: string, opts: CompileOptions = {}): Box[] {
  const maxBoxes = opts.maxBoxes ?? DEFAULT_MAX_BOXES;
  if (!Number.isSafeInteger(maxBoxes) || maxBoxes < 1) {
    throw new RangeError(`compileFilter: maxBoxes must be a positive integer, got ${maxBoxes}`);
  }
  const ast = parseFilter(expression);
  const compiler = new Compiler(expression, maxBoxes);
  return coalesce(compiler.compile(ast, false), (work) => compiler.charge(work, ast));
}

class Compiler {
  private comparisons = 0;
  private readonly comparisonBudget: number;

  constructor(
    private readonly expression: string,
    readonly maxBoxes: number,
  ) {
    this.comparisonBudget = Math.max(MIN_COMPARISON_BUDGET, maxBoxes * maxBoxes);
  }

  /** The boxes of `node`, or of its complement when `negated`. */
  compile(node: FilterAst, negated: boolean): Box[] {
    switch (node.kind) {
      case 'not':
        return this.compile(node.operand, !negated);
      case 'and':
      case 'or':
        // De Morgan: a negated `and` is an `or` of the negated operands, and vice versa.
        return (node.kind === 'and') !== negated
          ? this.intersection(node.operands, node.operators, negated)
          : this.union(node.operands, node.operators, negated);
      default:
        return negated ? this.complement(termBoxes(node), node) : this.pruned(termBoxes(node), node);
    }
  }

  private intersection(operands: readonly FilterAst[], operators: readonly SourceToken[], negated: boolean): Box[] {
    let result = this.compile(operands[0], negated);
    for (let i = 1; i < operands.length && result.length > 0; i++) {
      result = this.product(result, this.compile(operands[i], negated), operators[i - 1]);
    }
    return result;
  }

  private union(operands: readonly FilterAst[], operators: readonly SourceToken[], negated: boolean): Box[] {
    const union = new BoxUnion(this, operators[0]);
    operands.forEach((operand, i) => {
      const boxes = this.compile(operand, negated);
      union.where = operators[Math.max(0, i - 1)];
      for (const box of boxes) union.add(box);
    });
    return union.boxes();
  }

  /** `boxes` without redundant ones (`net ::/0` gives the same box for src and for dst). */
  private pruned(boxes: readonly Box[], where: SourceToken): Box[] {
    const union = new BoxUnion(this, where);
    for (const box of boxes) union.add(box);
    return union.boxes();
  }

  /** Every pairwise intersection of `a` and `b`: the boxes of (∪a) ∩ (∪b). */
  private product(a: readonly Box[], b: readonly Box[], where: SourceToken): Box[] {
    const union = new BoxUnion(this, where);
    for (const x of a) {
      for (const y of b) {
        this.charge(1, where);
        if (overlaps(x, y)) union.add(intersection(x, y));
      }
    }
    return union.boxes();
  }

  /** The complement of ∪boxes within LANE_DOMAIN: the intersection of each box's complement. */
  private complement(boxes: readonly Box[], where: SourceToken): Box[] {
    let result = [anyBox()];
    for (const box of boxes) {
      result = this.product(result, complementOfBox(box), where);
      if (result.length === 0) break;
    }
    return result;
  }

  /** Counts work against the budget; throws once it is spent. */
  charge(comparisons: number, where: SourceToken): void {
    this.comparisons += comparisons;
    if (this.comparisons > this.comparisonBudget) throw this.error(FilterMessage.tooComplex(this.comparisonBudget), where);
  }

  /** Throws when a union holds more boxes than the cap. */
  checkSize(size: number, where: SourceToken): void {
    if (size > this.maxBoxes) throw this.error(FilterMessage.tooManyBoxes(this.maxBoxes), where);
  }

  private error(reason: string, where: SourceToken): FilterError {
    return new FilterError(reason, this.expression, where.position, where.token);
  }
}

/**
 * A union of boxes kept free of redundancy: a box contained in one already present is not
 * added, and boxes contained in a new one are dropped. Insertion order is kept.
 */
class BoxUnion {
  private readonly slots: Array<Box | null> = [];
  private live = 0;

  constructor(
    private readonly compiler: Compiler,
    public where: SourceToken,
  ) {}

  add(box: Box): void {
    this.compiler.charge(this.slots.length, this.where);
    // The slots hold no box contained in another, so if one contains `box`, none of the
    // boxes `box` contains can be present: one pass can both test and prune.
    for (let i = 0; i < this.slots.length; i++) {
      const present = this.slots[i];
      if (present === null) continue;
      if (contains(present, box)) return;
      if (contains(box, present)) {
        this.slots[i] = null;
        this.live--;
      }
    }
    if (this.live < this.slots.length / 2 && this.slots.length > 64) this.compact();
    this.slots.push(box);
    this.live++;
    if (this.live > this.compiler.maxBoxes) {
      // Over the cap, merge touching boxes first: `port 1 or port 2 or ...` fits once merged.
      const merged = coalesce(this.boxes(), (work) => this.compiler.charge(work, this.where));
      this.slots.length = 0;
      this.slots.push(...merged);
      this.live = merged.length;
      this.compiler.checkSize(this.live, this.where);
    }
  }

  boxes(): Box[] {
    return this.slots.filter((box): box is Box => box !== null);
  }

  private compact(): void {
    const kept = this.boxes();
    this.slots.length = 0;
    this.slots.push(...kept);
  }
}

function overlaps(a: Box, b: Box): boolean {
  const aLo = a.lo, aHi = a.hi, bLo = b.lo, bHi = b.hi;
  for (let lane = 0; lane < LANE_COUNT; lane++) {
    if (aLo[lane] > bHi[lane] || bLo[lane] > aHi[lane]) return false;
  }
  return true;
}

/** intersectBoxes() from tables/box.ts for boxes known to overlap. */
function intersection(a: Box, b: Box): Box {
  const lo = new Uint32Array(LANE_COUNT);
  const hi = new Uint32Array(LANE_COUNT);
  for (let lane = 0; lane < LANE_COUNT; lane++) {
    lo[lane] = Math.max(a.lo[lane], b.lo[lane]);
    hi[lane] = Math.min(a.hi[lane], b.hi[lane]);
  }
  return { lo, hi };
}

/** boxContains() from tables/box.ts, with the lane count hoisted for the hot loop. */
function contains(outer: Box, inner: Box): boolean {
  const oLo = outer.lo, oHi = outer.hi, iLo = inner.lo, iHi = inner.hi;
  for (let lane = 0; lane < LANE_COUNT; lane++) {
    if (iLo[lane] < oLo[lane] || iHi[lane] > oHi[lane]) return false;
  }
  return true;
}

/**
 * The complement of one box as disjoint boxes: for each lane the box narrows (in
 * COMPLEMENT_LANE_ORDER), the keys below or above its range on that lane that lie inside its
 * range on every lane cut before.
 */
function complementOfBox(box: Box): Box[] {
  const pieces: Box[] = [];
  const inside = anyBox();
  for (const lane of COMPLEMENT_LANE_ORDER) {
    const [domainLo, domainHi] = LANE_DOMAIN[lane];
    if (box.lo[lane] > domainLo) {
      const below = cloneBox(inside);
      restrictLane(below, lane, domainLo, box.lo[lane] - 1);
      pieces.push(below);
    }
    if (box.hi[lane] < domainHi) {
      const above = cloneBox(inside);
      restrictLane(above, lane, box.hi[lane] + 1, domainHi);
      pieces.push(above);
    }
    restrictLane(inside, lane, box.lo[lane], box.hi[lane]);
  }
  return pieces;
}

/** The boxes whose union is exactly the keys a term accepts. */
function termBoxes(term: FilterTerm): Box[] {
  switch (term.kind) {
    case 'address': {
      const base = boxWith(Lane.Family, term.family, term.family);
      const ranges = prefixWordRanges(term.words, term.prefixLength);
      const restrict = (b: Box, lanes: readonly number[]) =>
        ranges.forEach(([lo, hi], w) => restrictLane(b, lanes[w], lo, hi));
      return boxesForSide(term.side, base, (b) => restrict(b, SRC_ADDRESS_LANES), (b) => restrict(b, DST_ADDRESS_LANES));
    }
    case 'port':
      return term.protocols.flatMap((protocol) =>
        boxesForSide(
          term.side,
          boxWith(Lane.Proto, protocol, protocol),
          (b) => restrictLane(b, Lane.SrcPort, term.lo, term.hi),
          (b) => restrictLane(b, Lane.DstPort, term.lo, term.hi),
        ));
    case 'protocol': {
      const b = boxWith(Lane.Proto, term.protocol, term.protocol);
      if (term.family !== null) restrictLane(b, Lane.Family, term.family, term.family);
      return [b];
    }
    case 'family':
      return [boxWith(Lane.Family, term.family, term.family)];
    case 'vlan': {
      const lane = term.tag === 'outer' ? Lane.VlanOuter : Lane.VlanInner;
      return [term.id === null ? boxWith(lane, 0, VLAN_ID_MAX) : boxWith(lane, term.id, term.id)];
    }
    case 'direction': {
      const d = term.direction === 'inbound' ? LaneValue.DirectionInbound : LaneValue.DirectionOutbound;
      return [boxWith(Lane.Direction, d, d)];
    }
    case 'routerPort': {
      const lane = term.which === 'in' ? Lane.InPort : Lane.OutPort;
      return [boxWith(lane, term.index, term.index)];
    }
    case 'assignment':
      return [boxWith(ASSIGNMENT_LANES[term.field], term.lo, term.hi)];
  }
}

const ASSIGNMENT_LANES = { bucket: Lane.WccpBucket, mask0: Lane.WccpMask0, mask1: Lane.WccpMask1 } as const;

function boxWith(lane: number, lo: number, hi: number): Box {
  const b = anyBox();
  restrictLane(b, lane, lo, hi);
  return b;
}

/** `base` narrowed on the source side, the destination side, either (two boxes) or both. */
function boxesForSide(side: Side, base: Box, narrowSrc: (b: Box) => void, narrowDst: (b: Box) => void): Box[] {
  const src = cloneBox(base);
  const dst = cloneBox(base);
  narrowSrc(src);
  narrowDst(dst);
  switch (side) {
    case 'src':
      return [src];
    case 'dst':
      return [dst];
    case 'src or dst':
      return [src, dst];
    case 'src and dst':
      narrowSrc(dst);
      return [dst];
  }
}

/**
 * Merges boxes that differ on one lane only, where their ranges touch or overlap (`family=0..3`,
 * `family=4`, `family=5..6` become one wildcard box), then drops boxes the merged ones contain;
 * repeats until nothing changes (at most MAX_COALESCE_PASSES times). The union is unchanged;
 * a merged box takes the place of the first of its parts, so the order stays deterministic.
 * The input must hold no box contained in another. `charge` is told the work of each pass.
 */
function coalesce(boxes: Box[], charge: (work: number) => void): Box[] {
  let current = boxes;
  for (let pass = 0; pass < MAX_COALESCE_PASSES; pass++) {
    charge(current.length * LANE_COUNT);
    const created = new Set<Box>();
    for (let lane = 0; lane < LANE_COUNT; lane++) {
      current = mergeAlongLane(current, lane, created) ?? current;
    }
    if (created.size === 0) break;
    charge(current.length * created.size);
    current = withoutContainedInNew(current, created);
  }
  return current;
}

/** A hash of one lane's range, position-dependent so that XOR over lanes identifies a box. */
function laneRangeHash(lane: number, lo: number, hi: number): number {
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi + lane * 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (lane << 24);
}

function equalExceptLane(a: Box, b: Box, lane: number): boolean {
  for (let l = 0; l < LANE_COUNT; l++) {
    if (l !== lane && (a.lo[l] !== b.lo[l] || a.hi[l] !== b.hi[l])) return false;
  }
  return true;
}

/** `boxes` with the touching ranges on `lane` of otherwise equal boxes merged, or null if none. */
function mergeAlongLane(boxes: readonly Box[], lane: number, created: Set<Box>): Box[] | null {
  // Bucket by a hash of every other lane, then split each bucket into exactly equal groups.
  const buckets = new Map<number, number[]>();
  boxes.forEach((box, i) => {
    let h = 0;
    for (let l = 0; l < LANE_COUNT; l++) if (l !== lane) h ^= laneRangeHash(l, box.lo[l], box.hi[l]);
    const bucket = buckets.get(h);
    if (bucket === undefined) buckets.set(h, [i]);
    else bucket.push(i);
  });
  const slots: Array<Box | null> = boxes.slice();
  let mergedAny = false;
  for (const bucket of buckets.values()) {
    if (bucket.length < 2) continue;
    const groups: number[][] = [];
    for (const i of bucket) {
      const group = groups.find((g) => equalExceptLane(boxes[g[0]], boxes[i], lane));
      if (group === undefined) groups.push([i]);
      else group.push(i);
    }
    for (const group of groups) {
      if (group.length > 1 && mergeGroup(boxes, group, lane, slots, created)) mergedAny = true;
    }
  }
  return mergedAny ? slots.filter((box): box is Box => box !== null) : null;
}

/**
 * Merges the touching `lane` ranges of a group of boxes equal on every other lane, writing
 * each merged box into the slot of its first part and clearing the others. True if any merged.
 */
function mergeGroup(
  boxes: readonly Box[],
  group: readonly number[],
  lane: number,
  slots: Array<Box | null>,
  created: Set<Box>,
): boolean {
  const byLo = group.slice().sort((x, y) => boxes[x].lo[lane] - boxes[y].lo[lane] || x - y);
  let mergedAny = false;
  let run = [byLo[0]];
  let runHi = boxes[byLo[0]].hi[lane];
  const flush = () => {
    if (run.length < 2) return;
    const first = Math.min(...run);
    const box = cloneBox(boxes[first]);
    box.lo[lane] = boxes[run[0]].lo[lane]; // the run is in order of lo
    box.hi[lane] = runHi;
    for (const i of run) slots[i] = null;
    slots[first] = box;
    created.add(box);
    mergedAny = true;
  };
  for (const i of byLo.slice(1)) {
    if (boxes[i].lo[lane] <= runHi + 1) {
      run.push(i);
      runHi = Math.max(runHi, boxes[i].hi[lane]);
    } else {
      flush();
      run = [i];
      runHi = boxes[i].hi[lane];
    }
  }
  flush();
  return mergedAny;
}

/**
 * `boxes` without those contained in a box merged this pass. Before merging no box contained
 * another, and a box containing a merged one would have contained its parts, so only merged
 * boxes can contain others now. Of two equal merged boxes the first stays.
 */
function withoutContainedInNew(boxes: readonly Box[], created: ReadonlySet<Box>): Box[] {
  const present = boxes.map((box, i) => [box, i] as const).filter(([box]) => created.has(box));
  return boxes.filter((box, i) =>
    !present.some(([merged, j]) => j !== i && contains(merged, box) && (j < i || !contains(box, merged))));
}
