// Names and meanings of every data-plane counter. The indices are wasm/counters.ts; the mapped
// types below make the compiler refuse a counter that has no name here. `show` output, JSON and
// Prometheus export all come from these tables.

import { GlobalCounter, PortCounter, SessionCounter } from '../../wasm/counters.ts';
import type { DataPlane } from './dataplane.ts';

export interface CounterInfo {
  readonly name: string;
  readonly help: string;
}

export const PORT_COUNTERS: { readonly [K in Exclude<PortCounter, PortCounter.Count>]: CounterInfo } = {
  [PortCounter.RxPackets]: { name: 'rx_packets', help: 'packets received on the port' },
  [PortCounter.RxBytes]: { name: 'rx_bytes', help: 'bytes received (wire length)' },
  [PortCounter.Forwarded]: { name: 'forwarded', help: 'originals queued on their egress port, unchanged' },
  [PortCounter.Redirected]: { name: 'redirected', help: 'originals diverted to a WCCP cache (redirect sessions)' },
  [PortCounter.DroppedPolicy]: { name: 'dropped_policy', help: 'originals with no egress (policy drop)' },
  [PortCounter.Truncated]: { name: 'parse_truncated', help: 'a header was cut short by the capture length (still forwarded)' },
  [PortCounter.Malformed]: { name: 'parse_malformed', help: 'a header had inconsistent length fields (still forwarded)' },
  [PortCounter.NotIp]: { name: 'not_ip', help: 'frames that are not IPv4/IPv6 or whose IP header is unusable (still forwarded)' },
  [PortCounter.Ineligible]: { name: 'ineligible', help: 'replication traffic or WCCP control: never matched for replication' },
  [PortCounter.RedirectBypassed]: { name: 'redirect_bypassed', help: 'redirect would not fit the cache path MTU or headroom: forwarded instead' },
  [PortCounter.DroppedTxFull]: { name: 'dropped_tx_full', help: 'originals dropped because the egress ring was full (should stay 0)' },
};

export const SESSION_COUNTERS: { readonly [K in Exclude<SessionCounter, SessionCounter.Count>]: CounterInfo } = {
  [SessionCounter.Matched]: { name: 'matched', help: 'packets that matched the session' },
  [SessionCounter.Replicated]: { name: 'replicated', help: 'replicas queued for the device' },
  [SessionCounter.SampledOut]: { name: 'sampled_out', help: 'matched packets skipped by 1-in-N sampling' },
  [SessionCounter.RateLimited]: { name: 'rate_limited', help: 'replicas refused by the rate limit' },
  [SessionCounter.RingFull]: { name: 'ring_full', help: 'replicas dropped: the replica queue of the egress port was full' },
  [SessionCounter.NoFrame]: { name: 'no_frame', help: 'replicas dropped: no free replica frame' },
  [SessionCounter.Mtu]: { name: 'mtu', help: 'replicas dropped: larger than the path MTU or a replica frame (dup, race; sniff truncates)' },
  [SessionCounter.BytesMatched]: { name: 'bytes_matched', help: 'wire bytes of matched originals' },
  [SessionCounter.BytesReplicated]: { name: 'bytes_replicated', help: 'inner bytes carried by replicas (after truncation, before encapsulation)' },
  [SessionCounter.TruncatedReplicas]: { name: 'truncated', help: 'replicas whose inner packet was cut (snaplen, MTU or capture); included in replicated' },
  [SessionCounter.NotCarried]: { name: 'not_carried', help: 'matched frames the encapsulation cannot carry (non-IP in GRE)' },
  [SessionCounter.Held]: { name: 'held', help: 'replicas kept until the device registers (included in replicated)' },
  [SessionCounter.HoldFull]: { name: 'hold_full', help: 'replicas dropped: the buffer for a device not yet registered was full' },
  [SessionCounter.Carried]: { name: 'carried', help: 'tagged dup: originals carried to the far-end eliminator in the session\'s sequenced stream' },
  [SessionCounter.CarrierBypassed]: { name: 'carrier_bypassed', help: 'tagged dup: originals forwarded unencapsulated (too large for the carrier path, or another egress)' },
};

export const GLOBAL_COUNTERS: { readonly [K in Exclude<GlobalCounter, GlobalCounter.Count>]: CounterInfo } = {
  [GlobalCounter.Batches]: { name: 'batches', help: 'process() calls that ran' },
  [GlobalCounter.Packets]: { name: 'packets', help: 'packets processed' },
  [GlobalCounter.FlowCacheHits]: { name: 'flow_cache_hits', help: 'classifications answered by the flow cache' },
  [GlobalCounter.FlowCacheMisses]: { name: 'flow_cache_misses', help: 'classifications that walked the tables' },
  [GlobalCounter.TableSwitches]: { name: 'table_switches', help: 'table versions the data plane started using' },
};

/** Session drop reasons, whose sum with `replicated` is `matched` (conservation). */
export const SESSION_OUTCOMES: ReadonlyArray<Exclude<SessionCounter, SessionCounter.Count>> = [
  SessionCounter.Replicated, SessionCounter.SampledOut, SessionCounter.RateLimited, SessionCounter.RingFull,
  SessionCounter.NoFrame, SessionCounter.Mtu, SessionCounter.NotCarried, SessionCounter.HoldFull,
];

/** Port outcomes, whose sum is rx_packets (conservation). */
export const PORT_OUTCOMES: ReadonlyArray<Exclude<PortCounter, PortCounter.Count>> = [
  PortCounter.Forwarded, PortCounter.Redirected, PortCounter.DroppedPolicy, PortCounter.DroppedTxFull,
];

export type CounterSet = Record<string, number>;

/** What the counter tables read: a data plane, or a view of one in another thread (workers/card-view.ts). */
export type CounterSource = Pick<DataPlane, 'portCounter' | 'sessionCounter' | 'globalCounter'>;

function read<K extends number>(table: { readonly [k: number]: CounterInfo }, count: number, get: (k: K) => bigint): CounterSet {
  const out: CounterSet = {};
  for (let k = 0; k < count; k++) out[table[k].name] = Number(get(k as K));
  return out;
}

export function portCounters(dp: CounterSource, port: number): CounterSet {
  return read<PortCounter>(PORT_COUNTERS, PortCounter.Count, (k) => dp.portCounter(port, k));
}

export function sessionCounters(dp: CounterSource, slot: number): CounterSet {
  return read<SessionCounter>(SESSION_COUNTERS, SessionCounter.Count, (k) => dp.sessionCounter(slot, k));
}

export function globalCounters(dp: CounterSource): CounterSet {
  return read<GlobalCounter>(GLOBAL_COUNTERS, GlobalCounter.Count, (k) => dp.globalCounter(k));
}

/** Violations of the conservation invariants (empty when they hold). */
export function conservationViolations(ports: Record<string, CounterSet>, sessions: Record<string, CounterSet>): string[] {
  const bad: string[] = [];
  for (const [name, c] of Object.entries(ports)) {
    const sum = PORT_OUTCOMES.reduce((s, k) => s + c[PORT_COUNTERS[k].name], 0);
    if (sum !== c.rx_packets) bad.push(`port ${name}: rx_packets ${c.rx_packets} ≠ forwarded + redirected + dropped ${sum}`);
  }
  for (const [name, c] of Object.entries(sessions)) {
    const sum = SESSION_OUTCOMES.reduce((s, k) => s + c[SESSION_COUNTERS[k].name], 0);
    if (sum !== c.matched) bad.push(`session ${name}: matched ${c.matched} ≠ replicated + drops ${sum}`);
  }
  return bad;
}
