// The device (cache) side of WCCPv2: what a registering device — and `twinflow peer`, built on
// it — runs. It registers one service group with one or more routers:
//
//   every 10 s          HERE_I_AM to each router (Web-Cache View: each router's last Receive ID)
//   I_SEE_YOU           remember Receive ID, Router ID, change number and view; per router
//                       state joining → usable (listed in the Router View) → lost
//   REMOVAL_QUERY       three HERE_I_AMs to that router, 1 s apart
//   designated          (a standard cache — no replication request, or one of mode redirect —
//                       that is the lowest IP every usable router lists) REDIRECT_ASSIGN 15 s after a
//                       membership change: all buckets (hash) or all mask values over the caches
//                       every usable router lists; sent again when a router's I_SEE_YOU has not
//                       echoed the key after a full HERE_I_AM_T
//
// Contract: datagrams are untrusted and never make the device throw: each one is used or
// dropped under a named counter. Options are checked at construction (WccpConfigError naming the
// field). Clock and transport are injectable, so tests run the protocol's 10–30 s timers in
// microseconds; with the system clock the timers are unref'd. Bounded: one record per configured
// router (at most MAX_ROUTERS_PER_GROUP), and the views we keep are what the decoder accepted.

import { parseIpv4 } from '../../../hal/net/address.ts';
import { buildHashTable } from './assignment.ts';
import { systemClock } from './clock.ts';
import type { WccpClock } from './clock.ts';
import {
  AssignmentMethod,
  BUCKET_BITMAP_SIZE,
  ForwardingMethod,
  MD5_DIGEST_SIZE,
  MD5_PASSWORD_SIZE,
  MessageType,
  ReturnMethod,
  SERVICE_PORT_COUNT,
  ServiceFlag,
  WCCP_PORT,
} from './constants.ts';
import type { CapabilitiesInfo, ServiceInfo } from './components.ts';
import { maskElementFor, maskShares } from './designated.ts';
import type { AssignmentKey, WebCacheIdentityElement } from './elements.ts';
import { WccpDecodeError, WccpSecurityError } from './errors.ts';
import type { ReplicationRequest } from './extension.ts';
import { decodeMessage, encodeMessage } from './message.ts';
import type { HereIAm, ISeeYou, RedirectAssign, RemovalQuery, WccpMessage } from './message.ts';
import { WccpConfigError } from './router/config.ts';
import type { ForwardingMethodName, AssignmentMethodName } from '../config/types.ts';
import { MAX_ROUTERS_PER_GROUP } from './router/limits.ts';
import {
  HERE_I_AM_T_MS,
  REDIRECT_ASSIGN_DELAY_MS,
  REMOVAL_REPLY_COUNT,
  REMOVAL_REPLY_SPACING_MS,
  ROUTER_LOST_AFTER_MS,
} from './timers.ts';
import type { Endpoint, TransportFactory, WccpTransport } from './transport.ts';
import { udpTransport } from './transport.ts';

/** How often the device looks at its timers: fine enough for the 1-second removal replies. */
export const DEVICE_TICK_MS = 100;

/** Squid's default `wccp2_weight`: equal weights share buckets equally. */
export const DEFAULT_WEIGHT = 10_000;

export type RouterLinkState = 'joining' | 'usable' | 'lost';

/** The service group the device registers. A standard service needs only its ID (0). */
export interface WccpDeviceService {
  readonly id: number;
  readonly type: 'standard' | 'dynamic';
  /** Dynamic only: 0–255, highest first (default 0). */
  readonly priority?: number;
  /** Dynamic only: IP protocol (default 6, TCP). */
  readonly protocol?: number;
  /** Dynamic only: Service Flags (hash fields, "ports are source"); "ports defined" is set from `ports`. */
  readonly flags?: number;
  /** Dynamic only: up to 8 ports. */
  readonly ports?: readonly number[];
}

