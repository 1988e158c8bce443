// Decapsulation of a replica's GRE payload, as a device receiving replicas does it.
//
//  GRE (RFC 2784/2890)  │ C . K S . . . . . . . . Ver │ protocol │ [checksum, reserved1] │ [key] │ [sequence] │
//  WCCP redirect (0x883E) │ flags: 0x01 dynamic, 0x02 alternate bucket used │ service id │ alt bucket │ primary bucket │ IP packet
//  ERSPAN II  (0x88BE, S) │ ver=1 (4) vlan (12) │ cos (3) en (2) t (1) session (10) │ reserved (12) index (20) │ Ethernet frame
//  ERSPAN III (0x22EB, S) │ ver=2 vlan │ cos bso t session │ timestamp (32) │ sgt (16) │ p ft (5) hw (6) d gra (2) o │
//                         │ [platform sub-header, 8 bytes, when o = 1] │ Ethernet frame
//  GRE-seq (0x0800 / 0x86DD) │ IP packet
//
// References: RFC 2784 §2.1 ("A receiver MUST discard a packet where any of bits 1-5 are non-zero,
// unless that receiver implements RFC 1701"; bits 2 and 3 are K and S since RFC 2890),
// draft-wilson-wrec-wccp-v2 §4.12, draft-foschiano-erspan-03 §4.1–4.3.
//
// Contract: the bytes are untrusted; every field is read after one length check and any
// inconsistency is returned as a named reason, never thrown. The result holds offsets into the
// caller's bytes (no copy). ERSPAN type I (0x88BE without a sequence number) and ERSPAN III frame
// types other than Ethernet are not supported (reason `unsupported`).

import { be16, be32, checksumOf, onesSum } from '../../net/bytes.ts';
import { EtherType, Ipv4, Ipv6 } from './packets.ts';

/** The encapsulations a replica arrives in (the router's EncapName values). */
export type ReplicaEncap = 'gre' | 'erspan2' | 'erspan3' | 'gre-seq';

/** GRE header (RFC 2784, RFC 2890). */
export const Gre = {
  Flags: 0,
  Protocol: 2,
  Header: 4,
  OptionBytes: 4,
  ChecksumBit: 0x8000,
  /** RFC 1701 routing-present and strict-source-route bits and the first recursion bit: bits 1, 4, 5. */
  MustBeZero: 0x4000 | 0x0800 | 0x0400,
  KeyBit: 0x2000,
  SequenceBit: 0x1000,
  VersionMask: 0x0007,
} as const;

/** GRE protocol types of replicas. */
export const GreProtocol = {
  Wccp: 0x883e,
  Erspan2: 0x88be,
  Erspan3: 0x22eb,
  Ipv4: EtherType.Ipv4,
  Ipv6: EtherType.Ipv6,
} as const;

/** WCCPv2 redirect header (offsets after the GRE header). */
export const WccpRedirect = {
  Flags: 0,
  ServiceId: 1,
  AltBucket: 2,
  PrimaryBucket: 3,
  Header: 4,
  DynamicFlag: 0x01,
  AltBucketUsedFlag: 0x02,
  /** Replica metadata in the alternate-bucket byte (docs/protocol.md). */
  OutboundBit: 0x80,
  PortMask: 0x7f,
} as const;

/** ERSPAN type II and III headers (offsets after the GRE header). */
export const Erspan = {
  VerVlan: 0,
  CosEnTSession: 2,
  /** Type II: reserved (12) | index (20). Type III: timestamp. */
  Word2: 4,
  SgtIII: 8,
  FlagsIII: 10,
  HeaderII: 8,
  HeaderIII: 12,
  PlatformSubHeader: 8,
  VersionShift: 12,
  VersionII: 1,
  VersionIII: 2,
  VlanMask: 0x0fff,
  TruncatedBit: 0x0400,
  SessionMask: 0x03ff,
  IndexMask: 0x000fffff,
  /** Type III last word: p(1) ft(5) hw(6) d(1) gra(2) o(1). */
  FrameTypeShift: 10,
  FrameTypeMask: 0x1f,
  FrameTypeEthernet: 0,
  OptionalBit: 0x0001,
  DirectionBitIII: 0x0008,
  /** Replica metadata in the type II index (docs/protocol.md). */
  IndexOutboundBit: 0x00080000,
  IndexPortMask: 0x0007ffff,
} as const;

