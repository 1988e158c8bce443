// The outer IPv4 header of the GRE packets `twinflow peer` originates — the dup relay
// (dup-wire.ts) and the redirect cache's packet return (redirect-wire.ts) — which go out through
// the addon's raw IPv4 sender with the header included:
//
//   │ 0x45 │ tos 0 │ total │ ID 0 │ DF │ ttl │ proto 47 │ checksum │ src │ dst │ = 20 bytes, no options
//
// Contract: the caller has checked that out[at, at + IPV4_HEADER) exists and that `total` (the
// whole packet, this header included) is at most IPV4_MAX; the header is written whole, with a
// real checksum (the kernel recomputes it for a header-included packet, but the bytes are then
// valid on their own, e.g. in a test's capture). Nothing is allocated.

import { checksumOf, onesSum, put16, put32 } from '../../hal/net/bytes.ts';

/** IPv4 header without options (ours never has any). */
export const IPV4_HEADER = 20;
/** "The Total Length field … allows the length of a datagram to be up to 65,535 octets" (RFC 791). */
export const IPV4_MAX = 0xffff;
const VERSION_4_IHL_5 = 0x45;
const IPPROTO_GRE = 47;
const FLAG_DF = 0x4000;
const CHECKSUM_AT = 10;

/** Writes the outer header of a GRE packet of `total` bytes from `source` to `destination` (u32s) into out[at..]. */
export function writeOuterIpv4(out: Uint8Array, at: number, total: number, ttl: number, source: number, destination: number): void {
  out[at] = VERSION_4_IHL_5;
  out[at + 1] = 0;
  put16(out, at + 2, total);
  put16(out, at + 4, 0); // the kernel picks an ID for a header-included packet with ID 0
  put16(out, at + 6, FLAG_DF);
  out[at + 8] = ttl;
  out[at + 9] = IPPROTO_GRE;
  put16(out, at + CHECKSUM_AT, 0);
  put32(out, at + 12, source);
  put32(out, at + 16, destination);
  put16(out, at + CHECKSUM_AT, checksumOf(onesSum(out, at, at + IPV4_HEADER)));
}
