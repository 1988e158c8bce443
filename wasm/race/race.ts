// The race stage: first answer wins (docs/race.md). A race session's group holds equivalent
// servers that all have the service address (VIP); the router reaches each by L2 rewrite. For a
// new TCP flow within the budget the client's opener goes to member 0 (the original) and to every
// other member (copies); the first member to accept (SYN-ACK) wins, its answer reaches the
// client, and the rest of the flow goes to it alone. A later acceptance by a loser is dropped and
// the loser reset (frames.ts builds the RST); a refusal (RST) while another member may still
// accept is dropped too, so a stopped server cannot fail a connection that another one takes.
//
// State machine of a flow's entry (wasm/conntrack/table.ts):
//   none ──SYN, budget and room──► Racing ──first SYN-ACK──► Won ──FIN──► Closing ──timeout──► none
//   Racing ──every member RST, client RST (sent to every member), or timeout──► none
//   Won ──idle timeout──► none
//   Won/Closing ──RST from the client or the winner──► none once every member has answered the
//     opener, else Reset ──the last answer, or timeout──► none (late answers still dropped)
//   Closing/Reset ──SYN from the client (a new connection on the same ports)──► a new race
//
// Contract
// - raceClient / raceServer run in act() after the policy and redirect decisions and before the
//   original is queued; they only decide (the globals below) and count. act() then queues the
//   original (to raceMember's port when set, dropped when raceDrop), lets the replicate stage read
//   the frame, builds the copies and the reset (frames.ts), and rewrites the original's MACs last.
// - Every packet that reaches the stage bumps Matched and exactly one Race outcome counter.
// - Which member answered is decided by the ingress port and source MAC (memberOf); a server's
//   packets are looked up only when they carry SYN, RST or FIN (data and ACKs pass untouched).
// - The bank is trusted: member ports are within the port table (the compiler checks them).

import { ConnEntry, ConnState, Desc, Lane, RaceGroup, RaceMember, SessionConfig } from '../abi';
import { SessionCounter } from '../counters';
import { ParseFlag } from '../wire/parse';
import { Eth } from '../wire/ethernet';
import { IpProto } from '../wire/ip';
import { Tcp, TcpFlag } from '../wire/transport';
import { ctClock, ctFree, ctInsert, ctKey, ctLookup, ctRelease, ctTouch } from '../conntrack/table';
import { sessionCounters, sessionState } from '../replicate/replicate';
import { raceBudgetAdmit } from './budget';

/** No member. */
@inline export const NO_MEMBER: u32 = 0xffffffff;

/** The member the packet in progress goes to (its MACs rewritten), NO_MEMBER: as it is. */
export let raceMember: u32 = NO_MEMBER;
/** Members that get a copy of the packet in progress (bit k: member k). */
export let raceCopies: u32 = 0;
/** The member that gets a reset for the packet in progress (a loser's late SYN-ACK), NO_MEMBER: none. */
export let raceResetTo: u32 = NO_MEMBER;
/** The packet in progress is a member's answer the race holds back. */
export let raceDrop: bool = false;

/** Before the race stage of each packet. */
@inline export function resetRace(): void {
  raceMember = NO_MEMBER;
  raceCopies = 0;
  raceResetTo = NO_MEMBER;
  raceDrop = false;
}

@inline function bump(counters: usize, which: u32): void {
  const p = counters + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline function bumpBy(counters: usize, which: u32, by: u64): void {
  const p = counters + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + by);
}

/** The session's group in the bank. */
@inline export function raceGroup(bank: usize, cfg: usize): usize {
  return bank + <usize>load<u32>(cfg, SessionConfig.RaceGroup);
}

@inline export function raceMemberAt(group: usize, k: u32): usize {
  return group + RaceGroup.Members + <usize>k * RaceMember.Size;
}

/** Every member of the group, as a mask. */
@inline function allOf(group: usize): u32 {
  return (<u32>1 << load<u32>(group, RaceGroup.MemberCount)) - 1;
}

/** Every member but member 0: where the copies of an opener go. */
@inline function othersOf(group: usize): u32 {
  return allOf(group) & ~1;
}

/** Records that member `k` answered the flow's opener; returns the members that have, within the group. */
@inline function answered(group: usize, e: usize, k: u32): u32 {
  const a = (<u32>load<u8>(e, ConnEntry.Answered) | (<u32>1 << k)) & allOf(group);
  store<u8>(e, <u8>a, ConnEntry.Answered);
  return a;
}

/**
 * The flow ended by RST. Its entry is freed once every member has answered the opener; until then
 * it is kept (Reset), so a loser's late acceptance is still dropped and reset, not passed to the
 * client (whose own RST would go by hash, often to another member).
 */
