// IPv4 and IPv6 address literals → 32-bit big-endian words, as the classification key holds them.
//
// Contract: the text is untrusted; every function returns null for text it does not accept
// (the parser turns that into a FilterError pointing at the token) and never throws. Accepted:
// dotted-quad IPv4 without leading zeros; the full RFC 4291 IPv6 text form with one `::` and
// an optional embedded dotted quad; no zone ids. Work is linear in the text's length.

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

/**
 * A dotted IPv4 address with 1 to 4 parts, as tcpdump accepts after `net`: `10.1` is
 * 10.1.0.0 with 16 significant bits. `value` is left-aligned; `bits` is 8 × the part count.
 */
export function parseDottedIpv4(text: string): { value: number; bits: number } | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!IPV4_PART.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  const bits = 8 * parts.length;
  return { value: (value * 2 ** (32 - bits)) >>> 0, bits };
}

/** A full four-part IPv4 address as one 32-bit word, or null. */
export function parseIpv4(text: string): number | null {
  const dotted = parseDottedIpv4(text);
  return dotted !== null && dotted.bits === 32 ? dotted.value : null;
}

/** An IPv6 address as four 32-bit big-endian words (most significant first), or null. */
export function parseIpv6(text: string): number[] | null {
  if (!IPV6_CHARS.test(text) || !text.includes(':')) return null;
  let hexPart = text;
  const groups: number[] = [];
  const trailing: number[] = [];
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    const embedded = parseIpv4(text.slice(lastColon + 1));
    if (embedded === null) return null;
    trailing.push(embedded >>> 16, embedded & 0xffff);
    // Keep a `::` that ends right before the dotted quad; drop a single separating colon.
    hexPart = text.endsWith('::', lastColon + 1) ? text.slice(0, lastColon + 1) : text.slice(0, lastColon);
  }
  const halves = hexPart.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!IPV6_GROUP.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const explicit = head.length + tail.length + trailing.length;
  if (halves.length === 2) {
    if (explicit > 7) return null; // `::` stands for at least one zero group
    groups.push(...head, ...new Array<number>(8 - explicit).fill(0), ...tail, ...trailing);
  } else {
    if (explicit !== 8) return null;
    groups.push(...head, ...trailing);
  }
  const words: number[] = [];
  for (let w = 0; w < 4; w++) words.push(((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0);
  return words;
}

/** The length of the contiguous netmask `mask` (a 32-bit word), or null if it is not one. */
export function netmaskLength(mask: number): number | null {
  const inverted = ~mask >>> 0;
  // A contiguous mask's complement is 2^k - 1, so adding one leaves a single set bit (or zero).
  if ((inverted & (inverted + 1)) !== 0) return null;
  return 32 - Math.log2(inverted + 1);
}

/** True when any bit of `words` beyond the first `prefixLength` bits is set. */
export function hasHostBits(words: readonly number[], prefixLength: number): boolean {
  for (let w = 0; w < words.length; w++) {
    const networkBits = Math.max(0, Math.min(32, prefixLength - 32 * w));
    const hostMask = networkBits === 32 ? 0 : (0xffffffff >>> networkBits) >>> 0;
    if ((words[w] & hostMask) !== 0) return true;
  }
  return false;
}
