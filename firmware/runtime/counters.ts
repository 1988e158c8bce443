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
  [PortCounter.DroppedRace]: { name: 'dropped_race', help: 'race group answers held back: a loser\'s late SYN-ACK, or a refusal while another member may accept' },
  [PortCounter.Returned]: { name: 'returned', help: 'WCCP GRE returns from a cache: decapsulated, TTL decremented, forwarded by the FIB' },
  [PortCounter.DroppedReturnMalformed]: { name: 'dropped_return_malformed', help: 'GRE returns dropped: outer or inner IPv4 header unusable (version, length, checksum, a fragment)' },
  [PortCounter.DroppedReturnUnsupported]: { name: 'dropped_return_unsupported', help: 'GRE returns dropped: the inner packet is IPv6 (returns are forwarded for IPv4 only)' },
  [PortCounter.DroppedReturnTtl]: { name: 'dropped_return_ttl', help: 'GRE returns dropped: inner TTL 1 or 0, may not be forwarded' },
  [PortCounter.DroppedReturnNoRoute]: { name: 'dropped_return_no_route', help: 'GRE returns dropped: no route to the inner destination' },
  [PortCounter.DroppedReturnNoNeighbor]: { name: 'dropped_return_no_neighbor', help: 'GRE returns dropped: no MAC known for the destination or its next hop on the egress port' },
  [PortCounter.DroppedReturnMtu]: { name: 'dropped_return_mtu', help: 'GRE returns dropped: the inner packet exceeds the egress port MTU (no fragmentation)' },
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
  [SessionCounter.RaceStarted]: { name: 'race_started', help: 'race: new TCP flows raced (the opener to every member)' },
  [SessionCounter.RaceResent]: { name: 'race_resent', help: 'race: packets of a flow still racing (retransmitted SYN, RST), again to every member' },
  [SessionCounter.RacePinned]: { name: 'race_pinned', help: 'race: packets of a won flow, to its winner' },
  [SessionCounter.RaceBudget]: { name: 'race_budget', help: 'race: new flows not raced, over the budget (to their hash member)' },
  [SessionCounter.RaceTableFull]: { name: 'race_table_full', help: 'race: new flows not raced, no room in the connection table (to their hash member)' },
  [SessionCounter.RaceUntracked]: { name: 'race_untracked', help: 'race: TCP packets of flows without an entry (not raced, or expired), to their hash member' },
  [SessionCounter.RaceNotTcp]: { name: 'race_not_tcp', help: 'race: packets that are not TCP, to their hash member (not IP: as they are)' },
  [SessionCounter.RaceWon]: { name: 'race_won', help: 'race: first acceptances (SYN-ACK), forwarded; the flow pinned to that member' },
  [SessionCounter.RaceLate]: { name: 'race_late', help: 'race: late acceptances of losers, dropped (each answered with a reset)' },
  [SessionCounter.RaceRefused]: { name: 'race_refused', help: 'race: member refusals (RST) held back while another member may accept, or after one did' },
  [SessionCounter.RaceAllRefused]: { name: 'race_all_refused', help: 'race: the last refusal when every member refused, forwarded to the client' },
  [SessionCounter.RacePassed]: { name: 'race_passed', help: 'race: other packets of members, forwarded unchanged' },
  [SessionCounter.RaceCopies]: { name: 'race_copies', help: 'race: copies of openers queued to the other members' },
  [SessionCounter.RaceCopyMtu]: { name: 'race_copy_mtu', help: 'race: copies dropped, larger than the member port\'s MTU' },
  [SessionCounter.RaceCopyRingFull]: { name: 'race_copy_ring_full', help: 'race: copies dropped, the member port\'s replica queue was full' },
  [SessionCounter.RaceCopyNoFrame]: { name: 'race_copy_no_frame', help: 'race: copies dropped, no free replica frame' },
  [SessionCounter.RaceResets]: { name: 'race_resets', help: 'race: RSTs queued to losers (one per late acceptance)' },
  [SessionCounter.RaceResetRingFull]: { name: 'race_reset_ring_full', help: 'race: resets not sent, the loser port\'s replica queue was full' },
  [SessionCounter.RaceResetNoFrame]: { name: 'race_reset_no_frame', help: 'race: resets not sent, no free replica frame' },
  [SessionCounter.RaceExpired]: { name: 'race_expired', help: 'race: connection entries freed idle (no packet within the timeout)' },
  [SessionCounter.RaceClosed]: { name: 'race_closed', help: 'race: connection entries freed by the flow\'s end (RST, all refused, FIN then closing time)' },
  [SessionCounter.RaceWon0]: { name: 'race_won_m0', help: 'race: flows won by member 0' },
  [SessionCounter.RaceWon1]: { name: 'race_won_m1', help: 'race: flows won by member 1' },
  [SessionCounter.RaceWon2]: { name: 'race_won_m2', help: 'race: flows won by member 2' },
  [SessionCounter.RaceWon3]: { name: 'race_won_m3', help: 'race: flows won by member 3' },
  [SessionCounter.RaceWon4]: { name: 'race_won_m4', help: 'race: flows won by member 4' },
  [SessionCounter.RaceWon5]: { name: 'race_won_m5', help: 'race: flows won by member 5' },
  [SessionCounter.RaceWon6]: { name: 'race_won_m6', help: 'race: flows won by member 6' },
  [SessionCounter.RaceWon7]: { name: 'race_won_m7', help: 'race: flows won by member 7' },
};

