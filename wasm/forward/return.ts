// WCCPv2 packet return by GRE: a cache sends back the packets it will not serve, in GRE 0x883E
// with the 4-byte redirect header it received (or a null one) (draft-wilson-wrec-wccp-v2, return
// method GRE), and the router forwards the inner packet as a router would: the FIB names the port
// and the next hop's MAC, TTL goes down by one (RFC 1812 §5.3.1) with the header checksum updated
// incrementally (RFC 1624, eqn. 3), and the new Ethernet header is written in place right before
// the inner packet, which keeps its bytes and its place in the frame.
//
//  received  │ Eth (+ tags) │ outer IPv4 (proto 47) │ GRE 0000 883E │ redirect hdr │ inner IPv4 …│
//  forwarded                                   │ Eth (new) │ inner IPv4, TTL − 1, checksum …│
//
// Contract
// - Input is untrusted. A return is recognised on its outer header alone: IPv4, protocol 47, the
//   source one of the table's caches and the destination one of the router's addresses. GRE of
//   any other kind (flags or version set, another protocol) from a cache is transit, forwarded as
//   it is. A recognised return whose outer header is unusable (version, IHL, total length beyond
//   the bytes present, a fragment, a bad header checksum) is dropped, never forwarded half-parsed.
// - Every return has exactly one outcome, returned as a PortCounter: Returned, or one of the
//   DroppedReturn* reasons. Nothing here allocates or loops beyond the table's bounded lists.
// - Returns are never classified, replicated or redirected again: the sessions saw the packet
//   when it was first diverted to the cache.

import { Control, Desc, DescFlag, FibEntry, FibFlag, PortConfig, ReturnLimits, ReturnTable } from '../abi';
import { PortCounter } from '../counters';
import { be16, be32, storeBe16, storeBe32 } from '../wire/bytes';
import { foldComplement, sumBytes } from '../wire/checksum';
import { Eth, EtherType, VlanTag, isVlanTpid } from '../wire/ethernet';
import { IpProto, Ipv4 } from '../wire/ip';
import { Gre, GreProto } from '../wire/transport';
import { fibLookup, listHas } from './fib';

/** The WCCPv2 redirect header after the GRE base header (draft-wilson §4.12): skipped. */
@inline const REDIRECT_HEADER_LEN: u32 = 4;
/** Tags the recognition walks through, as the parser does. */
@inline const MAX_TAGS: u32 = 2;
/** IPv4 flags word: MF and the fragment offset (a fragment cannot be decapsulated alone). */
@inline const FRAGMENT_BITS: u32 = 0x3fff;

/**
 * The outer IPv4 header offset when the frame (`len` bytes present) is a GRE return for `table`,
 * or 0 when it is not one (0 is never an IP offset: the Ethernet header comes first).
 */
export function returnCandidate(frame: usize, len: u32, table: usize): u32 {
  if (len < Eth.HeaderLen) return 0;
  let l3 = Eth.HeaderLen;
  let type = be16(frame + Eth.Type);
  for (let tags: u32 = 0; isVlanTpid(type); tags++) {
    if (tags == MAX_TAGS || l3 + VlanTag.Len > len) return 0;
    type = be16(frame + l3 + VlanTag.NextType);
    l3 += VlanTag.Len;
  }
  if (type != EtherType.Ipv4 || l3 + Ipv4.MinLen > len) return 0;
  const p = frame + l3;
  if (<u32>load<u8>(p + Ipv4.Proto) != IpProto.Gre) return 0;
  let sources = load<u32>(table, ReturnTable.SourceCount);
  if (sources > <u32>ReturnLimits.MaxSources) sources = <u32>ReturnLimits.MaxSources;
  if (!listHas(table + ReturnTable.Sources, sources, be32(p + Ipv4.Src))) return 0;
  let locals = load<u32>(table, ReturnTable.LocalCount);
  if (locals > <u32>ReturnLimits.MaxLocals) locals = <u32>ReturnLimits.MaxLocals;
  if (!listHas(table + ReturnTable.Locals, locals, be32(p + Ipv4.Dst))) return 0;
  // GRE from a cache to this router. Where the GRE header is, only a sound outer header says: an
  // unsound one is a malformed return (returnCheck drops it).
  const vihl = <u32>load<u8>(p + Ipv4.VersionIhl);
  const ihl = (vihl & 0xf) << 2;
  if ((vihl >> 4) != 4 || ihl < Ipv4.MinLen || (be16(p + Ipv4.FlagsFrag) & FRAGMENT_BITS) != 0) return l3;
  if (l3 + ihl + Gre.BaseLen > len) return l3;
  const gre = p + ihl;
  if (be16(gre + Gre.FlagsVersion) != 0 || be16(gre + Gre.Protocol) != GreProto.Wccp) return 0;
  return l3;
}

/** Set by returnCheck when it answers Returned: where the packet goes, for returnRewrite. */
export let returnEgress: u32 = 0;
let returnInner: u32 = 0; // inner IPv4 header offset in the frame
let returnInnerLen: u32 = 0; // inner IPv4 total length
let returnRoute: usize = 0; // the FIB entry
let returnDst: u32 = 0; // inner destination, host order

/**
 * Checks the return at `l3` (returnCandidate's answer) in the frame of `desc` and looks its inner
 * destination up: PortCounter.Returned (returnEgress names the port; call returnRewrite on the
 * queued descriptor) or the DroppedReturn* counter that says why it cannot be forwarded.
 */