function ended(ctl: usize, group: usize, e: usize): void {
  if ((<u32>load<u8>(e, ConnEntry.Answered) & allOf(group)) == allOf(group)) ctRelease(ctl, e);
  else store<u8>(e, ConnState.Reset, ConnEntry.State);
}

/** The member a flow that is not raced goes to: its hash, spread evenly (the same in every publish of the group). */
@inline function hashMember(group: usize, hash: u32): u32 {
  return <u32>((<u64>hash * <u64>load<u32>(group, RaceGroup.MemberCount)) >> 32);
}

@inline function sameMember(m: usize, port: u32, mac: usize): bool {
  return load<u32>(m, RaceMember.Port) == port && load<u32>(m, RaceMember.Mac) == load<u32>(mac) &&
    load<u16>(m, RaceMember.Mac + 4) == load<u16>(mac, 4);
}

/**
 * The member of `group` that sent the frame in `desc` (ingress port and source MAC), or
 * NO_MEMBER. Frames shorter than an Ethernet header come from nobody.
 */
export function memberOf(group: usize, desc: usize): u32 {
  if (<u32>load<u16>(desc, Desc.Len) < Eth.HeaderLen) return NO_MEMBER;
  const port = <u32>load<u8>(desc, Desc.InPort);
  const src = <usize>load<u32>(desc, Desc.Addr) + Eth.Src;
  const n = load<u32>(group, RaceGroup.MemberCount);
  for (let k: u32 = 0; k < n; k++) {
    if (sameMember(raceMemberAt(group, k), port, src)) return k;
  }
  return NO_MEMBER;
}

/** The winner of a pinned flow as a member index now, or NO_MEMBER when it has left the group. */
function winnerOf(group: usize, e: usize): u32 {
  const port = <u32>load<u8>(e, ConnEntry.WinnerPort);
  const mac = e + ConnEntry.WinnerMac;
  const n = load<u32>(group, RaceGroup.MemberCount);
  const hint = <u32>load<u8>(e, ConnEntry.Winner);
  if (hint < n && sameMember(raceMemberAt(group, hint), port, mac)) return hint;
  for (let k: u32 = 0; k < n; k++) {
    if (sameMember(raceMemberAt(group, k), port, mac)) return k;
  }
  return NO_MEMBER;
}

@inline function tcpFlags(desc: usize, l4: u32): u32 {
  return <u32>load<u8>(<usize>load<u32>(desc, Desc.Addr) + l4 + Tcp.Flags);
}

@inline function isTcp(parseFlags: u32, key: usize): bool {
  return (parseFlags & ParseFlag.Transport) != 0 && load<u32>(key + Lane.Proto * 4) == IpProto.Tcp;
}

/** Counts a packet as the session's (every packet of the stage is matched once). */
@inline function matched(counters: usize, desc: usize): void {
  bump(counters, SessionCounter.Matched);
  bumpBy(counters, SessionCounter.BytesMatched, <u64>load<u16>(desc, Desc.OrigLen));
}

/** A packet towards the service (it matched the race session's filter and no member sent it). */
export function raceClient(ctl: usize, bank: usize, cfg: usize, desc: usize, parseFlags: u32, l4: u32, key: usize): void {
  const counters = sessionCounters(ctl, cfg);
  const ts = load<i64>(desc, Desc.Timestamp);
  const state = sessionState(ctl, cfg, ts);
  const group = raceGroup(bank, cfg);
  matched(counters, desc);
  if ((parseFlags & ParseFlag.Ip) == 0) {
    bump(counters, SessionCounter.RaceNotTcp);
    return;
  }
  const tcp = isTcp(parseFlags, key);
  const hash = ctKey(key, false, tcp);
  if (!tcp) {
    raceMember = hashMember(group, hash);
    bump(counters, SessionCounter.RaceNotTcp);
    return;
  }
  ctClock(ctl, ts);
  const flags = tcpFlags(desc, l4);
  const opener = (flags & (TcpFlag.Syn | TcpFlag.Ack | TcpFlag.Rst)) == TcpFlag.Syn;
  const slot = load<u32>(cfg, SessionConfig.Slot);
  const e = ctLookup(ctl, slot, hash);
  let free = ctFree;
  if (e != 0) {
    const st = <u32>load<u8>(e, ConnEntry.State);
    if (st == ConnState.Racing) {
      // A retransmitted opener (or the client giving up with a RST): to every member again.
      ctTouch(e, ts);
      raceMember = 0;
      raceCopies = othersOf(group);
      bump(counters, SessionCounter.RaceResent);
      // The RST went to every member too, so none keeps a half-open connection: the entry can go.
      if ((flags & TcpFlag.Rst) != 0) ctRelease(ctl, e);
      return;
    }
    const over = st == ConnState.Closing || st == ConnState.Reset;
    const winner = opener && over ? NO_MEMBER : winnerOf(group, e);
    if (winner != NO_MEMBER) {
      ctTouch(e, ts);
      raceMember = winner;
      bump(counters, SessionCounter.RacePinned);
      if (st == ConnState.Reset) return;
      if ((flags & TcpFlag.Rst) != 0) ended(ctl, group, e);
      else if ((flags & TcpFlag.Fin) != 0) store<u8>(e, ConnState.Closing, ConnEntry.State);
      return;
    }
    // A new connection on the ports of a closed or reset one, or a winner that left the group:
    // the entry's flow is over.
    ctRelease(ctl, e);
    if (free == 0) free = e;
  }
  if (!opener) {
    raceMember = hashMember(group, hash);
    bump(counters, SessionCounter.RaceUntracked);
    return;
  }
  if (free == 0) {
    raceMember = hashMember(group, hash);
    bump(counters, SessionCounter.RaceTableFull);
    return;
  }
  if (!raceBudgetAdmit(cfg, group, state, ts)) {
    raceMember = hashMember(group, hash);
    bump(counters, SessionCounter.RaceBudget);
    return;
  }
  ctInsert(ctl, free, slot, ts);
  raceMember = 0;
  raceCopies = othersOf(group);
  bump(counters, SessionCounter.RaceStarted);
}

