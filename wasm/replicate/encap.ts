// Encapsulation of a replica (or of a redirected original) from the session's prebuilt template.
//
// The control plane builds each session's template once: outer Ethernet, outer IPv4 with the
// length, identification and checksum zeroed (their partial sum precomputed in IpSum), the GRE
// header and the WCCP or ERSPAN header with every static field set. Per packet the hot path
// copies it and patches only what changes: IPv4 total length, identification and checksum; the
// GRE sequence number; the ERSPAN VLAN, truncated bit and timestamp; the WCCP bucket; and, on
// replicas, where the packet came from (docs/protocol.md, "Replica metadata"):
//   GRE-WCCP   the alternate-bucket byte, meaningless while the A flag is clear: bit 7 set when
//              the packet entered on an inside port (outbound), bits 0–6 the ingress port index;
//   ERSPAN II  the index field: bit 19 outbound, bits 0–18 the ingress port index;
//   ERSPAN III the D bit: set for outbound.
// A redirected original carries none of this: a cache sees exactly what a WCCP router sends.
//
// References: RFC 2784/2890 (GRE, sequence number), draft-wilson-wrec-wccp-v2 §4.12 (redirect
// header), draft-foschiano-erspan-03 (type II and III headers).

import { Encap, Lane, LaneValue, Member, Mode, SessionConfig, SessionFlag, SessionState } from '../abi';
import { be16, copyBytes, storeBe16, storeBe32 } from '../wire/bytes';
import { foldComplement } from '../wire/checksum';
import { EtherType } from '../wire/ethernet';
import { Ipv4 } from '../wire/ip';

export namespace GreField {
  @inline export const Protocol: u32 = 2;
  @inline export const Sequence: u32 = 4; // ERSPAN: S bit only, the sequence follows the base header
  @inline export const Key: u32 = 4; // GRE-seq: K and S bits, the key (stream id) then the sequence
  @inline export const KeyedSequence: u32 = 8;
}

export namespace WccpRedirect {
  @inline export const Offset: u32 = 4; // after the 4-byte GRE header
  @inline export const Flags: u32 = 0;
  @inline export const ServiceId: u32 = 1;
  @inline export const AltBucket: u32 = 2;
  @inline export const PrimaryBucket: u32 = 3;
  @inline export const DynamicFlag: u32 = 0x01; // Wireshark's gre.wccp.dynamic_service
  @inline export const OutboundBit: u32 = 0x80; // replica metadata in the alternate-bucket byte
  @inline export const PortMask: u32 = 0x7f;
}

export namespace Erspan {
  @inline export const Offset: u32 = 8; // after the 8-byte GRE header with sequence
  @inline export const VerVlan: u32 = 0;
  @inline export const CosEnTSession: u32 = 2;
  @inline export const Timestamp: u32 = 4; // type III
  @inline export const Index: u32 = 4; // type II: reserved (12 bits) | index (20 bits)
  @inline export const IndexOutboundBit: u32 = 1 << 19;
  @inline export const Flags3: u32 = 10; // type III: P FT(5) HW(6) D Gra(2) O
  @inline export const DirectionBit: u32 = 1 << 3;
  @inline export const VersionII: u32 = 1;
  @inline export const VersionIII: u32 = 2;
  @inline export const TruncatedBit: u32 = 1 << 10;
  @inline export const EncapTagged: u32 = 3 << 11; // type II "En": VLAN tag preserved in the frame
  @inline export const SessionMask: u32 = 0x3ff;
  @inline export const TimestampUnitNs: i64 = 100; // granularity 01: 100 ns
}

/**
 * WCCPv2 primary bucket of the packet: the parser's WccpBucket lane (draft-wilson §4.2, the
 * destination address hashed as for the standard service).
 */
@inline export function wccpBucket(key: usize): u32 {
  return load<u32>(key + Lane.WccpBucket * 4) & 0xff;
}

/** The session's next GRE / ERSPAN sequence number (sequence generation, once per packet). */
@inline export function nextSequence(state: usize): u32 {
  const seq = load<u32>(state, SessionState.Sequence);
  store<u32>(state, seq + 1, SessionState.Sequence);
  return seq;
}

