// Frames of the simulated hosts: build Ethernet [+ one 802.1Q tag] + IPv4 or IPv6 + TCP or UDP
// with every length and checksum right (RFC 791, 8200, 9293, 768, 1071), and parse back the few
// fields the hosts and the collector need.
//
//  Ethernet  │ dst 0 │ src 6 │ type 12 │ (802.1Q: TPID 12 = 0x8100 │ TCI 14 │ type 16) │ IP …
//  IPv4      │ ver/ihl 0 │ tos 1 │ total 2 │ id 4 │ flags/frag 6 │ ttl 8 │ proto 9 │ csum 10 │ src 12 │ dst 16 │ = 20
//  IPv6      │ ver/tc/flow 0 │ payload len 4 │ next 6 │ hop limit 7 │ src 8 │ dst 24 │ = 40
//  TCP       │ sport 0 │ dport 2 │ seq 4 │ ack 8 │ off 12 │ flags 13 │ win 14 │ csum 16 │ urg 18 │ = 20 (+ options)
//  UDP       │ sport 0 │ dport 2 │ length 4 │ csum 6 │ = 8
//
// Contract. Building trusts its spec (the hosts built it from validated config): addresses of one
// family, ports and numbers in range; frames shorter than the Ethernet minimum are zero-padded to
// 60 bytes as a NIC would. Parsing trusts nothing: every length is checked before it is used and
// an inconsistent frame parses to null; views are offsets into the caller's bytes (no copies),
// valid as long as those bytes are. IPv6 extension headers are not walked (the simulated hosts
// never send them): the fixed header's Next Header is taken as the transport protocol.

import { IPV4_BYTES, IPV6_BYTES } from '../../net/address.ts';
import { be16, be32, checksumOf, onesSum, put16, put32 } from '../../net/bytes.ts';

/** Ethernet II header (offsets from the frame start). */
export const Eth = {
  Dst: 0,
  Src: 6,
  Type: 12,
  Header: 14,
  /** Shortest frame without FCS (IEEE 802.3 minimum 64 with the 4-byte FCS). */
  MinFrame: 60,
} as const;

/** 802.1Q tag, inserted at Eth.Type (offsets from the frame start when tagged). */
export const Vlan = {
  Tci: 14,
  InnerType: 16,
  Tag: 4,
  VidMask: 0x0fff,
  MinVid: 1,
  MaxVid: 4094,
} as const;

/** EtherTypes the hosts send and recognise. */
export const EtherType = {
  Ipv4: 0x0800,
  Ipv6: 0x86dd,
  Vlan: 0x8100,
} as const;

/** IPv4 header (RFC 791), offsets from the IP header start. */
export const Ipv4 = {
  VerIhl: 0,
  Tos: 1,
  TotalLen: 2,
  Id: 4,
  FlagsFrag: 6,
  Ttl: 8,
  Proto: 9,
  Checksum: 10,
  Src: 12,
  Dst: 16,
  Header: 20,
  Version: 4,
  IhlMask: 0x0f,
  /** IHL counts 32-bit words. */
  IhlUnit: 4,
  DontFragment: 0x4000,
  MoreFragments: 0x2000,
  FragOffsetMask: 0x1fff,
} as const;

/** IPv6 fixed header (RFC 8200), offsets from the IP header start. */
export const Ipv6 = {
  VerClassFlow: 0,
  PayloadLen: 4,
  NextHeader: 6,
  HopLimit: 7,
  Src: 8,
  Dst: 24,
  Header: 40,
  Version: 6,
} as const;

/** TCP header (RFC 9293), offsets from the TCP header start. */
export const Tcp = {
  SrcPort: 0,
  DstPort: 2,
  Seq: 4,
  Ack: 8,
  DataOffset: 12,
  Flags: 13,
  Window: 14,
  Checksum: 16,
  Urgent: 18,
  Header: 20,
  /** Data offset counts 32-bit words, in the high nibble. */
  OffsetUnit: 4,
  /** An option: kind, length (of the whole option), value; offsets from the option's start. */
  OptionKind: 0,
  OptionLength: 1,
  OptionValue: 2,
  OptionKindMss: 2,
  OptionLenMss: 4,
} as const;

