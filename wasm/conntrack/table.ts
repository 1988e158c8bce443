// Connection tracking for race: which member won a flow (wasm/abi.ts ConntrackHeader, ConnEntry).
//
// Contract
// - One fixed table per line card in linear memory (Control.Conntrack, Control.ConntrackCapacity
//   entries, laid out by the runtime); nothing is ever allocated. Capacity 0: no table, every
//   lookup misses and no entry can be made (every new flow is "table full").
// - Open addressing: a flow's entry lives in the ProbeWindow slots from its hash. A lookup always
//   examines the whole window (frees leave holes, so it cannot stop at the first free slot), which
//   bounds every lookup to ProbeWindow × 64 bytes; on the way it frees the entries whose timeout
//   has passed and remembers the first free slot for an insert (ctFree).
// - Time is the latest packet timestamp the race stage saw (ConntrackHeader.ClockNs, never moving
//   back), not the runtime's clock: drivers stamp packets with their own clock, and expiry must
//   compare like with like. The sweep examines SweepPerBatch entries per process() call while any
//   entry is in use, so an idle table empties without traffic to the flows it holds.
// - Every entry freed is counted once: globally (ConntrackExpired / ConntrackClosed) and on its
//   session slot (RaceExpired / RaceClosed).
//
// The key of the lookup in progress is held in module globals (set by ctKey), so one key serves
// the lookup and the insert that may follow.

import { Control, ConntrackHeader, ConntrackLimits, ConnEntry, ConnState, Lane, LaneValue } from '../abi';
import { GlobalCounter, SessionCounter } from '../counters';

// Timeouts (nanoseconds of packet time).
/**
 * A race with no acceptance yet: long enough for the client's first three SYN retransmissions
 * (Linux sends them after 1, 3 and 7 s), which race again within the same entry; after it a
 * retransmission starts a new race. Short, so a SYN flood that nobody answers frees its entries
 * in seconds.
 */
@inline export const RACING_TIMEOUT_NS: i64 = 8_000_000_000;
/**
 * A won flow with no packet: 10 minutes, beyond the idle times of common HTTP keep-alive (5 s to
 * 75 s) and of most interactive sessions. A flow idle for longer loses its winner; its next packet
 * goes to the member its hash names (RaceUntracked), which may not be the winner.
 */
@inline export const ESTABLISHED_IDLE_NS: i64 = 600_000_000_000;
/**
 * After a FIN: the last ACKs and a retransmitted FIN still reach the winner for 30 s (a few
 * retransmission timeouts), then the entry is freed as closed.
 */
@inline export const CLOSING_TIMEOUT_NS: i64 = 30_000_000_000;
/**
 * A flow reset (by the client or the winner) before every member answered its opener: the late
 * answers are still the race's (dropped, and a late acceptance reset) for 8 s — a member answers
 * within its path's delay, and a lost SYN-ACK is sent again after 1 and 3 s — then the entry is
 * freed as closed. Without it a late SYN-ACK would reach the client, whose RST goes by hash,
 * often to another member, and the loser would keep its half-open connection for a minute.
 */
@inline export const RESET_TIMEOUT_NS: i64 = 8_000_000_000;

@inline const HASH_P1: u32 = 0x9e3779b1;
@inline const HASH_P2: u32 = 0x85ebca77;
@inline const HASH_P3: u32 = 0xc2b2ae3d;

// The flow of the lookup in progress (ctKey): client and service addresses as four words each,
// the ports (client << 16 | service), the family.
let keyClient: v128 = i32x4.splat(0);
let keyVip: v128 = i32x4.splat(0);
let keyPorts: u32 = 0;
let keyFamily: u32 = 0;

/** A free slot in the last lookup's window (0: none), where ctInsert may put the flow. */
export let ctFree: usize = 0;

@inline function lane(key: usize, which: u32): u32 {
  return load<u32>(key + (<usize>which << 2));
}

@inline function words(w0: u32, w1: u32, w2: u32, w3: u32): v128 {
  let v = i32x4.splat(<i32>w0);
  v = i32x4.replace_lane(v, 1, <i32>w1);
  v = i32x4.replace_lane(v, 2, <i32>w2);
  v = i32x4.replace_lane(v, 3, <i32>w3);
  return v;
}

