// The router's control plane: the one implementation of RouterControl (control.ts). It owns the
// session manager, turns WCCP events into sessions, applies the operator's configuration and
// limits, answers `explain` with the real data plane, and persists the running state. It never
// touches a packet: tables go to the line card through publish, counters come back as reads.
//
// Contract
// - Every method validates its input and throws ControlError naming the field; a refused change
//   leaves the running tables and state as they were.
// - WCCP hooks (`wccpHooks`) are called by the WCCP router when a device becomes usable, asks
//   for packets, receives an assignment or is removed. A hook that refuses (limits, a bad
//   filter) throws SessionError or ControlError; the WCCP router counts it and does not list
//   the device as usable.
// - poll(nowMs) is called by the runtime between data-plane iterations: session lifetimes end,
//   and replicas held for a device that has now registered leave (first, in order), as far as
//   the port's replica queue has room each time.
// - Single-threaded with the line card it drives (the runtime's poll loop).

import {
  ControlError,
  type Allowlist,
  type CountersReport,
  type ExplainReport,
  type FlashReport,
  type PacketDescription,
  type PolicyRule,
  type RouterControl,
  type RouterLimits,
  type RouterStatus,
  type ServiceInfo,
  type SessionInfo,
  type StaticSessionSpec,
} from './control.ts';
import type { ConfiguredSession, RouterConfig, RouterState } from './config/types.ts';
import { SessionManager, type DeviceRequest, type RedirectMember } from './sessions/manager.ts';
import { SessionError } from './sessions/compile.ts';
import { boardPlacement } from './sessions/placement.ts';
import { boardFib } from './tables/fib.ts';
import { explainPacket } from './sessions/explain.ts';
import { parseIpv4, parseIpv4Prefix, parseNetworkPrefix } from './net/address.ts';
import * as L from './sessions/limits.ts';
import type { Board } from '../runtime/board.ts';
import { dataPlaneSpec } from '../runtime/board.ts';
import type { CardSet } from '../runtime/cards.ts';

/** What the router needs of the WCCP router (firmware/shell/wccp/router: WccpRouter fits). */
export interface WccpView {
  services(): ServiceInfo[];
  setAllowlist(list: Allowlist, nowMs: number): void;
  counters(): Record<string, number>;
}

/** The WCCP events the router turns into sessions (the WCCP router's hooks, wccp/router/hooks.ts). */
export interface WccpHooks {
  usable(device: string, service: number): void;
  request(r: DeviceRequest): void;
  redirect(m: RedirectMember): void;
  /** A standard cache that had a share of the group's traffic has none now (still a member). */
  unassigned(device: string, service: number): void;
  /** The device's membership of the group ended (removal, or a refused change of its request). */
  removed(device: string, service: number): void;
}

/** Persistence of the running state (firmware/shell/config). */
export interface StateStore {
  save(path: string, state: RouterState): Promise<number>;
  load(path: string): Promise<{ readonly state: RouterState; readonly bytes: number }>;
}

export interface RouterOptions {
  readonly board: Board;
  /** The line cards the router drives. */
  readonly cards: CardSet;
  readonly config: RouterConfig;
  readonly version: string;
  /** Milliseconds, monotonic enough for lifetimes (default Date.now). */
  readonly clock?: () => number;
  readonly store?: StateStore;
  readonly log?: (line: string) => void;
}

const PREFIXES_MAX = 1024;

export class Router implements RouterControl {
  readonly manager: SessionManager;
  readonly wccpHooks: WccpHooks;
  private wccp: WccpView | undefined;
  private managementCounters: () => Record<string, number> = () => ({});
  private limits: RouterLimits;
  private readonly boardLimits: RouterLimits;
  /** Slots whose held replicas are leaving, and their egress port index. */
  private readonly draining = new Map<number, number>();
  /** Usable service groups of each registered device. */
  private readonly memberships = new Map<string, Set<number>>();
  private readonly clock: () => number;
  private readonly started: number;
  private readonly log: (line: string) => void;
  private readonly allowlists = new Map<number, readonly string[]>();

