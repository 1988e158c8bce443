// The data plane of one line card: batches in, verdicts and counters out.
//
//   rx rings ─► parse (batch) ─► flow cache ─► classify (forest, interleaved walks) ─► verdict
//     ─► original onto its egress originals ring, untouched (or diverted to a cache: redirect)
//     ─► per matched session: sample → police → truncate → encapsulate → replica ring
//     ─► race: connection tracking (first answer wins), copies to the group, resets to losers
//     ─► a cache's GRE return: decapsulated and forwarded by the FIB, never classified (forward/)
//     ─► counters
//
// Contract
// - Pure: no allocation, no imports, no clock. Time is the `now` argument and each packet's
//   descriptor timestamp; randomness is the sessions' seeded xorshift state.
// - The one rule: the original is queued on its egress ring before any replica work, its bytes
//   are never written (the exceptions are the job of their session, done after every replica has
//   read the frame: a redirected original is encapsulated in place, a tagged dup carrier too, and
//   a race group's original gets its member's MACs). Replicas are best effort and every replica
//   that does not go out is counted under a named reason. The only originals a session drops are
//   a race group's held-back answers (a loser's late SYN-ACK, a refusal while another member may
//   accept), counted per port as DroppedRace.
// - A cache's GRE return (forward/return.ts) is not an original of any flow the sessions see: it
//   was diverted to the cache already. It is decapsulated and forwarded by the bank's FIB, its
//   inner packet's TTL decremented, or dropped under a DroppedReturn* reason; never classified.
// - Tables: Control.TableVersion is read once per batch (an atomic load, since another thread may
//   publish: firmware/runtime/workers/) and names the bank too (odd versions bank 1, even bank 0),
//   so version and bank can never be seen half-switched: a batch is classified wholly by one
//   table version. Control.ObservedVersion, stored atomically when the batch ends, tells the
//   control plane when a switch has taken effect and that no batch still reads the other bank.
// - The runtime sizes `maxBatch` so that every originals ring has room for the whole batch;
//   should one still be full, the original is dropped and counted (DroppedTxFull).

import { Abi, Bank, BatchScratch, Control, Desc, DescFlag, FlowEntry, InitError, Lane, LaneValue, Member, PacketMeta, PortConfig, RaceMember, Ring, RuleMeta, SessionConfig, TupleField } from './abi';
import { GlobalCounter, PortCounter, SessionCounter } from './counters';
import { copyKey, keyTemplate, ParseFlag, parseFrame, parsedIpLen, parsedL3, parsedL4 } from './wire/parse';
import { classifyBatch, NO_RULE, Result } from './classify/tree';
import { flowFill, flowHit, flowSlot, hashKey } from './classify/flowcache';
import { assignmentLanes } from './classify/assignment';
import { ringConsSlot, ringFree, ringPeek, ringProdSlot, ringRelease, ringSubmit } from './ring/ring';
import { frameRelease } from './ring/frames';
import { carrierCfg, carrierSeq, divertEncapsulate, divertFits, replicate, resetCarrier, sessionCounters } from './replicate/replicate';
import { memberOf, NO_MEMBER, raceClient, raceCopies, raceDrop, raceGroup, raceMember, raceMemberAt, raceResetTo, raceServer, resetRace } from './race/race';
import { raceCopy, raceReset, raceSteer } from './race/frames';
import { ctSweep } from './conntrack/table';
import { returnCandidate, returnCheck, returnEgress, returnRewrite } from './forward/return';

export { pcapIngest, pcapEmit, pcapngEmit, ingestError, ingestErrorAt } from './io/capture';
export { eliminatorInit, eliminatorBytes, eliminateBatch } from './eliminate/recovery';

let ctl: usize = 0;
let lastVersion: u32 = 0;
let nextPort: u32 = 0;

/** First address the runtime may lay its regions out from. */
export function heapBase(): usize {
  return __heap_base;
}

/** Binds this instance to the control block the runtime wrote at `control`. */
export function init(control: usize): u32 {
  if (load<u32>(control + Control.Magic) != Abi.Magic) return InitError.Magic;
  if (load<u32>(control + Control.AbiVersion) != Abi.Version) return InitError.Version;
  ctl = control;
  lastVersion = 0;
  nextPort = 0;
  return InitError.None;
}

@inline function bump(counters: usize, which: u32, by: u64 = 1): void {
  const p = counters + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + by);
}

