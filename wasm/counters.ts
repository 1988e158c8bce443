// Counter indices shared by the hot path (which increments them) and the control plane (which
// names, shows and exports them: firmware/runtime/counters.ts holds the names and meanings and is
// type-checked to cover every index here). Counters are u64, laid out as arrays indexed by these.

/** Per port. Conservation: RxPackets = Forwarded + Redirected + DroppedPolicy + DroppedTxFull. */
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
  Count = 11,
}

/**
 * Per session. Conservation: Matched = Replicated + SampledOut + RateLimited + RingFull + NoFrame
 * + Mtu + NotCarried + HoldFull. A held replica (the device has not registered yet) counts as
 * Replicated and as Held; it leaves when the device registers. Byte counters: BytesMatched counts original wire bytes, BytesReplicated counts the inner
 * bytes carried by replicas (after truncation, before encapsulation).
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
  Count = 15,
}

export const enum GlobalCounter {
  Batches = 0,
  Packets = 1,
  FlowCacheHits = 2,
  FlowCacheMisses = 3,
  TableSwitches = 4, // batches that started on a new TableVersion
  Count = 5,
}