/** A decapsulated replica: what it carried and where it is in the caller's bytes. */
export interface Decapsulated {
  readonly ok: true;
  readonly encap: ReplicaEncap;
  readonly greProtocol: number;
  /** The inner packet: b[innerStart, innerEnd). An IP packet (gre, gre-seq) or an Ethernet frame (ERSPAN). */
  readonly innerStart: number;
  readonly innerEnd: number;
  /** GRE sequence number, when present. */
  readonly sequence?: number;
  /** GRE key, when present (the stream id of a tagged dup stream). */
  readonly key?: number;
  /**
   * Replica metadata (docs/protocol.md): the side of the router the original came from (true:
   * it entered on an inside port) and its ingress port, where the encapsulation carries them.
   */
  readonly outbound?: boolean;
  readonly ingressPort?: number;
  /** ERSPAN session id. */
  readonly sessionId?: number;
  /** ERSPAN: the VLAN the header reports (0 = none). */
  readonly vlan?: number;
  /** WCCP redirect header fields. */
  readonly serviceId?: number;
  readonly wccpFlags?: number;
  /** ERSPAN: the T bit. GRE forms: the inner IP packet is shorter than its own length field says. */
  readonly truncated: boolean;
}

/** Why a GRE packet could not be decapsulated. */
export type DecapFailure =
  | 'short' // a header does not fit
  | 'gre-version' // GRE version is not 0
  | 'gre-reserved' // an RFC 1701 bit (routing, strict route, recursion) is set
  | 'gre-checksum' // the GRE checksum is present and wrong
  | 'erspan-version' // the ERSPAN version does not match the GRE protocol type
  | 'inner-version' // an inner IP packet whose version does not match the protocol type
  | 'empty' // nothing inside
  | 'unsupported'; // another GRE protocol, ERSPAN type I, ERSPAN III non-Ethernet frame type

