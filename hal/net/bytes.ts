// Network byte order and the Internet checksum over byte arrays: big-endian loads and stores, and
// the RFC 1071 ones'-complement sum. The one copy of these on the host side: the sim board's frame
// builder and parser (hal/drivers/sim/) and the wire builders of `twinflow peer`
// (firmware/peer/*-wire.ts) use them. (The data plane has its own in wasm/wire/.)
//
// Contract: the caller keeps every offset inside the array (nothing is checked: an offset past the
// end reads as 0 and a store there is lost, as a typed array does); stored values are taken modulo
// 2^16 or 2^32. Nothing is allocated. A sum may exceed 32 bits (checksumOf folds it exactly).

const BYTE = 0xff;
const WORD = 0xffff;
const WORD_MODULUS = 0x10000;

/** Big-endian u16 at `o`. */
export const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
/** Big-endian u32 at `o`. */
export const be32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
/** Stores a big-endian u16. */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & BYTE;
  b[o + 1] = v & BYTE;
}
/** Stores a big-endian u32. */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & BYTE;
  b[o + 2] = (v >>> 8) & BYTE;
  b[o + 3] = v & BYTE;
}

/** Ones'-complement sum of b[start..end) as big-endian 16-bit words (odd tail padded), unfolded. */
export function onesSum(b: Uint8Array, start: number, end: number, acc = 0): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

/** Folds a sum to 16 bits and complements it: the value a checksum field holds. */
export function checksumOf(sum: number): number {
  let s = sum;
  while (s > WORD) s = (s % WORD_MODULUS) + Math.floor(s / WORD_MODULUS);
  return ~s & WORD;
}
