// Sequence recovery for the far end of tagged dup (IEEE 802.1CB-2017, VectorRecoveryAlgorithm,
// "individual recovery" per stream): every member stream's copies of a packet carry the same
// GRE key (stream id) and sequence number; the first copy passes, later ones are discarded.
//
// Per stream (wasm/abi.ts StreamEntry): RecovSeqNum, a history of HistoryLength bits (up to
// ElimLimit.MaxHistory, kept as a ring indexed by the sequence number), TakeAny, the
// time of the last accepted packet, and the counters 802.1CB names (passed, discarded, out of
// order, rogue, lost, resets). For a packet with sequence s (32-bit, wrap-aware):
//   TakeAny (new stream, or after a reset): accept; RecovSeqNum = s; history = {s}.
//   delta = s − RecovSeqNum (signed); |delta| ≥ HistoryLength: rogue, discard.
//   delta > 0: accept; the history shifts by delta (positions that leave unseen count as lost,
//              but only positions known since the reset: the standard's start-up over-count of
//              frerCpsSeqRcvyLostPackets, 802.1 maintenance item 486, is avoided); out of order
//              when delta ≠ 1.
//   delta ≤ 0: accept when bit −delta is clear (a late packet, out of order), else a duplicate.
//   The reset timer restarts on every accepted packet; a packet arriving after ResetNs without
//   one resets the stream first (resets + 1, TakeAny) — how the far end resynchronises after the
//   talker restarted its numbering.
// A stream the table has no room for is passed without recovery and counted (IEC 62439-3's rule
// for duplicate discard: never reject a legitimate frame when in doubt).
//
// Contract: packets are untrusted (bounds-checked GRE parsing); no allocation; time is `now`.

import { ElimLimit, ElimPacket, ElimVerdict, EliminatorHeader, ElimMagic, StreamEntry, StreamFlag } from '../abi';
import { be16, be32 } from '../wire/bytes';

@inline const IPPROTO_GRE: u32 = 47;
@inline const GRE_KEY: u32 = 0x2000;
@inline const GRE_SEQ: u32 = 0x1000;
@inline const GRE_CHECKSUM: u32 = 0x8000;
@inline const GRE_MUST_BE_ZERO: u32 = 0x4ff8 | 0x0007; // routing, strict route, recursion, flags, version
@inline const ETHERTYPE_IPV4: u32 = 0x0800;
@inline const ETHERTYPE_IPV6: u32 = 0x86dd;
@inline const HASH: u32 = 0x9e3779b1;

@inline function inc(p: usize): void {
  store<u64>(p, load<u64>(p) + 1);
}

/** Formats an eliminator region; returns its size, or 0 for bad parameters. */
export function eliminatorInit(region: usize, capacity: u32, historyLength: u32, resetNs: i64): u32 {
  if (capacity == 0 || (capacity & (capacity - 1)) != 0 || historyLength == 0 || historyLength > <u32>ElimLimit.MaxHistory || resetNs <= 0) return 0;
  const size = <u32>EliminatorHeader.Size + capacity * <u32>StreamEntry.Size;
  memory.fill(region, 0, size);
  store<u32>(region, ElimMagic.Value, EliminatorHeader.Magic);
  store<u32>(region, capacity, EliminatorHeader.Capacity);
  store<u32>(region, historyLength, EliminatorHeader.HistoryLength);
  store<i64>(region, resetNs, EliminatorHeader.ResetNs);
  return size;
}

/** Bytes an eliminator of `capacity` streams occupies. */
export function eliminatorBytes(capacity: u32): u32 {
  return <u32>EliminatorHeader.Size + capacity * <u32>StreamEntry.Size;
}

