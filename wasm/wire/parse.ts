// Packet parser: Ethernet → up to two VLAN tags → IPv4 (options, fragments) or IPv6 (extension
// headers walked to the transport header) → TCP / UDP / SCTP ports, ICMP, GRE.
//
// Contract
// - Input is untrusted: `len` bytes are readable at `frame`; `origLen` is what the packet had on
//   the wire. Every read is preceded by a check that its bytes are within `len`; nothing is ever
//   read beyond it, whatever the header fields say.
// - Output: the classification key (Lane.Count u32 at `key`) and the parse globals below.
//   A header that is cut short by the capture is flagged Truncated; one whose own length fields
//   are inconsistent is flagged Malformed. Either way the packet gets no transport lanes
//   (PortNone), so no port term can match it, and processing continues: the parser never drops.
// - No allocation, no imports.

import { Lane, LaneValue } from '../abi';
import { be16, be32 } from './bytes';
import { Eth, EtherType, VlanTag, isVlanTpid } from './ethernet';
import { Ipv4, Ipv6, Ipv6Frag, IpProto } from './ip';
import { Gre, GreProto, Tcp, Udp, Sctp, Icmp, WCCP_UDP_PORT } from './transport';

export namespace ParseFlag {
  @inline export const Ip: u32 = 1;
  @inline export const Transport: u32 = 2; // ports (or ICMP type) present and whole
  @inline export const Truncated: u32 = 4;
  @inline export const Malformed: u32 = 8;
  @inline export const Ineligible: u32 = 16; // replication traffic or the WCCP channel: never matched
  @inline export const NonFirstFragment: u32 = 32;
  @inline export const Return: u32 = 64; // set by the data plane, not the parser: a cache's GRE return (wasm/forward/return.ts)
}

/** Offset of the IP header from the frame start (valid when ParseFlag.Ip is set). */
export let parsedL3: u32 = 0;
/** Offset of the transport header (valid when ParseFlag.Transport is set). */
export let parsedL4: u32 = 0;
/** Bytes of the IP packet according to its own header (≤ what the wire carried). */
export let parsedIpLen: u32 = 0;

/**
 * The key of a packet nothing is known about yet (not IP, no transport, untagged), with the
 * metadata lanes the forwarding stage decided, written at `key`: the template parseFrame starts
 * from. Built once per batch (the metadata is the same for every packet of a port's batch).
 */
export function keyTemplate(key: usize, inPort: u32, outPort: u32, direction: u32): void {
  const z = i32x4.splat(0);
  v128.store(key, z);
  v128.store(key, z, 16);
  v128.store(key, z, 32);
  v128.store(key, z, 48);
  v128.store(key, z, 64);
  store<u32>(key + Lane.SrcPort * 4, LaneValue.PortNone);
  store<u32>(key + Lane.DstPort * 4, LaneValue.PortNone);
  store<u32>(key + Lane.Proto * 4, LaneValue.ProtoNone);
  store<u32>(key + Lane.Family * 4, LaneValue.FamilyNone);
  store<u32>(key + Lane.InPort * 4, inPort);
  store<u32>(key + Lane.OutPort * 4, outPort);
  store<u32>(key + Lane.Direction * 4, direction);
  store<u32>(key + Lane.VlanOuter * 4, LaneValue.VlanNone);
  store<u32>(key + Lane.VlanInner * 4, LaneValue.VlanNone);
  store<u32>(key + Lane.WccpBucket * 4, LaneValue.BucketNone);
  store<u32>(key + Lane.WccpMask0 * 4, LaneValue.MaskNone);
  store<u32>(key + Lane.WccpMask1 * 4, LaneValue.MaskNone);
}

/** WCCPv2 hash bucket of a destination word (draft-wilson §4.2: h ^= h>>16; h ^= h>>8; & 0xFF). */
@inline export function wccpBucketOf(dst: u32): u32 {
  let h = dst;
  h ^= h >> 16;
  h ^= h >> 8;
  return h & 0xff;
}

/** Copies a whole key (Lane.Bytes). */
@inline export function copyKey(dst: usize, src: usize): void {
  v128.store(dst, v128.load(src));
  v128.store(dst, v128.load(src, 16), 16);
  v128.store(dst, v128.load(src, 32), 32);
  v128.store(dst, v128.load(src, 48), 48);
  v128.store(dst, v128.load(src, 64), 64);
}