/**
 * Writes the encapsulation of `member` (the session's replica or carrier, wasm/abi.ts Member) at
 * `dst` for an inner packet of `innerLen` bytes and returns the header length. `key` is the inner
 * packet's classification key: ERSPAN copies its outer VLAN, the sequenced GRE form takes its
 * family, the WCCP header its bucket. `truncated` sets the ERSPAN T bit; `now` is the ERSPAN III
 * timestamp; `seq` the GRE sequence number (ignored by GRE-WCCP).
 */
export function writeEncap(dst: usize, bank: usize, cfg: usize, member: usize, state: usize, innerLen: u32,
                           truncated: bool, now: i64, key: usize, seq: u32): u32 {
  const len = load<u32>(member, Member.TemplateLen);
  copyBytes(dst, bank + <usize>load<u32>(member, Member.TemplateOff), len);

  // Outer IPv4: length, identification, checksum.
  const ipOff = load<u32>(member, Member.IpOff);
  const ip = dst + ipOff;
  const total = len - ipOff + innerLen;
  const id = load<u32>(state, SessionState.IpId) & 0xffff;
  store<u32>(state, id + 1, SessionState.IpId);
  storeBe16(ip + Ipv4.TotalLen, total);
  storeBe16(ip + Ipv4.Id, id);
  storeBe16(ip + Ipv4.Checksum, foldComplement(<u64>load<u32>(member, Member.IpSum) + <u64>total + <u64>id));

  const gre = dst + load<u32>(member, Member.GreOff);
  const kind = load<u32>(cfg, SessionConfig.Encap);
  if (kind == Encap.GreWccp) {
    const r = gre + WccpRedirect.Offset;
    store<u8>(r + WccpRedirect.Flags, (load<u32>(cfg, SessionConfig.Flags) & SessionFlag.DynamicService) != 0 ? WccpRedirect.DynamicFlag : 0);
    store<u8>(r + WccpRedirect.PrimaryBucket, wccpBucket(key));
    if (load<u32>(cfg, SessionConfig.Mode) != Mode.Redirect) {
      store<u8>(r + WccpRedirect.AltBucket, (outbound(key) ? WccpRedirect.OutboundBit : 0) | (ingressPort(key) & WccpRedirect.PortMask));
    }
    return len;
  }

  if (kind == Encap.GreSeq) {
    storeBe32(gre + GreField.KeyedSequence, seq);
    const v6 = load<u32>(key + Lane.Family * 4) == LaneValue.FamilyIpv6;
    storeBe16(gre + GreField.Protocol, v6 ? EtherType.Ipv6 : EtherType.Ipv4);
    return len;
  }
  storeBe32(gre + GreField.Sequence, seq);

  const e = gre + Erspan.Offset;
  const vid = load<u32>(key + Lane.VlanOuter * 4);
  const tagged = vid != LaneValue.VlanNone;
  const version = kind == Encap.Erspan2 ? Erspan.VersionII : Erspan.VersionIII;
  storeBe16(e + Erspan.VerVlan, (version << 12) | (tagged ? vid : 0));
  let word = be16(e + Erspan.CosEnTSession);
  if (truncated) word |= Erspan.TruncatedBit;
  if (tagged && kind == Encap.Erspan2) word |= Erspan.EncapTagged;
  storeBe16(e + Erspan.CosEnTSession, word);
  if (kind == Encap.Erspan3) {
    storeBe32(e + Erspan.Timestamp, <u32>(now / Erspan.TimestampUnitNs));
    if (outbound(key)) storeBe16(e + Erspan.Flags3, be16(e + Erspan.Flags3) | Erspan.DirectionBit);
  } else {
    storeBe32(e + Erspan.Index, (outbound(key) ? Erspan.IndexOutboundBit : 0) | ingressPort(key));
  }
  return len;
}

@inline function outbound(key: usize): bool {
  return load<u32>(key + Lane.Direction * 4) == LaneValue.DirectionOutbound;
}

@inline function ingressPort(key: usize): u32 {
  return load<u32>(key + Lane.InPort * 4);
}