/** The stream entry for `key`, claimed if new; 0 when the table is full. */
function streamFor(region: usize, key: u32, now: i64): usize {
  const capacity = load<u32>(region, EliminatorHeader.Capacity);
  const mask = capacity - 1;
  let i = (key * HASH) >>> 16 & mask;
  for (let probe: u32 = 0; probe < capacity; probe++) {
    const e = region + EliminatorHeader.Size + <usize>i * StreamEntry.Size;
    const flags = load<u32>(e, StreamEntry.Flags);
    if ((flags & StreamFlag.Used) == 0) {
      store<u32>(e, key, StreamEntry.Key);
      store<u32>(e, StreamFlag.Used | StreamFlag.TakeAny, StreamEntry.Flags);
      store<i64>(e, now, StreamEntry.LastAcceptNs);
      store<u32>(region, load<u32>(region, EliminatorHeader.Streams) + 1, EliminatorHeader.Streams);
      return e;
    }
    if (load<u32>(e, StreamEntry.Key) == key) return e;
    i = (i + 1) & mask;
  }
  return 0;
}

@inline const RING_BITS: u32 = <u32>ElimLimit.MaxHistory;
@inline const RING_MASK: u32 = RING_BITS - 1;

/** Sequence numbers a .. a+n−1 (n ≤ RING_BITS) of the history ring at `ring`: how many are clear. */
function ringCountClear(ring: usize, a: u32, n: u32): u32 {
  let clear: u32 = 0;
  let pos = a & RING_MASK;
  while (n > 0) {
    const off = pos & 63;
    const take = min<u32>(64 - off, n);
    const mask: u64 = take == 64 ? <u64>-1 : (((<u64>1 << <u64>take) - 1) << <u64>off);
    clear += <u32>popcnt<u64>(~load<u64>(ring + (<usize>(pos >> 6) << 3)) & mask);
    pos = (pos + take) & RING_MASK;
    n -= take;
  }
  return clear;
}

/** Clears sequence numbers a .. a+n−1 (n ≤ RING_BITS) of the history ring at `ring`. */
function ringClear(ring: usize, a: u32, n: u32): void {
  let pos = a & RING_MASK;
  while (n > 0) {
    const off = pos & 63;
    const take = min<u32>(64 - off, n);
    const mask: u64 = take == 64 ? <u64>-1 : (((<u64>1 << <u64>take) - 1) << <u64>off);
    const w = ring + (<usize>(pos >> 6) << 3);
    store<u64>(w, load<u64>(w) & ~mask);
    pos = (pos + take) & RING_MASK;
    n -= take;
  }
}

@inline function ringWord(ring: usize, seq: u32): usize {
  return ring + (<usize>((seq & RING_MASK) >> 6) << 3);
}

@inline function ringBit(seq: u32): u64 {
  return <u64>1 << <u64>(seq & 63);
}

/** Runs recovery for one sequence number of stream entry `e`; returns the verdict. */
function recover(e: usize, seq: u32, length: u32, resetNs: i64, now: i64): u32 {
  const ring = e + StreamEntry.History;
  let flags = load<u32>(e, StreamEntry.Flags);
  if ((flags & StreamFlag.TakeAny) == 0 && now - load<i64>(e, StreamEntry.LastAcceptNs) > resetNs) {
    flags |= StreamFlag.TakeAny;
    inc(e + StreamEntry.Resets);
  }
  if ((flags & StreamFlag.TakeAny) != 0) {
    store<u32>(e, flags & ~StreamFlag.TakeAny, StreamEntry.Flags);
    store<u32>(e, seq, StreamEntry.RecovSeq);
    memory.fill(ring, 0, RING_BITS >> 3);
    store<u64>(ringWord(ring, seq), ringBit(seq));
    store<u32>(e, 1, StreamEntry.Valid);
    store<i64>(e, now, StreamEntry.LastAcceptNs);
    inc(e + StreamEntry.Passed);
    return ElimVerdict.Pass;
  }
  const recov = load<u32>(e, StreamEntry.RecovSeq);
  const delta = <i32>(seq - recov);
  if (delta >= <i32>length || delta <= -<i32>length) {
    inc(e + StreamEntry.Rogue);
    return ElimVerdict.Rogue;
  }
  if (delta > 0) {
    const d = <u32>delta;
    // The window is recov−length+1 .. recov. The d oldest positions leave it; those known since
    // the reset (within `valid` of recov) and never accepted are lost. Then the d entering
    // positions are cleared (a ring position is reused by the number RING_BITS later).
    const valid = load<u32>(e, StreamEntry.Valid);
    const oldest = recov - length + 1;
    const firstKnown = recov - valid + 1;
    const leavingEnd = oldest + d; // exclusive
    const from = <i32>(firstKnown - oldest) > 0 ? firstKnown : oldest;
    if (<i32>(leavingEnd - from) > 0) {
      const unseen = ringCountClear(ring, from, leavingEnd - from);
      if (unseen != 0) store<u64>(e, load<u64>(e, StreamEntry.Lost) + <u64>unseen, StreamEntry.Lost);
    }
    ringClear(ring, recov + 1, d);
    const w = ringWord(ring, seq);
    store<u64>(w, load<u64>(w) | ringBit(seq));
    store<u32>(e, seq, StreamEntry.RecovSeq);
    store<u32>(e, valid + d > length ? length : valid + d, StreamEntry.Valid);
    store<i64>(e, now, StreamEntry.LastAcceptNs);
    inc(e + StreamEntry.Passed);
    if (d != 1) inc(e + StreamEntry.OutOfOrder);
    return ElimVerdict.Pass;
  }
  const w = ringWord(ring, seq);
  const bit = ringBit(seq);
  const word = load<u64>(w);
  if ((word & bit) != 0) {
    inc(e + StreamEntry.Discarded);
    return ElimVerdict.Discard;
  }
  store<u64>(w, word | bit);
  store<i64>(e, now, StreamEntry.LastAcceptNs);
  inc(e + StreamEntry.Passed);
  inc(e + StreamEntry.OutOfOrder);
  return ElimVerdict.Pass;
}

