// A block of simulated hosts: host i has MAC base + i, IPv4 address first + i and, when the block
// has IPv6, IPv6 address first6 + i. Addresses are precomputed as bytes (frames are built from
// them) and looked up from a received frame without allocation.
//
// Contract: the block's parameters were validated by config.ts (count ≤ MAX_HOSTS, no carry out of
// the varying bytes); lookups read frame bytes at offsets the caller's parse has checked.

import { IPV4_BYTES, IPV6_BYTES, MAC_BYTES, bytesEqual, ipv4Bytes, ipv6Low32, ipv6Plus, macPlus } from '../../net/address.ts';
import { be32 } from '../../net/bytes.ts';

/** Most hosts in one group: a /16 worth; every host's addresses are kept as bytes. */
export const MAX_HOSTS = 65536;

/** Bytes of an IPv6 address above the low 32 bits that number the hosts. */
const IPV6_FIXED = IPV6_BYTES - IPV4_BYTES;

/** The addresses of a group of hosts, and lookups from frame bytes back to a host. */
export class HostBlock {
  readonly macs: readonly Uint8Array[];
  readonly ipv4: readonly Uint8Array[];
  /** Empty when the block has no IPv6 addresses. */
  readonly ipv6: readonly Uint8Array[];
  private readonly first6: Uint8Array | null;
  private readonly first6Low: number;

  constructor(readonly count: number, readonly firstIpv4: number, baseMac: Uint8Array, firstIpv6: Uint8Array | null) {
    const idx = Array.from({ length: count }, (_, i) => i);
    this.macs = idx.map((i) => macPlus(baseMac, i));
    this.ipv4 = idx.map((i) => ipv4Bytes(firstIpv4 + i));
    this.ipv6 = firstIpv6 ? idx.map((i) => ipv6Plus(firstIpv6, i)) : [];
    this.first6 = firstIpv6;
    this.first6Low = firstIpv6 ? ipv6Low32(firstIpv6) : 0;
  }

  /** True when the hosts have IPv6 addresses. */
  get hasIpv6(): boolean {
    return this.first6 !== null;
  }

  /** The host's address of a family (4 or 16 bytes). */
  address(host: number, v6: boolean): Uint8Array {
    return v6 ? this.ipv6[host] : this.ipv4[host];
  }

  /** Index of the host whose address of `family` is at b[at..], or −1. */
  indexOf(b: Uint8Array, at: number, family: 4 | 6): number {
    if (family === 4) {
      const i = (be32(b, at) - this.firstIpv4) >>> 0;
      return i < this.count ? i : -1;
    }
    if (this.first6 === null || !bytesEqual(b, at, this.first6, 0, IPV6_FIXED)) return -1;
    const i = (ipv6Low32(b, at) - this.first6Low) >>> 0;
    return i < this.count ? i : -1;
  }

  /** True when b[at..at+6) is host `host`'s MAC. */
  macIs(host: number, b: Uint8Array, at: number): boolean {
    return bytesEqual(b, at, this.macs[host], 0, MAC_BYTES);
  }

  /** True when b[at..] holds host `host`'s address of the family. */
  addressIs(host: number, b: Uint8Array, at: number, family: 4 | 6): boolean {
    const a = family === 6 ? this.ipv6[host] : this.ipv4[host];
    return a !== undefined && bytesEqual(b, at, a, 0, a.length);
  }
}