/** The bank of a table version (Control.TableVersion: the version's parity names it). */
@inline function bankOf(version: u32): usize {
  return <usize>load<u32>(ctl + ((version & 1) != 0 ? Control.Bank1 : Control.Bank0));
}

/**
 * Processes up to `maxBatch` received packets across all ports (round robin over ports, each
 * port's ring drained in order) and returns how many it took. Each port's share is handled in
 * three stages over the whole sub-batch: parse every packet, classify every key (flow cache, then
 * the forest with interleaved walks), then act on each packet in order.
 */
export function process(maxBatch: u32, now: i64): u32 {
  // Acquire: the publisher wrote the bank before it stored the version (release).
  const version = atomic.load<u32>(ctl + Control.TableVersion);
  const bank = bankOf(version);
  const globals = <usize>load<u32>(ctl + Control.GlobalCounters);
  if (version != lastVersion) {
    bump(globals, GlobalCounter.TableSwitches);
    lastVersion = version;
  }
  const limit = load<u32>(ctl + Control.BatchMax);
  if (maxBatch > limit) maxBatch = limit;
  const ports = load<u32>(ctl + Control.PortCount);
  const portTable = <usize>load<u32>(ctl + Control.PortTable);
  let done: u32 = 0;
  for (let i: u32 = 0; i < ports && done < maxBatch; i++) {
    let p = nextPort + i;
    if (p >= ports) p -= ports;
    const port = portTable + <usize>p * PortConfig.Size;
    const rx = <usize>load<u32>(port, PortConfig.RxRing);
    const n = ringPeek(rx, maxBatch - done);
    if (n == 0) continue;
    processBatch(rx, n, p, port, bank, version, now);
    ringRelease(rx, n);
    done += n;
  }
  nextPort = nextPort + 1 >= ports ? 0 : nextPort + 1;
  ctSweep(ctl);
  bump(globals, GlobalCounter.Batches);
  bump(globals, GlobalCounter.Packets, done);
  // Release: every read of this batch's bank happened before the publisher sees the version.
  atomic.store<u32>(ctl + Control.ObservedVersion, version);
  return done;
}

// The batch scratch (Control.Scratch, sized for BatchMax): key template, keys, results, meta, todo.
@inline function scratchTemplate(): usize { return <usize>load<u32>(ctl + Control.Scratch); }
@inline function scratchKeys(): usize { return scratchTemplate() + Lane.Bytes; }
@inline function scratchResults(max: u32): usize { return scratchKeys() + <usize>max * Lane.Bytes; }
@inline function scratchMeta(max: u32): usize { return scratchResults(max) + <usize>max * BatchScratch.ResultBytes; }
@inline function scratchTodo(max: u32): usize { return scratchMeta(max) + <usize>max * BatchScratch.MetaBytes; }