  constructor(private readonly o: RouterOptions) {
    this.clock = o.clock ?? Date.now;
    this.started = this.clock();
    this.log = o.log ?? (() => {});
    const cards = o.cards;
    const slots = cards.sessionSlots;
    const b = o.board.limits ?? {};
    this.boardLimits = {
      sessions: slots,
      peers: b.peers ?? 32,
      snaplenMin: b.snaplenMin ?? L.MIN_SNAPLEN,
      snaplenMax: b.snaplenMax ?? L.MAX_SNAPLEN,
      maxRatePps: L.MAX_RATE_PPS,
      maxRateBps: L.MAX_RATE_BPS,
    };
    this.limits = this.checkLimits(o.config.limits, this.boardLimits, 'limits');
    for (const s of o.config.services) this.allowlists.set(s.id, [...s.allow]);
    this.manager = new SessionManager({
      slots,
      resolve: boardPlacement(o.board, cards.portNames),
      publish: (t) => cards.publish(t.bank.image),
      release: (slot, port) => this.draining.set(slot, port),
      retire: (slot) => {
        this.draining.delete(slot);
        cards.discardHeld(slot);
      },
      counters: (slot) => cards.sessionCounters(slot),
      resetSlot: (slot) => cards.resetSessionSlot(slot),
      registrationSource: parseIpv4(o.config.wccp.routerId ?? o.config.wccp.address),
      compile: {
        portCount: cards.portNames.length,
        ...(o.board.limits?.rules !== undefined ? { maxRules: o.board.limits.rules } : {}),
        returnPath: { locals: routerAddresses(o.board, cards.portNames, o.config), routes: boardFib(o.board, cards.portNames) },
      },
    });
    this.wccpHooks = {
      usable: (device, service) => this.onUsable(device, service),
      request: (r) => this.onRequest(r),
      redirect: (m) => this.onRedirect(m),
      unassigned: (device, service) => {
        if (this.manager.endMembership(device, service)) this.log(`session ${device}/${service}: ended (no share of the group's traffic)`);
      },
      removed: (device, service) => this.onRemoved(device, service),
    };
    try {
      this.manager.replaceConfiguration(o.config.sessions.map((s) => this.checkedStatic(s)), o.config.policy, this.clock());
    } catch (e) {
      throw asControlError(e, 'sessions');
    }
  }

  /** Connects the WCCP router (its view of service groups and counters). */
  attachWccp(view: WccpView): void {
    this.wccp = view;
    for (const [service, prefixes] of this.allowlists) view.setAllowlist({ service, prefixes }, this.clock());
  }

  attachManagementCounters(read: () => Record<string, number>): void {
    this.managementCounters = read;
  }

  /** Between data-plane iterations: lifetimes, and held replicas of devices that registered. */
  poll(nowMs = this.clock()): void {
    const ended = this.manager.tick(nowMs);
    for (const name of ended) this.log(`session ${name}: lifetime ended`);
    for (const [slot, port] of this.draining) {
      if (this.o.cards.releaseHeld(slot, port) === 0) this.draining.delete(slot);
    }
  }

  // ── WCCP events ─────────────────────────────────────────────────────────────────────────────

  /** Runs `change` for a device joining a group, within the peers limit; records it only on success. */
  private admit(device: string, service: number, change: () => void): void {
    const groups = this.memberships.get(device);
    if (!groups && this.memberships.size >= this.limits.peers) {
      throw new SessionError(`${device}/${service}`, 'peers', `the router accepts at most ${this.limits.peers} registered devices`);
    }
    change();
    if (groups) groups.add(service);
    else this.memberships.set(device, new Set([service]));
  }

  private onUsable(device: string, service: number): void {
    this.admit(device, service, () => this.manager.deviceUp(device));
    this.log(`device ${device} usable in service group ${service}`);
  }

  /** Race members of each service group, by device. */
  private readonly races = new Map<number, Map<string, DeviceRequest>>();

  /**
   * A device registering mode race joins its service group's race: one session over every member
   * (docs/race.md), which must all serve the same filter; the budget is the group's configuration.
   */
  private onRaceRequest(r: DeviceRequest): void {
    const group = this.races.get(r.service) ?? new Map<string, DeviceRequest>();
    const other = [...group.values()].find((x) => x.device !== r.device);
    if (other && other.filter.trim() !== r.filter.trim()) {
      throw new SessionError(`race/${r.service}`, 'filter', `"${r.filter}" differs from the group's "${other.filter}": every member of a race group serves the same service`);
    }
    const next = new Map(group);
    next.set(r.device, r);
    this.admit(r.device, r.service, () => this.publishRace(r.service, next));
    this.races.set(r.service, next);
    this.log(`race/${r.service}: ${r.device} joins (${next.size} member${next.size === 1 ? '' : 's'})`);
  }

