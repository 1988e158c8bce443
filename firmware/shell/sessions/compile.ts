// Sessions → the bank image the data plane runs: each session's filter is compiled to boxes,
// every box becomes a rule of the session's category, the rules are compiled into a forest, and
// the session table with prebuilt encapsulation templates is laid out beside it.
//
// Contract: SessionSpec fields are validated here and every error names the session and the
// field. The bank index of a session is its category (bit in the hot path's masks); redirect
// sessions are ordered by service priority (highest first) because the hot path diverts to the
// lowest-index matching redirect session. Categories that are not sessions come after the
// sessions: the forwarding policy's, then one reply category per race session (race.ts).

import { Limits, Mode, SessionFlag } from '../../../wasm/abi.ts';
import { compileFilter, FilterError } from '../filter/index.ts';
import { buildForest } from '../tables/forest.ts';
import { anyBox, intersectBoxes, type Box } from '../tables/box.ts';
import { layoutBank, type BankLayout, type BankReturns, type SessionTableEntry } from '../tables/bank.ts';
import type { FibRoute } from '../tables/fib.ts';
import type { ClassifierRule, CompiledForest } from '../tables/tree.ts';
import { buildTemplate, ENCAP_BY_NAME, encapOverhead, type EncapName } from './template.ts';
import * as L from './limits.ts';
import { MaskElement as MaskLayout, Lane } from '../../../wasm/abi.ts';
import type { MaskElement } from '../wccp/elements.ts';
import { compileRaceGroup, raceReplyBoxes, type CompiledRaceGroup, type RaceGroupSpec } from './race.ts';

export type ModeName = 'sniff' | 'dup' | 'race' | 'redirect';

export const MODE_BY_NAME: Readonly<Record<ModeName, Mode>> = {
  sniff: Mode.Sniff,
  dup: Mode.Dup,
  race: Mode.Race,
  redirect: Mode.Redirect,
};

/** One session as the control plane holds it, resolved to a port and addresses. */
export interface SessionSpec {
  readonly name: string;
  readonly mode: ModeName;
  readonly filter: string;
  readonly encap: EncapName;
  readonly snaplen: number; // 0 = whole packet
  readonly sample: number; // 1-in-N, 1 = every packet
  readonly ratePps: number; // 0 = unlimited
  readonly rateBps: number; // 0 = unlimited
  /** Port the replicas (or redirected originals) leave by, and the path's IP MTU. */
  readonly egressPort: number;
  readonly mtu: number;
  /** Outer header addresses: the router's on the egress port, and the device's (or next hop's MAC). */
  readonly source: { readonly ip: number; readonly mac: Uint8Array };
  readonly destination: { readonly ip: number; readonly mac: Uint8Array; readonly vlan?: number };
  readonly serviceId?: number;
  readonly dynamicService?: boolean;
  readonly servicePriority?: number;
  readonly erspanSession?: number;
  /** gre-seq: the stream id in the GRE key (default: a hash of the session name, stable across publishes). */
  readonly streamId?: number;
  /**
   * Tagged dup: the far-end eliminator, reached by the originals' own path. Matching originals that
   * leave by `egressPort` travel encapsulated in the session's stream (member 1), their replicas to
   * the device (member 2), both with the same sequence number.
   */
  readonly carrier?: {
    readonly egressPort: number;
    readonly mtu: number;
    readonly source: { readonly ip: number; readonly mac: Uint8Array };
    readonly destination: { readonly ip: number; readonly mac: Uint8Array; readonly vlan?: number };
  };
  readonly seed?: number;
  /** Addresses whose packets this session never matches (a cache's own traffic for redirect). */
  readonly excludeSources?: readonly string[];
  /** Redirect by hash: the service's hash flags when they are not the standard (destination) hash. */
  readonly hashFlags?: number;
  /** Redirect by mask: the group's mask element and this cache's values as lane values (wccp-lanes.ts). */
  readonly maskAssignment?: { readonly element: MaskElement; readonly laneValues: readonly number[] };
  /** The device has not registered yet: keep replicas in the slot's bounded hold buffer. */
  readonly hold?: boolean;
  /**
   * Race: the group of equivalent servers and the budget (race.ts, docs/race.md). A race session
   * sends no encapsulated replicas: encap, egressPort, mtu and destination are not used (give any
   * valid placement), snaplen must be 0, sample 1, ratePps and rateBps 0; source.mac is the
   * router's MAC towards members that name no routerMac.
   */
  readonly race?: RaceGroupSpec;
  /** State slot and generation (the runtime's session allocator assigns them). */
  readonly slot: number;
  readonly generation: number;
}