/**
 * Parses one frame and writes its key at `key`, starting from the template at `template`
 * (keyTemplate). Returns ParseFlag bits.
 */
export function parseFrame(frame: usize, len: u32, origLen: u32, template: usize, key: usize): u32 {
  copyKey(key, template);
  parsedL3 = 0;
  parsedL4 = 0;
  parsedIpLen = 0;

  // A field missing because the capture was cut is "truncated"; missing on the wire, "malformed".
  const shortFlag = len < origLen ? ParseFlag.Truncated : ParseFlag.Malformed;

  if (len < Eth.HeaderLen) return shortFlag;
  let off = Eth.Type;
  let type = be16(frame + off);
  off += 2;
  let tags: u32 = 0;
  while (isVlanTpid(type)) {
    if (tags == 2) return 0; // a third tag: not a packet we classify beyond L2
    if (off + VlanTag.Len > len) return shortFlag;
    const vid = be16(frame + off + VlanTag.Tci) & VlanTag.VidMask;
    store<u32>(key + (tags == 0 ? Lane.VlanOuter : Lane.VlanInner) * 4, vid);
    type = be16(frame + off + VlanTag.NextType);
    off += VlanTag.Len;
    tags++;
  }

  if (type == EtherType.Ipv4) return parseIpv4(frame, off, len, origLen, key, shortFlag);
  if (type == EtherType.Ipv6) return parseIpv6(frame, off, len, origLen, key, shortFlag);
  return 0;
}

function parseIpv4(frame: usize, l3: u32, len: u32, origLen: u32, key: usize, shortFlag: u32): u32 {
  if (l3 + Ipv4.MinLen > len) return shortFlag;
  const p = frame + <usize>l3;
  const vihl = load<u8>(p + Ipv4.VersionIhl);
  const ihl = (<u32>vihl & 0xf) << 2;
  const total = be16(p + Ipv4.TotalLen);
  if ((vihl >> 4) != 4 || ihl < Ipv4.MinLen || total < ihl || l3 + total > origLen) return ParseFlag.Malformed;
  if (l3 + ihl > len) return shortFlag;

  parsedL3 = l3;
  parsedIpLen = total;
  const proto = <u32>load<u8>(p + Ipv4.Proto);
  store<u32>(key + Lane.Family * 4, LaneValue.FamilyIpv4);
  store<u32>(key + Lane.Proto * 4, proto);
  store<u32>(key + Lane.Src0 * 4, be32(p + Ipv4.Src));
  store<u32>(key + Lane.Dst0 * 4, be32(p + Ipv4.Dst));
  store<u32>(key + Lane.WccpBucket * 4, wccpBucketOf(be32(p + Ipv4.Dst)));

  if ((be16(p + Ipv4.FlagsFrag) & Ipv4.FragOffsetMask) != 0) {
    return ParseFlag.Ip | ParseFlag.NonFirstFragment;
  }
  return ParseFlag.Ip | parseTransport(frame, l3 + ihl, l3 + total, len, proto, key, shortFlag);
}