function processBatch(rx: usize, n: u32, inPort: u32, port: usize, bank: usize, version: u32, now: i64): void {
  const max = load<u32>(ctl + Control.BatchMax);
  const keys = scratchKeys();
  const results = scratchResults(max);
  const meta = scratchMeta(max);
  const todo = scratchTodo(max);
  const portCounters = <usize>load<u32>(ctl + Control.PortCounters) + <usize>inPort * (PortCounter.Count << 3);
  const crossConnect = load<u32>(port, PortConfig.CrossConnect);
  const template = scratchTemplate();
  keyTemplate(template, inPort, crossConnect, load<u32>(port, PortConfig.Side));

  // Stage 1: parse every packet into its key and metadata. While a cache has redirect sessions
  // (the bank has a return table), a packet without a transport header (GRE has none) may be a
  // cache's GRE return: flagged Return, with its outer IP offset, and never classified.
  const returnOff = load<u32>(bank, Bank.Return);
  const returnTable = returnOff != 0 ? bank + <usize>returnOff : 0;
  let returns: u32 = 0;
  const rxSlots = rx + Ring.Header;
  const rxMask = load<u32>(rx + Ring.Mask);
  const rxCons = load<u32>(rx + Ring.Cons);
  let rxBytes: u64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    const desc = rxSlots + <usize>((rxCons + k) & rxMask) * Desc.Size;
    const len = <u32>load<u16>(desc, Desc.Len);
    const origLen = <u32>load<u16>(desc, Desc.OrigLen);
    rxBytes += origLen;
    const frame = <usize>load<u32>(desc, Desc.Addr);
    let flags = parseFrame(frame, len, origLen, template, keys + <usize>k * Lane.Bytes);
    let l3 = parsedL3;
    if (returnTable != 0 && (flags & ParseFlag.Transport) == 0) {
      const at = returnCandidate(frame, len, returnTable);
      if (at != 0) {
        flags |= ParseFlag.Return;
        l3 = at;
        returns++;
      }
    }
    const m = meta + <usize>k * BatchScratch.MetaBytes;
    store<u32>(m, <u32>desc, PacketMeta.Desc);
    store<u32>(m, flags, PacketMeta.Flags);
    store<u32>(m, l3, PacketMeta.L3);
    store<u32>(m, parsedIpLen, PacketMeta.IpLen);
    store<u32>(m, parsedL4, PacketMeta.L4);
    if ((flags & ParseFlag.Ip) == 0) bump(portCounters, PortCounter.NotIp);
    if ((flags & (ParseFlag.Truncated | ParseFlag.Malformed | ParseFlag.Ineligible)) != 0) {
      if ((flags & ParseFlag.Truncated) != 0) bump(portCounters, PortCounter.Truncated);
      if ((flags & ParseFlag.Malformed) != 0) bump(portCounters, PortCounter.Malformed);
      if ((flags & ParseFlag.Ineligible) != 0) bump(portCounters, PortCounter.Ineligible);
    }
  }
  bump(portCounters, PortCounter.RxPackets, n);
  bump(portCounters, PortCounter.RxBytes, rxBytes);

  // Stage 2: classify, only when a session exists (no cost otherwise); WCCP assignment lanes
  // first when the tables assign by other hash fields or by mask.
  const sessionCount = load<u32>(bank, Bank.SessionCount);
  if (sessionCount != 0) {
    assignmentLanes(bank, keys, n);
    classifyStage(bank, version, keys, results, meta, todo, n);
  }

  // Stage 3: act on each packet in arrival order, originals first. Originals for the port's
  // cross-connect are written straight into that ring's slots and published once at the end.
  let forwarded: u32 = 0;
  if (crossConnect != LaneValue.PortIndexNone) {
    const out = <usize>load<u32>(<usize>load<u32>(ctl + Control.PortTable) + <usize>crossConnect * PortConfig.Size, PortConfig.TxOrigRing);
    direct = out;
    directSlots = out + Ring.Header;
    directMask = load<u32>(out + Ring.Mask);
    directProd = load<u32>(out + Ring.Prod);
    directFree = ringFree(out);
    directUsed = 0;
  } else {
    direct = 0;
    directFree = 0;
    directUsed = 0;
  }
  for (let k: u32 = 0; k < n; k++) {
    const m = meta + <usize>k * BatchScratch.MetaBytes;
    const desc = <usize>load<u32>(m, PacketMeta.Desc);
    if (returns != 0 && (load<u32>(m, PacketMeta.Flags) & ParseFlag.Return) != 0) {
      forwardReturn(desc, load<u32>(m, PacketMeta.L3), returnTable, portCounters);
      continue;
    }
    const mask = sessionCount != 0 ? load<u64>(results + <usize>k * BatchScratch.ResultBytes, Result.Mask) : 0;
    if (mask == 0 && directUsed < directFree) {
      // Fast path: nothing matched, forward to the cross-connect.
      const slot = directSlots + <usize>((directProd + directUsed) & directMask) * Desc.Size;
      v128.store(slot, v128.load(desc));
      v128.store(slot, v128.load(desc, 16), 16);
      store<u8>(slot, <u8>crossConnect, Desc.OutPort);
      directUsed++;
      forwarded++;
      continue;
    }
    act(desc, load<u32>(m, PacketMeta.Flags), load<u32>(m, PacketMeta.L3), load<u32>(m, PacketMeta.L4),
      load<u32>(m, PacketMeta.IpLen), keys + <usize>k * Lane.Bytes, mask, crossConnect, portCounters, bank, now);
  }
  if (direct != 0) ringSubmit(direct, directUsed);
  bump(portCounters, PortCounter.Forwarded, forwarded);
}

// The cross-connect originals ring of the batch in progress: act() appends to it through these
// (a generic submit to the same ring would interleave with the pending ones).
let direct: usize = 0;
let directSlots: usize = 0;
let directMask: u32 = 0;
let directProd: u32 = 0;
let directFree: u32 = 0;
let directUsed: u32 = 0;