export const GLOBAL_COUNTERS: { readonly [K in Exclude<GlobalCounter, GlobalCounter.Count>]: CounterInfo } = {
  [GlobalCounter.Batches]: { name: 'batches', help: 'process() calls that ran' },
  [GlobalCounter.Packets]: { name: 'packets', help: 'packets processed' },
  [GlobalCounter.FlowCacheHits]: { name: 'flow_cache_hits', help: 'classifications answered by the flow cache' },
  [GlobalCounter.FlowCacheMisses]: { name: 'flow_cache_misses', help: 'classifications that walked the tables' },
  [GlobalCounter.TableSwitches]: { name: 'table_switches', help: 'table versions the data plane started using' },
  [GlobalCounter.ConntrackInserted]: { name: 'conntrack_inserted', help: 'race connection entries made' },
  [GlobalCounter.ConntrackExpired]: { name: 'conntrack_expired', help: 'race connection entries freed idle (or left by a removed session)' },
  [GlobalCounter.ConntrackClosed]: { name: 'conntrack_closed', help: 'race connection entries freed by the end of their flow' },
};

/**
 * Session outcomes, whose sum is `matched` (conservation): a sniff or dup session's packet is
 * replicated or dropped for one reason; a race session's packet has exactly one race outcome (a
 * session of either kind never bumps the other kind's outcomes).
 */
export const SESSION_OUTCOMES: ReadonlyArray<Exclude<SessionCounter, SessionCounter.Count>> = [
  SessionCounter.Replicated, SessionCounter.SampledOut, SessionCounter.RateLimited, SessionCounter.RingFull,
  SessionCounter.NoFrame, SessionCounter.Mtu, SessionCounter.NotCarried, SessionCounter.HoldFull,
  SessionCounter.RaceStarted, SessionCounter.RaceResent, SessionCounter.RacePinned, SessionCounter.RaceBudget,
  SessionCounter.RaceTableFull, SessionCounter.RaceUntracked, SessionCounter.RaceNotTcp,
  SessionCounter.RaceWon, SessionCounter.RaceLate, SessionCounter.RaceRefused, SessionCounter.RaceAllRefused, SessionCounter.RacePassed,
];

/** Per-member wins of a race session, whose sum is `race_won`. */
export const RACE_WINS: ReadonlyArray<Exclude<SessionCounter, SessionCounter.Count>> = [
  SessionCounter.RaceWon0, SessionCounter.RaceWon1, SessionCounter.RaceWon2, SessionCounter.RaceWon3,
  SessionCounter.RaceWon4, SessionCounter.RaceWon5, SessionCounter.RaceWon6, SessionCounter.RaceWon7,
];

/** What became of the reset each late acceptance asks for, whose sum is `race_late`. */
export const RACE_RESET_OUTCOMES: ReadonlyArray<Exclude<SessionCounter, SessionCounter.Count>> = [
  SessionCounter.RaceResets, SessionCounter.RaceResetRingFull, SessionCounter.RaceResetNoFrame,
];

/** Port outcomes, whose sum is rx_packets (conservation). */
export const PORT_OUTCOMES: ReadonlyArray<Exclude<PortCounter, PortCounter.Count>> = [
  PortCounter.Forwarded, PortCounter.Redirected, PortCounter.Returned, PortCounter.DroppedPolicy, PortCounter.DroppedTxFull,
  PortCounter.DroppedRace, PortCounter.DroppedReturnMalformed, PortCounter.DroppedReturnUnsupported, PortCounter.DroppedReturnTtl,
  PortCounter.DroppedReturnNoRoute, PortCounter.DroppedReturnNoNeighbor, PortCounter.DroppedReturnMtu,
];

/** Port outcomes that are drops (every `dropped_*` counter): what a summary shows as "dropped". */
export const PORT_DROPS: ReadonlyArray<Exclude<PortCounter, PortCounter.Count>> =
  PORT_OUTCOMES.filter((k) => PORT_COUNTERS[k].name.startsWith('dropped_'));

/** The originals a port's counters say were dropped, whatever the reason. */
export function portDropped(c: CounterSet): number {
  return PORT_DROPS.reduce((s, k) => s + (c[PORT_COUNTERS[k].name] ?? 0), 0);
}

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
    if (sum !== c.rx_packets) bad.push(`port ${name}: rx_packets ${c.rx_packets} ≠ forwarded + redirected + returned + dropped ${sum}`);
  }
  const total = (c: CounterSet, keys: ReadonlyArray<Exclude<SessionCounter, SessionCounter.Count>>): number =>
    keys.reduce((s, k) => s + c[SESSION_COUNTERS[k].name], 0);
  for (const [name, c] of Object.entries(sessions)) {
    const sum = total(c, SESSION_OUTCOMES);
    if (sum !== c.matched) bad.push(`session ${name}: matched ${c.matched} ≠ replicated + drops + race outcomes ${sum}`);
    const wins = total(c, RACE_WINS);
    if (wins !== c.race_won) bad.push(`session ${name}: race_won ${c.race_won} ≠ wins per member ${wins}`);
    const resets = total(c, RACE_RESET_OUTCOMES);
    if (resets !== c.race_late) bad.push(`session ${name}: race_late ${c.race_late} ≠ resets sent + not sent ${resets}`);
  }
  return bad;
}
