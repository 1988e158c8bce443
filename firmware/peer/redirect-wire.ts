// What the transparent cache (redirect.ts) puts on the wire, as pure functions over byte arrays:
// WCCPv2 packet return by GRE. A cache hands a diverted packet it will not serve back to the
// router that diverted it, encapsulated in GRE 0x883E and carrying the original redirect header
// (the draft's GRE return method; reference/wccp2.md §2), so the router can forward it on as if it
// had never been intercepted:
//
//   │ IPv4 src=cache dst=router proto 47 DF │ GRE 0x0000 0x883E │ WCCP redirect header, as received │ inner │
//
// The outer source is the cache's registered address (the router knows its caches by it), the
// destination the router the packet came from; the GRE header has no flags (no checksum, key or
// sequence), protocol 0x883E, then the 4-byte redirect header the router wrote (flags, service,
// alternate and primary bucket) and the inner IPv4 packet, both byte for byte.
//
// Contract: the inner packet is untrusted; every function either writes a whole, valid packet
// into `out` at `at` and returns its length, or returns a refusal naming why not. Nothing is
// allocated. The outer IPv4 header (outer-ipv4.ts) gets a real checksum (the kernel recomputes it
// for a header-included packet, but the bytes are then valid on their own, e.g. in a test's capture).

import { put16 } from '../../hal/net/bytes.ts';
import { IPV4_HEADER, IPV4_MAX, writeOuterIpv4 } from './outer-ipv4.ts';

/** GRE without options (RFC 2784): flags and version, protocol. */
export const GRE_HEADER = 4;
/** The WCCPv2 redirect header after GRE (draft-wilson-wrec-wccp-v2 §4.12). */
export const WCCP_REDIRECT_HEADER = 4;
/** What the return adds in front of the inner packet. */
export const RETURN_OVERHEAD = IPV4_HEADER + GRE_HEADER + WCCP_REDIRECT_HEADER;
/** GRE protocol type of WCCP redirected (and returned) packets. */
export const GRE_PROTOCOL_WCCP = 0x883e;
/** A locally originated packet's hop count: Linux's default. */
export const RETURN_TTL = 64;

/** Why a packet was not returned (the cache counts each under its name). */
export type ReturnRefusal = 'too_large' | 'bad_header';

/** Whether `inner` is a whole IPv4 packet (a version-4 header, and every byte its length names). */
export function wholeIpv4(inner: Uint8Array): boolean {
  if (inner.length < IPV4_HEADER || inner[0] >> 4 !== 4) return false;
  const ihl = (inner[0] & 0x0f) * 4;
  const total = (inner[2] << 8) | inner[3];
  return ihl >= IPV4_HEADER && total >= ihl && total <= inner.length;
}

export interface ReturnHeader {
  /** The cache's registered address (u32): the outer source. */
  readonly cache: number;
  /** The router that diverted the packet (u32): the outer destination. */
  readonly router: number;
  /** The 4-byte WCCP redirect header as the router sent it. */
  readonly redirectHeader: Uint8Array;
}

/** Writes the GRE return of `inner` into out[at..]; returns its length or why not. */
export function returnPacket(out: Uint8Array, at: number, h: ReturnHeader, inner: Uint8Array): number | ReturnRefusal {
  if (h.redirectHeader.length !== WCCP_REDIRECT_HEADER) return 'bad_header';
  const total = RETURN_OVERHEAD + inner.length;
  if (total > IPV4_MAX || at + total > out.length) return 'too_large';
  writeOuterIpv4(out, at, total, RETURN_TTL, h.cache, h.router);
  const gre = at + IPV4_HEADER;
  put16(out, gre, 0);
  put16(out, gre + 2, GRE_PROTOCOL_WCCP);
  out.set(h.redirectHeader, gre + GRE_HEADER);
  out.set(inner, at + RETURN_OVERHEAD);
  return total;
}