export interface WccpDeviceOptions {
  /** The device's IPv4 address: its WCCP identity, and the address its socket binds. */
  readonly address: string;
  /** Local UDP port (default 2048). */
  readonly port?: number;
  /** The routers to register with (1–32 IPv4 addresses). */
  readonly routers: readonly string[];
  /** The routers' UDP port (default 2048). */
  readonly routerPort?: number;
  readonly service: WccpDeviceService;
  /** MD5 password of the service group (at most 8 bytes). */
  readonly password?: string;
  readonly forwarding?: ForwardingMethodName;
  readonly assignment?: AssignmentMethodName;
  readonly return?: ForwardingMethodName;
  /** Hash weight (default 10000, as Squid). */
  readonly weight?: number;
  /** The replication request (docs/protocol.md); absent: a standard cache. */
  readonly request?: ReplicationRequest;
  readonly clock?: WccpClock;
  /** Default: a udp4 socket bound to address:port. */
  readonly transport?: TransportFactory;
  /**
   * Echo a router's first Receive ID at once instead of at the next HERE_I_AM_T tick (default
   * off: Squid's timing). The draft only sets the period; an extra HERE_I_AM is harmless.
   */
  readonly fastJoin?: boolean;
  /** Called whenever a router's state changes. */
  readonly onState?: (router: string, state: RouterLinkState) => void;
  readonly log?: (line: string) => void;
}

export const DEVICE_COUNTERS = {
  here_i_am: 'HERE_I_AM messages sent',
  i_see_you: 'I_SEE_YOU messages accepted',
  redirect_assign: 'REDIRECT_ASSIGN messages sent',
  removal_queries: 'REMOVAL_QUERY messages answered',
  malformed: 'datagrams that are not well-formed WCCPv2',
  unauthentic: 'messages whose MD5 security is wrong, missing or unexpected',
  unknown_router: 'datagrams from an address that is not one of our routers',
  unknown_service: 'messages for another service group',
  not_for_us: 'I_SEE_YOUs addressed to other caches, REMOVAL_QUERYs about other caches',
  bad_capability: 'I_SEE_YOUs from a router that does not offer our methods',
  unexpected_message: 'HERE_I_AM or REDIRECT_ASSIGN received (a device takes I_SEE_YOU and REMOVAL_QUERY)',
  send_failed: 'datagrams the socket refused to send',
  socket_errors: 'errors reported by the socket',
  internal_error: 'datagrams whose handling failed inside the device (a bug)',
} as const;
export type DeviceCounterName = keyof typeof DEVICE_COUNTERS;

interface RouterLink {
  readonly name: string;
  readonly endpoint: Endpoint;
  routerId: number;
  receiveId: number;
  state: RouterLinkState;
  lastHeardMs: number | null;
  memberChangeNumber: number;
  /** Usable caches of its last Router View. */
  caches: readonly WebCacheIdentityElement[];
  key: AssignmentKey;
  /** Due times of the HERE_I_AMs that answer a REMOVAL_QUERY. */
  replies: number[];
  /** When we last echoed a Receive ID early (see onISeeYou), or null. */
  earlyEchoMs: number | null;
}

const FORWARDING = { gre: ForwardingMethod.Gre, l2: ForwardingMethod.L2 } as const;
const ASSIGNMENT = { hash: AssignmentMethod.Hash, mask: AssignmentMethod.Mask } as const;
const RETURN = { gre: ReturnMethod.Gre, l2: ReturnMethod.L2 } as const;
const U8_MAX = 0xff;
const U16_MAX = 0xffff;
const U32_MAX = 0xffff_ffff;
/** A dynamic service's protocol when none is given: TCP, as every WCCP service in practice. */
const TCP = 6;

function dotted(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function checkInt(field: string, v: unknown, lo: number, hi: number): number {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) throw new WccpConfigError(field, `must be an integer ${lo}..${hi}`);
  return v as number;
}

function pick<T>(field: string, v: string | undefined, table: Readonly<Record<string, T>>, fallback: string): T {
  const name = v ?? fallback;
  if (!Object.prototype.hasOwnProperty.call(table, name)) throw new WccpConfigError(field, `must be one of ${Object.keys(table).join(', ')}`);
  return table[name]!;
}