/** A packet member `k` of the race session `cfg` sent (it matched the session's reply category). */
export function raceServer(ctl: usize, bank: usize, cfg: usize, k: u32, desc: usize, parseFlags: u32, l4: u32, key: usize): void {
  const counters = sessionCounters(ctl, cfg);
  matched(counters, desc);
  if (!isTcp(parseFlags, key)) {
    bump(counters, SessionCounter.RacePassed);
    return;
  }
  const flags = tcpFlags(desc, l4);
  if ((flags & (TcpFlag.Syn | TcpFlag.Rst | TcpFlag.Fin)) == 0) {
    bump(counters, SessionCounter.RacePassed);
    return;
  }
  const ts = load<i64>(desc, Desc.Timestamp);
  ctClock(ctl, ts);
  const e = ctLookup(ctl, load<u32>(cfg, SessionConfig.Slot), ctKey(key, true, true));
  if (e == 0) {
    bump(counters, SessionCounter.RacePassed);
    return;
  }
  ctTouch(e, ts);
  const group = raceGroup(bank, cfg);
  const accept = (flags & (TcpFlag.Syn | TcpFlag.Ack | TcpFlag.Rst)) == (TcpFlag.Syn | TcpFlag.Ack);
  const refuse = (flags & TcpFlag.Rst) != 0;
  const st = <u32>load<u8>(e, ConnEntry.State);
  if (st == ConnState.Racing) {
    if (accept) {
      const m = raceMemberAt(group, k);
      answered(group, e, k);
      store<u8>(e, ConnState.Won, ConnEntry.State);
      store<u8>(e, <u8>load<u32>(m, RaceMember.Port), ConnEntry.WinnerPort);
      store<u8>(e, <u8>k, ConnEntry.Winner);
      store<u32>(e, load<u32>(m, RaceMember.Mac), ConnEntry.WinnerMac);
      store<u16>(e, load<u16>(m, RaceMember.Mac + 4), ConnEntry.WinnerMac + 4);
      bump(counters, SessionCounter.RaceWon);
      bump(counters, SessionCounter.RaceWon0 + k);
      return;
    }
    if (refuse) {
      // While racing every answer so far is a refusal (the first acceptance ends the race).
      if (answered(group, e, k) == allOf(group)) {
        // Nobody takes the connection: the client learns it from the last refusal.
        ctRelease(ctl, e);
        bump(counters, SessionCounter.RaceAllRefused);
        return;
      }
      raceDrop = true;
      bump(counters, SessionCounter.RaceRefused);
      return;
    }
    bump(counters, SessionCounter.RacePassed);
    return;
  }
  // Won, Closing or Reset: the winner's packets pass (a RST ends the flow); a loser's answers are
  // held back, and once a reset flow has heard from every member its entry goes.
  if (winnerOf(group, e) == k) {
    if (st != ConnState.Reset) {
      if (refuse) ended(ctl, group, e);
      else if ((flags & TcpFlag.Fin) != 0) store<u8>(e, ConnState.Closing, ConnEntry.State);
    }
    bump(counters, SessionCounter.RacePassed);
    return;
  }
  if (!accept && !refuse) {
    bump(counters, SessionCounter.RacePassed);
    return;
  }
  raceDrop = true;
  if (accept) {
    raceResetTo = k;
    bump(counters, SessionCounter.RaceLate);
  } else {
    bump(counters, SessionCounter.RaceRefused);
  }
  if (answered(group, e, k) == allOf(group) && st == ConnState.Reset) ctRelease(ctl, e);
}