/** TCP control bits (the byte at Tcp.Flags). */
export const TcpFlag = {
  Fin: 0x01,
  Syn: 0x02,
  Rst: 0x04,
  Psh: 0x08,
  Ack: 0x10,
} as const;

/** UDP header (RFC 768), offsets from the UDP header start. */
export const Udp = {
  SrcPort: 0,
  DstPort: 2,
  Length: 4,
  Checksum: 6,
  Header: 8,
} as const;

/** ICMP and ICMPv6 echo (RFC 792, RFC 4443), offsets from the ICMP header start. */
export const Icmp = {
  Type: 0,
  Code: 1,
  Checksum: 2,
  Id: 4,
  Seq: 6,
  Header: 8,
  EchoRequestV4: 8,
  EchoRequestV6: 128,
} as const;

/** IP protocol numbers (IANA). */
export const IpProto = {
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
  Gre: 47,
  Icmpv6: 58,
} as const;

/** IP version, IPv4 IHL and TCP data offset are 4-bit fields: high nibble of their byte. */
const NIBBLE_SHIFT = 4;
const IPV6_VERSION_SHIFT = 28;
const DEFAULT_TTL = 64;
const DEFAULT_WINDOW = 65535;
const WORD_MODULUS = 0x10000;
/** RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none", IPv4 only). */
const UDP_ZERO_CHECKSUM = 0xffff;

// ── checksums (RFC 1071; the sum itself is hal/net/bytes.ts) ────────────────────────────────

/** Sum of the pseudo-header of a transport checksum (RFC 768 / 9293 for IPv4, RFC 8200 §8.1 for IPv6). */
export function pseudoHeaderSum(b: Uint8Array, srcAt: number, dstAt: number, addrLen: number, proto: number, length: number): number {
  let s = onesSum(b, srcAt, srcAt + addrLen);
  s = onesSum(b, dstAt, dstAt + addrLen, s);
  return s + proto + (length % WORD_MODULUS) + Math.floor(length / WORD_MODULUS);
}

// ── building ────────────────────────────────────────────────────────────────────────────────

/** The TCP header of a frame to build (data offset, checksum and urgent pointer are derived). */
export interface TcpSpec {
  readonly proto: 'tcp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** TcpFlag bits. */
  readonly flags: number;
  readonly window?: number;
  /** Adds a maximum-segment-size option (SYN and SYN-ACK). */
  readonly mss?: number;
}

/** The UDP header of a frame to build (length and checksum are derived). */
export interface UdpSpec {
  readonly proto: 'udp';
  readonly srcPort: number;
  readonly dstPort: number;
}

/** An ICMP (IPv4) or ICMPv6 (IPv6) message; default: echo request. */
export interface IcmpSpec {
  readonly proto: 'icmp';
  readonly type?: number;
  readonly code?: number;
  readonly id?: number;
  readonly seq?: number;
}

/** One frame to build. */
export interface FrameSpec {
  readonly srcMac: Uint8Array;
  readonly dstMac: Uint8Array;
  /** 802.1Q VLAN id (1..4094): the frame is tagged, priority 0. */
  readonly vlan?: number;
  /** Source and destination addresses, both 4 bytes (IPv4) or both 16 (IPv6). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** IPv4 identification (default 0). */
  readonly ipId?: number;
  /** TTL / hop limit (default 64). */
  readonly ttl?: number;
  readonly l4: TcpSpec | UdpSpec | IcmpSpec;
  readonly payload?: Uint8Array;
}

/** Bytes of the transport header a spec produces. */
function l4HeaderLength(l4: TcpSpec | UdpSpec | IcmpSpec): number {
  if (l4.proto === 'udp') return Udp.Header;
  if (l4.proto === 'icmp') return Icmp.Header;
  return Tcp.Header + (l4.mss !== undefined ? Tcp.OptionLenMss : 0);
}

