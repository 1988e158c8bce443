// `twinflow peer --mode redirect --bypass EXPR`: which diverted packets the transparent cache
// returns to the router instead of serving. EXPR is twinflow's filter syntax (firmware/shell/filter,
// tcpdump-style), evaluated by the filter's reference evaluator on each inner IPv4 packet's
// classification key, built here the way the data plane's parser builds it (wasm/wire/parse.ts):
// addresses, protocol, and ports only when the transport header is whole (TCP's data offset
// consistent, UDP's 8 bytes, SCTP's 12) and the packet is not a non-first fragment.
//
// What a cache cannot know is refused at start, pointing at the term: the router's ports and
// direction (`inport`, `outport`, `inbound`, `outbound`), VLAN tags (a diverted packet is an IP
// packet, no tag travels with it) and WCCP assignment lanes (`wccp-bucket` …: the router's).
//
// Contract: the expression is untrusted (parseFilter bounds it); bypassFilter throws FilterError
// pointing at the offending token; the predicate never throws and reads only the bytes the
// packet's own header says it has.

import { Lane, LaneValue } from '../../wasm/abi.ts';
import { evaluateFilter, FilterError, parseFilter, type FilterAst } from '../shell/filter/index.ts';

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_SCTP = 132;
/** Bytes of the transport header that must be whole for the ports to count (parse.ts). */
const TRANSPORT_MIN: Readonly<Record<number, number>> = { [IPPROTO_TCP]: 20, [IPPROTO_UDP]: 8, [IPPROTO_SCTP]: 12 };
const FRAGMENT_OFFSET_MASK = 0x1fff;
const IPV4_MIN_HEADER = 20;

/** Terms the cache cannot evaluate, and why (the message of the FilterError). */
const NOT_AT_THE_CACHE: Readonly<Partial<Record<FilterAst['kind'], string>>> = {
  direction: 'inbound/outbound: the router\'s side of a packet is not known at the cache',
  routerPort: 'inport/outport: the router\'s ports are not known at the cache',
  vlan: 'vlan: a diverted packet reaches the cache as an IP packet, without its tags',
  assignment: 'WCCP assignment terms are the router\'s',
};

/** A predicate over a whole IPv4 packet: return it to the router? */
export type BypassPredicate = (packet: Uint8Array) => boolean;

function refuse(ast: FilterAst, expression: string): void {
  const why = NOT_AT_THE_CACHE[ast.kind];
  if (why !== undefined) throw new FilterError(`not at a cache: ${why}`, expression, ast.position, ast.token);
  if (ast.kind === 'and' || ast.kind === 'or') for (const o of ast.operands) refuse(o, expression);
  else if (ast.kind === 'not') refuse(ast.operand, expression);
}

/** Compiles `--bypass EXPR`; throws FilterError for a malformed expression or a term a cache cannot know. */
export function bypassFilter(expression: string): BypassPredicate {
  const ast = parseFilter(expression);
  refuse(ast, expression);
  const key = new Uint32Array(Lane.Count);
  return (packet) => {
    ipv4Key(packet, key);
    return evaluateFilter(ast, key);
  };
}

const be16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const be32 = (b: Uint8Array, at: number): number => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** The classification key of a whole IPv4 packet (wholeIpv4 in redirect-wire.ts), as parse.ts makes it. */
export function ipv4Key(p: Uint8Array, key: Uint32Array): void {
  key.fill(0);
  key[Lane.Family] = LaneValue.FamilyIpv4;
  key[Lane.VlanOuter] = LaneValue.VlanNone;
  key[Lane.VlanInner] = LaneValue.VlanNone;
  key[Lane.WccpBucket] = LaneValue.BucketNone;
  key[Lane.WccpMask0] = LaneValue.MaskNone;
  key[Lane.WccpMask1] = LaneValue.MaskNone;
  key[Lane.SrcPort] = LaneValue.PortNone;
  key[Lane.DstPort] = LaneValue.PortNone;
  if (p.length < IPV4_MIN_HEADER) {
    key[Lane.Family] = LaneValue.FamilyNone;
    key[Lane.Proto] = LaneValue.ProtoNone;
    return;
  }
  const ihl = (p[0] & 0x0f) * 4;
  const end = Math.min(p.length, be16(p, 2));
  const proto = p[9];
  key[Lane.Proto] = proto;
  key[Lane.Src0] = be32(p, 12);
  key[Lane.Dst0] = be32(p, 16);
  const need = TRANSPORT_MIN[proto];
  if (need === undefined || (be16(p, 6) & FRAGMENT_OFFSET_MASK) !== 0 || ihl + need > end) return;
  if (proto === IPPROTO_TCP) {
    const dataOffset = (p[ihl + 12] >> 4) * 4;
    if (dataOffset < need || ihl + dataOffset > end) return;
  }
  key[Lane.SrcPort] = be16(p, ihl);
  key[Lane.DstPort] = be16(p, ihl + 2);
}
