// The replicate stage: one matched packet, one session → at most one replica on the session's
// replica queue. Best effort and bounded: every way a replica can fail to go out increments one
// named counter (SessionCounter), and nothing here can touch the original's bytes or its slot.
//
// Order of checks (each a named drop): sampling → encapsulation can carry it → MTU, or the
// replica frame's room when smaller (sniff truncates instead) → policer → replica ring space →
// a free replica frame. A session still waiting for its device queues on its hold ring instead
// of the port's (HoldFull when it is full).
//
// Also here: diverting an original by encapsulating it in place (in the frame's headroom), for
// WCCP redirect sessions (to the cache) and for tagged dup sessions (the carrier member: the
// original travels in the session's sequenced stream to the far-end eliminator, with the same
// sequence number as its replica, so the eliminator can tell the two copies apart from the rest).
//
// Sequence generation: a tagged dup session numbers every packet it matches, before sampling or
// any drop (802.1CB: the sequence is generated before the stream is split into members), and
// leaves the number in `carrierSeq` for the carrier; other sequenced sessions number the replicas
// they send, so a gap at the receiver is loss in transit.

import { Control, Desc, DescFlag, Encap, Member, Mode, PortConfig, SessionConfig, SessionFlag, SessionState } from '../abi';
import { SessionCounter } from '../counters';
import { ParseFlag } from '../wire/parse';
import { ringFree, ringPopIndex, ringProdSlot, ringSubmit } from '../ring/ring';
import { policerAdmit, policerReset } from './police';
import { sampleKeep } from './sample';
import { nextSequence, writeEncap } from './encap';
import { copyBytes } from '../wire/bytes';
import { frameData, frameRoom, frameSlot } from '../ring/frames';

/** The first tagged dup session the packet in progress matched (0: none), and its number. */
export let carrierCfg: usize = 0;
export let carrierSeq: u32 = 0;

/** Before the replicate stage of each packet. */
@inline export function resetCarrier(): void {
  carrierCfg = 0;
  carrierSeq = 0;
}

@inline function bump(counters: usize, which: u32, by: u64 = 1): void {
  const p = counters + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + by);
}

/** Session state follows its config's generation: a reused slot starts afresh. */
@inline export function sessionState(ctl: usize, cfg: usize, now: i64): usize {
  const slot = load<u32>(cfg, SessionConfig.Slot);
  const state = <usize>load<u32>(ctl + Control.SessionState) + <usize>slot * SessionState.Size;
  const generation = load<u32>(cfg, SessionConfig.Generation);
  if (load<u32>(state, SessionState.Generation) != generation) {
    store<u32>(state, generation, SessionState.Generation);
    const seed = load<u32>(cfg, SessionConfig.Seed);
    store<u32>(state, seed != 0 ? seed : 0x2545f491, SessionState.Rng);
    store<u32>(state, 0, SessionState.Sequence);
    store<u32>(state, 0, SessionState.IpId);
    policerReset(cfg, state, now);
  }
  return state;
}

@inline export function sessionCounters(ctl: usize, cfg: usize): usize {
  const slot = load<u32>(cfg, SessionConfig.Slot);
  return <usize>load<u32>(ctl + Control.SessionCounters) + <usize>slot * (SessionCounter.Count << 3);
}

/**
 * Builds and queues one replica of the packet in `desc` for session `session`. `l3`/`ipLen`: the
 * parser's IP header offset and IP packet length; `key` the packet's classification key.
 */
