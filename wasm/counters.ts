// Counter indices shared by the hot path (which increments them) and the control plane (which
// names, shows and exports them: firmware/runtime/counters.ts holds the names and meanings and is
// type-checked to cover every index here). Counters are u64, laid out as arrays indexed by these.

/**
 * Per port. Conservation: RxPackets = Forwarded + Redirected + Returned + DroppedPolicy +
 * DroppedTxFull + DroppedRace + DroppedReturn* (every received frame has exactly one of these
 * outcomes; the parse annotations and RedirectBypassed are not outcomes). A cache's GRE return is
 * counted on the port it arrived by.
 */
export const enum PortCounter {
  RxPackets = 0,
  RxBytes = 1,
  Forwarded = 2,
  Redirected = 3,
  DroppedPolicy = 4,
  Truncated = 5, // a header was cut short by the capture length (annotation, not a drop)
  Malformed = 6, // a header's own length fields are inconsistent (annotation, not a drop)
  NotIp = 7,
  Ineligible = 8, // our own encapsulation or control traffic: never matched for replication
  RedirectBypassed = 9, // diverted original would not fit the cache path MTU: forwarded instead
  DroppedTxFull = 10, // egress originals ring full: the runtime sizes batches so this stays 0
  DroppedRace = 11, // a race group member's answer held back: a loser's late SYN-ACK, or a refusal while another member may accept
  Returned = 12, // a cache's GRE return: decapsulated, TTL − 1, forwarded by the FIB (wasm/forward/)
  DroppedReturnMalformed = 13, // a return whose outer IPv4, or inner IPv4, header is unusable (bad version, length, checksum; a fragment)
  DroppedReturnUnsupported = 14, // a return carrying IPv6 (the FIB is IPv4 only)
  DroppedReturnTtl = 15, // a return whose inner TTL was 1 or 0: it may not be forwarded
  DroppedReturnNoRoute = 16, // a return for a destination no FIB entry covers
  DroppedReturnNoNeighbor = 17, // a return for a destination on a port where no MAC is known for it (or its next hop)
  DroppedReturnMtu = 18, // a return whose inner packet exceeds the egress port's MTU (the router does not fragment)
  Count = 19,
}

/**
 * Per session. Conservation: Matched = Replicated + SampledOut + RateLimited + RingFull + NoFrame
 * + Mtu + NotCarried + HoldFull (sniff, dup) + the Race outcomes (race; each packet has exactly
 * one: RaceStarted … RacePassed). A held replica (the device has not registered yet) counts as
 * Replicated and as Held; it leaves when the device registers. Byte counters: BytesMatched counts
 * original wire bytes, BytesReplicated counts the inner bytes carried by replicas (after
 * truncation, before encapsulation). Race also: RaceWon = Σ RaceWon0..7; RaceLate = RaceResets +
 * RaceResetRingFull + RaceResetNoFrame; every copy asked for is RaceCopies or one named drop.
 */
export const enum SessionCounter {
  Matched = 0,
  Replicated = 1,
  SampledOut = 2,
  RateLimited = 3,
  RingFull = 4,
  NoFrame = 5,
  Mtu = 6,
  BytesMatched = 7,
  BytesReplicated = 8,
  TruncatedReplicas = 9, // replicas whose inner packet was cut (snaplen, MTU or capture); included in Replicated
  NotCarried = 10, // a non-IP frame matched a session whose encapsulation carries IP only
  Held = 11, // replicas parked in the hold ring (included in Replicated)
  HoldFull = 12, // replicas dropped: the hold ring was full
  Carried = 13, // tagged dup: originals that travelled in the session's stream (carrier member)
  CarrierBypassed = 14, // tagged dup: originals forwarded as they are (did not fit the carrier path, or left by another port)
  // Race outcomes, client side (packets towards the service):
  RaceStarted = 15, // a new TCP flow raced: its opener went to every member
  RaceResent = 16, // a packet of a flow still racing (a retransmitted SYN, a RST): again to every member
  RacePinned = 17, // a packet of a won flow: to the winner
  RaceBudget = 18, // a new flow not raced, over the budget: to the member its hash names
  RaceTableFull = 19, // a new flow not raced, no room in the connection table: to its hash member
  RaceUntracked = 20, // a TCP packet of a flow with no entry (it was not raced, or its entry expired): to its hash member
  RaceNotTcp = 21, // not TCP (or no whole transport header): not raced, to its hash member (not IP: as it is)
  // Race outcomes, server side (what the members send back):
  RaceWon = 22, // the first acceptance (SYN-ACK) of a racing flow: forwarded, the flow pinned to its member
  RaceLate = 23, // a loser's SYN-ACK: dropped, and the loser reset
  RaceRefused = 24, // a member's RST while another member may still accept (or already has): dropped
  RaceAllRefused = 25, // the last member's RST when every member refused: forwarded, the flow ends
  RacePassed = 26, // anything else a member sends: forwarded unchanged
  // Race annotations:
  RaceCopies = 27, // copies of an opener queued to the other members
  RaceCopyMtu = 28, // copies dropped: larger than the member port's MTU
  RaceCopyRingFull = 29, // copies dropped: the member port's replica queue was full
  RaceCopyNoFrame = 30, // copies dropped: no free replica frame
  RaceResets = 31, // RSTs queued to losers
  RaceResetRingFull = 32,
  RaceResetNoFrame = 33,
  RaceExpired = 34, // connection entries of this session freed idle (racing or won, no packet within the timeout)
  RaceClosed = 35, // connection entries of this session freed by the flow's end: RST, every member refusing, or a FIN's closing time over
  RaceWon0 = 36, // wins per member, RaceWon0 + k for member k (RaceLimits.MaxMembers of them)
  RaceWon1 = 37,
  RaceWon2 = 38,
  RaceWon3 = 39,
  RaceWon4 = 40,
  RaceWon5 = 41,
  RaceWon6 = 42,
  RaceWon7 = 43,
  Count = 44,
}

export const enum GlobalCounter {
  Batches = 0,
  Packets = 1,
  FlowCacheHits = 2,
  FlowCacheMisses = 3,
  TableSwitches = 4, // batches that started on a new TableVersion
  ConntrackInserted = 5, // connection entries made (in use = inserted − expired − closed)
  ConntrackExpired = 6, // entries freed idle (on lookup or by the sweep), and those a replaced session left behind
  ConntrackClosed = 7, // entries freed by the flow's end (RST, every member refusing, a FIN's closing time over)
  Count = 8,
}