function parseIpv6(frame: usize, l3: u32, len: u32, origLen: u32, key: usize, shortFlag: u32): u32 {
  if (l3 + Ipv6.HeaderLen > len) return shortFlag;
  const p = frame + <usize>l3;
  if ((load<u8>(p) >> 4) != 6) return ParseFlag.Malformed;
  const end = l3 + Ipv6.HeaderLen + be16(p + Ipv6.PayloadLen);
  if (end > origLen) return ParseFlag.Malformed;

  parsedL3 = l3;
  parsedIpLen = end - l3;
  store<u32>(key + Lane.Family * 4, LaneValue.FamilyIpv6);
  store<u32>(key + Lane.Src0 * 4, be32(p + Ipv6.Src));
  store<u32>(key + Lane.Src1 * 4, be32(p + Ipv6.Src + 4));
  store<u32>(key + Lane.Src2 * 4, be32(p + Ipv6.Src + 8));
  store<u32>(key + Lane.Src3 * 4, be32(p + Ipv6.Src + 12));
  store<u32>(key + Lane.Dst0 * 4, be32(p + Ipv6.Dst));
  store<u32>(key + Lane.WccpBucket * 4, wccpBucketOf(be32(p + Ipv6.Dst)));
  store<u32>(key + Lane.Dst1 * 4, be32(p + Ipv6.Dst + 4));
  store<u32>(key + Lane.Dst2 * 4, be32(p + Ipv6.Dst + 8));
  store<u32>(key + Lane.Dst3 * 4, be32(p + Ipv6.Dst + 12));

  let next = <u32>load<u8>(p + Ipv6.NextHeader);
  let off = l3 + Ipv6.HeaderLen;
  for (let n: u32 = 0; ; n++) {
    if (n > Ipv6.MaxExtHeaders) {
      store<u32>(key + Lane.Proto * 4, next);
      return ParseFlag.Ip | ParseFlag.Malformed;
    }
    let extLen: u32 = 0;
    if (next == IpProto.HopByHop || next == IpProto.Routing || next == IpProto.DestOpts ||
        next == IpProto.Mobility || next == IpProto.Hip || next == IpProto.Shim6) {
      if (off + 2 > len) { store<u32>(key + Lane.Proto * 4, next); return ParseFlag.Ip | shortFlag; }
      extLen = (<u32>load<u8>(frame + off + 1) + 1) << 3;
    } else if (next == IpProto.Ah) {
      if (off + 2 > len) { store<u32>(key + Lane.Proto * 4, next); return ParseFlag.Ip | shortFlag; }
      extLen = (<u32>load<u8>(frame + off + 1) + 2) << 2;
    } else if (next == IpProto.Fragment) {
      if (off + Ipv6Frag.Len > len) { store<u32>(key + Lane.Proto * 4, next); return ParseFlag.Ip | shortFlag; }
      const upper = <u32>load<u8>(frame + off);
      const fragOffset = be16(frame + off + Ipv6Frag.OffsetFlags) >> 3;
      if (fragOffset != 0) {
        // A non-first fragment names its upper-layer protocol but carries no transport header.
        store<u32>(key + Lane.Proto * 4, upper);
        return ParseFlag.Ip | ParseFlag.NonFirstFragment;
      }
      extLen = Ipv6Frag.Len;
    } else {
      break;
    }
    if (off + extLen > end) { store<u32>(key + Lane.Proto * 4, next); return ParseFlag.Ip | ParseFlag.Malformed; }
    next = <u32>load<u8>(frame + off);
    off += extLen;
  }
  store<u32>(key + Lane.Proto * 4, next);
  return ParseFlag.Ip | parseTransport(frame, off, end, len, next, key, shortFlag);
}

/**
 * Transport lanes for the header at `l4`; `ipEnd` is where the IP packet ends per its header and
 * `len` what the capture holds. Returns Transport, Truncated, Malformed and/or Ineligible bits.
 */
function parseTransport(frame: usize, l4: u32, ipEnd: u32, len: u32, proto: u32, key: usize, shortFlag: u32): u32 {
  let need: u32 = 0;
  if (proto == IpProto.Tcp) need = Tcp.MinLen;
  else if (proto == IpProto.Udp) need = Udp.Len;
  else if (proto == IpProto.Sctp) need = Sctp.CommonHeaderLen;
  else if (proto == IpProto.Icmp || proto == IpProto.Icmpv6) need = Icmp.MinLen;
  else if (proto == IpProto.Gre) need = Gre.BaseLen;
  else return 0;

  if (l4 + need > ipEnd) return ParseFlag.Malformed;
  if (l4 + need > len) return shortFlag;
  const p = frame + <usize>l4;
  parsedL4 = l4;

  if (proto == IpProto.Gre) {
    const gp = be16(p + Gre.Protocol);
    if (gp == GreProto.Wccp || gp == GreProto.ErspanII || gp == GreProto.ErspanIII) return ParseFlag.Ineligible;
    return 0;
  }
  if (proto == IpProto.Icmp || proto == IpProto.Icmpv6) return ParseFlag.Transport;
  if (proto == IpProto.Tcp) {
    const doff = (<u32>load<u8>(p + Tcp.DataOffset) >> 4) << 2;
    if (doff < Tcp.MinLen || l4 + doff > ipEnd) return ParseFlag.Malformed;
  }
  const sport = be16(p + Tcp.SrcPort);
  const dport = be16(p + Tcp.DstPort);
  store<u32>(key + Lane.SrcPort * 4, sport);
  store<u32>(key + Lane.DstPort * 4, dport);
  if (proto == IpProto.Udp && (sport == WCCP_UDP_PORT || dport == WCCP_UDP_PORT)) {
    return ParseFlag.Transport | ParseFlag.Ineligible;
  }
  return ParseFlag.Transport;
}
