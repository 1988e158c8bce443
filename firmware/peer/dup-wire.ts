// What the dup peer (dup.ts) puts on the wire, as pure functions over byte arrays:
//
//   relay (tagged dup)     member 2 re-encapsulated to the far end, key and sequence kept:
//                          │ IPv4 src=this peer dst=far end proto 47 DF │ GRE 0x3000 proto key seq │ inner │
//   forward (untagged dup) the inner IPv4 packet itself, as a router forwards it: TTL − 1, the
//                          header checksum updated incrementally (RFC 1624, eqn. 3)
//
// Contract: the inner packet is untrusted; every function either writes a whole, valid packet
// into `out` at `at` and returns its length, or returns a DupWireRefusal naming why not. Nothing
// is allocated. The relay's outer IPv4 header (outer-ipv4.ts) gets a real checksum (the kernel
// recomputes it for a header-included packet anyway, but the bytes are then valid on their own).

import { be16, checksumOf, put16, put32 } from '../../hal/net/bytes.ts';
import { IPV4_HEADER, IPV4_MAX, writeOuterIpv4 } from './outer-ipv4.ts';

/** Why a packet was not handed on (the dup peer counts each under its name). */
export type DupWireRefusal = 'not_ipv4' | 'ttl_expired' | 'too_large' | 'not_ip';

/** GRE with key and sequence number (RFC 2890): flags/protocol, key, sequence. */
export const GRE_KEY_SEQ_HEADER = 12;
/** What the relay adds in front of the inner packet. */
export const RELAY_OVERHEAD = IPV4_HEADER + GRE_KEY_SEQ_HEADER;
const GRE_FLAGS_KEY_SEQ = 0x3000;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** The relayed packet starts a new hop count: Linux's default for locally sent packets. */
export const RELAY_TTL = 64;

export interface RelayHeader {
  /** This peer's address towards the far end (u32). */
  readonly source: number;
  /** The far end (u32). */
  readonly farEnd: number;
  /** The GRE key (the session's stream id) and sequence number, as received. */
  readonly key: number;
  readonly sequence: number;
}

/** Writes member 2 for the far end into out[at..]: outer IPv4, GRE (key, sequence), `inner` (IPv4 or IPv6). */
export function relayPacket(out: Uint8Array, at: number, h: RelayHeader, inner: Uint8Array): number | DupWireRefusal {
  const version = inner.length > 0 ? inner[0] >> 4 : 0;
  if (version !== 4 && version !== 6) return 'not_ip';
  const total = RELAY_OVERHEAD + inner.length;
  if (total > IPV4_MAX || at + total > out.length) return 'too_large';
  writeOuterIpv4(out, at, total, RELAY_TTL, h.source, h.farEnd);
  const gre = at + IPV4_HEADER;
  put16(out, gre, GRE_FLAGS_KEY_SEQ);
  put16(out, gre + 2, version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  put32(out, gre + 4, h.key);
  put32(out, gre + 8, h.sequence);
  out.set(inner, at + RELAY_OVERHEAD);
  return total;
}

/**
 * Writes the inner IPv4 packet into out[at..] as a router forwards it: TTL decremented, header
 * checksum updated. Refuses what is not a whole IPv4 packet and a TTL that would reach 0
 * ("If the time to live reaches zero, the datagram must be destroyed", RFC 791).
 */
export function forwardPacket(out: Uint8Array, at: number, inner: Uint8Array): number | DupWireRefusal {
  if (inner.length < IPV4_HEADER || inner[0] >> 4 !== 4) return 'not_ipv4';
  const ihl = (inner[0] & 0x0f) * 4;
  const total = (inner[2] << 8) | inner[3];
  if (ihl < IPV4_HEADER || total < ihl || total > inner.length) return 'not_ipv4';
  if (inner[8] <= 1) return 'ttl_expired';
  if (at + total > out.length) return 'too_large';
  out.set(inner.subarray(0, total), at);
  // HC' = ~(~HC + ~m + m') with m the TTL/protocol word: the TTL byte drops by one.
  const before = be16(inner, 8);
  const after = before - 0x100;
  out[at + 8] = inner[8] - 1;
  put16(out, at + 10, checksumOf((~be16(inner, 10) & 0xffff) + (~before & 0xffff) + after));
  return total;
}