/** The ring reserveOriginal took its slot from (commitOriginal submits to it). */
let reservedRing: usize = 0;

/**
 * A slot for an original on the originals ring of port `egress`, in arrival order with the
 * batch's pending cross-connect run; 0 when that ring is full. Fill it, then commitOriginal().
 */
function reserveOriginal(egress: u32): usize {
  const out = <usize>load<u32>(<usize>load<u32>(ctl + Control.PortTable) + <usize>egress * PortConfig.Size, PortConfig.TxOrigRing);
  reservedRing = out;
  if (out == direct) {
    // The batch's cross-connect ring: append to the pending run (published when the batch ends).
    if (directUsed == directFree) return 0;
    const slot = directSlots + <usize>((directProd + directUsed) & directMask) * Desc.Size;
    directUsed++;
    return slot;
  }
  return ringFree(out) != 0 ? ringProdSlot(out, 0) : 0;
}

@inline function commitOriginal(): void {
  if (reservedRing != direct) ringSubmit(reservedRing, 1);
}

/**
 * A packet flagged Return: checked, then forwarded by the FIB (a new Ethernet header in front of
 * the inner packet, TTL − 1), or dropped under its reason. Exactly one port outcome either way.
 */
function forwardReturn(desc: usize, l3: u32, table: usize, portCounters: usize): void {
  const verdict = returnCheck(ctl, table, desc, l3);
  if (verdict != PortCounter.Returned) {
    bump(portCounters, verdict);
    frameRelease(ctl, desc);
    return;
  }
  const queued = reserveOriginal(returnEgress);
  if (queued == 0) {
    bump(portCounters, PortCounter.DroppedTxFull);
    frameRelease(ctl, desc);
    return;
  }
  v128.store(queued, v128.load(desc));
  v128.store(queued, v128.load(desc, 16), 16);
  returnRewrite(queued);
  commitOriginal();
  bump(portCounters, PortCounter.Returned);
}

/** Flow cache, then the forest for the misses: every key of the batch gets a Result. */
function classifyStage(bank: usize, version: u32, keys: usize, results: usize, meta: usize, todo: usize, n: u32): void {
  const cacheMask = load<u32>(ctl + Control.FlowCacheMask);
  const cache = <usize>load<u32>(ctl + Control.FlowCache);
  let misses: u32 = 0;
  let hits: u64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    const r = results + <usize>k * BatchScratch.ResultBytes;
    if ((load<u32>(meta + <usize>k * BatchScratch.MetaBytes, PacketMeta.Flags) & (ParseFlag.Ineligible | ParseFlag.Return)) != 0) {
      store<u64>(r, 0, Result.Mask);
      store<u32>(r, NO_RULE, Result.First);
      continue;
    }
    if (cacheMask != 0) {
      const key = keys + <usize>k * Lane.Bytes;
      const slot = flowSlot(cache, cacheMask, hashKey(key));
      if (flowHit(slot, key, version)) {
        store<u64>(r, load<u64>(slot, FlowEntry.Mask), Result.Mask);
        const rule = load<u32>(slot, FlowEntry.Rule);
        store<u32>(r, rule == 0 ? NO_RULE : rule - 1, Result.First);
        hits++;
        continue;
      }
    }
    store<u16>(todo + (<usize>misses << 1), <u16>k);
    misses++;
  }
  classifyBatch(bank, keys, results, todo, misses);
  if (cacheMask != 0) {
    const globals = <usize>load<u32>(ctl + Control.GlobalCounters);
    bump(globals, GlobalCounter.FlowCacheHits, hits);
    bump(globals, GlobalCounter.FlowCacheMisses, misses);
    for (let j: u32 = 0; j < misses; j++) {
      const k = <usize>load<u16>(todo + (<usize>j << 1));
      const key = keys + k * Lane.Bytes;
      const r = results + k * BatchScratch.ResultBytes;
      const first = load<u32>(r, Result.First);
      flowFill(flowSlot(cache, cacheMask, hashKey(key)), key, version, first == NO_RULE ? 0 : first + 1, load<u64>(r, Result.Mask));
    }
  }
}