/** Builds a frame: headers, payload, lengths and checksums, padded to the Ethernet minimum. */
export function buildFrame(spec: FrameSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const v6 = spec.src.length === IPV6_BYTES;
  const addrLen = spec.src.length;
  const l3 = spec.vlan !== undefined ? Eth.Header + Vlan.Tag : Eth.Header;
  const ipHeader = v6 ? Ipv6.Header : Ipv4.Header;
  const l4 = l3 + ipHeader;
  const l4Header = l4HeaderLength(spec.l4);
  const l4Len = l4Header + payload.length;
  const end = l4 + l4Len;
  const b = new Uint8Array(Math.max(end, Eth.MinFrame));

  b.set(spec.dstMac, Eth.Dst);
  b.set(spec.srcMac, Eth.Src);
  const ipType = v6 ? EtherType.Ipv6 : EtherType.Ipv4;
  if (spec.vlan !== undefined) {
    put16(b, Eth.Type, EtherType.Vlan);
    put16(b, Vlan.Tci, spec.vlan & Vlan.VidMask);
    put16(b, Vlan.InnerType, ipType);
  } else {
    put16(b, Eth.Type, ipType);
  }

  const proto = spec.l4.proto === 'tcp' ? IpProto.Tcp : spec.l4.proto === 'udp' ? IpProto.Udp : v6 ? IpProto.Icmpv6 : IpProto.Icmp;
  const ttl = spec.ttl ?? DEFAULT_TTL;
  let srcAt: number;
  let dstAt: number;
  if (v6) {
    put32(b, l3 + Ipv6.VerClassFlow, (Ipv6.Version << IPV6_VERSION_SHIFT) >>> 0);
    put16(b, l3 + Ipv6.PayloadLen, l4Len);
    b[l3 + Ipv6.NextHeader] = proto;
    b[l3 + Ipv6.HopLimit] = ttl;
    srcAt = l3 + Ipv6.Src;
    dstAt = l3 + Ipv6.Dst;
  } else {
    b[l3 + Ipv4.VerIhl] = (Ipv4.Version << NIBBLE_SHIFT) | (Ipv4.Header / Ipv4.IhlUnit);
    put16(b, l3 + Ipv4.TotalLen, Ipv4.Header + l4Len);
    put16(b, l3 + Ipv4.Id, spec.ipId ?? 0);
    put16(b, l3 + Ipv4.FlagsFrag, Ipv4.DontFragment);
    b[l3 + Ipv4.Ttl] = ttl;
    b[l3 + Ipv4.Proto] = proto;
    srcAt = l3 + Ipv4.Src;
    dstAt = l3 + Ipv4.Dst;
  }
  b.set(spec.src, srcAt);
  b.set(spec.dst, dstAt);
  if (!v6) put16(b, l3 + Ipv4.Checksum, checksumOf(onesSum(b, l3, l3 + Ipv4.Header)));

  const t = spec.l4;
  if (t.proto === 'icmp') {
    b[l4 + Icmp.Type] = t.type ?? (v6 ? Icmp.EchoRequestV6 : Icmp.EchoRequestV4);
    b[l4 + Icmp.Code] = t.code ?? 0;
    put16(b, l4 + Icmp.Id, t.id ?? 0);
    put16(b, l4 + Icmp.Seq, t.seq ?? 0);
    b.set(payload, l4 + Icmp.Header);
    // ICMPv6 covers a pseudo-header (RFC 4443 §2.3); ICMP for IPv4 covers the message only.
    const base = v6 ? pseudoHeaderSum(b, srcAt, dstAt, addrLen, proto, l4Len) : 0;
    put16(b, l4 + Icmp.Checksum, checksumOf(onesSum(b, l4, end, base)));
    return b;
  }
  put16(b, l4 + Tcp.SrcPort, t.srcPort);
  put16(b, l4 + Tcp.DstPort, t.dstPort);
  b.set(payload, l4 + l4Header);
  const pseudo = pseudoHeaderSum(b, srcAt, dstAt, addrLen, proto, l4Len);
  if (t.proto === 'tcp') {
    put32(b, l4 + Tcp.Seq, t.seq >>> 0);
    put32(b, l4 + Tcp.Ack, t.ack >>> 0);
    b[l4 + Tcp.DataOffset] = (l4Header / Tcp.OffsetUnit) << NIBBLE_SHIFT;
    b[l4 + Tcp.Flags] = t.flags;
    put16(b, l4 + Tcp.Window, t.window ?? DEFAULT_WINDOW);
    if (t.mss !== undefined) {
      const opt = l4 + Tcp.Header;
      b[opt + Tcp.OptionKind] = Tcp.OptionKindMss;
      b[opt + Tcp.OptionLength] = Tcp.OptionLenMss;
      put16(b, opt + Tcp.OptionValue, t.mss);
    }
    put16(b, l4 + Tcp.Checksum, checksumOf(onesSum(b, l4, end, pseudo)));
  } else {
    put16(b, l4 + Udp.Length, l4Len);
    put16(b, l4 + Udp.Checksum, checksumOf(onesSum(b, l4, end, pseudo)) || UDP_ZERO_CHECKSUM);
  }
  return b;
}