/** One rule of the forwarding policy (first match decides). */
export interface PolicyRuleSpec {
  readonly action: 'permit' | 'deny';
  readonly filter: string;
}

export class SessionError extends Error {
  override readonly name = 'SessionError';
  /** `session` is "*" for a refusal about the whole set (too many sessions or rules). */
  constructor(readonly session: string, readonly field: string, readonly detail: string) {
    super(`session "${session}": ${field}: ${detail}`);
  }
}

/** What the tables are compiled for. */
export interface CompileOptions {
  /** Ports of the line card: race members must be reached by one of them (default Limits.MaxPorts). */
  readonly portCount?: number;
  /** The board's cap on classifier rules (limits.rules): more is refused before anything is built. */
  readonly maxRules?: number;
  /**
   * The WCCP GRE return path (docs/dataplane.md, "GRE return"): the router's addresses and its
   * FIB (tables/fib.ts). While a redirect session exists, its cache's GRE returns to one of these
   * addresses are decapsulated and forwarded. Absent: no return path (GRE returns are transit).
   */
  readonly returnPath?: { readonly locals: readonly number[]; readonly routes: readonly FibRoute[] };
}

export interface CompiledTables {
  readonly bank: BankLayout;
  readonly rules: readonly ClassifierRule[];
  readonly forest: CompiledForest;
  /** Sessions in bank order (index = category); the policy's category, if any, comes after them. */
  readonly order: readonly SessionSpec[];
}

/**
 * The packets the policy drops, as boxes: a deny rule takes what it matches minus what an earlier
 * permit already took (first match decides); permits after the last deny change nothing.
 */
function policyBoxes(policy: readonly PolicyRuleSpec[]): Box[] {
  const permits: string[] = [];
  const denies: string[] = [];
  policy.forEach((rule, i) => {
    if (rule.action !== 'permit' && rule.action !== 'deny') throw new SessionError('policy', `rules.${i}.action`, 'must be permit or deny');
    try {
      compileFilter(rule.filter, { maxBoxes: L.MAX_BOXES_PER_SESSION });
    } catch (e) {
      if (e instanceof FilterError) throw new SessionError('policy', `rules.${i}.filter`, e.message.replace(/^filter: /, ''));
      throw e;
    }
    if (rule.action === 'permit') permits.push(`(${rule.filter})`);
    else denies.push(permits.length ? `(${rule.filter}) and not (${permits.join(' or ')})` : `(${rule.filter})`);
  });
  if (!denies.length) return [];
  try {
    return compileFilter(denies.map((d) => `(${d})`).join(' or '), { maxBoxes: L.MAX_BOXES_PER_SESSION });
  } catch (e) {
    if (e instanceof FilterError) throw new SessionError('policy', 'rules', `the policy as a whole: ${e.message.replace(/^filter: /, '')}`);
    throw e;
  }
}

const intIn = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;

/** (∪ a) ∩ (∪ b) as a union of boxes. */
function intersectUnions(a: readonly Box[], b: readonly Box[]): Box[] {
  const out: Box[] = [];
  for (const x of a) {
    for (const y of b) {
      const z = intersectBoxes(x, y);
      if (z) out.push(z);
    }
  }
  return out;
}

