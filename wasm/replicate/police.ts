// Token-bucket policer in packets/s and bits/s, refilled from packet timestamps (time is an
// argument, never read). Tokens are scaled by 1e9 so that a refill is dt_ns × rate exactly, in
// integers. A packet passes only when both buckets hold enough; then both are charged.
//
// Bounds: the bucket depth × 1e9 plus one rate must fit in i64, which the control plane enforces
// (firmware/shell/sessions/limits.ts). A timestamp older than the last one refills nothing.

import { SessionConfig, SessionState } from '../abi';

/** Tokens are kept × 1e9 (also by the race budget, wasm/race/budget.ts). */
@inline export const TOKEN_SCALE: i64 = 1_000_000_000;
@inline const SCALE: i64 = TOKEN_SCALE;

/** Tokens after `dt` ns at `rate` per second (scaled by 1e9), at most `cap`. */
@inline export function refillTokens(tokens: i64, cap: i64, rate: i64, dt: i64): i64 {
  if (dt <= 0) return tokens;
  const room = cap - tokens;
  if (room <= 0) return cap;
  if (dt >= room / rate + 1) return cap;
  return tokens + dt * rate;
}

/** Full buckets: how a session starts. */
@inline export function policerReset(cfg: usize, state: usize, now: i64): void {
  store<i64>(state, <i64>load<u32>(cfg, SessionConfig.BurstPkts) * SCALE, SessionState.TokensPkts);
  store<i64>(state, <i64>load<u64>(cfg, SessionConfig.BurstBits) * SCALE, SessionState.TokensBits);
  store<i64>(state, now, SessionState.LastNs);
}

/** True when a replica of `bytes` bytes may go out at time `now`. */
export function policerAdmit(cfg: usize, state: usize, bytes: u32, now: i64): bool {
  const pps = <i64>load<u32>(cfg, SessionConfig.RatePps);
  const bps = <i64>load<u64>(cfg, SessionConfig.RateBps);
  if (pps == 0 && bps == 0) return true;

  const last = load<i64>(state, SessionState.LastNs);
  const dt = now - last;
  if (dt > 0) store<i64>(state, now, SessionState.LastNs);

  let pkts = load<i64>(state, SessionState.TokensPkts);
  let bits = load<i64>(state, SessionState.TokensBits);
  if (pps != 0) pkts = refillTokens(pkts, <i64>load<u32>(cfg, SessionConfig.BurstPkts) * SCALE, pps, dt);
  if (bps != 0) bits = refillTokens(bits, <i64>load<u64>(cfg, SessionConfig.BurstBits) * SCALE, bps, dt);

  const costBits = <i64>bytes * 8 * SCALE;
  const ok = (pps == 0 || pkts >= SCALE) && (bps == 0 || bits >= costBits);
  if (ok) {
    if (pps != 0) pkts -= SCALE;
    if (bps != 0) bits -= costBits;
  }
  store<i64>(state, pkts, SessionState.TokensPkts);
  store<i64>(state, bits, SessionState.TokensBits);
  return ok;
}
