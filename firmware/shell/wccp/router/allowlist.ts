// The administrator's allowlist of a service group: IPv4 addresses and prefixes that may
// register ("192.0.2.7", "10.0.0.0/8"). A device registers only from an address the list
// contains; anything else is refused before any state is created.
//
// Contract: entries are untrusted text (configuration, management port). parseAllowlist refuses
// anything but a dotted quad with an optional /0../32 whose host bits are zero, naming the entry;
// matching is O(entries) with no allocation.

import { formatIpv4, ipv4Mask, parseIpv4Prefix } from '../../../../hal/net/address.ts';

export interface Prefix {
  readonly network: number;
  readonly length: number;
}

export class AllowlistEntryError extends Error {
  constructor(readonly index: number, detail: string) {
    super(detail);
  }
}

/** One entry, or a reason it is not one. */
export function parsePrefix(text: string): Prefix | string {
  if (typeof text !== 'string') return 'must be a string (an IPv4 address or prefix)';
  const p = parseIpv4Prefix(text.trim());
  if (p === null) return `"${text}" is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/n)`;
  if (p.network !== p.address) return `"${text}" has host bits set (did you mean ${formatIpv4(p.network)}/${p.length}?)`;
  return { network: p.network, length: p.length };
}

/** Every entry parsed; the first bad one throws AllowlistEntryError with its index. */
export function parseAllowlist(entries: readonly string[]): Prefix[] {
  if (!Array.isArray(entries)) throw new AllowlistEntryError(-1, 'must be a list of IPv4 addresses or prefixes');
  return entries.map((e, i) => {
    const p = parsePrefix(e);
    if (typeof p === 'string') throw new AllowlistEntryError(i, p);
    return p;
  });
}

/** Whether `address` (u32) is inside any of `prefixes`. */
export function allowed(prefixes: readonly Prefix[], address: number): boolean {
  for (const p of prefixes) {
    if (((address & ipv4Mask(p.length)) >>> 0) === p.network) return true;
  }
  return false;
}