  private publishRace(service: number, members: ReadonlyMap<string, DeviceRequest>): void {
    const devices = [...members.keys()].sort((a, b) => parseIpv4(a) - parseIpv4(b));
    const budget = this.o.config.services.find((s) => s.id === service)?.race;
    const filter = members.size ? [...members.values()][0].filter : '';
    this.manager.raceGroup({ service, filter, members: devices, ...(budget ? { budget } : {}) }, this.clock());
  }

  private onRequest(r: DeviceRequest): void {
    if (r.mode === 'race') return this.onRaceRequest(r);
    const name = `${r.device}/${r.service}`;
    const lim = this.limits;
    if (r.snaplen !== 0 && (r.snaplen < lim.snaplenMin || r.snaplen > lim.snaplenMax)) {
      throw new SessionError(name, 'snaplen', `${r.snaplen} is outside the router's range ${lim.snaplenMin}..${lim.snaplenMax} (0: whole packets)`);
    }
    if (r.ratePps > lim.maxRatePps) throw new SessionError(name, 'ratePps', `${r.ratePps} exceeds the router's limit of ${lim.maxRatePps} packets/s`);
    if (r.rateBps > lim.maxRateBps) throw new SessionError(name, 'rateBps', `${r.rateBps} exceeds the router's limit of ${lim.maxRateBps} bits/s`);
    // "Unlimited" (0) means as much as the router allows: its cap, when the operator set one.
    const capped: DeviceRequest = {
      ...r,
      ratePps: r.ratePps === 0 && lim.maxRatePps < L.MAX_RATE_PPS ? lim.maxRatePps : r.ratePps,
      rateBps: r.rateBps === 0 && lim.maxRateBps < L.MAX_RATE_BPS ? lim.maxRateBps : r.rateBps,
    };
    if (this.manager.size >= lim.sessions && !this.manager.list().some((s) => s.name === name)) {
      throw new SessionError(name, 'sessions', `the router holds at most ${lim.sessions} sessions`);
    }
    this.admit(r.device, r.service, () => {
      this.manager.request(capped, this.clock());
      this.manager.deviceUp(r.device);
    });
    this.log(`session ${name}: ${r.mode} "${r.filter}" requested by ${r.device}`);
  }

  private onRedirect(m: RedirectMember): void {
    this.admit(m.device, m.service, () => {
      this.manager.redirect(m, this.clock());
      this.manager.deviceUp(m.device);
    });
  }

  private onRemoved(device: string, service: number): void {
    if (this.manager.endMembership(device, service)) this.log(`session ${device}/${service}: ended (device left the group)`);
    const race = this.races.get(service);
    if (race?.delete(device)) {
      this.publishRace(service, race);
      this.log(`race/${service}: ${device} left (${race.size} member${race.size === 1 ? '' : 's'})`);
    }
    const groups = this.memberships.get(device);
    if (!groups) return;
    groups.delete(service);
    if (groups.size === 0) {
      this.memberships.delete(device);
      this.manager.deviceDown(device);
      this.log(`device ${device} removed`);
    }
  }

  // ── RouterControl ───────────────────────────────────────────────────────────────────────────

  status(): RouterStatus {
    return {
      board: this.o.board.name,
      version: this.o.version,
      uptimeSeconds: Math.floor((this.clock() - this.started) / 1000),
      tableVersion: this.o.cards.tableVersion,
    };
  }

  counters(): CountersReport {
    const ports = this.o.cards.portCounters();
    const drivers: Record<string, Record<string, number>> = {};
    for (const [name, c] of Object.entries(this.o.cards.driverCounters())) drivers[name] = { ...c };
    const sessions: Record<string, Record<string, number>> = {};
    for (const s of this.manager.list()) sessions[s.name] = s.counters;
    return { ports, sessions, drivers, wccp: this.wccp?.counters() ?? {}, management: this.managementCounters() };
  }

  listSessions(): SessionInfo[] {
    return this.manager.list();
  }

