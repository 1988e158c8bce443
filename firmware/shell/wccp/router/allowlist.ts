// The administrator's allowlist of a service group: IPv4 addresses and prefixes that may
// register ("192.0.2.7", "10.0.0.0/8"). A device registers only from an address the list
// contains; anything else is refused before any state is created.
//
// Contract: entries are untrusted text (configuration, management port). parseAllowlist refuses
// anything but a dotted quad with an optional /0../32 whose host bits are zero, naming the entry;
// matching is O(entries) with no allocation.

import { parseIpv4 } from '../../../../hal/net/address.ts';

const IPV4_BITS = 32;
const PREFIX_PATTERN = /^([^/]+)(?:\/(\d{1,2}))?$/;

export interface Prefix {
  readonly network: number;
  readonly length: number;
}

export class AllowlistEntryError extends Error {
  constructor(readonly index: number, detail: string) {
    super(detail);
  }
}

function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (IPV4_BITS - length)) >>> 0;
}

/** One entry, or a reason it is not one. */
export function parsePrefix(text: string): Prefix | string {
  if (typeof text !== 'string') return 'must be a string (an IPv4 address or prefix)';
  const m = PREFIX_PATTERN.exec(text.trim());
  const address = m ? parseIpv4(m[1]!) : null;
  if (m === null || address === null) return `"${text}" is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/n)`;
  const length = m[2] === undefined ? IPV4_BITS : Number(m[2]);
  if (length > IPV4_BITS) return `"${text}": prefix length must be 0..${IPV4_BITS}`;
  const network = (address & maskOf(length)) >>> 0;
  if (network !== address) {
    return `"${text}" has host bits set (did you mean ${[network >>> 24, (network >>> 16) & 255, (network >>> 8) & 255, network & 255].join('.')}/${length}?)`;
  }
  return { network, length };
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
    if (((address & maskOf(p.length)) >>> 0) === p.network) return true;
  }
  return false;
}
