// Address literals in configuration and on the command line, for the control plane: the parsers
// of hal/net/address.ts, throwing an AddressError that says what was expected.

import * as literal from '../../../hal/net/address.ts';

export { formatIpv4, formatMac, ipv4Mask, prefixContains, type Ipv4Prefix } from '../../../hal/net/address.ts';

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

/** Dotted IPv4 → u32 (host order). */
export function parseIpv4(text: string): number {
  const v = literal.parseIpv4(text);
  if (v === null) throw new AddressError(`"${text}" is not an IPv4 address (a.b.c.d)`);
  return v;
}

/** aa:bb:cc:dd:ee:ff → 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const v = literal.parseMac(text);
  if (v === null) throw new AddressError(`"${text}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return v;
}

/** "a.b.c.d/len" or a bare address (a /32) → prefix. */
export function parseIpv4Prefix(text: string): literal.Ipv4Prefix {
  const v = literal.parseIpv4Prefix(text);
  if (v === null) throw new AddressError(`"${text}" is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/len, len 0..32)`);
  return v;
}

/**
 * A network prefix as allowlists and routes name it ("10.0.0.0/8", or "192.0.2.7" for a /32).
 * Bits set past the length ("10.0.0.1/8") are refused rather than silently cleared: that is
 * almost always a typo for a host or for another prefix.
 */
export function parseNetworkPrefix(text: string): literal.Ipv4Prefix {
  const p = parseIpv4Prefix(text);
  if (p.address !== p.network) {
    throw new AddressError(`"${text}" has bits set past /${p.length} (did you mean ${literal.formatIpv4(p.network)}/${p.length}?)`);
  }
  return p;
}