  addSession(spec: StaticSessionSpec): SessionInfo {
    const checked = this.checkedStatic(spec as ConfiguredSession);
    if (this.manager.size >= this.limits.sessions) throw new ControlError('spec', `the router holds at most ${this.limits.sessions} sessions`);
    try {
      return this.manager.addStatic(checked, this.clock());
    } catch (e) {
      throw asControlError(e, 'spec');
    }
  }

  deleteSession(name: string): boolean {
    if (typeof name !== 'string') throw new ControlError('name', 'must be a string');
    return this.manager.deleteStatic(name);
  }

  getAllowlist(service: number): Allowlist {
    const prefixes = this.allowlists.get(service);
    if (prefixes === undefined) throw new ControlError('service', `the router offers no service group ${service}`);
    return { service, prefixes: [...prefixes] };
  }

  setAllowlist(list: Allowlist): void {
    if (!this.allowlists.has(list.service)) throw new ControlError('service', `the router offers no service group ${list.service}`);
    if (!Array.isArray(list.prefixes) || list.prefixes.length > PREFIXES_MAX) throw new ControlError('prefixes', `must be a list of at most ${PREFIXES_MAX} prefixes`);
    list.prefixes.forEach((p, i) => {
      try {
        parseNetworkPrefix(p);
      } catch (e) {
        throw new ControlError(`prefixes.${i}`, (e as Error).message);
      }
    });
    this.wccp?.setAllowlist({ service: list.service, prefixes: [...list.prefixes] }, this.clock());
    this.allowlists.set(list.service, [...list.prefixes]);
  }

  getPolicy(): PolicyRule[] {
    return this.manager.getPolicy();
  }

  setPolicy(rules: readonly PolicyRule[]): void {
    if (!Array.isArray(rules)) throw new ControlError('rules', 'must be a list of {action, filter}');
    try {
      this.manager.setPolicy(rules);
    } catch (e) {
      throw asControlError(e, 'rules');
    }
  }

  getLimits(): RouterLimits {
    return { ...this.limits };
  }

  setLimits(limits: Partial<RouterLimits>): RouterLimits {
    const next = this.checkLimits({ ...this.limits, ...limits }, this.boardLimits, 'limits');
    if (next.sessions < this.manager.size) throw new ControlError('limits.sessions', `${this.manager.size} sessions exist; end some first`);
    if (next.peers < this.memberships.size) throw new ControlError('limits.peers', `${this.memberships.size} devices are registered`);
    this.limits = next;
    return { ...next };
  }

  listServices(): ServiceInfo[] {
    if (this.wccp) return this.wccp.services();
    return this.o.config.services.map((s) => ({
      service: s.id, type: s.type, security: s.password ? 'md5' : 'none', caches: [], assignment: 'none',
    }));
  }

  async explain(packet: PacketDescription): Promise<ExplainReport> {
    if (typeof packet !== 'object' || packet === null) throw new ControlError('packet', 'must be a packet description');
    const tables = this.manager.tables();
    if (!tables) throw new ControlError('packet', 'no tables are running yet');
    const spec = dataPlaneSpec(this.o.board, 0);
    const macs = this.o.cards.portNames.map((n) => this.o.board.ports.find((p) => p.name === n)!.mac);
    return explainPacket(packet, { tables, spec, portMacs: macs });
  }

  /** The running state that `save` writes. */
  runningState(): RouterState {
    return {
      allowlists: [...this.allowlists].map(([service, prefixes]) => ({ service, prefixes: [...prefixes] })),
      sessions: this.manager.staticSessions(),
      policy: this.manager.getPolicy(),
      limits: this.getLimits(),
    };
  }

  async saveConfig(): Promise<{ readonly path: string; readonly bytes: number }> {
    const { path, store } = this.persistence();
    const bytes = await store.save(path, this.runningState());
    this.log(`configuration saved to ${path} (${bytes} bytes)`);
    return { path, bytes };
  }

  async loadConfig(): Promise<{ readonly path: string; readonly bytes: number }> {
    const { path, store } = this.persistence();
    const { state, bytes } = await store.load(path);
    this.applyState(state);
    this.log(`configuration loaded from ${path} (${bytes} bytes)`);
    return { path, bytes };
  }

