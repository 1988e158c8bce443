// The symmetric flow hash that spreads flows over line cards, as a multi-queue NIC's symmetric RSS
// spreads them over queues: the card that owns a port receives from it, hashes each frame and
// hands it to the card that owns the frame's flow. Both directions of a flow hash alike, so they
// meet on one card even though they usually arrive on different ports (owned by different cards):
// the flow's state (race conntrack, dup streams, the flow cache) lives on that one card.
//
// What is hashed (never the VLAN ids, the TTL or anything else one direction may change):
//   TCP, UDP, SCTP, UDP-Lite  both (address, port) endpoints and the protocol
//   other IP, and fragments   both addresses and the protocol. Every fragment of a datagram
//                              (first or not: only the first carries the ports) goes with the
//                              others; IPv4 MF or offset, or an IPv6 Fragment header, make one.
//   not IP, or an unusable IP header
//                              both MAC addresses and the EtherType
// Each endpoint is mixed on its own (murmur3's finaliser over its words) and the two are added,
// so swapping source and destination gives the same sum; the sum and the protocol are mixed once
// more. Parsing walks up to MAX_TAGS 802.1Q/802.1ad tags and up to MAX_IPV6_EXTENSIONS IPv6
// extension headers (hop-by-hop, routing, destination options, AH) to the transport header.
//
// Contract: frame bytes are untrusted; every read is checked against `len`, so a short or
// malformed frame still hashes (on what could be read) and never throws. Pure and bounded.

/** Tags walked at most (QinQ plus one spare: the data plane's parser reads two). */
export const MAX_TAGS = 3;
/** IPv6 extension headers walked at most before the transport header is given up (addresses only). */
export const MAX_IPV6_EXTENSIONS = 8;

const ETH_HEADER = 14;
const ETH_TYPE = 12;
const TAG_BYTES = 4;
const isTag = (type: number): boolean => type === 0x8100 || type === 0x88a8 || type === 0x9100;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IPV4_HEADER = 20;
const IPV4_FRAGMENT = 6; // flags (3 bits) and fragment offset (13)
const IPV4_MORE_FRAGMENTS_AND_OFFSET = 0x3fff;
const IPV4_PROTOCOL = 9;
const IPV4_SRC = 12;
const IPV4_DST = 16;
const IPV6_HEADER = 40;
const IPV6_NEXT = 6;
const IPV6_SRC = 8;
const IPV6_DST = 24;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DEST_OPTIONS = 60;
/** Protocols whose first four transport bytes are the source and destination ports: TCP, UDP, SCTP, UDP-Lite. */
const isPorted = (protocol: number): boolean => protocol === 6 || protocol === 17 || protocol === 132 || protocol === 136;
const PORTS_BYTES = 4;
/** Seeds an endpoint's mix, so an all-zero endpoint does not hash to 0. */
const ENDPOINT_SEED = 0x9e3779b9;
/** Mixed into non-IP frames' protocol word, so they never share a value with an IP protocol. */
const NOT_IP = 0x10000;

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const be16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const be32 = (b: Uint8Array, at: number): number => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** One endpoint: `words` big-endian 32-bit words of address at b[at], then a port (or 0). */
function endpoint(b: Uint8Array, at: number, words: number, port: number): number {
  let h = ENDPOINT_SEED;
  for (let k = 0; k < words; k++) h = fmix32(h ^ be32(b, at + 4 * k));
  return fmix32(h ^ port);
}

/** A MAC address as an endpoint (two words: four bytes, then two). */
function macEndpoint(b: Uint8Array, at: number): number {
  return fmix32(fmix32(ENDPOINT_SEED ^ be32(b, at)) ^ be16(b, at + 4));
}

const finish = (a: number, b: number, protocol: number): number => fmix32(((a + b) >>> 0) ^ Math.imul(protocol, 0x27d4eb2f));

/**
 * The flow hash of the frame at b[at .. at + len): equal for both directions of a flow.
 * Never throws; a frame too short even for an Ethernet header hashes to 0.
 */
export function flowHash(b: Uint8Array, at: number, len: number): number {
  if (len < ETH_HEADER) return 0;
  const end = at + len;
  let l3 = at + ETH_HEADER;
  let type = be16(b, at + ETH_TYPE);
  for (let t = 0; t < MAX_TAGS && isTag(type) && l3 + TAG_BYTES <= end; t++) {
    type = be16(b, l3 + 2);
    l3 += TAG_BYTES;
  }
  if (type === ETHERTYPE_IPV4 && l3 + IPV4_HEADER <= end && b[l3] >> 4 === 4) {
    const ihl = (b[l3] & 0x0f) * 4;
    const protocol = b[l3 + IPV4_PROTOCOL];
    const fragment = (be16(b, l3 + IPV4_FRAGMENT) & IPV4_MORE_FRAGMENTS_AND_OFFSET) !== 0;
    const l4 = l3 + ihl;
    const ports = !fragment && ihl >= IPV4_HEADER && isPorted(protocol) && l4 + PORTS_BYTES <= end;
    return finish(
      endpoint(b, l3 + IPV4_SRC, 1, ports ? be16(b, l4) : 0),
      endpoint(b, l3 + IPV4_DST, 1, ports ? be16(b, l4 + 2) : 0),
      protocol);
  }
  if (type === ETHERTYPE_IPV6 && l3 + IPV6_HEADER <= end && b[l3] >> 4 === 6) {
    let next = b[l3 + IPV6_NEXT];
    let l4 = l3 + IPV6_HEADER;
    let ports = false;
    for (let k = 0; k <= MAX_IPV6_EXTENSIONS; k++) {
      if (isPorted(next)) {
        ports = l4 + PORTS_BYTES <= end;
        break;
      }
      if (next === IPV6_FRAGMENT) break;
      if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DEST_OPTIONS && next !== IPV6_AH) break;
      if (l4 + 2 > end) break;
      const length = next === IPV6_AH ? (b[l4 + 1] + 2) * 4 : (b[l4 + 1] + 1) * 8;
      next = b[l4];
      l4 += length;
    }
    return finish(
      endpoint(b, l3 + IPV6_SRC, 4, ports ? be16(b, l4) : 0),
      endpoint(b, l3 + IPV6_DST, 4, ports ? be16(b, l4 + 2) : 0),
      next);
  }
  return finish(macEndpoint(b, at + 6), macEndpoint(b, at), NOT_IP | type);
}

/** The card (0 .. cards − 1) of a flow hash: the hash's position in [0, 2^32) scaled, so spread is even for any count. */
export function cardOfHash(hash: number, cards: number): number {
  return Math.floor(((hash >>> 0) * cards) / 4294967296);
}
