// Reference evaluation: does a classification key satisfy a filter AST?
//
// Contract: this is the oracle the compiler is tested against, so it reads the AST directly
// and shares no code with compile.ts (prefixes are checked with masks here, with word ranges
// there). A key is Lane.Count u32 lanes; a key with any lane outside LANE_DOMAIN (or too
// short) matches nothing, exactly as no compiled box contains it. Never throws; work is
// linear in the size of the AST.

import { Lane, LaneValue } from '../../../wasm/abi.ts';
import { LANE_DOMAIN } from '../tables/box.ts';
import type { FilterAst, FilterTerm, Side } from './ast.ts';

const SRC_ADDRESS_LANES = [Lane.Src0, Lane.Src1, Lane.Src2, Lane.Src3] as const;
const DST_ADDRESS_LANES = [Lane.Dst0, Lane.Dst1, Lane.Dst2, Lane.Dst3] as const;
const VLAN_ID_MAX = LaneValue.VlanNone - 1;

/** True when the key satisfies the filter; false for a key outside the lane domains. */
export function evaluateFilter(ast: FilterAst, key: ArrayLike<number>): boolean {
  return keyInDomain(key) && evaluate(ast, key);
}

function keyInDomain(key: ArrayLike<number>): boolean {
  if (key.length < Lane.Count) return false;
  for (let lane = 0; lane < Lane.Count; lane++) {
    const v = key[lane];
    if (!Number.isInteger(v) || v < LANE_DOMAIN[lane][0] || v > LANE_DOMAIN[lane][1]) return false;
  }
  return true;
}

function evaluate(node: FilterAst, key: ArrayLike<number>): boolean {
  switch (node.kind) {
    case 'and':
      return node.operands.every((operand) => evaluate(operand, key));
    case 'or':
      return node.operands.some((operand) => evaluate(operand, key));
    case 'not':
      return !evaluate(node.operand, key);
    default:
      return evaluateTerm(node, key);
  }
}

function evaluateTerm(term: FilterTerm, key: ArrayLike<number>): boolean {
  switch (term.kind) {
    case 'address': {
      if (key[Lane.Family] !== term.family) return false;
      const inPrefix = (lanes: readonly number[]) =>
        term.words.every((word, w) => {
          const networkBits = Math.max(0, Math.min(32, term.prefixLength - 32 * w));
          const mask = networkBits === 0 ? 0 : (0xffffffff << (32 - networkBits)) >>> 0;
          return ((key[lanes[w]] & mask) >>> 0) === ((word & mask) >>> 0);
        });
      return onSide(term.side, () => inPrefix(SRC_ADDRESS_LANES), () => inPrefix(DST_ADDRESS_LANES));
    }
    case 'port': {
      if (!term.protocols.includes(key[Lane.Proto])) return false;
      const inRange = (lane: number) => key[lane] >= term.lo && key[lane] <= term.hi;
      return onSide(term.side, () => inRange(Lane.SrcPort), () => inRange(Lane.DstPort));
    }
    case 'protocol':
      return key[Lane.Proto] === term.protocol && (term.family === null || key[Lane.Family] === term.family);
    case 'family':
      return key[Lane.Family] === term.family;
    case 'vlan': {
      const tag = key[term.tag === 'outer' ? Lane.VlanOuter : Lane.VlanInner];
      return term.id === null ? tag <= VLAN_ID_MAX : tag === term.id;
    }
    case 'direction':
      return key[Lane.Direction] ===
        (term.direction === 'inbound' ? LaneValue.DirectionInbound : LaneValue.DirectionOutbound);
    case 'routerPort':
      return key[term.which === 'in' ? Lane.InPort : Lane.OutPort] === term.index;
    case 'assignment': {
      const v = key[term.field === 'bucket' ? Lane.WccpBucket : term.field === 'mask0' ? Lane.WccpMask0 : Lane.WccpMask1];
      return v >= term.lo && v <= term.hi;
    }
  }
}

function onSide(side: Side, src: () => boolean, dst: () => boolean): boolean {
  switch (side) {
    case 'src':
      return src();
    case 'dst':
      return dst();
    case 'src or dst':
      return src() || dst();
    case 'src and dst':
      return src() && dst();
  }
}