export function returnCheck(ctl: usize, table: usize, desc: usize, l3: u32): u32 {
  const frame = <usize>load<u32>(desc, Desc.Addr);
  const len = <u32>load<u16>(desc, Desc.Len);
  // Outer IPv4: the packet must be whole in the bytes present (a capture cut short is not).
  const p = frame + l3;
  const vihl = <u32>load<u8>(p + Ipv4.VersionIhl);
  const ihl = (vihl & 0xf) << 2;
  const total = be16(p + Ipv4.TotalLen);
  if ((vihl >> 4) != 4 || ihl < Ipv4.MinLen || total < ihl + Gre.BaseLen + REDIRECT_HEADER_LEN || l3 + total > len ||
      (be16(p + Ipv4.FlagsFrag) & FRAGMENT_BITS) != 0 || foldComplement(sumBytes(p, ihl)) != 0) {
    return PortCounter.DroppedReturnMalformed;
  }
  // Inner packet: after the GRE base header and the redirect header, whatever the latter says.
  const inner = l3 + ihl + Gre.BaseLen + REDIRECT_HEADER_LEN;
  const room = l3 + total - inner;
  if (room == 0) return PortCounter.DroppedReturnMalformed;
  const q = frame + inner;
  const version = <u32>load<u8>(q) >> 4;
  if (version == 6) return PortCounter.DroppedReturnUnsupported;
  if (version != 4 || room < Ipv4.MinLen) return PortCounter.DroppedReturnMalformed;
  const innerIhl = (<u32>load<u8>(q + Ipv4.VersionIhl) & 0xf) << 2;
  const innerTotal = be16(q + Ipv4.TotalLen);
  if (innerIhl < Ipv4.MinLen || innerTotal < innerIhl || innerTotal > room || foldComplement(sumBytes(q, innerIhl)) != 0) {
    return PortCounter.DroppedReturnMalformed;
  }
  if (<u32>load<u8>(q + Ipv4.Ttl) <= 1) return PortCounter.DroppedReturnTtl;
  const dst = be32(q + Ipv4.Dst);
  const route = fibLookup(table, dst);
  if (route == 0) return PortCounter.DroppedReturnNoRoute;
  if ((load<u32>(route, FibEntry.Flags) & FibFlag.NoNeighbor) != 0) return PortCounter.DroppedReturnNoNeighbor;
  const egress = load<u32>(route, FibEntry.Port);
  const port = <usize>load<u32>(ctl + Control.PortTable) + <usize>egress * PortConfig.Size;
  if (innerTotal > load<u32>(port, PortConfig.Mtu)) return PortCounter.DroppedReturnMtu;
  returnEgress = egress;
  returnInner = inner;
  returnInnerLen = innerTotal;
  returnRoute = route;
  returnDst = dst;
  return PortCounter.Returned;
}

/**
 * Turns the queued copy `out` of the return's descriptor into the forwarded frame: the Ethernet
 * header for the route's next hop in front of the inner packet, TTL − 1 and the checksum updated.
 * Call only after returnCheck answered Returned for this frame, before `out` is submitted.
 */
export function returnRewrite(out: usize): void {
  const frame = <usize>load<u32>(out, Desc.Addr);
  const q = frame + returnInner;
  const start = q - Eth.HeaderLen;
  const route = returnRoute;

  // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the 16-bit word holding TTL and protocol.
  const old = be16(q + Ipv4.Ttl);
  const ttl = old >> 8;
  const word = ((ttl - 1) << 8) | (old & 0xff);
  store<u8>(q + Ipv4.Ttl, <u8>(ttl - 1));
  storeBe16(q + Ipv4.Checksum, foldComplement(<u64>(~be16(q + Ipv4.Checksum) & 0xffff) + <u64>(~old & 0xffff) + <u64>word));

  // The next hop's MAC: the entry's, or for a block of hosts the one its destination numbers.
  if ((load<u32>(route, FibEntry.Flags) & FibFlag.HostBlock) != 0) {
    const base = (<u64>be16(route + FibEntry.Mac) << 32) | <u64>be32(route + FibEntry.Mac + 2);
    const mac = base + <u64>(returnDst - load<u32>(route, FibEntry.Lo));
    storeBe16(start + Eth.Dst, <u32>(mac >> 32) & 0xffff);
    storeBe32(start + Eth.Dst + 2, <u32>mac);
  } else {
    store<u32>(start + Eth.Dst, load<u32>(route, FibEntry.Mac));
    store<u16>(start + Eth.Dst + 4, load<u16>(route, FibEntry.Mac + 4));
  }
  store<u32>(start + Eth.Src, load<u32>(route, FibEntry.RouterMac));
  store<u16>(start + Eth.Src + 4, load<u16>(route, FibEntry.RouterMac + 4));
  storeBe16(start + Eth.Type, EtherType.Ipv4);

  const length = Eth.HeaderLen + returnInnerLen;
  store<u32>(out, <u32>start, Desc.Addr);
  store<u16>(out, <u16>length, Desc.Len);
  store<u16>(out, <u16>length, Desc.OrigLen);
  store<u8>(out, <u8>returnEgress, Desc.OutPort);
  store<u16>(out, load<u16>(out, Desc.Flags) | <u16>DescFlag.Returned, Desc.Flags);
}