/**
 * Sets the flow of the packet whose classification key is at `key`: the client is the source
 * (a packet towards the service) or, for `fromServer`, the destination (a member's answer).
 * `withPorts`: TCP; other protocols are hashed on addresses only, so their fragments stay
 * together. Returns the flow's hash, which also picks a member for a flow that is not raced
 * (the same for every packet of the flow and in every publish of an unchanged group).
 */
export function ctKey(key: usize, fromServer: bool, withPorts: bool): u32 {
  const src = words(lane(key, Lane.Src0), lane(key, Lane.Src1), lane(key, Lane.Src2), lane(key, Lane.Src3));
  const dst = words(lane(key, Lane.Dst0), lane(key, Lane.Dst1), lane(key, Lane.Dst2), lane(key, Lane.Dst3));
  const sport = withPorts ? lane(key, Lane.SrcPort) & 0xffff : 0;
  const dport = withPorts ? lane(key, Lane.DstPort) & 0xffff : 0;
  keyClient = fromServer ? dst : src;
  keyVip = fromServer ? src : dst;
  keyPorts = fromServer ? (dport << 16) | sport : (sport << 16) | dport;
  keyFamily = lane(key, Lane.Family);
  let h = i32x4.add(i32x4.mul(keyClient, i32x4.splat(<i32>HASH_P1)), keyVip);
  h = v128.xor(h, i32x4.shr_u(h, 15));
  h = i32x4.mul(h, i32x4.splat(<i32>HASH_P2));
  let x = <u32>(i32x4.extract_lane(h, 0) ^ i32x4.extract_lane(h, 1) ^ i32x4.extract_lane(h, 2) ^ i32x4.extract_lane(h, 3));
  x ^= (keyPorts * HASH_P3) ^ keyFamily;
  x ^= x >> 13;
  x *= HASH_P1;
  x ^= x >> 16;
  return x;
}

@inline function header(ctl: usize): usize {
  return <usize>load<u32>(ctl + Control.Conntrack);
}

