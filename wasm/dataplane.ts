// The data plane of one line card: batches in, verdicts and counters out.
//
//   rx rings ─► parse ─► flow cache ─► classify (tree) ─► verdict
//     ─► original onto its egress originals ring, untouched (or diverted to a cache: redirect)
//     ─► per matched session: sample → police → truncate → encapsulate → replica ring
//     ─► counters
//
// Contract
// - Pure: no allocation, no imports, no clock. Time is the `now` argument and each packet's
//   descriptor timestamp; randomness is the sessions' seeded xorshift state.
// - The one rule: the original is queued on its egress ring before any replica work, its bytes
//   are never written (a redirected original is the exception: it is encapsulated in place, after
//   the replicas have read it, because diverting it is the job). Replicas are best effort and
//   every replica that does not go out is counted under a named reason.
// - Tables are read from the bank named by Control.ActiveBank, read once per batch: a batch is
//   classified wholly by one table version, and Control.ObservedVersion tells the control plane
//   when a switch has taken effect.
// - The runtime sizes `maxBatch` so that every originals ring has room for the whole batch;
//   should one still be full, the original is dropped and counted (DroppedTxFull).

import { Abi, Bank, InitError, TupleField, Control, Desc, FlowEntry, Lane, LaneValue, PortConfig, RuleMeta, SessionConfig } from './abi';
import { GlobalCounter, PortCounter } from './counters';
import { ParseFlag, parseFrame } from './wire/parse';
import { classifyKey, firstRule, matchedMask } from './classify/tree';
import { flowFill, flowHit, flowSlot, hashKey } from './classify/flowcache';
import { ringConsSlot, ringFree, ringPeek, ringProdSlot, ringRelease, ringSubmit } from './ring/ring';
import { frameRelease } from './ring/frames';
import { redirectEncapsulate, redirectFits, replicate } from './replicate/replicate';

export { pcapIngest, pcapEmit, pcapngEmit, ingestError, ingestErrorAt } from './io/capture';

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

@inline function activeBank(): usize {
  return <usize>load<u32>(ctl + (load<u32>(ctl + Control.ActiveBank) != 0 ? Control.Bank1 : Control.Bank0));
}

/**
 * Processes up to `maxBatch` received packets across all ports (round robin over ports, each
 * port's ring drained in order) and returns how many it took.
 */
export function process(maxBatch: u32, now: i64): u32 {
  const version = load<u32>(ctl + Control.TableVersion);
  const bank = activeBank();
  const globals = <usize>load<u32>(ctl + Control.GlobalCounters);
  if (version != lastVersion) {
    bump(globals, GlobalCounter.TableSwitches);
    lastVersion = version;
  }
  const ports = load<u32>(ctl + Control.PortCount);
  const portTable = <usize>load<u32>(ctl + Control.PortTable);
  let done: u32 = 0;
  for (let i: u32 = 0; i < ports && done < maxBatch; i++) {
    let p = nextPort + i;
    if (p >= ports) p -= ports;
    const port = portTable + <usize>p * PortConfig.Size;
    const rx = <usize>load<u32>(port, PortConfig.RxRing);
    const n = ringPeek(rx, maxBatch - done);
    for (let k: u32 = 0; k < n; k++) {
      processOne(ringConsSlot(rx, k), p, port, bank, version, now);
    }
    ringRelease(rx, n);
    done += n;
  }
  nextPort = nextPort + 1 >= ports ? 0 : nextPort + 1;
  bump(globals, GlobalCounter.Batches);
  bump(globals, GlobalCounter.Packets, done);
  store<u32>(ctl + Control.ObservedVersion, version);
  return done;
}

/** Looks the key up through the flow cache (when enabled); leaves the result in matchedMask. */
@inline function lookup(bank: usize, key: usize, version: u32): u64 {
  const mask = load<u32>(ctl + Control.FlowCacheMask);
  if (mask == 0) {
    classifyKey(bank, key);
    return matchedMask;
  }
  const globals = <usize>load<u32>(ctl + Control.GlobalCounters);
  const slot = flowSlot(<usize>load<u32>(ctl + Control.FlowCache), mask, hashKey(key));
  if (flowHit(slot, key, version)) {
    bump(globals, GlobalCounter.FlowCacheHits);
    return load<u64>(slot, FlowEntry.Mask);
  }
  bump(globals, GlobalCounter.FlowCacheMisses);
  classifyKey(bank, key);
  flowFill(slot, key, version, firstRule, matchedMask);
  return matchedMask;
}