// ── parsing ─────────────────────────────────────────────────────────────────────────────────

/** An Ethernet frame's link layer. */
export interface LinkView {
  /** VLAN id of the 802.1Q tag, or null when untagged. */
  readonly vlan: number | null;
  /** EtherType after the tag (a second tag shows here as 0x8100). */
  readonly etherType: number;
  /** Offset of the network header. */
  readonly l3: number;
}

/** An IPv4 or IPv6 packet inside a frame. */
export interface IpView extends LinkView {
  readonly family: 4 | 6;
  /** 4 or 16. */
  readonly addrLen: number;
  /** Offsets of the source and destination addresses in the frame. */
  readonly srcAt: number;
  readonly dstAt: number;
  /** Transport protocol (IPv4 protocol, IPv6 fixed-header Next Header). */
  readonly proto: number;
  /** Offset and length of what follows the IP header, per the IP length fields (no padding). */
  readonly l4: number;
  readonly l4Len: number;
  /** Offset one past the IP packet's last byte. */
  readonly ipEnd: number;
  /** IPv4 fragment (MF set or offset non-zero); always false for IPv6. */
  readonly fragment: boolean;
  /** IPv4 header checksum right (always true for IPv6, which has none). */
  readonly ipChecksumOk: boolean;
}

/** A TCP segment or UDP datagram inside a frame. */
export interface SegmentView extends IpView {
  readonly srcPort: number;
  readonly dstPort: number;
  /** TCP only (0 for UDP). */
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  /** Offset and length of the transport payload. */
  readonly payload: number;
  readonly payloadLen: number;
  /** Both the IPv4 header checksum and the transport checksum are right. */
  readonly checksumOk: boolean;
}

/** Parses the link layer; null when the frame is shorter than its Ethernet (and tag) header. */
export function parseLink(frame: Uint8Array): LinkView | null {
  if (frame.length < Eth.Header) return null;
  const type = be16(frame, Eth.Type);
  if (type !== EtherType.Vlan) return { vlan: null, etherType: type, l3: Eth.Header };
  if (frame.length < Eth.Header + Vlan.Tag) return null;
  return { vlan: be16(frame, Vlan.Tci) & Vlan.VidMask, etherType: be16(frame, Vlan.InnerType), l3: Eth.Header + Vlan.Tag };
}