@inline function bump(counters: usize, which: u32): void {
  const p = counters + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline function slotCounters(ctl: usize, slot: u32): usize {
  return <usize>load<u32>(ctl + Control.SessionCounters) + <usize>slot * (SessionCounter.Count << 3);
}

@inline function timeoutOf(state: u32): i64 {
  if (state == ConnState.Racing) return RACING_TIMEOUT_NS;
  if (state == ConnState.Won) return ESTABLISHED_IDLE_NS;
  return state == ConnState.Reset ? RESET_TIMEOUT_NS : CLOSING_TIMEOUT_NS;
}

/** Frees an entry, counted as closed (the flow ended) or expired (idle). */
function retire(ctl: usize, e: usize, closed: bool): void {
  const h = header(ctl);
  const globals = <usize>load<u32>(ctl + Control.GlobalCounters);
  bump(globals, closed ? GlobalCounter.ConntrackClosed : GlobalCounter.ConntrackExpired);
  bump(slotCounters(ctl, <u32>load<u8>(e, ConnEntry.Slot)), closed ? SessionCounter.RaceClosed : SessionCounter.RaceExpired);
  store<u8>(e, ConnState.Free, ConnEntry.State);
  store<u32>(h, load<u32>(h, ConntrackHeader.InUse) - 1, ConntrackHeader.InUse);
}

/** Frees an entry whose timeout has passed at `clock`; true when it did. A closing or reset flow is closed. */
@inline function expireIfDue(ctl: usize, e: usize, state: u32, clock: i64): bool {
  if (clock - load<i64>(e, ConnEntry.LastNs) <= timeoutOf(state)) return false;
  retire(ctl, e, state == ConnState.Closing || state == ConnState.Reset);
  return true;
}

/** Advances the table's clock to a packet's timestamp (never back). */
@inline export function ctClock(ctl: usize, ts: i64): void {
  const h = header(ctl);
  if (h != 0 && ts > load<i64>(h, ConntrackHeader.ClockNs)) store<i64>(h, ts, ConntrackHeader.ClockNs);
}

@inline function matches(e: usize, slot: u32): bool {
  const same = v128.and(i32x4.eq(v128.load(e, ConnEntry.Client), keyClient), i32x4.eq(v128.load(e, ConnEntry.Vip), keyVip));
  return i32x4.all_true(same) && load<u32>(e, ConnEntry.Ports) == keyPorts &&
    <u32>load<u8>(e, ConnEntry.Slot) == slot && <u32>load<u8>(e, ConnEntry.Family) == keyFamily;
}

/**
 * The entry of the current flow (ctKey) for session slot `slot`, or 0; sets ctFree. Frees the
 * entries of the window whose timeout has passed.
 */
export function ctLookup(ctl: usize, slot: u32, hash: u32): usize {
  ctFree = 0;
  const capacity = load<u32>(ctl + Control.ConntrackCapacity);
  if (capacity == 0) return 0;
  const h = header(ctl);
  const table = h + ConntrackHeader.Size;
  const mask = capacity - 1;
  const clock = load<i64>(h, ConntrackHeader.ClockNs);
  let bucket = (hash ^ (slot * HASH_P2)) * HASH_P1;
  bucket ^= bucket >> 16;
  let found: usize = 0;
  for (let i: u32 = 0; i < <u32>ConntrackLimits.ProbeWindow; i++) {
    const e = table + <usize>((bucket + i) & mask) * ConnEntry.Size;
    const state = <u32>load<u8>(e, ConnEntry.State);
    if (state != ConnState.Free && expireIfDue(ctl, e, state, clock)) {
      if (ctFree == 0) ctFree = e;
      continue;
    }
    if (state == ConnState.Free) {
      if (ctFree == 0) ctFree = e;
      continue;
    }
    if (found == 0 && matches(e, slot)) found = e;
  }
  return found;
}

/** Makes an entry for the current flow in `e` (ctFree), racing since `ts`. */
export function ctInsert(ctl: usize, e: usize, slot: u32, ts: i64): void {
  v128.store(e, keyClient, ConnEntry.Client);
  v128.store(e, keyVip, ConnEntry.Vip);
  store<u32>(e, keyPorts, ConnEntry.Ports);
  store<u8>(e, <u8>slot, ConnEntry.Slot);
  store<u8>(e, <u8>keyFamily, ConnEntry.Family);
  store<u8>(e, ConnState.Racing, ConnEntry.State);
  store<u8>(e, 0, ConnEntry.Answered);
  store<u8>(e, <u8>LaneValue.PortIndexNone, ConnEntry.WinnerPort);
  store<u8>(e, 0, ConnEntry.Winner);
  store<u32>(e, 0, ConnEntry.WinnerMac);
  store<u16>(e, 0, ConnEntry.WinnerMac + 4);
  store<i64>(e, ts, ConnEntry.StartNs);
  store<i64>(e, ts, ConnEntry.LastNs);
  const h = header(ctl);
  store<u32>(h, load<u32>(h, ConntrackHeader.InUse) + 1, ConntrackHeader.InUse);
  bump(<usize>load<u32>(ctl + Control.GlobalCounters), GlobalCounter.ConntrackInserted);
}

/** The flow of entry `e` has ended (RST, every member refused): free it, counted closed. */
export function ctRelease(ctl: usize, e: usize): void {
  retire(ctl, e, true);
}

/** A packet of the flow at `ts`: its idle timer starts again. */
@inline export function ctTouch(e: usize, ts: i64): void {
  if (ts > load<i64>(e, ConnEntry.LastNs)) store<i64>(e, ts, ConnEntry.LastNs);
}

/** Examines the next SweepPerBatch entries and frees those whose timeout has passed. */
export function ctSweep(ctl: usize): void {
  const capacity = load<u32>(ctl + Control.ConntrackCapacity);
  if (capacity == 0) return;
  const h = header(ctl);
  if (load<u32>(h, ConntrackHeader.InUse) == 0) return;
  const table = h + ConntrackHeader.Size;
  const clock = load<i64>(h, ConntrackHeader.ClockNs);
  let cursor = load<u32>(h, ConntrackHeader.Cursor);
  for (let i: u32 = 0; i < <u32>ConntrackLimits.SweepPerBatch; i++) {
    const e = table + <usize>(cursor & (capacity - 1)) * ConnEntry.Size;
    const state = <u32>load<u8>(e, ConnEntry.State);
    if (state != ConnState.Free) expireIfDue(ctl, e, state, clock);
    cursor++;
  }
  store<u32>(h, cursor & (capacity - 1), ConntrackHeader.Cursor);
}
