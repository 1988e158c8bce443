// Fixed-width integer access in either byte order, and 32-bit alignment.
//
// Contract: callers have already checked that [off, off + width) lies inside `b` (one length
// check per record or block, smoltcp style); these helpers do no bounds checking of their own.
// Writers always emit little-endian, so only little-endian stores exist.

/** Bytes per 32-bit word: pcapng pads every body and option value to this. */
export const WORD = 4;

/** Unsigned 16-bit integer at `off`, little-endian when `le`. */
export function u16(b: Uint8Array, off: number, le: boolean): number {
  return le ? b[off]! | (b[off + 1]! << 8) : (b[off]! << 8) | b[off + 1]!;
}

/** Unsigned 32-bit integer at `off`, little-endian when `le`. */
export function u32(b: Uint8Array, off: number, le: boolean): number {
  return le
    ? (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0
    : ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** Signed 64-bit integer at `off`, little-endian when `le`. */
export function i64(b: Uint8Array, off: number, le: boolean): bigint {
  const lo = BigInt(u32(b, le ? off : off + WORD, le));
  const hi = BigInt(u32(b, le ? off + WORD : off, le));
  return BigInt.asIntN(64, (hi << 32n) | lo);
}

/** Store a 16-bit value little-endian. */
export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

/** Store a 32-bit value little-endian. */
export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** Store a 64-bit value little-endian (two's complement for negatives). */
export function putI64(b: Uint8Array, off: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  putU32(b, off, Number(u & 0xffff_ffffn));
  putU32(b, off + WORD, Number(u >> 32n));
}

/** `n` rounded up to a multiple of 4 (exact for every length a 32-bit field can hold). */
export function pad4(n: number): number {
  const r = n % WORD;
  return r === 0 ? n : n + WORD - r;
}
