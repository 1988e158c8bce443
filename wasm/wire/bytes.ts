// Network-order loads. Callers have already checked that the bytes are present (views check
// length once, then read without further checks).

@inline export function be16(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

@inline export function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

@inline export function storeBe16(p: usize, v: u32): void {
  store<u16>(p, bswap<u16>(<u16>v));
}

@inline export function storeBe32(p: usize, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}

/** Above this many bytes, memory.copy (a call into the engine) beats the inline loop. */
@inline const INLINE_COPY_MAX: u32 = 512;

/**
 * Copies `len` bytes from `src` to `dst` (non-overlapping). V8 lowers memory.copy to a call out of
 * the compiled code, which costs more than copying a 64-byte packet; small copies are done here
 * with 16-byte vector moves, the last one aligned to the end so nothing past `len` is touched.
 */
@inline export function copyBytes(dst: usize, src: usize, len: u32): void {
  if (len >= 16 && len <= INLINE_COPY_MAX) {
    let i: u32 = 0;
    for (; i + 16 < len; i += 16) v128.store(dst + i, v128.load(src + i));
    v128.store(dst + len - 16, v128.load(src + len - 16));
  } else if (len < 16) {
    for (let i: u32 = 0; i < len; i++) store<u8>(dst + i, load<u8>(src + i));
  } else {
    memory.copy(dst, src, len);
  }
}
