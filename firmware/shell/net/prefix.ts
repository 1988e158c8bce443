// IPv4 prefixes in configuration ("192.0.2.7", "10.0.0.0/8"), as allowlists name them. A bare
// address is a /32. A prefix with bits set past its length ("10.0.0.1/8") is refused rather than
// silently widened: it is almost always a typo for a host or for another prefix.

import { AddressError, formatIpv4, parseIpv4 } from './address.ts';

export interface Ipv4Prefix {
  /** Network address, host order, host bits zero. */
  readonly address: number;
  readonly length: number;
}

const PREFIX = /^([0-9.]+)(?:\/(\d{1,2}))?$/;

export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const m = PREFIX.exec(text);
  if (!m) throw new AddressError(`"${text}" is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/len)`);
  const address = parseIpv4(m[1]);
  const length = m[2] === undefined ? 32 : Number(m[2]);
  if (length > 32) throw new AddressError(`"${text}": prefix length must be 0..32`);
  const mask = length === 0 ? 0 : (0xffff_ffff << (32 - length)) >>> 0;
  if ((address & ~mask) >>> 0 !== 0) {
    throw new AddressError(`"${text}" has bits set past /${length} (the prefix is ${formatIpv4((address & mask) >>> 0)}/${length})`);
  }
  return { address, length };
}

/** Whether `address` (host order) lies in `prefix`. */
export function prefixContains(prefix: Ipv4Prefix, address: number): boolean {
  const mask = prefix.length === 0 ? 0 : (0xffff_ffff << (32 - prefix.length)) >>> 0;
  return ((address & mask) >>> 0) === prefix.address;
}