  async flashImage(image: Uint8Array): Promise<FlashReport> {
    const images = this.o.config.images;
    if (!images) throw new ControlError('image', 'this router takes no image uploads: its configuration has no "images" (slots and public key)');
    if (!(image instanceof Uint8Array)) throw new ControlError('image', 'must be the image bytes');
    const { flashImageBytes, ImageError, KeyError, SlotError, VersionError } = await import('../runtime/image/index.ts');
    const { readFileSync } = await import('node:fs');
    try {
      const r = await flashImageBytes(image, images.slots, readFileSync(images.publicKey), { source: 'uploaded image', board: this.o.board.name });
      this.log(`image ${r.version} for ${r.board} (${r.bytes} bytes) flashed into slot ${r.slot}; it is tried at the next boot`);
      return { slot: r.slot, version: r.version, board: r.board, imageSha256: r.imageSha256, bytes: r.bytes };
    } catch (e) {
      if (e instanceof ImageError || e instanceof KeyError || e instanceof SlotError || e instanceof VersionError) throw new ControlError('image', e.message);
      throw e;
    }
  }

  /** Applies a saved state: limits, then sessions and policy in one publish, then allowlists. */
  applyState(state: RouterState): void {
    const limits = this.checkLimits({ ...this.limits, ...state.limits }, this.boardLimits, 'state.limits');
    for (const a of state.allowlists) {
      if (!this.allowlists.has(a.service)) throw new ControlError('state.allowlists', `the router offers no service group ${a.service}`);
    }
    if (state.sessions.length > limits.sessions) throw new ControlError('state.sessions', `${state.sessions.length} sessions exceed the limit of ${limits.sessions}`);
    try {
      this.manager.replaceConfiguration(state.sessions.map((s) => this.checkedStatic(s)), state.policy, this.clock());
    } catch (e) {
      throw asControlError(e, 'state.sessions');
    }
    this.limits = limits;
    for (const a of state.allowlists) this.setAllowlist(a);
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  private persistence(): { path: string; store: StateStore } {
    if (!this.o.config.state) throw new ControlError('state', 'the configuration names no state file, so there is nowhere to save to or load from');
    if (!this.o.store) throw new ControlError('state', 'this router has no state store');
    return { path: this.o.config.state, store: this.o.store };
  }

  /** A static session checked against the router's limits (the compiler checks the rest). */
  private checkedStatic(spec: ConfiguredSession): ConfiguredSession {
    if (typeof spec !== 'object' || spec === null) throw new ControlError('spec', 'must be a session');
    const lim = this.limits;
    const snaplen = spec.snaplen ?? 0;
    if (snaplen !== 0 && (snaplen < lim.snaplenMin || snaplen > lim.snaplenMax)) {
      throw new ControlError('spec.snaplen', `must be 0 (whole packets) or ${lim.snaplenMin}..${lim.snaplenMax}`);
    }
    return spec;
  }

  private checkLimits(l: Partial<RouterLimits>, board: RouterLimits, where: string): RouterLimits {
    const out = { ...board, ...l };
    const check = (k: keyof RouterLimits, lo: number, hi: number): void => {
      const v = out[k];
      if (!Number.isInteger(v) || v < lo || v > hi) throw new ControlError(`${where}.${k}`, `must be ${lo}..${hi} on this board`);
    };
    check('sessions', 1, board.sessions);
    check('peers', 1, board.peers);
    check('snaplenMin', L.MIN_SNAPLEN, board.snaplenMax);
    check('snaplenMax', out.snaplenMin, board.snaplenMax);
    check('maxRatePps', 1, L.MAX_RATE_PPS);
    check('maxRateBps', 1, L.MAX_RATE_BPS);
    return out;
  }
}

/** A session-layer refusal as the control surface reports it (field prefixed by where it sat). */
function asControlError(e: unknown, where: string): unknown {
  if (e instanceof SessionError) return new ControlError(`${where}.${e.field}`, e.session === '*' ? e.detail : `session "${e.session}": ${e.detail}`);
  return e;
}

/**
 * Where a cache may send its GRE returns: the router's WCCP address and Router ID (the address the
 * cache knows its router by) and the address of every port of the line cards.
 */
function routerAddresses(board: Board, portNames: readonly string[], config: RouterConfig): number[] {
  const out = [parseIpv4(config.wccp.address), parseIpv4(config.wccp.routerId ?? config.wccp.address)];
  for (const name of portNames) {
    const ipv4 = board.ports.find((p) => p.name === name)?.ipv4;
    if (ipv4 !== undefined) out.push(parseIpv4Prefix(ipv4).address);
  }
  return [...new Set(out)];
}
