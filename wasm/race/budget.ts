// The race budget: which new flows may be raced (docs/race.md, "Budget"). Racing a flow sends its
// opener to every member, so it costs the group (members − 1) extra connection attempts; the
// budget caps that cost. Two token buckets, refilled from packet timestamps (time is an argument);
// a flow is raced only when both hold a whole token, and then both pay one:
//
//   time   RatePps raced flows per second, BurstPkts deep (0: no time cap). However high the
//          offered load, the group gets at most (members − 1) × rate extra openers per second:
//          when the group is overloaded the raced share shrinks instead of its load growing.
//   share  each new flow that asks credits SharePpm / 10^6 of a token, BurstBits deep
//          (RaceLimits.PpmAll: no share cap): at most that share of flows is raced, also at low load.
//
// The buckets live in the session state's policer fields (wasm/abi.ts RaceBudgetState) and start
// full with every new session generation. Bounds: depth × 1e9 plus one rate fits i64 (limits.ts).

import { RaceBudgetState, RaceGroup, RaceLimits, SessionConfig } from '../abi';
import { refillTokens, TOKEN_SCALE } from '../replicate/police';

/** One new flow at time `ts` asks to be raced; true when the budget admits it (and it is charged). */
export function raceBudgetAdmit(cfg: usize, group: usize, state: usize, ts: i64): bool {
  const rate = <i64>load<u32>(cfg, SessionConfig.RatePps);
  const timeCap = <i64>load<u32>(cfg, SessionConfig.BurstPkts) * TOKEN_SCALE;
  const share = <i64>load<u32>(group, RaceGroup.SharePpm);
  const shareCap = <i64>load<u64>(cfg, SessionConfig.BurstBits) * TOKEN_SCALE;

  let time = load<i64>(state, RaceBudgetState.TimeTokens);
  if (rate != 0) {
    const dt = ts - load<i64>(state, RaceBudgetState.LastNs);
    if (dt > 0) store<i64>(state, ts, RaceBudgetState.LastNs);
    time = refillTokens(time, timeCap, rate, dt);
  }
  let shared = load<i64>(state, RaceBudgetState.ShareTokens);
  if (share < RaceLimits.PpmAll) {
    shared += share * (TOKEN_SCALE / RaceLimits.PpmAll);
    if (shared > shareCap) shared = shareCap;
  }

  const ok = (rate == 0 || time >= TOKEN_SCALE) && (share >= RaceLimits.PpmAll || shared >= TOKEN_SCALE);
  if (ok) {
    if (rate != 0) time -= TOKEN_SCALE;
    if (share < RaceLimits.PpmAll) shared -= TOKEN_SCALE;
  }
  store<i64>(state, time, RaceBudgetState.TimeTokens);
  store<i64>(state, shared, RaceBudgetState.ShareTokens);
  return ok;
}