/** The verdict for one packet: queue the original, feed the sessions, divert to a cache or a race member. */
function act(desc: usize, flags: u32, l3: u32, l4: u32, ipLen: u32, key: usize, mask: u64, crossConnect: u32,
             portCounters: usize, bank: usize, now: i64): void {
  const sessions = bank + <usize>load<u32>(bank, Bank.Sessions);
  let egress = crossConnect;

  // Policy first: a deny match drops the original (the sessions still see it). Then redirect,
  // then race: a packet the policy drops or a cache takes never reaches a race group.
  let redirectCfg: usize = 0;
  let raceCfg: usize = 0;
  let raceIndex: u32 = 0;
  resetRace();
  const redirects = mask & load<u64>(bank, Bank.RedirectMask);
  const races = mask & (load<u64>(bank, Bank.RaceMask) | load<u64>(bank, Bank.RaceReplyMask));
  if ((mask & load<u64>(bank, Bank.DropMask)) != 0) {
    egress = LaneValue.PortIndexNone;
  } else if (redirects != 0) {
    // Redirect: the highest-priority matching redirect session diverts the original.
    const cfg = sessions + <usize>ctz(redirects) * SessionConfig.Size;
    if (divertFits(ctl, cfg + SessionConfig.Replica, desc, flags, l3, ipLen)) {
      redirectCfg = cfg;
      egress = load<u32>(cfg, SessionConfig.EgressPort);
    } else {
      bump(portCounters, PortCounter.RedirectBypassed);
    }
  } else if (races != 0) {
    // Race: a member's answer (the reply category, from a member of that group), or a packet
    // towards the service (the session's own category). The lowest matching session decides.
    const replies = mask & load<u64>(bank, Bank.RaceReplyMask);
    const clients = mask & load<u64>(bank, Bank.RaceMask);
    let member = NO_MEMBER;
    if (replies != 0) {
      raceIndex = load<u32>(sessions + <usize>ctz(replies) * SessionConfig.Size, SessionConfig.RaceReplyOf);
      raceCfg = sessions + <usize>raceIndex * SessionConfig.Size;
      member = memberOf(raceGroup(bank, raceCfg), desc);
    }
    if (member != NO_MEMBER) {
      raceServer(ctl, bank, raceCfg, member, desc, flags, l4, key);
    } else if (clients != 0) {
      raceIndex = <u32>ctz(clients);
      raceCfg = sessions + <usize>raceIndex * SessionConfig.Size;
      raceClient(ctl, bank, raceCfg, desc, flags, l4, key);
    } else {
      raceCfg = 0; // a reply-shaped packet from a host that is not a member: not the group's business
    }
    if (raceDrop) {
      egress = LaneValue.PortIndexNone;
    } else if (raceMember != NO_MEMBER) {
      egress = load<u32>(raceMemberAt(raceGroup(bank, raceCfg), raceMember), RaceMember.Port);
    }
  }

  // Originals first: queue it on its egress ring before any replica work.
  let queued: usize = 0;
  let release = false;
  if (egress == LaneValue.PortIndexNone) {
    bump(portCounters, raceDrop ? PortCounter.DroppedRace : PortCounter.DroppedPolicy);
    release = true;
  } else {
    queued = reserveOriginal(egress);
    if (queued == 0) {
      bump(portCounters, PortCounter.DroppedTxFull);
      release = true;
    } else {
      v128.store(queued, v128.load(desc));
      v128.store(queued, v128.load(desc, 16), 16);
      store<u8>(queued, <u8>egress, Desc.OutPort);
      commitOriginal();
      bump(portCounters, redirectCfg != 0 ? PortCounter.Redirected : PortCounter.Forwarded);
    }
  }

  // Replicas: every matched sniff/dup session, reading the untouched frame.
  resetCarrier();
  let pending = mask & load<u64>(bank, Bank.ReplicateMask);
  while (pending != 0) {
    const s = <u32>ctz(pending);
    replicate(ctl, bank, s, sessions + <usize>s * SessionConfig.Size, desc, flags, l3, ipLen, key, now);
    pending &= pending - 1;
  }

  // The race's own frames, from the untouched frame: copies of an opener for the other members,
  // and the reset that frees a loser (built from its SYN-ACK before that frame is released).
  if (raceCfg != 0) {
    if (raceCopies != 0) raceCopy(ctl, bank, raceCfg, raceIndex, desc, ipLen, raceCopies);
    if (raceResetTo != NO_MEMBER) raceReset(ctl, bank, raceCfg, raceIndex, raceResetTo, desc, l3, l4, key);
  }

  // Diversions, after every replica has read the frame: to the cache (redirect), to a race
  // member (its MACs), or into the tagged dup stream (the carrier member) when the original
  // leaves by the carrier's port.
  const steered = raceCfg != 0 && raceMember != NO_MEMBER && queued != 0;
  if (redirectCfg != 0 && queued != 0) {
    divertEncapsulate(ctl, bank, redirectCfg, redirectCfg + SessionConfig.Replica, queued, l3, ipLen, key, now, 0, DescFlag.Redirected);
  } else if (steered) {
    raceSteer(bank, raceCfg, raceMember, queued);
    if (carrierCfg != 0) bump(sessionCounters(ctl, carrierCfg), SessionCounter.CarrierBypassed);
  } else if (carrierCfg != 0 && queued != 0) {
    const member = carrierCfg + SessionConfig.Carrier;
    const counters = sessionCounters(ctl, carrierCfg);
    if (egress == load<u32>(member, Member.EgressPort) && divertFits(ctl, member, desc, flags, l3, ipLen)) {
      divertEncapsulate(ctl, bank, carrierCfg, member, queued, l3, ipLen, key, now, carrierSeq, DescFlag.Carried);
      bump(counters, SessionCounter.Carried);
    } else {
      bump(counters, SessionCounter.CarrierBypassed);
    }
  }
  if (release) frameRelease(ctl, desc);
}