/**
 * Runs `n` received IPv4 packets (ElimPacket records at `packets`) through the eliminator at
 * `region`: GRE with key and sequence carrying IPv4 or IPv6 gets a recovery verdict and, when it
 * passes, the inner packet's place; anything else is Malformed.
 */
export function eliminateBatch(region: usize, packets: usize, n: u32, now: i64): void {
  const length = load<u32>(region, EliminatorHeader.HistoryLength);
  const resetNs = load<i64>(region, EliminatorHeader.ResetNs);
  for (let k: u32 = 0; k < n; k++) {
    const r = packets + <usize>k * ElimPacket.Size;
    const p = <usize>load<u32>(r, ElimPacket.Addr);
    const len = load<u32>(r, ElimPacket.Len);
    store<u32>(r, ElimVerdict.Malformed, ElimPacket.Verdict);
    if (len < 20) { inc(region + EliminatorHeader.Malformed); continue; }
    const ihl = (<u32>load<u8>(p) & 0xf) << 2;
    const total = be16(p + 2);
    if ((load<u8>(p) >> 4) != 4 || ihl < 20 || total > len || total < ihl + 12 || <u32>load<u8>(p + 9) != IPPROTO_GRE || (be16(p + 6) & 0x3fff) != 0) {
      inc(region + EliminatorHeader.Malformed);
      continue;
    }
    const gre = p + ihl;
    const flags = be16(gre);
    const proto = be16(gre + 2);
    if ((flags & (GRE_KEY | GRE_SEQ)) != (GRE_KEY | GRE_SEQ) || (flags & GRE_MUST_BE_ZERO) != 0 || (proto != ETHERTYPE_IPV4 && proto != ETHERTYPE_IPV6)) {
      inc(region + EliminatorHeader.Malformed);
      continue;
    }
    let at: u32 = ihl + 4;
    if ((flags & GRE_CHECKSUM) != 0) at += 4;
    if (at + 8 > total) { inc(region + EliminatorHeader.Malformed); continue; }
    const key = be32(p + at);
    const seq = be32(p + at + 4);
    at += 8;
    if (at >= total) { inc(region + EliminatorHeader.Malformed); continue; }
    store<u32>(r, key, ElimPacket.Stream);
    store<u32>(r, seq, ElimPacket.Sequence);
    store<u32>(r, at, ElimPacket.InnerOff);
    store<u32>(r, total - at, ElimPacket.InnerLen);
    const e = streamFor(region, key, now);
    if (e == 0) {
      inc(region + EliminatorHeader.Untracked);
      store<u32>(r, ElimVerdict.Untracked, ElimPacket.Verdict);
      continue;
    }
    store<u32>(r, recover(e, seq, length, resetNs, now), ElimPacket.Verdict);
  }
}