/** Decapsulates the GRE packet b[start, end); a failure names its reason. */
export function decapsulateGre(b: Uint8Array, start: number, end: number): Decapsulated | { readonly ok: false; readonly reason: DecapFailure } {
  const fail = (reason: DecapFailure) => ({ ok: false as const, reason });
  if (end - start < Gre.Header) return fail('short');
  const flags = be16(b, start + Gre.Flags);
  const proto = be16(b, start + Gre.Protocol);
  if ((flags & Gre.VersionMask) !== 0) return fail('gre-version');
  if ((flags & Gre.MustBeZero) !== 0) return fail('gre-reserved');
  let at = start + Gre.Header;
  const hasChecksum = (flags & Gre.ChecksumBit) !== 0;
  if (hasChecksum) at += Gre.OptionBytes;
  let key: number | undefined;
  if ((flags & Gre.KeyBit) !== 0) {
    if (at + Gre.OptionBytes > end) return fail('short');
    key = be32(b, at);
    at += Gre.OptionBytes;
  }
  let sequence: number | undefined;
  if ((flags & Gre.SequenceBit) !== 0) {
    if (at + Gre.OptionBytes > end) return fail('short');
    sequence = be32(b, at);
    at += Gre.OptionBytes;
  }
  if (at > end) return fail('short');
  if (hasChecksum && checksumOf(onesSum(b, start, end)) !== 0) return fail('gre-checksum');

  switch (proto) {
    case GreProtocol.Wccp: {
      if (at + WccpRedirect.Header > end) return fail('short');
      const inner = at + WccpRedirect.Header;
      const t = ipTruncated(b, inner, end, 0);
      if (t === null) return fail(inner >= end ? 'empty' : 'inner-version');
      const flagsByte = b[at + WccpRedirect.Flags];
      const alt = b[at + WccpRedirect.AltBucket];
      // The alternate-bucket byte carries replica metadata while the A flag is clear.
      const meta = (flagsByte & WccpRedirect.AltBucketUsedFlag) === 0 ? { outbound: (alt & WccpRedirect.OutboundBit) !== 0, ingressPort: alt & WccpRedirect.PortMask } : {};
      return {
        ok: true, encap: 'gre', greProtocol: proto, innerStart: inner, innerEnd: end, sequence, truncated: t,
        serviceId: b[at + WccpRedirect.ServiceId], wccpFlags: flagsByte, ...meta,
      };
    }
    case GreProtocol.Ipv4:
    case GreProtocol.Ipv6: {
      const t = ipTruncated(b, at, end, proto === GreProtocol.Ipv4 ? Ipv4.Version : Ipv6.Version);
      if (t === null) return fail(at >= end ? 'empty' : 'inner-version');
      return { ok: true, encap: 'gre-seq', greProtocol: proto, innerStart: at, innerEnd: end, sequence, key, truncated: t };
    }
    case GreProtocol.Erspan2:
    case GreProtocol.Erspan3: {
      if (sequence === undefined) return fail('unsupported');
      const three = proto === GreProtocol.Erspan3;
      const header = three ? Erspan.HeaderIII : Erspan.HeaderII;
      if (at + header > end) return fail('short');
      const verVlan = be16(b, at + Erspan.VerVlan);
      if (verVlan >> Erspan.VersionShift !== (three ? Erspan.VersionIII : Erspan.VersionII)) return fail('erspan-version');
      const word = be16(b, at + Erspan.CosEnTSession);
      let inner = at + header;
      if (three) {
        const last = be16(b, at + Erspan.FlagsIII);
        if (((last >> Erspan.FrameTypeShift) & Erspan.FrameTypeMask) !== Erspan.FrameTypeEthernet) return fail('unsupported');
        if ((last & Erspan.OptionalBit) !== 0) inner += Erspan.PlatformSubHeader;
        if (inner > end) return fail('short');
      }
      if (inner >= end) return fail('empty');
      const meta = three
        ? { outbound: (be16(b, at + Erspan.FlagsIII) & Erspan.DirectionBitIII) !== 0 }
        : { outbound: (be32(b, at + Erspan.Word2) & Erspan.IndexOutboundBit) !== 0, ingressPort: be32(b, at + Erspan.Word2) & Erspan.IndexPortMask };
      return {
        ok: true, encap: three ? 'erspan3' : 'erspan2', greProtocol: proto, innerStart: inner, innerEnd: end, sequence,
        sessionId: word & Erspan.SessionMask, vlan: verVlan & Erspan.VlanMask, truncated: (word & Erspan.TruncatedBit) !== 0, ...meta,
      };
    }
    default:
      return fail('unsupported');
  }
}

const VERSION_SHIFT = 4;
const U16_BYTES = 2;

/**
 * Whether the IP packet b[at, end) is shorter than its own length field says; null when there is no
 * packet or its version is wrong (`version` 0: either 4 or 6). A header cut short counts as truncated.
 */
function ipTruncated(b: Uint8Array, at: number, end: number, version: number): boolean | null {
  if (at >= end) return null;
  const v = b[at] >> VERSION_SHIFT;
  if (version !== 0 ? v !== version : v !== Ipv4.Version && v !== Ipv6.Version) return null;
  if (v === Ipv4.Version) {
    if (end - at < Ipv4.TotalLen + U16_BYTES) return true;
    return be16(b, at + Ipv4.TotalLen) > end - at;
  }
  if (end - at < Ipv6.PayloadLen + U16_BYTES) return true;
  return Ipv6.Header + be16(b, at + Ipv6.PayloadLen) > end - at;
}