function validate(s: SessionSpec): void {
  const bad = (field: string, detail: string): never => { throw new SessionError(s.name, field, detail); };
  if (!(s.mode in MODE_BY_NAME)) bad('mode', `"${s.mode}" is not sniff, dup, race or redirect`);
  if (typeof s.filter !== 'string' || s.filter.length > L.MAX_FILTER_LENGTH) bad('filter', `must be a string of at most ${L.MAX_FILTER_LENGTH} characters`);
  if (s.race !== undefined && s.mode !== 'race') bad('race', 'only a race session has a group');
  if (s.mode === 'race') {
    // Race copies are whole frames and the budget is race.*: the replica knobs do not apply.
    if (s.snaplen !== 0) bad('snaplen', 'must be 0: a race copies whole openers');
    if (s.sample !== 1) bad('sample', 'must be 1: a race is budgeted by race.flowsPerSecond and race.sharePercent');
    if (s.ratePps !== 0) bad('ratePps', 'must be 0: a race is budgeted by race.flowsPerSecond');
    if (s.rateBps !== 0) bad('rateBps', 'must be 0: a race is budgeted by race.flowsPerSecond');
    if (s.carrier) bad('carrier', 'only a dup session with encap gre-seq carries originals to a far-end eliminator');
    return;
  }
  if (!(s.encap in ENCAP_BY_NAME)) bad('encap', `"${s.encap}" is not gre, erspan2, erspan3 or gre-seq`);
  if (!(s.snaplen === 0 || intIn(s.snaplen, L.MIN_SNAPLEN, L.MAX_SNAPLEN))) bad('snaplen', `must be 0 (whole packet) or ${L.MIN_SNAPLEN}..${L.MAX_SNAPLEN}`);
  if (!intIn(s.sample, 1, L.MAX_SAMPLE)) bad('sample', `must be 1..${L.MAX_SAMPLE}`);
  if (!intIn(s.ratePps, 0, L.MAX_RATE_PPS)) bad('ratePps', `must be 0 (unlimited) or up to ${L.MAX_RATE_PPS}`);
  if (!intIn(s.rateBps, 0, L.MAX_RATE_BPS)) bad('rateBps', `must be 0 (unlimited) or up to ${L.MAX_RATE_BPS}`);
  if (!intIn(s.mtu, L.MIN_REPLICA_MTU, 65535)) bad('mtu', `must be ${L.MIN_REPLICA_MTU}..65535`);
  if (s.mtu - (encapOverhead(s.encap) - 14) < 64) bad('mtu', 'leaves no room for an inner packet');
  if (s.mode === 'redirect' && s.encap !== 'gre') bad('encap', 'redirect uses GRE with the WCCP redirect header ("gre")');
  if (s.carrier) {
    if (s.mode !== 'dup' || s.encap !== 'gre-seq') bad('carrier', 'only a dup session with encap gre-seq carries originals to a far-end eliminator');
    if (!intIn(s.carrier.mtu, L.MIN_REPLICA_MTU, 65535)) bad('carrier.mtu', `must be ${L.MIN_REPLICA_MTU}..65535`);
  }
  if (s.streamId !== undefined && !intIn(s.streamId, 0, 0xffffffff)) bad('streamId', 'must be a u32');
}

