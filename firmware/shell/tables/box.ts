// A box is the unit every classifier input compiles to: one inclusive [lo, hi] range per key lane
// (see wasm/abi.ts for the lanes). A filter expression becomes a union of boxes; a ClassBench
// rule becomes one box (or a few, when its protocol mask is not a single range).
//
// Boxes are plain data (two Uint32Arrays) so that thousands of them are cheap to build and the
// table compiler can read them without indirection.

import { Lane, LaneValue } from '../../../wasm/abi.ts';

export interface Box {
  readonly lo: Uint32Array; // length Lane.Count
  readonly hi: Uint32Array; // length Lane.Count
}

/** The full domain of each lane: what a wildcard spans, including the out-of-band values. */
export const LANE_DOMAIN: ReadonlyArray<readonly [number, number]> = (() => {
  const d: Array<[number, number]> = [];
  for (let i = 0; i < Lane.Count; i++) d.push([0, LaneValue.U32Max]);
  d[Lane.SrcPort] = [0, LaneValue.PortNone];
  d[Lane.DstPort] = [0, LaneValue.PortNone];
  d[Lane.Proto] = [0, LaneValue.ProtoNone];
  d[Lane.Family] = [0, LaneValue.FamilyMax];
  d[Lane.InPort] = [0, 255];
  d[Lane.OutPort] = [0, 255];
  d[Lane.Direction] = [0, 1];
  d[Lane.VlanOuter] = [0, LaneValue.VlanNone];
  d[Lane.VlanInner] = [0, LaneValue.VlanNone];
  d[Lane.WccpBucket] = [0, LaneValue.BucketNone];
  d[Lane.WccpMask0] = [0, LaneValue.MaskNone];
  d[Lane.WccpMask1] = [0, LaneValue.MaskNone];
  return d;
})();

export const LANE_NAMES: readonly string[] = [
  'src0', 'dst0', 'sport', 'dport',
  'proto', 'family', 'inport', 'outport',
  'src1', 'src2', 'src3', 'dst1',
  'dst2', 'dst3', 'direction', 'vlan',
  'vlan-inner', 'wccp-bucket', 'wccp-mask0', 'wccp-mask1',
];

/** A box that matches every key. */
export function anyBox(): Box {
  const lo = new Uint32Array(Lane.Count);
  const hi = new Uint32Array(Lane.Count);
  for (let i = 0; i < Lane.Count; i++) {
    lo[i] = LANE_DOMAIN[i][0];
    hi[i] = LANE_DOMAIN[i][1];
  }
  return { lo, hi };
}

export function cloneBox(b: Box): Box {
  return { lo: b.lo.slice(), hi: b.hi.slice() };
}

/** Intersection of two boxes, or null when they are disjoint. */
export function intersectBoxes(a: Box, b: Box): Box | null {
  const lo = new Uint32Array(Lane.Count);
  const hi = new Uint32Array(Lane.Count);
  for (let i = 0; i < Lane.Count; i++) {
    lo[i] = Math.max(a.lo[i], b.lo[i]);
    hi[i] = Math.min(a.hi[i], b.hi[i]);
    if (lo[i] > hi[i]) return null;
  }
  return { lo, hi };
}

/** True when `outer` contains `inner` on every lane. */
export function boxContains(outer: Box, inner: Box): boolean {
  for (let i = 0; i < Lane.Count; i++) {
    if (inner.lo[i] < outer.lo[i] || inner.hi[i] > outer.hi[i]) return false;
  }
  return true;
}

/** True when the key (Lane.Count u32 values) lies inside the box. */
export function boxMatches(b: Box, key: ArrayLike<number>): boolean {
  for (let i = 0; i < Lane.Count; i++) {
    const v = key[i];
    if (v < b.lo[i] || v > b.hi[i]) return false;
  }
  return true;
}

/**
 * Sets one lane of a box to [lo, hi] ∩ its current range; returns false when that empties it.
 * The caller keeps the box only when this returns true.
 */
export function restrictLane(b: Box, lane: number, lo: number, hi: number): boolean {
  const l = Math.max(b.lo[lane], lo);
  const h = Math.min(b.hi[lane], hi);
  if (l > h) return false;
  b.lo[lane] = l;
  b.hi[lane] = h;
  return true;
}

/**
 * The per-word ranges of an address prefix. `words` is the address as 32-bit big-endian words
 * (1 for IPv4, 4 for IPv6); the result has one [lo, hi] per word. A prefix is exactly the
 * product of these ranges: whole words before the boundary are exact, the boundary word is a
 * range, the words after it are wildcards.
 */
export function prefixWordRanges(words: readonly number[], prefixLen: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let w = 0; w < words.length; w++) {
    const bitsInWord = Math.max(0, Math.min(32, prefixLen - 32 * w));
    if (bitsInWord === 0) {
      out.push([0, LaneValue.U32Max]);
    } else if (bitsInWord === 32) {
      out.push([words[w] >>> 0, words[w] >>> 0]);
    } else {
      const hostBits = 32 - bitsInWord;
      const lo = ((words[w] >>> hostBits) << hostBits) >>> 0;
      const hi = (lo + (2 ** hostBits - 1)) >>> 0;
      out.push([lo, hi]);
    }
  }
  return out;
}

export function describeBox(b: Box): string {
  const parts: string[] = [];
  for (let i = 0; i < Lane.Count; i++) {
    if (b.lo[i] === LANE_DOMAIN[i][0] && b.hi[i] === LANE_DOMAIN[i][1]) continue;
    parts.push(b.lo[i] === b.hi[i] ? `${LANE_NAMES[i]}=${b.lo[i]}` : `${LANE_NAMES[i]}=${b.lo[i]}..${b.hi[i]}`);
  }
  return parts.length ? parts.join(' ') : 'any';
}
