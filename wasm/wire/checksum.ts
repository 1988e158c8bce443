// Internet checksum (RFC 1071) helpers. Sums are kept unfolded in a u32/u64 and folded once.

import { be16 } from './bytes';

/** Ones'-complement sum of `len` bytes at p (odd trailing byte padded with zero), unfolded. */
export function sumBytes(p: usize, len: u32): u64 {
  let s: u64 = 0;
  let i: u32 = 0;
  for (; i + 1 < len; i += 2) s += <u64>be16(p + i);
  if (i < len) s += <u64>load<u8>(p + i) << 8;
  return s;
}

/** Folds a sum to 16 bits and complements it: the value to store in a checksum field. */
@inline export function foldComplement(s: u64): u32 {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>(~s) & 0xffff;
}