/** FNV-1a of a session name: its default stream id, the same in every publish. */
export function defaultStreamId(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

/**
 * Compiles sessions (and the forwarding policy, which takes one category of its own) into a bank
 * image.
 */
export function compileTables(sessions: readonly SessionSpec[], policy: readonly PolicyRuleSpec[] = [], options: CompileOptions = {}): CompiledTables {
  const drop = policyBoxes(policy);
  const races = sessions.filter((s) => s.mode === 'race').length;
  if (sessions.length + (drop.length ? 1 : 0) + races > L.MAX_SESSIONS) {
    throw new SessionError('*', 'sessions', `at most ${L.MAX_SESSIONS} categories per line card: one per session${drop.length ? ', one for the forwarding policy' : ''}${races ? ', and one more for each race session (its members\' answers)' : ''}`);
  }
  const portCount = options.portCount ?? Limits.MaxPorts;
  const names = new Set<string>();
  for (const s of sessions) {
    if (names.has(s.name)) throw new SessionError(s.name, 'name', 'used by two sessions');
    names.add(s.name);
    validate(s);
  }
  const replicating = sessions.filter((s) => s.mode !== 'redirect');
  const redirecting = sessions.filter((s) => s.mode === 'redirect')
    .sort((a, b) => (b.servicePriority ?? 0) - (a.servicePriority ?? 0) || (a.serviceId ?? 0) - (b.serviceId ?? 0));
  const order = [...redirecting, ...replicating];

  const assignment = bankAssignment(order);
  const rules: ClassifierRule[] = [];
  const entries: SessionTableEntry[] = [];
  const replies: Array<{ of: number; boxes: Box[]; slot: number; generation: number }> = [];
  order.forEach((s, category) => {
    // An empty filter matches every packet; excluded sources are subtracted exactly, by
    // intersecting with their complement (the user's filter is compiled as typed, so its error
    // positions point into what the user wrote).
    let boxes: Box[];
    try {
      boxes = s.filter.trim() === '' ? [anyBox()] : compileFilter(s.filter, { maxBoxes: L.MAX_BOXES_PER_SESSION });
      const excluded = s.excludeSources ?? [];
      if (excluded.length) {
        const keep = compileFilter(excluded.map((a) => `not src host ${a}`).join(' and '), { maxBoxes: L.MAX_BOXES_PER_SESSION });
        boxes = intersectUnions(boxes, keep);
        if (boxes.length > L.MAX_BOXES_PER_SESSION) throw new SessionError(s.name, 'excludeSources', `the filter without these sources needs more than ${L.MAX_BOXES_PER_SESSION} rules`);
      }
    } catch (e) {
      if (e instanceof FilterError) throw new SessionError(s.name, 'filter', e.message.replace(/^filter: /, ''));
      throw e;
    }
    if (s.maskAssignment) {
      // The cache's share: its value elements, exact values of the group's mask lane.
      const lane = Lane.WccpMask0 + assignment.masks.findIndex((m) => sameMask(m, s.maskAssignment!.element));
      const share: Box[] = s.maskAssignment.laneValues.map((v) => {
        const b = anyBox();
        b.lo[lane] = v;
        b.hi[lane] = v;
        return b;
      });
      boxes = intersectUnions(boxes, share);
      if (boxes.length > L.MAX_BOXES_PER_SESSION) throw new SessionError(s.name, 'mask', `the filter within this cache's values needs more than ${L.MAX_BOXES_PER_SESSION} rules`);
    }
    boxes.forEach((box, i) => rules.push({ box, category, id: i + 1 }));
    if (s.mode === 'race') {
      const group = compileRaceGroup(s.race, s.source.mac, portCount, (field, detail) => { throw new SessionError(s.name, field, detail); });
      const reply = raceReplyBoxes(boxes, group.members.map((m) => m.port));
      if (reply.length > L.MAX_BOXES_PER_SESSION) throw new SessionError(s.name, 'filter', `the members' answers to this filter need more than ${L.MAX_BOXES_PER_SESSION} rules`);
      replies.push({ of: category, boxes: reply, slot: s.slot, generation: s.generation });
      entries.push(raceEntry(s, group));
      return;
    }
    const streamId = s.encap === 'gre-seq' ? s.streamId ?? defaultStreamId(s.name) : undefined;
    const template = buildTemplate({
      encap: s.encap,
      srcMac: s.source.mac,
      dstMac: s.destination.mac,
      vlan: s.destination.vlan,
      srcIp: s.source.ip,
      dstIp: s.destination.ip,
      serviceId: s.serviceId,
      erspanSession: s.erspanSession,
      streamId,
    });
    const carrier = s.carrier && buildTemplate({
      encap: s.encap,
      srcMac: s.carrier.source.mac,
      dstMac: s.carrier.destination.mac,
      vlan: s.carrier.destination.vlan,
      srcIp: s.carrier.source.ip,
      dstIp: s.carrier.destination.ip,
      streamId,
    });
    const burstPkts = Math.max(1, Math.ceil((s.ratePps * L.BURST_WINDOW_MS) / 1000));
    // The bit bucket holds at least the largest replica this session can send, or such a replica
    // could never pass however low the traffic.
    const largestReplicaBits = (s.mtu + template.ipOffset) * 8;
    const burstBits = Math.max(L.MIN_BURST_BITS, largestReplicaBits, Math.ceil((s.rateBps * L.BURST_WINDOW_MS) / 1000));
    entries.push({
      slot: s.slot,
      generation: s.generation,
      mode: MODE_BY_NAME[s.mode],
      encap: ENCAP_BY_NAME[s.encap],
      sampleN: s.sample,
      seed: (s.seed ?? 0x9e3779b9 ^ (s.slot * 0x85ebca6b)) >>> 0 || 1,
      ratePps: s.ratePps,
      burstPkts,
      rateBps: BigInt(s.rateBps),
      burstBits: BigInt(burstBits),
      snaplen: s.snaplen,
      egressPort: s.egressPort,
      mtu: s.mtu,
      template: template.bytes,
      ipOffset: template.ipOffset,
      greOffset: template.greOffset,
      serviceId: s.serviceId ?? 0,
      flags: (s.dynamicService ? SessionFlag.DynamicService : 0) | (s.hold ? SessionFlag.Hold : 0) | (carrier ? SessionFlag.Carrier : 0),
      ...(carrier && s.carrier ? { carrier: { egressPort: s.carrier.egressPort, mtu: s.carrier.mtu, template: carrier.bytes, ipOffset: carrier.ipOffset, greOffset: carrier.greOffset } } : {}),
    });
  });
  if (drop.length) {
    const category = entries.length;
    drop.forEach((box, i) => rules.push({ box, category, id: i + 1 }));
    entries.push({ ...NOT_A_SESSION, mode: Mode.Drop });
  }
  for (const r of replies) {
    // The reply category shares its race session's slot: one set of counters for both sides.
    const category = entries.length;
    r.boxes.forEach((box, i) => rules.push({ box, category, id: i + 1 }));
    entries.push({ ...NOT_A_SESSION, mode: Mode.RaceReply, slot: r.slot, generation: r.generation, raceReplyOf: r.of });
  }
  if (options.maxRules !== undefined && rules.length > options.maxRules) {
    throw new SessionError('*', 'rules', `the sessions and policy need ${rules.length} classifier rules; this board allows ${options.maxRules} (limits.rules)`);
  }
  const forest = buildForest(rules);
  return { bank: layoutBank(rules, forest, entries, assignment, returnsOf(redirecting, options.returnPath)), rules, forest, order };
}

/**
 * The bank's return path: the caches of the redirect sessions (a cache serving several groups
 * is listed once), while there is any and the router has a return path at all.
 */
function returnsOf(redirecting: readonly SessionSpec[], path: CompileOptions['returnPath']): BankReturns | undefined {
  const sources = [...new Set(redirecting.map((s) => s.destination.ip >>> 0))];
  if (!path || sources.length === 0) return undefined;
  return { sources, locals: [...new Set(path.locals.map((a) => a >>> 0))], routes: path.routes };
}

/** The fields of a category that is not a session (the policy's, a race reply's). */
const NOT_A_SESSION: SessionTableEntry = {
  slot: 0, generation: 0, mode: Mode.Drop, encap: 0, sampleN: 1, seed: 1, ratePps: 0, burstPkts: 1,
  rateBps: 0n, burstBits: 0n, snaplen: 0, egressPort: 0, mtu: 0, template: new Uint8Array(0),
  ipOffset: 0, greOffset: 0, serviceId: 0, flags: 0,
};

/**
 * A race session's bank entry: no template; its budget in the policer's fields (the time bucket
 * in ratePps / burstPkts, the share bucket's depth in burstBits: wasm/abi.ts RaceBudgetState).
 */
function raceEntry(s: SessionSpec, group: CompiledRaceGroup): SessionTableEntry {
  return {
    ...NOT_A_SESSION,
    slot: s.slot,
    generation: s.generation,
    mode: Mode.Race,
    seed: (s.seed ?? 0x9e3779b9 ^ (s.slot * 0x85ebca6b)) >>> 0 || 1,
    ratePps: group.flowsPerSecond,
    burstPkts: group.burst,
    burstBits: BigInt(group.burst),
    raceGroup: { members: group.members, sharePpm: group.sharePpm },
  };
}

const sameMask = (a: MaskElement, b: MaskElement): boolean =>
  a.srcAddr === b.srcAddr && a.dstAddr === b.dstAddr && a.srcPort === b.srcPort && a.dstPort === b.dstPort;

/**
 * The WCCP assignment lanes the bank must compute: one hash (the parser's standard destination
 * hash needs none) and up to MaskLayout.MaxElements distinct mask elements, shared by every
 * redirect session of the bank.
 */
function bankAssignment(sessions: readonly SessionSpec[]): { hashFlags: number; masks: MaskElement[] } {
  let hashFlags = 0;
  const masks: MaskElement[] = [];
  for (const s of sessions) {
    if (s.hashFlags) {
      if (hashFlags !== 0 && hashFlags !== s.hashFlags) throw new SessionError(s.name, 'hashFlags', 'another service group hashes on other fields; the router applies one non-standard hash at a time');
      hashFlags = s.hashFlags;
    }
    const m = s.maskAssignment?.element;
    if (m && !masks.some((x) => sameMask(x, m))) {
      if (masks.length === MaskLayout.MaxElements) throw new SessionError(s.name, 'mask', `at most ${MaskLayout.MaxElements} distinct mask elements can be applied at once`);
      masks.push(m);
    }
  }
  return { hashFlags, masks };
}