function processOne(desc: usize, inPort: u32, port: usize, bank: usize, version: u32, now: i64): void {
  const portCounters = <usize>load<u32>(ctl + Control.PortCounters) + <usize>inPort * (PortCounter.Count << 3);
  const len = <u32>load<u16>(desc, Desc.Len);
  const origLen = <u32>load<u16>(desc, Desc.OrigLen);
  bump(portCounters, PortCounter.RxPackets);
  bump(portCounters, PortCounter.RxBytes, origLen);

  // Forwarding decision (wire mode: each port has a fixed partner), then parse with it known.
  let egress = load<u32>(port, PortConfig.CrossConnect);
  const key = <usize>load<u32>(ctl + Control.Scratch);
  const flags = parseFrame(<usize>load<u32>(desc, Desc.Addr), len, origLen, inPort, egress,
    load<u32>(port, PortConfig.Side), key);
  if ((flags & ParseFlag.Truncated) != 0) bump(portCounters, PortCounter.Truncated);
  if ((flags & ParseFlag.Malformed) != 0) bump(portCounters, PortCounter.Malformed);
  if ((flags & ParseFlag.Ip) == 0) bump(portCounters, PortCounter.NotIp);

  let mask: u64 = 0;
  const sessionCount = load<u32>(bank, Bank.SessionCount);
  if ((flags & ParseFlag.Ineligible) != 0) {
    bump(portCounters, PortCounter.Ineligible);
  } else if (sessionCount != 0) {
    mask = lookup(bank, key, version);
  }
  const sessions = bank + <usize>load<u32>(bank, Bank.Sessions);

  // Redirect: the highest-priority matching redirect session diverts the original.
  let redirectCfg: usize = 0;
  const redirects = mask & load<u64>(bank, Bank.RedirectMask);
  if (redirects != 0) {
    const cfg = sessions + <usize>ctz(redirects) * SessionConfig.Size;
    if (redirectFits(ctl, cfg, desc, flags)) {
      redirectCfg = cfg;
      egress = load<u32>(cfg, SessionConfig.EgressPort);
    } else {
      bump(portCounters, PortCounter.RedirectBypassed);
    }
  }

  // Originals first: queue it on its egress ring before any replica work.
  let queued: usize = 0;
  let release = false;
  if (egress == LaneValue.PortIndexNone) {
    bump(portCounters, PortCounter.DroppedPolicy);
    release = true;
  } else {
    const out = <usize>load<u32>(<usize>load<u32>(ctl + Control.PortTable) + <usize>egress * PortConfig.Size, PortConfig.TxOrigRing);
    if (ringFree(out) == 0) {
      bump(portCounters, PortCounter.DroppedTxFull);
      release = true;
    } else {
      queued = ringProdSlot(out, 0);
      v128.store(queued, v128.load(desc));
      v128.store(queued, v128.load(desc, 16), 16);
      store<u8>(queued, <u8>egress, Desc.OutPort);
      ringSubmit(out, 1);
      bump(portCounters, redirectCfg != 0 ? PortCounter.Redirected : PortCounter.Forwarded);
    }
  }

  // Replicas: every matched sniff/dup/race session, reading the untouched frame.
  let replicate_ = mask & load<u64>(bank, Bank.ReplicateMask);
  while (replicate_ != 0) {
    const s = <u32>ctz(replicate_);
    replicate(ctl, bank, s, sessions + <usize>s * SessionConfig.Size, desc, flags, key, now);
    replicate_ &= replicate_ - 1;
  }

  if (redirectCfg != 0 && queued != 0) redirectEncapsulate(ctl, bank, redirectCfg, queued, key, now);
  if (release) frameRelease(ctl, desc);
}

/**
 * Classifies `count` IPv4 5-tuples (16 bytes each: src u32, dst u32, sport u16, dport u16,
 * proto u32, host order) against the bank at `bank`, writing the 1-based index of each one's
 * highest-priority matching rule (0: none) to out[i] as u32. `key` is an 80-byte scratch area.
 * Used by `twinflow classify` and the classification benchmark.
 */
export function classifyTuples(bank: usize, tuples: usize, count: u32, out: usize, key: usize): void {
  const z = i32x4.splat(0);
  v128.store(key, z);
  v128.store(key, z, 16);
  v128.store(key, z, 32);
  v128.store(key, z, 48);
  v128.store(key, z, 64);
  store<u32>(key + Lane.Family * 4, LaneValue.FamilyIpv4);
  store<u32>(key + Lane.OutPort * 4, LaneValue.PortIndexNone);
  store<u32>(key + Lane.VlanOuter * 4, LaneValue.VlanNone);
  store<u32>(key + Lane.VlanInner * 4, LaneValue.VlanNone);
  const meta = bank + <usize>load<u32>(bank, Bank.RuleMeta);
  for (let i: u32 = 0; i < count; i++) {
    const t = tuples + <usize>i * TupleField.Size;
    store<u32>(key + Lane.Src0 * 4, load<u32>(t, TupleField.Src));
    store<u32>(key + Lane.Dst0 * 4, load<u32>(t, TupleField.Dst));
    store<u32>(key + Lane.SrcPort * 4, <u32>load<u16>(t, TupleField.SrcPort));
    store<u32>(key + Lane.DstPort * 4, <u32>load<u16>(t, TupleField.DstPort));
    store<u32>(key + Lane.Proto * 4, load<u32>(t, TupleField.Proto));
    classifyKey(bank, key);
    const rule = firstRule;
    store<u32>(out + (<usize>i << 2), rule == 0 ? 0 : load<u32>(meta + <usize>(rule - 1) * RuleMeta.Size, RuleMeta.Id));
  }
}
