// The session manager: the one owner of the router's sessions. Sessions come from three places —
// an operator (static sessions: management port or configuration file), a registering device
// (its WCCP registration carried a replication request), and a standard WCCP cache (redirect of
// its service) — and all of them, with the forwarding policy, compile into one table bank that is
// published to every line card at once.
//
// Contract
// - Every change is validated, compiled and published before the call returns, or fails with a
//   SessionError naming the field and changes nothing (the previous tables keep running).
// - Session slots (state and counters in the data plane) are reused with a new generation, so a
//   new session never inherits an old one's sampling, policer or sequence state; a removed
//   session's final counters are kept (bounded) for `show`.
// - A static session that requires its device to register holds its replicas (bounded, counted)
//   until that device registers, then releases them first, in order; while the device is away it
//   holds again. A registration session ends when its device is removed (WCCP's 30 s); the
//   originals never notice any of this.
// - A dup request with a far end (tagged dup) gets a carrier member: the far end is placed through
//   the board like a device, at every publish; one the board cannot place is a SessionError naming
//   `farEnd`. Without a far end, dup is the untagged form (originals as they are).
// - Limits: at most `slots` sessions (the board's), each device at most `perDevice`.

import type { EncapName, ModeName, PolicyRule, SessionInfo, StaticSessionSpec } from '../control.ts';
import { compileTables, SessionError, type CompileOptions, type CompiledTables, type SessionSpec } from './compile.ts';
import { parseIpv4 } from '../net/address.ts';
import { MAX_FILTER_LENGTH } from './limits.ts';
import type { MaskElement, ValueElement } from '../wccp/elements.ts';
import { bucketHashFlags, checkMask } from './wccp-lanes.ts';
import type { RaceBudget } from '../config/types.ts';

/** Where replicas for a device leave and how they are addressed (the runtime knows the board). */
export interface Placement {
  readonly port: string;
  readonly portIndex: number;
  readonly mtu: number;
  readonly source: { readonly ip: number; readonly mac: Uint8Array };
  readonly destinationMac: Uint8Array;
}

/**
 * Resolves a device address (and optionally a named port) to a placement, or throws SessionError
 * naming `field` (default `device`) for the address.
 */
export type PlacementResolver = (device: string, port: string | undefined, session: string, field?: string) => Placement;

/** What a registering device asked for (the WCCP replication request, resolved). */
export interface DeviceRequest {
  readonly device: string;
  readonly service: number;
  readonly mode: Exclude<ModeName, 'redirect'>;
  readonly filter: string;
  readonly encap: EncapName;
  readonly snaplen: number;
  readonly sample: number;
  readonly ratePps: number;
  readonly rateBps: number;
  /** Seconds; 0: as long as the device stays registered. */
  readonly lifetime: number;
  /** The device's name for the session (shown by `show`). */
  readonly label?: string;
  /** ERSPAN session id the device asked for (erspan2 / erspan3). */
  readonly erspanSession?: number;
  /**
   * Tagged dup (mode dup, encap gre-seq): the far-end eliminator's address. The originals that
   * leave by its port are carried to it in the session's stream (SessionSpec.carrier); without
   * it, dup is the untagged form.
   */
  readonly farEnd?: string;
}

/** A standard WCCP cache of a service group: redirect the service's traffic to it. */
export interface RedirectMember {
  readonly device: string;
  readonly service: number;
  /** The service's traffic, in filter syntax (e.g. `tcp dst port 80`). */
  readonly serviceFilter: string;
  readonly priority: number;
  readonly dynamic: boolean;
  /** Hash buckets (0..255) assigned to this cache; absent (and no mask): all of the service's traffic. */
  readonly buckets?: readonly number[];
  /** Mask assignment: the group's mask and the value elements that name this cache. */
  readonly mask?: { readonly element: MaskElement; readonly values: readonly ValueElement[] };
  /** The service's hash flags (Service Info); absent: the standard web-cache hash (destination). */
  readonly hashFlags?: number;
  /** Addresses of every cache in the group: their own traffic is never redirected. */
  readonly caches: readonly string[];
}

interface Entry {
  readonly name: string;
  readonly origin: 'static' | 'registration' | 'redirect';
  readonly spec: SessionSpecBase;
  readonly slot: number;
  readonly generation: number;
  readonly createdMs: number;
  /** Static sessions that wait for their device. */
  readonly requireRegistration: boolean;
}