function serviceInfoOf(s: WccpDeviceService): ServiceInfo {
  if (s.type === 'standard') {
    return { serviceType: 'standard', serviceId: checkInt('service.id', s.id, 0, U8_MAX), priority: 0, protocol: 0, flags: 0, ports: new Array(SERVICE_PORT_COUNT).fill(0) };
  }
  if (s.type !== 'dynamic') throw new WccpConfigError('service.type', 'must be "standard" or "dynamic"');
  const ports = s.ports ?? [];
  if (!Array.isArray(ports) || ports.length > SERVICE_PORT_COUNT) throw new WccpConfigError('service.ports', `at most ${SERVICE_PORT_COUNT} ports`);
  ports.forEach((p, i) => checkInt(`service.ports[${i}]`, p, 1, U16_MAX));
  const flags = checkInt('service.flags', s.flags ?? 0, 0, U32_MAX);
  return {
    serviceType: 'dynamic',
    serviceId: checkInt('service.id', s.id, 0, U8_MAX),
    priority: checkInt('service.priority', s.priority ?? 0, 0, U8_MAX),
    protocol: checkInt('service.protocol', s.protocol ?? TCP, 0, U8_MAX),
    flags: ports.length > 0 ? (flags | ServiceFlag.PortsDefined) >>> 0 : flags,
    ports: [...ports, ...new Array(SERVICE_PORT_COUNT - ports.length).fill(0)],
  };
}

/** Methods the router offers; without a Capabilities Info, GRE / hash / GRE only. */
function offeredBy(caps: CapabilitiesInfo | undefined): { forwarding: number; assignment: number; return: number } {
  const offered = { forwarding: ForwardingMethod.Gre as number, assignment: AssignmentMethod.Hash as number, return: ReturnMethod.Gre as number };
  for (const e of caps?.elements ?? []) {
    if (e.kind === 'forwarding-method') offered.forwarding = e.methods;
    else if (e.kind === 'assignment-method') offered.assignment = e.methods;
    else if (e.kind === 'return-method') offered.return = e.methods;
  }
  return offered;
}

export class WccpDevice {
  readonly address: string;
  private readonly self: number;
  private readonly links: RouterLink[];
  private readonly service: ServiceInfo;
  private readonly methods: { readonly forwarding: number; readonly assignment: number; readonly return: number };
  private readonly weight: number;
  private readonly clock: WccpClock;
  private readonly stats = Object.fromEntries(Object.keys(DEVICE_COUNTERS).map((k) => [k, 0])) as Record<DeviceCounterName, number>;
  private request: ReplicationRequest | null;
  private transport: WccpTransport | null = null;
  private stopTimer: (() => void) | null = null;
  private nextHereIAmMs = 0;
  /** Web-Cache View change number: Squid starts at 1; bumped when the caches we learnt change. */
  private viewChangeNumber = 1;
  private learnedCaches: number[] = [];
  /** What the current designation is based on (null: not designated). */
  private designation: string | null = null;
  private assignDueMs: number | null = null;
  private keyChangeNumber = 0;
  private lastAssignment: { readonly key: AssignmentKey; readonly sentMs: number } | null = null;