/** Tuples classified per classifyBatch call by classifyTuples. */
@inline const TUPLE_BATCH: u32 = 256;

/** Bytes of scratch classifyTuples needs. */
export function tupleScratchBytes(): u32 {
  return TUPLE_BATCH * (Lane.Bytes + BatchScratch.ResultBytes + BatchScratch.TodoBytes) + Lane.Bytes;
}

/**
 * Classifies `count` IPv4 5-tuples (TupleField layout, host order) against the bank at `bank`,
 * writing the id of each one's highest-priority matching rule (0: none) to out[i] as u32 — for
 * ClassBench rule files, the 1-based rule line. `scratch` holds tupleScratchBytes(). It runs the
 * same batch classifier as process(). Used by `twinflow classify` and the benchmark.
 */
export function classifyTuples(bank: usize, tuples: usize, count: u32, out: usize, scratch: usize): void {
  const keys = scratch;
  const results = keys + <usize>TUPLE_BATCH * Lane.Bytes;
  const todo = results + <usize>TUPLE_BATCH * BatchScratch.ResultBytes;
  const meta = bank + <usize>load<u32>(bank, Bank.RuleMeta);
  // A bare tuple is IPv4 that came in on port 0 and leaves by none.
  const template = todo + <usize>TUPLE_BATCH * BatchScratch.TodoBytes;
  keyTemplate(template, 0, LaneValue.PortIndexNone, 0);
  store<u32>(template + Lane.Family * 4, LaneValue.FamilyIpv4);
  for (let base: u32 = 0; base < count; base += TUPLE_BATCH) {
    const n = count - base < TUPLE_BATCH ? count - base : TUPLE_BATCH;
    for (let i: u32 = 0; i < n; i++) {
      const t = tuples + <usize>(base + i) * TupleField.Size;
      const key = keys + <usize>i * Lane.Bytes;
      copyKey(key, template);
      store<u32>(key + Lane.Src0 * 4, load<u32>(t, TupleField.Src));
      store<u32>(key + Lane.Dst0 * 4, load<u32>(t, TupleField.Dst));
      store<u32>(key + Lane.SrcPort * 4, <u32>load<u16>(t, TupleField.SrcPort));
      store<u32>(key + Lane.DstPort * 4, <u32>load<u16>(t, TupleField.DstPort));
      store<u32>(key + Lane.Proto * 4, load<u32>(t, TupleField.Proto));
      store<u16>(todo + (<usize>i << 1), <u16>i);
    }
    classifyBatch(bank, keys, results, todo, n);
    for (let i: u32 = 0; i < n; i++) {
      const first = load<u32>(results + <usize>i * BatchScratch.ResultBytes, Result.First);
      store<u32>(out + (<usize>(base + i) << 2), first == NO_RULE ? 0 : load<u32>(meta + <usize>first * RuleMeta.Size, RuleMeta.Id));
    }
  }
}
