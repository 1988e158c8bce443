// The application protocol the simulated clients and servers speak, shared by both sides.
//
// TCP: the client sends data segments one at a time; the server acknowledges each with one
// segment carrying a response (`responseBytes`), which the client's next segment acknowledges.
// UDP: a request's payload starts with a 32-bit request id (big-endian); the response starts with
// the same id, as DNS or most RPC protocols do, so a client tells the answer to its current
// request from a late answer to an earlier one. Payloads are printable letters (so no dissector's
// heuristic mistakes them for a protocol), a pure function of a salt, so a retransmission carries
// the same bytes as the original.
//
// Sizes: every payload fits a 1500-byte IP MTU in every combination of family and transport.

import { Ipv4, Ipv6, Tcp } from './packets.ts';

/** The IP MTU of the simulated links (Ethernet). */
export const LINK_MTU = 1500;
/** Largest payload of any simulated segment: the MTU less IPv6 (40) and TCP (20) headers. */
export const MAX_PAYLOAD_BYTES = LINK_MTU - Ipv6.Header - Tcp.Header;
/** Bytes of the request id at the start of every UDP request and response. */
export const REQUEST_ID_BYTES = 4;
/** Smallest request or response payload: it must hold the request id. */
export const MIN_PAYLOAD_BYTES = REQUEST_ID_BYTES;
/** MSS announced in SYN and SYN-ACK, per family (RFC 9293 §3.7.1: MTU less IP and TCP headers). */
export const MSS_IPV4 = LINK_MTU - Ipv4.Header - Tcp.Header;
export const MSS_IPV6 = LINK_MTU - Ipv6.Header - Tcp.Header;
/** Window both sides announce (no scaling). */
export const WINDOW = 65535;

const LETTERS = 26;
const FIRST_LETTER = 0x61; // 'a'
const SALT_STRIDE = 7;

/** `length` printable bytes determined by `salt`. */
export function patternPayload(length: number, salt: number): Uint8Array {
  const b = new Uint8Array(length);
  const start = (salt >>> 0) % LETTERS;
  for (let i = 0; i < length; i++) b[i] = FIRST_LETTER + ((start + i * SALT_STRIDE) % LETTERS);
  return b;
}
