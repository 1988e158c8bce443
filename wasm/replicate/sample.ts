// 1-in-N sampling: a per-session xorshift32 stream (seeded by the control plane), so a run is
// reproducible packet for packet. A packet is kept when the next draw falls in the lowest 1/N of
// the 32-bit range, which keeps on average exactly one in N with no modulo bias.

import { SessionState } from '../abi';

@inline export function xorshift32(x: u32): u32 {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/** Draws for one matched packet; true when it is kept. n ≤ 1 keeps everything without drawing. */
@inline export function sampleKeep(state: usize, n: u32): bool {
  if (n <= 1) return true;
  const x = xorshift32(load<u32>(state, SessionState.Rng));
  store<u32>(state, x, SessionState.Rng);
  return ((<u64>x * <u64>n) >> 32) == 0;
}