export function replicate(ctl: usize, bank: usize, session: u32, cfg: usize, desc: usize,
                          parseFlags: u32, l3: u32, ipLen: u32, key: usize, now: i64): void {
  const state = sessionState(ctl, cfg, now);
  const counters = sessionCounters(ctl, cfg);
  const frame = <usize>load<u32>(desc, Desc.Addr);
  const len = <u32>load<u16>(desc, Desc.Len);
  const origLen = <u32>load<u16>(desc, Desc.OrigLen);
  const ts = load<i64>(desc, Desc.Timestamp);

  bump(counters, SessionCounter.Matched);
  bump(counters, SessionCounter.BytesMatched, origLen);

  const tagged = (load<u32>(cfg, SessionConfig.Flags) & SessionFlag.Carrier) != 0;
  let seq: u32 = 0;
  if (tagged) {
    seq = nextSequence(state);
    if (carrierCfg == 0) {
      carrierCfg = cfg;
      carrierSeq = seq;
    }
  }

  if (!sampleKeep(state, load<u32>(cfg, SessionConfig.SampleN))) {
    bump(counters, SessionCounter.SampledOut);
    return;
  }

  // What the encapsulation carries: the whole frame (ERSPAN) or the IP packet (GRE forms).
  const encap = load<u32>(cfg, SessionConfig.Encap);
  let inner = frame;
  let present = len;
  let wire = origLen;
  if (encap == Encap.GreWccp || encap == Encap.GreSeq) {
    if ((parseFlags & ParseFlag.Ip) == 0) {
      bump(counters, SessionCounter.NotCarried);
      return;
    }
    inner = frame + l3;
    wire = ipLen;
    present = len - l3;
    if (present > wire) present = wire; // drop Ethernet padding
  }

  let keep = present;
  const snaplen = load<u32>(cfg, SessionConfig.Snaplen);
  if (snaplen != 0 && keep > snaplen) keep = snaplen;

  // The outer IP packet must fit the path MTU and the whole replica a replica frame.
  const header = load<u32>(cfg, SessionConfig.TemplateLen);
  const l2 = load<u32>(cfg, SessionConfig.IpOff);
  const outerIpOverhead = header - l2;
  let mtu = load<u32>(cfg, SessionConfig.Mtu);
  const room = frameRoom(ctl);
  if (mtu + l2 > room) mtu = room - l2;
  if (outerIpOverhead + keep > mtu) {
    if (load<u32>(cfg, SessionConfig.Mode) != Mode.Sniff) {
      bump(counters, SessionCounter.Mtu);
      return;
    }
    keep = mtu - outerIpOverhead; // sniff: cut to fit, flagged truncated, original length kept
  }

  if (!policerAdmit(cfg, state, header + keep, ts)) {
    bump(counters, SessionCounter.RateLimited);
    return;
  }

  // A session whose device has not registered parks its replicas in the slot's hold ring.
  const egress = load<u32>(cfg, SessionConfig.EgressPort);
  const held = (load<u32>(cfg, SessionConfig.Flags) & SessionFlag.Hold) != 0;
  const ring = held
    ? <usize>load<u32>(ctl + Control.HoldRings) + <usize>load<u32>(cfg, SessionConfig.Slot) * <usize>load<u32>(ctl + Control.HoldRingBytes)
    : <usize>load<u32>(<usize>load<u32>(ctl + Control.PortTable) + <usize>egress * PortConfig.Size, PortConfig.TxReplicaRing);
  if (ringFree(ring) == 0) {
    bump(counters, held ? SessionCounter.HoldFull : SessionCounter.RingFull);
    return;
  }
  const index = ringPopIndex(<usize>load<u32>(ctl + Control.ReplicaFree));
  if (index < 0) {
    bump(counters, SessionCounter.NoFrame);
    return;
  }

  const truncated = keep < wire;
  const data = frameData(ctl, <u32>index);
  if (!tagged && encap != Encap.GreWccp) seq = nextSequence(state);
  writeEncap(data, bank, cfg, cfg + SessionConfig.Replica, state, keep, truncated, ts, key, seq);
  copyBytes(data + header, inner, keep);

  const out = ringProdSlot(ring, 0);
  store<u32>(out, <u32>data, Desc.Addr);
  store<u32>(out, <u32>index, Desc.Frame);
  store<u16>(out, <u16>(header + keep), Desc.Len);
  const fullLen = header + wire;
  store<u16>(out, <u16>(fullLen > 0xffff ? 0xffff : fullLen), Desc.OrigLen);
  store<u8>(out, load<u8>(desc, Desc.InPort), Desc.InPort);
  store<u8>(out, <u8>egress, Desc.OutPort);
  store<u16>(out, <u16>(DescFlag.Replica | DescFlag.ReplicaPool | (truncated ? DescFlag.Truncated : 0)), Desc.Flags);
  store<i64>(out, ts, Desc.Timestamp);
  store<u32>(out, session, Desc.Session);
  store<u32>(out, wire - keep, Desc.Aux);
  ringSubmit(ring, 1);

  bump(counters, SessionCounter.Replicated);
  bump(counters, SessionCounter.BytesReplicated, keep);
  if (held) bump(counters, SessionCounter.Held);
  if (truncated) bump(counters, SessionCounter.TruncatedReplicas);
}

/**
 * Whether the original in `desc` can be diverted through `member` (a redirect session's replica
 * member: the cache; a dup session's carrier): its IP packet plus the encapsulation must fit the
 * member's path MTU, and the encapsulation must fit in front of the IP header inside the frame
 * slot. When it cannot, the caller forwards the original as it is (fail open) and counts it.
 */
export function divertFits(ctl: usize, member: usize, desc: usize, parseFlags: u32, l3: u32, ipLen: u32): bool {
  if ((parseFlags & ParseFlag.Ip) == 0) return false;
  const header = load<u32>(member, Member.TemplateLen);
  const outerIpOverhead = header - load<u32>(member, Member.IpOff);
  if (outerIpOverhead + ipLen > load<u32>(member, Member.Mtu)) return false;
  const inner = <usize>load<u32>(desc, Desc.Addr) + l3;
  return inner >= frameSlot(ctl, load<u32>(desc, Desc.Frame)) + header;
}

/**
 * Encapsulates an original in place through `member`: writes the member's header into the bytes
 * in front of the IP header (the Ethernet header and headroom) and points `out` (the descriptor
 * already queued on the member's port) at it. Call only after divertFits() and after the
 * replicate stage has read the frame. `seq`: the GRE sequence number (dup carriers).
 */
export function divertEncapsulate(ctl: usize, bank: usize, cfg: usize, member: usize, out: usize, l3: u32, ipLen: u32,
                                  key: usize, now: i64, seq: u32, flag: u32): void {
  const header = load<u32>(member, Member.TemplateLen);
  const inner = <usize>load<u32>(out, Desc.Addr) + l3;
  let present = <u32>load<u16>(out, Desc.Len) - l3;
  if (present > ipLen) present = ipLen;
  const state = sessionState(ctl, cfg, now);
  const start = inner - header;
  writeEncap(start, bank, cfg, member, state, ipLen, false, now, key, seq);
  store<u32>(out, <u32>start, Desc.Addr);
  store<u16>(out, <u16>(header + present), Desc.Len);
  store<u16>(out, <u16>(header + ipLen), Desc.OrigLen);
  store<u16>(out, load<u16>(out, Desc.Flags) | <u16>flag, Desc.Flags);
}
