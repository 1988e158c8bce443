// Address literals: IPv4 dotted quads, IPv6 text (RFC 4291 §2.2, with `::` and an embedded
// dotted quad), MAC addresses, and the arithmetic that numbers the hosts of a simulated group
// (host i = base + i). The one parser of these literals: hal drivers use it directly; the control
// plane wraps it (firmware/shell/net/address.ts) to throw errors that say what was expected.
//
// Contract: text is untrusted; every parser returns null on anything it does not accept exactly
// (callers turn that into an error naming the field). The arithmetic helpers trust their inputs.

/** Bytes in an IPv4 address. */
export const IPV4_BYTES = 4;
/** Bytes in an IPv6 address. */
export const IPV6_BYTES = 16;
/** Bytes in a MAC address. */
export const MAC_BYTES = 6;
/** 16-bit groups in an IPv6 address. */
const IPV6_GROUPS = 8;
/** Largest value of a 48-bit MAC address. */
export const MAC_MAX = 2 ** 48 - 1;
/** The I/G bit of the first MAC byte: set for group (multicast, broadcast) addresses. */
export const MAC_GROUP_BIT = 0x01;

const DOTTED_PART = /^(0|[1-9]\d{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const MAC_PART = /^[0-9a-fA-F]{2}$/;

/** Dotted IPv4 → u32 (host order), or null. */
export function parseIpv4(text: string): number | null {
  if (typeof text !== 'string') return null;
  const parts = text.split('.');
  if (parts.length !== IPV4_BYTES) return null;
  let v = 0;
  for (const p of parts) {
    if (!DOTTED_PART.test(p) || Number(p) > 255) return null;
    v = v * 256 + Number(p);
  }
  return v;
}

/** Bits of an IPv4 address. */
export const IPV4_BITS = 32;

/** An IPv4 prefix: the network (host bits zero) and its length. */
export interface Ipv4Prefix {
  readonly network: number;
  readonly length: number;
  /** The address as written (equal to `network` for a bare prefix, a host address for "10.0.0.1/24"). */
  readonly address: number;
}

/** "a.b.c.d/len" (len 0..32) or a bare address (a /32), or null. */
export function parseIpv4Prefix(text: string): Ipv4Prefix | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  const address = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (address === null) return null;
  let length = IPV4_BITS;
  if (slash >= 0) {
    const len = text.slice(slash + 1);
    if (!/^(0|[1-9]\d?)$/.test(len) || Number(len) > IPV4_BITS) return null;
    length = Number(len);
  }
  return { network: (address & ipv4Mask(length)) >>> 0, length, address };
}

/** The netmask of a prefix length as a u32. */
export function ipv4Mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (IPV4_BITS - length)) >>> 0;
}

/** Whether `address` lies in the prefix. */
export function prefixContains(prefix: Ipv4Prefix, address: number): boolean {
  return ((address & ipv4Mask(prefix.length)) >>> 0) === prefix.network;
}

/** u32 → dotted IPv4. */
export function formatIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** u32 → 4 network-order bytes. */
export function ipv4Bytes(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

/** IPv6 text → 16 bytes, or null. */
export function parseIpv6(text: string): Uint8Array | null {
  if (typeof text !== 'string' || text.length === 0) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (HEX_GROUP.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  // An embedded dotted quad may only end the address.
  if (halves.length === 2 && halves[0].includes('.')) return null;
  const missing = IPV6_GROUPS - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const b = new Uint8Array(IPV6_BYTES);
  all.forEach((g, i) => { b[2 * i] = g >>> 8; b[2 * i + 1] = g & 0xff; });
  return b;
}

/** 16 bytes → IPv6 text (lower case, the longest run of zero groups as `::`, RFC 5952). */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < IPV6_GROUPS; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < IPV6_GROUPS;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < IPV6_GROUPS && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The low 32 bits of an IPv6 address, as a u32. */
export function ipv6Low32(b: Uint8Array, offset = 0): number {
  const at = offset + IPV6_BYTES - IPV4_BYTES;
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** base + i for an IPv6 address whose low 32 bits do not overflow (checked by config.ts). */
export function ipv6Plus(base: Uint8Array, i: number): Uint8Array {
  const b = base.slice();
  const low = ipv6Low32(base) + i;
  const at = IPV6_BYTES - IPV4_BYTES;
  b[at] = low >>> 24; b[at + 1] = (low >>> 16) & 255; b[at + 2] = (low >>> 8) & 255; b[at + 3] = low & 255;
  return b;
}

/** aa:bb:cc:dd:ee:ff → 6 bytes, or null. */
export function parseMac(text: string): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const parts = text.split(':');
  if (parts.length !== MAC_BYTES || parts.some((p) => !MAC_PART.test(p))) return null;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** 6 bytes → aa:bb:cc:dd:ee:ff. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, MAC_BYTES), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A MAC address as a 48-bit integer. */
export function macValue(b: Uint8Array, offset = 0): number {
  let v = 0;
  for (let i = 0; i < MAC_BYTES; i++) v = v * 256 + b[offset + i];
  return v;
}

/** base + i as a MAC address (the caller keeps the sum within 48 bits). */
export function macPlus(base: Uint8Array, i: number): Uint8Array {
  let v = macValue(base) + i;
  const b = new Uint8Array(MAC_BYTES);
  for (let k = MAC_BYTES - 1; k >= 0; k--) { b[k] = v % 256; v = Math.floor(v / 256); }
  return b;
}

/** True when `len` bytes of `a` at `ao` equal those of `b` at `bo`. */
export function bytesEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