  /** Throws WccpConfigError naming the field for unusable options. */
  constructor(private readonly o: WccpDeviceOptions) {
    const self = parseIpv4(o.address);
    if (self === null) throw new WccpConfigError('address', `"${o.address}" is not an IPv4 address`);
    this.self = self;
    this.address = o.address;
    if (!Array.isArray(o.routers) || o.routers.length === 0 || o.routers.length > MAX_ROUTERS_PER_GROUP) {
      throw new WccpConfigError('routers', `must list 1..${MAX_ROUTERS_PER_GROUP} router addresses`);
    }
    const routerPort = checkInt('routerPort', o.routerPort ?? WCCP_PORT, 1, U16_MAX);
    checkInt('port', o.port ?? WCCP_PORT, 0, U16_MAX);
    this.links = o.routers.map((r, i) => {
      const a = parseIpv4(r);
      if (a === null) throw new WccpConfigError(`routers[${i}]`, `"${r}" is not an IPv4 address`);
      return {
        name: r,
        endpoint: { address: r, port: routerPort },
        // Until an I_SEE_YOU names the Router ID, the router is known by its address (as Squid does).
        routerId: a,
        receiveId: 0,
        state: 'joining',
        lastHeardMs: null,
        memberChangeNumber: 0,
        caches: [],
        key: { address: 0, changeNumber: 0 },
        replies: [],
        earlyEchoMs: null,
      };
    });
    if (new Set(o.routers).size !== o.routers.length) throw new WccpConfigError('routers', 'lists a router twice');
    this.service = serviceInfoOf(o.service);
    if (o.password !== undefined && (typeof o.password !== 'string' || o.password === '' || new TextEncoder().encode(o.password).length > MD5_PASSWORD_SIZE)) {
      throw new WccpConfigError('password', `must be 1..${MD5_PASSWORD_SIZE} bytes`);
    }
    this.methods = {
      forwarding: pick('forwarding', o.forwarding, FORWARDING, 'gre'),
      assignment: pick('assignment', o.assignment, ASSIGNMENT, 'hash'),
      return: pick('return', o.return, RETURN, 'gre'),
    };
    this.weight = checkInt('weight', o.weight ?? DEFAULT_WEIGHT, 0, U16_MAX);
    this.request = o.request ?? null;
    this.clock = o.clock ?? systemClock;
    // Encode once now so a request the codec refuses fails here, not at the first send.
    encodeMessage(this.hereIAm());
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────

  /** Binds the socket, sends the first HERE_I_AM at once and starts the timers. */
  async start(): Promise<void> {
    if (this.transport !== null) return;
    const open = this.o.transport ?? udpTransport({ address: this.o.address, port: this.o.port ?? WCCP_PORT });
    this.transport = await open(
      (datagram, from) => this.receive(datagram, from),
      (e, during) => {
        this.stats[during === 'send' ? 'send_failed' : 'socket_errors']++;
        this.log(`wccp ${during}: ${e.message}`);
      },
    );
    this.nextHereIAmMs = this.clock.now();
    this.stopTimer = this.clock.every(DEVICE_TICK_MS, () => this.poll());
    this.poll();
  }

  /** Stops the timers and closes the socket; safe to call twice. */
  async stop(): Promise<void> {
    this.stopTimer?.();
    this.stopTimer = null;
    const t = this.transport;
    this.transport = null;
    await t?.close();
  }

  /**
   * Replace the replication request; the next HERE_I_AM (sent at once) carries it. A router
   * refuses a HERE_I_AM that adds or drops the request of a registered device: to switch
   * between a standard cache and a device, stop, wait for the removal (30 s), start again.
   */
  setRequest(request: ReplicationRequest | null): void {
    const before = this.request;
    this.request = request;
    try {
      encodeMessage(this.hereIAm());
    } catch (e) {
      this.request = before;
      throw e;
    }
    this.nextHereIAmMs = this.clock.now();
    // A change of mode can start or end our part in assignment (redirect ↔ sniff, dup, race).
    this.evaluate(this.clock.now());
    this.poll();
  }

  // ── views ───────────────────────────────────────────────────────────────────────────────

  state(router: string): RouterLinkState | undefined {
    return this.links.find((l) => l.name === router)?.state;
  }

  states(): Record<string, RouterLinkState> {
    return Object.fromEntries(this.links.map((l) => [l.name, l.state]));
  }

  /** Whether this device currently acts as the designated cache. */
  designated(): boolean {
    return this.designation !== null;
  }

  counters(): Record<DeviceCounterName, number> {
    return { ...this.stats };
  }

  /**
   * Whether we take part in assignment: no replication request (a plain WCCP cache), or one of
   * mode redirect (a cache whose redirected traffic the request only narrows). The router draws
   * the same line (router/cache.ts, isStandard): these are the caches its Router View lists to
   * others and the ones it accepts a REDIRECT_ASSIGN from.
   */
  private standard(): boolean {
    return this.request === null || this.request.mode === 'redirect';
  }

  // ── the protocol ────────────────────────────────────────────────────────────────────────

  private receive(datagram: Uint8Array, from: Endpoint): void {
    try {
      this.handle(datagram, from, this.clock.now());
    } catch (e) {
      this.stats.internal_error++;
      this.log(`internal error on a datagram from ${from.address}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private handle(datagram: Uint8Array, from: Endpoint, nowMs: number): void {
    const link = this.links.find((l) => l.name === from.address);
    if (link === undefined) return this.drop('unknown_router', `datagram from ${from.address}, not one of our routers`);
    let m: WccpMessage;
    try {
      m = decodeMessage(datagram, { password: this.o.password ?? null });
    } catch (e) {
      if (e instanceof WccpSecurityError) return this.drop('unauthentic', `${from.address}: ${e.message}`);
      if (e instanceof WccpDecodeError) return this.drop('malformed', `${from.address}: ${e.message}`);
      throw e;
    }
    if (m.service.serviceId !== this.service.serviceId || m.service.serviceType !== this.service.serviceType) {
      return this.drop('unknown_service', `${from.address}: message for ${m.service.serviceType} service ${m.service.serviceId}`);
    }
    if (m.type === MessageType.ISeeYou) return this.onISeeYou(link, m, nowMs);
    if (m.type === MessageType.RemovalQuery) return this.onRemovalQuery(link, m, nowMs);
    this.drop('unexpected_message', `${from.address}: message type ${m.type}`);
  }

  private onISeeYou(link: RouterLink, m: ISeeYou, nowMs: number): void {
    const id = m.routerIdentity;
    if (id.receivedFrom.length > 0 && !id.receivedFrom.includes(this.self)) {
      return this.drop('not_for_us', `${link.name}: I_SEE_YOU for ${id.receivedFrom.map(dotted).join(', ')}`);
    }
    const offered = offeredBy(m.capabilities);
    for (const kind of ['forwarding', 'assignment', 'return'] as const) {
      if ((offered[kind] & this.methods[kind]) === 0) {
        return this.drop('bad_capability', `${link.name}: does not offer ${kind} method 0x${this.methods[kind].toString(16)}`);
      }
    }
    this.stats.i_see_you++;
    link.routerId = id.routerId;
    link.receiveId = id.receiveId;
    link.lastHeardMs = nowMs;
    link.memberChangeNumber = m.routerView.memberChangeNumber;
    link.caches = m.routerView.webCaches;
    link.key = m.routerView.assignmentKey;
    const listed = link.caches.some((c) => c.address === this.self);
    this.setState(link, listed ? 'usable' : link.state === 'usable' ? 'lost' : 'joining');
    this.learnCaches();
    this.evaluate(nowMs);
    // fastJoin, not listed yet: echo the new Receive ID now rather than at the next 10 s tick, so
    // joining takes a round trip, not HERE_I_AM_T. At most once per HERE_I_AM_T per router, so a
    // router that keeps not listing us (a refused request) sees two HERE_I_AMs per period.
    if (this.o.fastJoin === true && !listed && this.transport !== null && (link.earlyEchoMs === null || nowMs - link.earlyEchoMs >= HERE_I_AM_T_MS)) {
      link.earlyEchoMs = nowMs;
      this.sendHereIAm(link);
    }
    const last = this.lastAssignment;
    if (
      last !== null &&
      this.designation !== null &&
      this.assignDueMs === null &&
      link.state === 'usable' &&
      (link.key.address !== last.key.address || link.key.changeNumber !== last.key.changeNumber) &&
      nowMs - last.sentMs >= HERE_I_AM_T_MS
    ) {
      this.log(`${link.name} has not taken assignment ${last.key.changeNumber}; sending it again`);
      this.sendAssignment(nowMs, false, [link]);
    }
  }

  private onRemovalQuery(link: RouterLink, m: RemovalQuery, nowMs: number): void {
    if (m.routerQuery.target !== this.self) {
      return this.drop('not_for_us', `${link.name}: REMOVAL_QUERY about ${dotted(m.routerQuery.target)}`);
    }
    this.stats.removal_queries++;
    this.log(`${link.name} asked whether we are alive; answering with ${REMOVAL_REPLY_COUNT} HERE_I_AMs`);
    link.replies = Array.from({ length: REMOVAL_REPLY_COUNT }, (_, i) => nowMs + i * REMOVAL_REPLY_SPACING_MS);
    this.poll();
  }

  /** Timers: HERE_I_AM every 10 s, removal replies, lost routers, the pending assignment. */
  private poll(): void {
    if (this.transport === null) return;
    const nowMs = this.clock.now();
    try {
      if (nowMs >= this.nextHereIAmMs) {
        this.nextHereIAmMs = nowMs + HERE_I_AM_T_MS;
        for (const link of this.links) this.sendHereIAm(link);
      }
      for (const link of this.links) {
        while (link.replies.length > 0 && link.replies[0]! <= nowMs) {
          link.replies.shift();
          this.sendHereIAm(link);
        }
        if (link.state === 'usable' && link.lastHeardMs !== null && nowMs - link.lastHeardMs >= ROUTER_LOST_AFTER_MS) {
          this.setState(link, 'lost');
          this.evaluate(nowMs);
        }
      }
      if (this.assignDueMs !== null && nowMs >= this.assignDueMs) {
        this.assignDueMs = null;
        if (this.designation !== null) this.sendAssignment(nowMs, true, this.links.filter((l) => l.state === 'usable'));
      }
    } catch (e) {
      this.stats.internal_error++;
      this.log(`internal error in the timers: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private setState(link: RouterLink, state: RouterLinkState): void {
    if (link.state === state) return;
    link.state = state;
    this.log(`${link.name}: ${state}`);
    try {
      this.o.onState?.(link.name, state);
    } catch (e) {
      this.log(`onState failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The other caches the routers list, for our Web-Cache View. */
  private learnCaches(): void {
    const set = new Set<number>();
    for (const l of this.links) for (const c of l.caches) if (c.address !== this.self) set.add(c.address);
    const next = [...set].sort((a, b) => a - b);
    if (next.length === this.learnedCaches.length && next.every((a, i) => a === this.learnedCaches[i])) return;
    this.learnedCaches = next;
    this.viewChangeNumber = this.viewChangeNumber >= U32_MAX ? 1 : this.viewChangeNumber + 1;
  }

  /** The caches every usable router lists, ascending (the ones an assignment may use). */
  private commonCaches(usable: readonly RouterLink[]): number[] {
    if (usable.length === 0) return [];
    let common = new Set(usable[0]!.caches.map((c) => c.address));
    for (const l of usable.slice(1)) {
      const here = new Set(l.caches.map((c) => c.address));
      common = new Set([...common].filter((a) => here.has(a)));
    }
    return [...common].sort((a, b) => a - b);
  }

  /**
   * Are we designated, and did the membership change? A standard cache is designated when it
   * is the lowest address every usable router lists; each change (a router's change number,
   * the set of usable routers) reschedules the assignment 15 s later.
   */
  private evaluate(nowMs: number): void {
    const usable = this.links.filter((l) => l.state === 'usable');
    const common = this.commonCaches(usable);
    const designated = this.standard() && common.length > 0 && common[0] === this.self;
    const basis = designated ? JSON.stringify(usable.map((l) => [l.name, l.memberChangeNumber])) : null;
    if (basis === this.designation) return;
    this.designation = basis;
    if (basis === null) {
      this.assignDueMs = null;
      return;
    }
    this.assignDueMs = nowMs + REDIRECT_ASSIGN_DELAY_MS;
    this.log(`designated cache: membership changed, assigning in ${REDIRECT_ASSIGN_DELAY_MS / 1000} s`);
  }

  private sendAssignment(nowMs: number, fresh: boolean, targets: readonly RouterLink[]): void {
    const usable = this.links.filter((l) => l.state === 'usable');
    const caches = this.commonCaches(usable);
    if (caches.length === 0 || targets.length === 0) return;
    if (fresh || this.lastAssignment === null) this.keyChangeNumber = this.keyChangeNumber >= U32_MAX ? 1 : this.keyChangeNumber + 1;
    const key: AssignmentKey = { address: this.self, changeNumber: this.keyChangeNumber };
    const routers = usable.map((l) => ({ routerId: l.routerId, receiveId: l.receiveId, changeNumber: l.memberChangeNumber }));
    const base = { type: MessageType.RedirectAssign, security: this.security(), service: this.service } as const;
    let message: RedirectAssign;
    if (this.methods.assignment === AssignmentMethod.Hash) {
      const weights = caches.map((a) => {
        for (const l of usable) {
          const e = l.caches.find((c) => c.address === a);
          if (e?.assignment.kind === 'hash') return e.assignment.weight;
        }
        return 0;
      });
      message = { ...base, assignmentInfo: { key, routers, webCaches: caches, buckets: buildHashTable(weights) } };
    } else {
      message = { ...base, alternateAssignment: { kind: 'mask', key, routers, sets: [maskShares(maskElementFor(this.service), caches)] } };
    }
    const bytes = this.encode(message);
    for (const l of targets) {
      this.send(bytes, l.endpoint);
      this.stats.redirect_assign++;
    }
    this.lastAssignment = { key, sentMs: nowMs };
    this.log(`REDIRECT_ASSIGN ${key.changeNumber} to ${targets.map((l) => l.name).join(', ')}: ${caches.length} cache(s)`);
  }

  private security(): WccpMessage['security'] {
    return this.o.password === undefined ? { option: 'none' } : { option: 'md5', digest: new Uint8Array(MD5_DIGEST_SIZE) };
  }

  private identity(): WebCacheIdentityElement {
    if (this.methods.assignment === AssignmentMethod.Mask) {
      // Squid's mask form: one Mask/Value Set naming the field, no values, weight 0.
      return {
        address: this.self,
        hashRevision: 0,
        flags: 0,
        assignment: { kind: 'mask', sets: [{ mask: maskElementFor(this.service), values: [] }], weight: 0, status: 0 },
      };
    }
    return {
      address: this.self,
      hashRevision: 0,
      flags: 0,
      assignment: { kind: 'hash', buckets: new Uint8Array(BUCKET_BITMAP_SIZE), weight: this.weight, status: 0 },
    };
  }

  private hereIAm(): HereIAm {
    return {
      type: MessageType.HereIAm,
      security: this.security(),
      service: this.service,
      webCacheIdentity: this.identity(),
      webCacheView: {
        changeNumber: this.viewChangeNumber,
        routers: this.links.map((l) => ({ routerId: l.routerId, receiveId: l.receiveId })),
        webCaches: this.learnedCaches,
      },
      capabilities: {
        elements: [
          { kind: 'forwarding-method', methods: this.methods.forwarding },
          { kind: 'assignment-method', methods: this.methods.assignment },
          { kind: 'return-method', methods: this.methods.return },
        ],
      },
      ...(this.request === null ? {} : { commandExtension: { commands: [{ kind: 'replication', request: this.request }] } }),
    };
  }

  private sendHereIAm(link: RouterLink): void {
    this.send(this.encode(this.hereIAm()), link.endpoint);
    this.stats.here_i_am++;
  }

  private encode(m: WccpMessage): Uint8Array {
    return encodeMessage(m, this.o.password === undefined ? {} : { password: this.o.password });
  }

  private send(datagram: Uint8Array, to: Endpoint): void {
    try {
      this.transport?.send(datagram, to);
    } catch (e) {
      this.stats.send_failed++;
      this.log(`send to ${to.address}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private drop(reason: DeviceCounterName, line: string): void {
    this.stats[reason]++;
    this.log(line);
  }

  private log(line: string): void {
    try {
      this.o.log?.(`wccp device ${this.address}: ${line}`);
    } catch {
      // A failing logger must not stop the protocol.
    }
  }
}