type SessionSpecBase = Omit<SessionSpec, 'slot' | 'generation' | 'hold' | 'egressPort' | 'mtu' | 'source' | 'destination' | 'race' | 'carrier'> & {
  readonly device: string;
  readonly port?: string;
  readonly lifetime: number;
  readonly label?: string;
  /** Race: the member devices (addresses, in member order) and the group's budget. */
  readonly raceMembers?: readonly string[];
  readonly raceBudget?: RaceBudget;
  /** Tagged dup: the eliminator the originals are carried to, placed like a device at each publish. */
  readonly farEnd?: string;
};

/** A service group's race: equivalent servers that registered mode race for the same service. */
export interface RaceGroupRequest {
  readonly service: number;
  /** The service, in filter syntax (every member asked for the same). */
  readonly filter: string;
  /** Member devices; their order is the members' (member 0 receives the opener's original). */
  readonly members: readonly string[];
  readonly budget?: RaceBudget;
}

export interface ManagerOptions {
  readonly slots: number;
  readonly resolve: PlacementResolver;
  /** Publishes a compiled bank to every line card (throws when it does not fit). */
  readonly publish: (tables: CompiledTables) => void;
  /** Called after a publish with the slots whose held replicas may now leave, and their port. */
  readonly release: (slot: number, portIndex: number) => void;
  /** Called after a publish with the slots of sessions that ended (give held frames back). */
  readonly retire: (slot: number) => void;
  /** Counters of a slot, by name (from the data plane). */
  readonly counters: (slot: number) => Record<string, number>;
  /** Resets a slot's counters and state before it is reused. */
  readonly resetSlot: (slot: number) => void;
  readonly perDevice?: number;
  /** Final counters kept for ended sessions. */
  readonly history?: number;
  /**
   * Outer source address of replicas for sessions a device registered (and of redirected
   * packets): the router's WCCP address, the one the device knows its router by, as ERSPAN's
   * "origin address". Static sessions use their egress port's address. Default: the port's.
   */
  readonly registrationSource?: number;
  /** What the board allows the tables (ports, rules). */
  readonly compile?: CompileOptions;
}