/** Parses through the IP header; null when not IPv4/IPv6 or a length field is inconsistent. */
export function parseIp(frame: Uint8Array): IpView | null {
  const link = parseLink(frame);
  if (link === null) return null;
  const l3 = link.l3;
  if (link.etherType === EtherType.Ipv4) {
    if (frame.length < l3 + Ipv4.Header) return null;
    const verIhl = frame[l3 + Ipv4.VerIhl];
    const ihl = (verIhl & Ipv4.IhlMask) * Ipv4.IhlUnit;
    const total = be16(frame, l3 + Ipv4.TotalLen);
    if (verIhl >> NIBBLE_SHIFT !== Ipv4.Version || ihl < Ipv4.Header || total < ihl || l3 + total > frame.length) return null;
    const ff = be16(frame, l3 + Ipv4.FlagsFrag);
    return {
      ...link,
      family: 4,
      addrLen: IPV4_BYTES,
      srcAt: l3 + Ipv4.Src,
      dstAt: l3 + Ipv4.Dst,
      proto: frame[l3 + Ipv4.Proto],
      l4: l3 + ihl,
      l4Len: total - ihl,
      ipEnd: l3 + total,
      fragment: (ff & (Ipv4.MoreFragments | Ipv4.FragOffsetMask)) !== 0,
      ipChecksumOk: checksumOf(onesSum(frame, l3, l3 + ihl)) === 0,
    };
  }
  if (link.etherType === EtherType.Ipv6) {
    if (frame.length < l3 + Ipv6.Header) return null;
    if (frame[l3 + Ipv6.VerClassFlow] >> NIBBLE_SHIFT !== Ipv6.Version) return null;
    const payloadLen = be16(frame, l3 + Ipv6.PayloadLen);
    if (l3 + Ipv6.Header + payloadLen > frame.length) return null;
    return {
      ...link,
      family: 6,
      addrLen: IPV6_BYTES,
      srcAt: l3 + Ipv6.Src,
      dstAt: l3 + Ipv6.Dst,
      proto: frame[l3 + Ipv6.NextHeader],
      l4: l3 + Ipv6.Header,
      l4Len: payloadLen,
      ipEnd: l3 + Ipv6.Header + payloadLen,
      fragment: false,
      ipChecksumOk: true,
    };
  }
  return null;
}

/**
 * Parses a TCP segment or UDP datagram; null when the frame is not one (not IP, another protocol,
 * a fragment, a transport length that does not fit the IP packet). Checksums are verified but a
 * wrong one does not make the result null: see `checksumOk`.
 */
export function parseSegment(frame: Uint8Array): SegmentView | null {
  const ip = parseIp(frame);
  if (ip === null || ip.fragment) return null;
  const t = ip.l4;
  let header: number;
  let seq = 0;
  let ack = 0;
  let flags = 0;
  let window = 0;
  let csumOk: boolean;
  const pseudo = (): number => pseudoHeaderSum(frame, ip.srcAt, ip.dstAt, ip.addrLen, ip.proto, ip.l4Len);
  if (ip.proto === IpProto.Tcp) {
    if (ip.l4Len < Tcp.Header) return null;
    header = (frame[t + Tcp.DataOffset] >> NIBBLE_SHIFT) * Tcp.OffsetUnit;
    if (header < Tcp.Header || header > ip.l4Len) return null;
    seq = be32(frame, t + Tcp.Seq);
    ack = be32(frame, t + Tcp.Ack);
    flags = frame[t + Tcp.Flags];
    window = be16(frame, t + Tcp.Window);
    csumOk = checksumOf(onesSum(frame, t, ip.ipEnd, pseudo())) === 0;
  } else if (ip.proto === IpProto.Udp) {
    if (ip.l4Len < Udp.Header) return null;
    const udpLen = be16(frame, t + Udp.Length);
    if (udpLen !== ip.l4Len) return null;
    header = Udp.Header;
    const stored = be16(frame, t + Udp.Checksum);
    // RFC 768: zero means "no checksum" over IPv4; RFC 8200 §8.1 makes it mandatory over IPv6.
    csumOk = stored === 0 ? ip.family === 4 : checksumOf(onesSum(frame, t, ip.ipEnd, pseudo())) === 0;
  } else {
    return null;
  }
  return {
    ...ip,
    srcPort: be16(frame, t + Tcp.SrcPort),
    dstPort: be16(frame, t + Tcp.DstPort),
    seq,
    ack,
    flags,
    window,
    payload: t + header,
    payloadLen: ip.l4Len - header,
    checksumOk: csumOk && ip.ipChecksumOk,
  };
}