const DEFAULT_PER_DEVICE = 8;
const DEFAULT_HISTORY = 64;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export class SessionManager {
  private readonly entries = new Map<string, Entry>();
  private readonly registered = new Set<string>();
  private policy: PolicyRule[] = [];
  private nextGeneration = 1;
  private readonly ended: Array<{ name: string; counters: Record<string, number> }> = [];
  private current: CompiledTables | undefined;
  /** Sessions the running tables mark as holding. */
  private heldPublished = new Set<string>();

  constructor(private readonly o: ManagerOptions) {}

  // ── static sessions ─────────────────────────────────────────────────────────────────────────

  /** Adds an operator's session; throws SessionError (nothing changes) when it is invalid. */
  addStatic(spec: StaticSessionSpec & { readonly requireRegistration?: boolean }, nowMs: number): SessionInfo {
    const entry = this.staticEntry(spec, nowMs);
    this.commit([entry], []);
    return this.info(entry);
  }

  private staticEntry(spec: StaticSessionSpec & { readonly requireRegistration?: boolean }, nowMs: number): Entry {
    if (typeof spec.name !== 'string' || !NAME_PATTERN.test(spec.name)) {
      throw new SessionError(String(spec.name), 'name', 'must be 1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
    }
    if (this.entries.has(spec.name)) throw new SessionError(spec.name, 'name', 'a session of that name exists');
    if (spec.mode === 'redirect') throw new SessionError(spec.name, 'mode', 'redirect sessions come from WCCP caches that register, not from configuration');
    parseIpv4Field(spec.name, 'device', spec.device);
    const base: SessionSpecBase = {
      name: spec.name,
      mode: spec.mode,
      filter: spec.filter,
      encap: spec.encap ?? 'gre',
      snaplen: spec.snaplen ?? 0,
      sample: spec.sample ?? 1,
      ratePps: spec.ratePps ?? 0,
      rateBps: spec.rateBps ?? 0,
      device: spec.device,
      port: spec.port,
      lifetime: spec.lifetime ?? 0,
    };
    return this.allocate(spec.name, 'static', base, nowMs, spec.requireRegistration ?? false);
  }

  /** Removes an operator's session; false when there is no static session of that name. */
  deleteStatic(name: string): boolean {
    const e = this.entries.get(name);
    if (!e || e.origin !== 'static') return false;
    this.commit([], [e]);
    return true;
  }

  // ── devices (WCCP) ──────────────────────────────────────────────────────────────────────────

  /** A device became usable in a service group: its held static sessions go active. */
  deviceUp(device: string): void {
    if (this.registered.has(device)) return;
    this.asRegistered(device, () => {
      if ([...this.entries.values()].some((e) => e.requireRegistration && e.spec.device === device)) this.commit([], []);
    });
  }

  /** Runs a change with the device counted as registered; undoes that if the change fails. */
  private asRegistered(device: string, change: () => void): void {
    const had = this.registered.has(device);
    this.registered.add(device);
    try {
      change();
    } catch (e) {
      if (!had) this.registered.delete(device);
      throw e;
    }
  }

  /** A device was removed: its registration and redirect sessions end; static ones hold again. */
  deviceDown(device: string): void {
    if (!this.registered.delete(device)) return;
    const gone = [...this.entries.values()].filter((e) => e.origin !== 'static' && e.spec.device === device);
    this.commit([], gone);
  }

  /** A registering device's replication request (new or changed); throws SessionError when refused. */
  request(r: DeviceRequest, nowMs: number): SessionInfo {
    const name = `${r.device}/${r.service}`;
    const existing = this.entries.get(name);
    const base: SessionSpecBase = {
      name, mode: r.mode, filter: r.filter, encap: r.encap, snaplen: r.snaplen, sample: r.sample,
      ratePps: r.ratePps, rateBps: r.rateBps, device: r.device, lifetime: r.lifetime,
      ...(r.erspanSession !== undefined ? { erspanSession: r.erspanSession } : {}),
      ...(r.label !== undefined ? { label: r.label } : {}),
      ...(r.farEnd !== undefined ? { farEnd: r.farEnd } : {}),
    };
    if (r.farEnd !== undefined) {
      if (r.mode !== 'dup' || r.encap !== 'gre-seq') throw new SessionError(name, 'farEnd', 'a far end is for dup sessions with encap gre-seq only');
      parseIpv4Field(name, 'farEnd', r.farEnd);
    }
    if (existing && sameRequest(existing.spec, base)) return this.info(existing);
    // A device asking for exactly what an operator's session already sends it gets that session
    // (now active), not a second one: it would receive every replica twice.
    const configured = [...this.entries.values()].find((e) => e.origin === 'static' && e.spec.device === r.device && sameTraffic(e.spec, base));
    if (configured) {
      if (existing) this.commit([], [existing]);
      this.deviceUp(r.device);
      return this.info(configured);
    }
    const perDevice = [...this.entries.values()].filter((e) => e.spec.device === r.device && e.name !== name).length;
    if (perDevice >= (this.o.perDevice ?? DEFAULT_PER_DEVICE)) throw new SessionError(name, 'device', `at most ${this.o.perDevice ?? DEFAULT_PER_DEVICE} sessions per device`);
    const entry = this.allocate(name, 'registration', base, nowMs, false);
    this.asRegistered(r.device, () => this.commit([entry], existing ? [existing] : []));
    return this.info(entry);
  }

  /**
   * A device's membership of one service group ended (it withdrew its request, its assignment no
   * longer names it, or the group removed it): that group's registration or redirect session ends.
   * False when there was none.
   */
  endMembership(device: string, service: number): boolean {
    const e = this.entries.get(`${device}/${service}`);
    if (!e || e.origin === 'static') return false;
    this.commit([], [e]);
    return true;
  }

  /**
   * A service group's race session (new, or its members changed): one session named
   * `race/SERVICE` over every member. An empty member list ends it. Throws SessionError when refused.
   */
  raceGroup(g: RaceGroupRequest, nowMs: number): SessionInfo | null {
    const name = `race/${g.service}`;
    const existing = this.entries.get(name);
    if (g.members.length === 0) {
      if (existing) this.commit([], [existing]);
      return null;
    }
    const base: SessionSpecBase = {
      name, mode: 'race', filter: g.filter, encap: 'gre', snaplen: 0, sample: 1, ratePps: 0, rateBps: 0,
      device: g.members[0], lifetime: 0, raceMembers: [...g.members], ...(g.budget ? { raceBudget: g.budget } : {}),
    };
    if (existing && sameRequest(existing.spec, base)) return this.info(existing);
    // The group keeps its slot and generation while only its members change (the hot path's
    // connection table then keeps pinned flows whose winner stays in the group).
    const entry: Entry = existing
      ? { ...existing, spec: base }
      : this.allocate(name, 'registration', base, nowMs, false);
    this.commit([entry], existing ? [existing] : []);
    for (const m of g.members) this.registered.add(m);
    return this.info(entry);
  }

  /** A standard cache's redirect membership (new or changed assignment). */
  redirect(m: RedirectMember, nowMs: number): SessionInfo {
    const name = `${m.device}/${m.service}`;
    const existing = this.entries.get(name);
    const bucketTerm = m.buckets === undefined || m.mask !== undefined ? '' : bucketFilter(m.buckets);
    const maskValues = m.mask ? checkMask(name, m.mask.element, m.mask.values) : undefined;
    if (bucketTerm === null || (maskValues !== undefined && maskValues.length === 0)) {
      if (existing) this.commit([], [existing]);
      throw new SessionError(name, m.mask ? 'mask' : 'buckets', 'nothing of the service is assigned to this cache');
    }
    const base: SessionSpecBase & Pick<SessionSpec, 'excludeSources' | 'hashFlags' | 'maskAssignment'> = {
      name, mode: 'redirect', filter: bucketTerm ? `(${m.serviceFilter}) and ${bucketTerm}` : m.serviceFilter,
      encap: 'gre', snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, device: m.device, lifetime: 0,
      serviceId: m.service, dynamicService: m.dynamic, servicePriority: m.priority, excludeSources: m.caches,
      ...(bucketTerm && bucketHashFlags(m.hashFlags) !== 0 ? { hashFlags: bucketHashFlags(m.hashFlags) } : {}),
      ...(m.mask && maskValues ? { maskAssignment: { element: m.mask.element, laneValues: maskValues } } : {}),
    };
    if (existing && sameRequest(existing.spec, base)) return this.info(existing);
    const entry = this.allocate(name, 'redirect', base, nowMs, false);
    this.asRegistered(m.device, () => this.commit([entry], existing ? [existing] : []));
    return this.info(entry);
  }

  // ── policy ──────────────────────────────────────────────────────────────────────────────────

  setPolicy(rules: readonly PolicyRule[]): void {
    const before = this.policy;
    this.policy = rules.map((r) => ({ action: r.action, filter: r.filter }));
    try {
      this.commit([], []);
    } catch (e) {
      this.policy = before;
      throw e;
    }
  }

  getPolicy(): PolicyRule[] {
    return this.policy.map((r) => ({ ...r }));
  }

  // ── time ────────────────────────────────────────────────────────────────────────────────────

  /** Ends sessions whose lifetime has passed. */
  tick(nowMs: number): string[] {
    const expired = [...this.entries.values()].filter((e) => e.spec.lifetime > 0 && nowMs - e.createdMs >= e.spec.lifetime * 1000);
    if (expired.length) this.commit([], expired);
    return expired.map((e) => e.name);
  }

  // ── views ───────────────────────────────────────────────────────────────────────────────────

  /** The tables running now (undefined before the first publish). */
  tables(): CompiledTables | undefined {
    return this.current;
  }

  /** Whether a device has registered (it has a usable WCCP membership). */
  isRegistered(device: string): boolean {
    return this.registered.has(device);
  }

  /** Publishes the current session set again (after the board's placement changed, say). */
  republish(): void {
    this.commit([], []);
  }

  list(): SessionInfo[] {
    return [...this.entries.values()].map((e) => this.info(e));
  }

  /** Final counters of the sessions that ended most recently. */
  endedSessions(): ReadonlyArray<{ name: string; counters: Record<string, number> }> {
    return this.ended;
  }

  staticSessions(): Array<StaticSessionSpec & { readonly requireRegistration?: boolean }> {
    return [...this.entries.values()].filter((e) => e.origin === 'static').map((e) => {
      const s: StaticSessionSpec & { requireRegistration?: boolean } = {
        name: e.name, mode: e.spec.mode, filter: e.spec.filter, device: e.spec.device,
        encap: e.spec.encap, snaplen: e.spec.snaplen, sample: e.spec.sample, ratePps: e.spec.ratePps, rateBps: e.spec.rateBps,
        ...(e.spec.port !== undefined ? { port: e.spec.port } : {}),
        ...(e.spec.lifetime ? { lifetime: e.spec.lifetime } : {}),
      };
      if (e.requireRegistration) s.requireRegistration = true;
      return s;
    });
  }

  /** Number of sessions of every origin. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Replaces every static session and the policy in one publish (loading a saved configuration):
   * all of it applies or none does. Registration and redirect sessions are kept.
   */
  replaceConfiguration(sessions: ReadonlyArray<StaticSessionSpec & { readonly requireRegistration?: boolean }>, policy: readonly PolicyRule[], nowMs: number): void {
    const removed = [...this.entries.values()].filter((e) => e.origin === 'static');
    const kept = new Map([...this.entries].filter(([, e]) => e.origin !== 'static'));
    const added: Entry[] = [];
    const before = { entries: new Map(this.entries), policy: this.policy };
    try {
      // Allocate against the kept sessions only, one by one, so new names get distinct slots.
      this.entries.clear();
      for (const [k, v] of kept) this.entries.set(k, v);
      for (const spec of sessions) {
        const entry = this.staticEntry(spec, nowMs);
        this.entries.set(entry.name, entry);
        added.push(entry);
      }
      this.entries.clear();
      for (const [k, v] of before.entries) this.entries.set(k, v);
      this.policy = policy.map((r) => ({ action: r.action, filter: r.filter }));
      this.commit(added, removed);
    } catch (e) {
      this.entries.clear();
      for (const [k, v] of before.entries) this.entries.set(k, v);
      this.policy = before.policy;
      throw e;
    }
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  private info(e: Entry): SessionInfo {
    const placement = this.o.resolve(e.spec.device, e.spec.port, e.name);
    return {
      name: e.name,
      origin: e.origin === 'static' ? 'static' : 'registration',
      mode: e.spec.mode,
      filter: e.spec.filter,
      device: e.spec.device,
      port: placement.port,
      encap: e.spec.encap,
      snaplen: e.spec.snaplen,
      sample: e.spec.sample,
      ratePps: e.spec.ratePps,
      rateBps: e.spec.rateBps,
      state: this.holding(e) ? 'holding' : 'active',
      ...(e.spec.label !== undefined ? { label: e.spec.label } : {}),
      ...(e.spec.raceMembers ? { members: e.spec.raceMembers.map((m) => ({ address: m, port: this.o.resolve(m, undefined, e.name).port })) } : {}),
      ...(e.spec.farEnd !== undefined ? { farEnd: e.spec.farEnd } : {}),
      counters: this.o.counters(e.slot),
    };
  }

  private holding(e: Entry): boolean {
    return e.requireRegistration && !this.registered.has(e.spec.device);
  }

  private allocate(name: string, origin: Entry['origin'], spec: SessionSpecBase, nowMs: number, requireRegistration: boolean): Entry {
    if (typeof spec.filter !== 'string' || spec.filter.length > MAX_FILTER_LENGTH) throw new SessionError(name, 'filter', `must be a string of at most ${MAX_FILTER_LENGTH} characters`);
    const used = new Set([...this.entries.values()].filter((e) => e.name !== name).map((e) => e.slot));
    let slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= this.o.slots) throw new SessionError(name, 'sessions', `the router holds at most ${this.o.slots} sessions`);
    return { name, origin, spec, slot, generation: this.nextGeneration++, createdMs: nowMs, requireRegistration };
  }

  /** Outer source of a session's encapsulated packets: the router's WCCP address for registrations. */
  private sourceOf(e: Entry, p: Placement): { readonly ip: number; readonly mac: Uint8Array } {
    return e.origin !== 'static' && this.o.registrationSource !== undefined ? { ip: this.o.registrationSource, mac: p.source.mac } : p.source;
  }

  /** A tagged dup session's carrier member: the far end placed through the board like a device. */
  private carrierOf(e: Entry, farEnd: string): NonNullable<SessionSpec['carrier']> {
    const p = this.o.resolve(farEnd, undefined, e.name, 'farEnd');
    return { egressPort: p.portIndex, mtu: p.mtu, source: this.sourceOf(e, p), destination: { ip: parseIpv4(farEnd), mac: p.destinationMac } };
  }

  /**
   * Applies additions and removals: compiles the resulting session set and publishes it. On any
   * error nothing changes. Held replicas of sessions that went active are released; removed
   * sessions' held frames are given back and their counters kept.
   */
  private commit(add: readonly Entry[], remove: readonly Entry[]): void {
    const next = new Map(this.entries);
    for (const e of remove) next.delete(e.name);
    for (const e of add) next.set(e.name, e);
    const specs: SessionSpec[] = [...next.values()].map((e) => {
      const p = this.o.resolve(e.spec.device, e.spec.port, e.name);
      const { raceMembers, raceBudget, farEnd, ...spec } = e.spec;
      const race = raceMembers && {
        members: raceMembers.map((m) => {
          const q = this.o.resolve(m, undefined, e.name);
          return { port: q.portIndex, mac: q.destinationMac, address: m, routerMac: q.source.mac };
        }),
        ...(raceBudget ?? {}),
      };
      return {
        ...spec,
        ...(race ? { race } : {}),
        slot: e.slot,
        generation: e.generation,
        hold: this.holding(e),
        egressPort: p.portIndex,
        mtu: p.mtu,
        source: this.sourceOf(e, p),
        destination: { ip: parseIpv4(e.spec.device), mac: p.destinationMac },
        ...(farEnd !== undefined ? { carrier: this.carrierOf(e, farEnd) } : {}),
      };
    });
    const tables = compileTables(specs, this.policy, this.o.compile ?? {});
    // A session updated in place (same slot and generation: a race group whose members changed)
    // keeps its counters and state; every other removal ends a session.
    const inPlace = (e: Entry): boolean => add.some((a) => a.name === e.name && a.slot === e.slot && a.generation === e.generation);
    for (const e of remove) {
      if (inPlace(e)) continue;
      this.ended.push({ name: e.name, counters: this.o.counters(e.slot) });
      if (this.ended.length > (this.o.history ?? DEFAULT_HISTORY)) this.ended.shift();
    }
    // A new or changed session never inherits a slot's sampling, policer or sequence state.
    for (const e of add) if (!remove.some((r) => r.slot === e.slot && r.generation === e.generation)) this.o.resetSlot(e.slot);
    this.o.publish(tables);
    this.current = tables;
    // Held replicas of a removed session are its own, even when a new session reuses the slot.
    for (const e of remove) if (!inPlace(e)) this.o.retire(e.slot);
    this.entries.clear();
    for (const [k, v] of next) this.entries.set(k, v);
    // Sessions that held replicas in the previous tables and send them now: release the held ones.
    const held = new Set<string>();
    for (const e of this.entries.values()) {
      if (this.holding(e)) held.add(e.name);
      else if (this.heldPublished.has(e.name)) this.o.release(e.slot, this.o.resolve(e.spec.device, e.spec.port, e.name).portIndex);
    }
    this.heldPublished = held;
  }
}

function parseIpv4Field(session: string, field: string, value: unknown): number {
  try {
    return parseIpv4(String(value));
  } catch (e) {
    throw new SessionError(session, field, (e as Error).message);
  }
}

/** Whether two sessions send the device the same replicas (mode, packets, encapsulation, shaping). */
function sameTraffic(a: SessionSpecBase, b: SessionSpecBase): boolean {
  return a.mode === b.mode && a.filter.trim() === b.filter.trim() && a.encap === b.encap && a.snaplen === b.snaplen &&
    a.sample === b.sample && a.ratePps === b.ratePps && a.rateBps === b.rateBps && a.farEnd === b.farEnd;
}

function sameRequest(a: SessionSpecBase, b: SessionSpecBase): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `wccp-bucket` terms for a bucket set, as ranges of consecutive buckets; null for none. */
function bucketFilter(buckets: readonly number[]): string | null {
  const sorted = [...new Set(buckets)].filter((b) => Number.isInteger(b) && b >= 0 && b <= 255).sort((a, b) => a - b);
  if (!sorted.length) return null;
  if (sorted.length === 256) return '';
  const ranges: string[] = [];
  let start = sorted[0];
  let prev = start;
  for (const b of [...sorted.slice(1), -1]) {
    if (b === prev + 1) { prev = b; continue; }
    ranges.push(start === prev ? `wccp-bucket ${start}` : `wccp-bucket ${start}-${prev}`);
    start = b;
    prev = b;
  }
  return `(${ranges.join(' or ')})`;
}
