// One WCCPv2 service group on this router: its caches, the Receive-ID handshake, the Member
// Change Number, the designated cache's assignment, and the dead-cache timers.
//
//   HERE_I_AM ──► checks ──► cache record (joining) ──► unicast I_SEE_YOU (Receive ID + 1)
//   HERE_I_AM echoing the last Receive ID sent to that cache ──► usable, change number + 1
//   REDIRECT_ASSIGN from the designated (lowest usable standard) cache, naming this router with
//     the Receive ID last sent to that cache and the current change number ──► assignment;
//     its key is echoed in every later Router View
//   25 s of silence ──► REMOVAL_QUERY       30 s ──► removed, purged from the assignment
//   no REDIRECT_ASSIGN within 50 s of a membership change ──► assignment flushed
//
// Contract: the router facade (router.ts) has already decoded the message, matched the
// service, checked the allowlist and MD5; everything else a peer sent is checked here, and each
// refusal increments one counter and logs one line. The group never throws for peer input.
// Per message the work is O(caches) and state is bounded by MAX_CACHES_PER_GROUP and
// MAX_ROUTERS_PER_GROUP. Deterministic: the same messages at the same times give the same bytes.
//
// Two choices beyond the draft, both so that standard caches and twinflow devices can share a
// group: (1) a device with a replication request takes no part in assignment, so the Router View
// sent to others lists only standard caches (a device sees itself listed in its own I_SEE_YOU
// once usable); the designated cache is the lowest usable standard cache. (2) A usable cache
// whose HERE_I_AM echoes an older Receive ID (an I_SEE_YOU was lost) stays usable and is
// answered, so one lost datagram never costs a membership; it is counted `stale_receive_id`.

import type { ServiceInfo as ServiceView } from '../../control.ts';
import type { EncapName } from '../../control.ts';
import { AssignmentMethod, MD5_DIGEST_SIZE, MessageType } from '../constants.ts';
import type { ServiceInfo } from '../components.ts';
import type { AssignmentKey, WebCacheIdentityElement } from '../elements.ts';
import type { ReplicaEncapsulation } from '../extension.ts';
import { encodeMessage, replicationRequestOf } from '../message.ts';
import type { HereIAm, ISeeYou, RedirectAssign, RemovalQuery, WccpMessage } from '../message.ts';
import { signMessage } from '../security.ts';
import { ASSIGNMENT_WAIT_MS, REMOVAL_AFTER_MS, REMOVAL_QUERY_AFTER_MS } from '../timers.ts';
import type { Endpoint, WccpOutput } from '../transport.ts';
import { allowed } from './allowlist.ts';
import { parseAssignment, purgeCache, shareOf } from './assignment.ts';
import type { GroupAssignment } from './assignment.ts';
import { chosenMethods, isStandard } from './cache.ts';
import type { CacheMember } from './cache.ts';
import type { GroupConfig } from './config.ts';
import type { WccpCounterName } from './counters.ts';
import type { DeviceRequest, RedirectMember } from './hooks.ts';
import { MAX_CACHES_PER_GROUP, MAX_ROUTERS_PER_GROUP } from './limits.ts';
import { sameService, serviceFilter, standardService } from './service-filter.ts';
import { padForSquid57 } from './squid57.ts';

/** What a group needs from the router that owns it. */
export interface GroupContext {
  readonly routerId: number;
  /** The address caches send to (the Sent-To field). */
  readonly routerAddress: number;
  readonly squid57Compat: boolean;
  count(name: WccpCounterName, n?: number): void;
  log(line: string): void;
  /** hooks.request: null when accepted, otherwise why it was refused. */
  request(r: DeviceRequest, nowMs: number): string | null;
  /** hooks.redirect: null when accepted, otherwise why it was refused. */
  redirect(m: RedirectMember, nowMs: number): string | null;
  notify(event: 'usable' | 'removed' | 'unassigned', address: string, service: number, nowMs: number): void;
}

/** A group's protocol state, for tests and `show`. */
export interface GroupSnapshot {
  readonly service: number;
  readonly receiveId: number;
  readonly memberChangeNumber: number;
  readonly assignmentKey: AssignmentKey;
  readonly designated: string | null;
  readonly routers: readonly string[];
  readonly assignment: GroupAssignment | null;
  readonly caches: ReadonlyArray<{
    readonly address: string;
    readonly state: 'joining' | 'usable';
    readonly lastReceiveIdSent: number;
    readonly lastSeenMs: number;
    readonly queried: boolean;
  }>;
}

const U32_MAX = 0xffff_ffff;
const ENCAP_NAMES: Readonly<Record<ReplicaEncapsulation, EncapName>> = {
  'gre-wccp': 'gre',
  erspan2: 'erspan2',
  erspan3: 'erspan3',
  'gre-seq': 'gre-seq',
};

export function dotted(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** u32 counters that skip 0 when they wrap (0 means "none yet" on the wire). */
function nextNonZero(v: number): number {
  return v >= U32_MAX ? 1 : v + 1;
}

export class ServiceGroup {
  private readonly caches = new Map<number, CacheMember>();
  /** "Incremented on every I_SEE_YOU, never 0": the last one sent (0 before the first). */
  private receiveId = 0;
  private memberChangeNumber = 0;
  private changedAtMs: number | null = null;
  private assignedSinceChange = true;
  private assignment: GroupAssignment | null = null;
  private key: AssignmentKey = { address: 0, changeNumber: 0 };
  /** The service definition: fixed for standard groups, the first cache's for dynamic ones. */
  private definition: ServiceInfo | null;

  constructor(
    private config: GroupConfig,
    private readonly ctx: GroupContext,
  ) {
    this.definition = config.type === 'standard' ? standardService(config.id) : null;
  }

  get id(): number {
    return this.config.id;
  }

  get settings(): GroupConfig {
    return this.config;
  }

  // ── HERE_I_AM ───────────────────────────────────────────────────────────────────────────

  hereIAm(m: HereIAm, from: Endpoint, address: number, nowMs: number): WccpOutput[] {
    const who = `service ${this.id}: HERE_I_AM from ${from.address}`;
    if (m.webCacheIdentity.address !== address) {
      return this.refuse('address_mismatch', `${who}: identity address ${dotted(m.webCacheIdentity.address)} is not the sender address`);
    }
    const methods = chosenMethods(m.capabilities, this.config.offered);
    if (typeof methods === 'string') return this.refuse('bad_capability', `${who}: ${methods}`);
    const existing = this.caches.get(address);
    const other = [...this.caches.values()].find((c) => c.address !== address);
    if (other !== undefined && other.methods.assignment !== methods.assignment) {
      return this.refuse('bad_capability', `${who}: assignment method 0x${methods.assignment.toString(16)} differs from the group's 0x${other.methods.assignment.toString(16)}`);
    }
    const soleMember = existing !== undefined && this.caches.size === 1;
    if (this.config.type === 'dynamic' && this.definition !== null && !soleMember && !sameService(this.definition, m.service)) {
      return this.refuse('service_mismatch', `${who}: its service definition differs from the group's`);
    }
    const request = replicationRequestOf(m);
    if (existing !== undefined && existing.hasExtension !== (request !== null)) {
      return this.refuse('extension_changed', `${who}: ${request === null ? 'dropped' : 'added'} a replication request; leave the group and join again to change that`);
    }
    if (existing === undefined && this.caches.size >= MAX_CACHES_PER_GROUP) {
      return this.refuse('group_full', `${who}: the group already has ${MAX_CACHES_PER_GROUP} caches`);
    }

    this.ctx.count('here_i_am');
    if (this.config.type === 'dynamic' && (this.definition === null || soleMember)) this.definition = m.service;
    const c: CacheMember = existing ?? {
      address,
      endpoint: from,
      state: 'joining',
      identity: m.webCacheIdentity,
      reportedRouters: [],
      methods,
      hasExtension: request !== null,
      request,
      lastSeenMs: nowMs,
      lastReceiveIdSent: 0,
      queriedAtMs: null,
      announced: false,
      acceptedRequest: null,
      deliveredRedirect: null,
    };
    if (existing === undefined) {
      this.caches.set(address, c);
      this.ctx.log(`service ${this.id}: ${from.address} joining`);
    }
    c.endpoint = from;
    c.identity = m.webCacheIdentity;
    c.reportedRouters = [...new Set(m.webCacheView.routers.map((r) => r.routerId))].slice(0, MAX_ROUTERS_PER_GROUP);
    c.methods = methods;
    c.request = request;
    c.lastSeenMs = nowMs;
    c.queriedAtMs = null;

    const echoed = m.webCacheView.routers.find((r) => r.routerId === this.ctx.routerId)?.receiveId ?? 0;
    const twoWay = c.lastReceiveIdSent !== 0 && echoed === c.lastReceiveIdSent;
    let changed = false;
    if (c.state === 'joining') {
      if (twoWay) changed = this.admit(c, nowMs);
    } else {
      if (!twoWay) this.ctx.count('stale_receive_id');
      changed = this.recheckRequest(c, nowMs);
    }
    if (changed) this.membershipChanged(nowMs);
    this.syncRedirects(nowMs);
    return [this.iSeeYou(c)];
  }

  /** The cache proved two-way connectivity: make it usable unless its request is refused. */
  private admit(c: CacheMember, nowMs: number): boolean {
    if (!isStandard(c)) {
      const refusal = this.ctx.request(this.deviceRequest(c), nowMs);
      if (refusal !== null) {
        this.ctx.count('request_refused');
        this.ctx.log(`service ${this.id}: refused the replication request of ${dotted(c.address)}: ${refusal}`);
        return false;
      }
      c.acceptedRequest = JSON.stringify(c.request);
    }
    c.state = 'usable';
    c.announced = true;
    this.ctx.count('joins');
    this.ctx.log(`service ${this.id}: ${dotted(c.address)} usable`);
    this.ctx.notify('usable', dotted(c.address), this.id, nowMs);
    return true;
  }

  /** A usable device's request changed: hand it on; a refusal takes the device out of the view. */
  private recheckRequest(c: CacheMember, nowMs: number): boolean {
    if (isStandard(c)) return false;
    const json = JSON.stringify(c.request);
    if (json === c.acceptedRequest) return false;
    const refusal = this.ctx.request(this.deviceRequest(c), nowMs);
    if (refusal === null) {
      c.acceptedRequest = json;
      this.ctx.log(`service ${this.id}: ${dotted(c.address)} changed its replication request`);
      return false;
    }
    this.ctx.count('request_refused');
    this.ctx.log(`service ${this.id}: refused the changed replication request of ${dotted(c.address)}: ${refusal}; no longer usable`);
    c.state = 'joining';
    c.acceptedRequest = null;
    this.ctx.count('removals');
    this.announceRemoved(c, nowMs);
    return true;
  }

  private deviceRequest(c: CacheMember): DeviceRequest {
    const r = c.request!;
    return {
      device: dotted(c.address),
      service: this.id,
      mode: r.mode as DeviceRequest['mode'],
      filter: r.filter,
      encap: ENCAP_NAMES[r.encapsulation],
      snaplen: r.snaplen,
      sample: r.sample,
      ratePps: r.ratePps,
      rateBps: r.rateBps,
      lifetime: r.lifetime,
      ...(r.label !== undefined ? { label: r.label } : {}),
      ...(r.erspanSession !== undefined ? { erspanSession: r.erspanSession } : {}),
      ...(r.farEnd !== undefined ? { farEnd: dotted(r.farEnd) } : {}),
    };
  }

  // ── REDIRECT_ASSIGN ─────────────────────────────────────────────────────────────────────

  redirectAssign(m: RedirectAssign, address: number, nowMs: number): void {
    const who = `service ${this.id}: REDIRECT_ASSIGN from ${dotted(address)}`;
    const sender = this.caches.get(address);
    const designated = this.designated();
    if (sender === undefined || sender.state !== 'usable' || designated !== address) {
      this.refuse('not_designated', `${who}: not the designated cache (${designated === null ? 'none' : dotted(designated)})`);
      return;
    }
    const parsed = parseAssignment(m);
    if (!parsed.ok) {
      this.refuse(parsed.reason, `${who}: ${parsed.detail}`);
      return;
    }
    const ours = parsed.routers.find((r) => r.routerId === this.ctx.routerId);
    if (ours === undefined) {
      this.refuse('not_listed', `${who}: does not list router ${dotted(this.ctx.routerId)}`);
      if (this.assignment !== null) this.flush('the designated cache assigned without this router', nowMs);
      return;
    }
    if (ours.receiveId !== sender.lastReceiveIdSent || ours.changeNumber !== this.memberChangeNumber) {
      this.refuse(
        'stale_assignment',
        `${who}: stale (receive ID ${ours.receiveId}, expected ${sender.lastReceiveIdSent}; change number ${ours.changeNumber}, expected ${this.memberChangeNumber})`,
      );
      return;
    }
    const method = parsed.assignment.kind === 'hash' ? AssignmentMethod.Hash : AssignmentMethod.Mask;
    if (method !== sender.methods.assignment) {
      this.refuse('assignment_mismatch', `${who}: ${parsed.assignment.kind} assignment, but the group negotiated 0x${sender.methods.assignment.toString(16)}`);
      return;
    }
    this.ctx.count('redirect_assign');
    if (parsed.alternateBuckets > 0) this.ctx.count('alternate_buckets', parsed.alternateBuckets);
    this.assignment = parsed.assignment;
    this.key = parsed.assignment.key;
    this.assignedSinceChange = true;
    this.ctx.log(`service ${this.id}: accepted ${parsed.assignment.kind} assignment (${dotted(this.key.address)}, ${this.key.changeNumber})`);
    this.syncRedirects(nowMs);
  }

  /** The lowest usable standard cache, or null. */
  private designated(): number | null {
    let low: number | null = null;
    for (const c of this.caches.values()) {
      if (c.state === 'usable' && isStandard(c) && (low === null || c.address < low)) low = c.address;
    }
    return low;
  }

  // ── timers ──────────────────────────────────────────────────────────────────────────────

  tick(nowMs: number): WccpOutput[] {
    const out: WccpOutput[] = [];
    for (const c of [...this.caches.values()]) {
      const silent = nowMs - c.lastSeenMs;
      if (silent >= REMOVAL_AFTER_MS) {
        this.removeCache(c, nowMs, `no HERE_I_AM for ${Math.round(silent / 1000)} s`);
      } else if (silent >= REMOVAL_QUERY_AFTER_MS && c.queriedAtMs === null) {
        c.queriedAtMs = nowMs;
        this.ctx.count('removal_queries');
        out.push(this.removalQuery(c));
      }
    }
    if (
      this.assignment !== null &&
      !this.assignedSinceChange &&
      this.changedAtMs !== null &&
      nowMs - this.changedAtMs >= ASSIGNMENT_WAIT_MS
    ) {
      this.flush(`no REDIRECT_ASSIGN within ${ASSIGNMENT_WAIT_MS / 1000} s of the membership change`, nowMs);
    }
    return out;
  }

  // ── configuration ───────────────────────────────────────────────────────────────────────

  /** New settings (same ID and type): caches the new allowlist or methods exclude leave. */
  reconfigure(config: GroupConfig, nowMs: number): void {
    this.config = config;
    for (const c of [...this.caches.values()]) {
      if (!allowed(config.allow, c.address)) {
        this.removeCache(c, nowMs, 'no longer in the allowlist');
      } else if (
        (c.methods.forwarding & config.offered.forwarding) === 0 ||
        (c.methods.assignment & config.offered.assignment) === 0 ||
        (c.methods.return & config.offered.return) === 0
      ) {
        this.removeCache(c, nowMs, 'its methods are no longer offered');
      }
    }
  }

  /** Every cache leaves (the group is being removed). */
  removeAll(nowMs: number, reason: string): void {
    for (const c of [...this.caches.values()]) this.removeCache(c, nowMs, reason);
  }

  // ── views ───────────────────────────────────────────────────────────────────────────────

  info(): ServiceView {
    return {
      service: this.id,
      type: this.config.type,
      security: this.config.password === null ? 'none' : 'md5',
      caches: this.sortedCaches().map((c) => ({
        address: dotted(c.address),
        usable: c.state === 'usable',
        lastSeenMs: c.lastSeenMs,
        mode: c.request === null ? 'redirect' : c.request.mode,
      })),
      assignment: this.assignment === null ? 'none' : this.assignment.kind,
    };
  }

  snapshot(): GroupSnapshot {
    const designated = this.designated();
    return {
      service: this.id,
      receiveId: this.receiveId,
      memberChangeNumber: this.memberChangeNumber,
      assignmentKey: this.key,
      designated: designated === null ? null : dotted(designated),
      routers: this.routers().map(dotted),
      assignment: this.assignment,
      caches: this.sortedCaches().map((c) => ({
        address: dotted(c.address),
        state: c.state,
        lastReceiveIdSent: c.lastReceiveIdSent,
        lastSeenMs: c.lastSeenMs,
        queried: c.queriedAtMs !== null,
      })),
    };
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  private refuse(reason: WccpCounterName, line: string): WccpOutput[] {
    this.ctx.count(reason);
    this.ctx.log(line);
    return [];
  }

  private sortedCaches(): CacheMember[] {
    return [...this.caches.values()].sort((a, b) => a.address - b.address);
  }

  private membershipChanged(nowMs: number): void {
    this.memberChangeNumber = nextNonZero(this.memberChangeNumber);
    this.changedAtMs = nowMs;
    this.assignedSinceChange = false;
  }

  private announceRemoved(c: CacheMember, nowMs: number): void {
    c.deliveredRedirect = null;
    if (!c.announced) return;
    c.announced = false;
    this.ctx.notify('removed', dotted(c.address), this.id, nowMs);
  }

  private removeCache(c: CacheMember, nowMs: number, reason: string): void {
    this.caches.delete(c.address);
    this.ctx.count('removals');
    this.ctx.log(`service ${this.id}: ${dotted(c.address)} removed: ${reason}`);
    if (this.assignment !== null) this.assignment = purgeCache(this.assignment, c.address);
    const wasUsable = c.state === 'usable';
    this.announceRemoved(c, nowMs);
    if (wasUsable) this.membershipChanged(nowMs);
    if (this.caches.size === 0) {
      if (this.config.type === 'dynamic') this.definition = null;
      this.assignment = null;
      this.key = { address: 0, changeNumber: 0 };
    }
    this.syncRedirects(nowMs);
  }

  private flush(reason: string, nowMs: number): void {
    this.assignment = null;
    this.key = { address: 0, changeNumber: 0 };
    this.ctx.count('assignments_flushed');
    this.ctx.log(`service ${this.id}: assignment flushed: ${reason}`);
    this.syncRedirects(nowMs);
  }

  /** The traffic a standard cache is redirected: the service, narrowed by a redirect-mode request. */
  private filterFor(c: CacheMember): string | null {
    const base = this.definition === null ? null : serviceFilter(this.definition);
    if (base === null) return null;
    const extra = c.request?.mode === 'redirect' ? c.request.filter.trim() : '';
    return extra === '' ? base : `(${base}) and (${extra})`;
  }

  /** Hand every standard cache's current share to the session layer when it changed. */
  private syncRedirects(nowMs: number): void {
    const all = this.sortedCaches();
    const addresses = all.map((c) => dotted(c.address));
    for (const c of all) {
      if (c.state !== 'usable' || !isStandard(c)) continue;
      const share = this.assignment === null ? null : shareOf(this.assignment, c.address);
      const filter = this.filterFor(c);
      if (share === null || filter === null || this.definition === null) {
        if (c.deliveredRedirect !== null) {
          c.deliveredRedirect = null;
          this.ctx.notify('unassigned', dotted(c.address), this.id, nowMs);
        }
        continue;
      }
      const member: RedirectMember = {
        device: dotted(c.address),
        service: this.id,
        serviceFilter: filter,
        priority: this.definition.priority,
        dynamic: this.config.type === 'dynamic',
        hashFlags: this.definition.flags,
        ...(share.kind === 'hash' ? { buckets: share.buckets } : { mask: { element: share.element, values: share.values } }),
        caches: addresses,
      };
      const json = JSON.stringify(member);
      if (json === c.deliveredRedirect) continue;
      c.deliveredRedirect = json;
      const refusal = this.ctx.redirect(member, nowMs);
      if (refusal !== null) {
        this.ctx.count('redirect_refused');
        this.ctx.log(`service ${this.id}: redirect to ${dotted(c.address)} refused: ${refusal}`);
      }
    }
  }

  /** Routers the caches report, ascending, capped. */
  private routers(): number[] {
    const set = new Set<number>();
    for (const c of this.caches.values()) for (const r of c.reportedRouters) set.add(r);
    return [...set].sort((a, b) => a - b).slice(0, MAX_ROUTERS_PER_GROUP);
  }

  /** The caches the Router View sent to `to` lists: usable standard caches, and `to` itself. */
  private viewFor(to: CacheMember): WebCacheIdentityElement[] {
    return this.sortedCaches()
      .filter((c) => c.state === 'usable' && (isStandard(c) || c === to))
      .map((c) => c.identity);
  }

  private service(): ServiceInfo {
    return this.definition ?? standardService(this.id);
  }

  private iSeeYou(c: CacheMember): WccpOutput {
    this.receiveId = nextNonZero(this.receiveId);
    c.lastReceiveIdSent = this.receiveId;
    const offered = this.config.offered;
    const message: ISeeYou = {
      type: MessageType.ISeeYou,
      security: this.security(),
      service: this.service(),
      routerIdentity: {
        routerId: this.ctx.routerId,
        receiveId: this.receiveId,
        sentTo: this.ctx.routerAddress,
        receivedFrom: [c.address],
      },
      routerView: {
        memberChangeNumber: this.memberChangeNumber,
        assignmentKey: this.key,
        routers: this.routers(),
        webCaches: this.viewFor(c),
      },
      // In mask mode the router reflects the assignment in an Assignment Map; in hash mode the
      // key echo alone says which assignment is in force (Wireshark flags Assignment Info here).
      ...(this.assignment?.kind === 'mask' && this.assignment.set !== null ? { assignmentMap: { sets: [this.assignment.set] } } : {}),
      capabilities: {
        elements: [
          { kind: 'forwarding-method', methods: offered.forwarding },
          { kind: 'assignment-method', methods: offered.assignment },
          { kind: 'return-method', methods: offered.return },
        ],
      },
    };
    this.ctx.count('i_see_you');
    return { datagram: this.encode(message, this.ctx.squid57Compat), to: c.endpoint };
  }

  private removalQuery(c: CacheMember): WccpOutput {
    const message: RemovalQuery = {
      type: MessageType.RemovalQuery,
      security: this.security(),
      service: this.service(),
      routerQuery: { routerId: this.ctx.routerId, receiveId: c.lastReceiveIdSent, sentTo: this.ctx.routerAddress, target: c.address },
    };
    this.ctx.log(`service ${this.id}: REMOVAL_QUERY to ${dotted(c.address)} (silent ${REMOVAL_QUERY_AFTER_MS / 1000} s)`);
    return { datagram: this.encode(message, false), to: c.endpoint };
  }

  private security(): WccpMessage['security'] {
    return this.config.password === null ? { option: 'none' } : { option: 'md5', digest: new Uint8Array(MD5_DIGEST_SIZE) };
  }

  /** Encode, pad for Squid 5.7 if asked, then sign (the digest covers the pads). */
  private encode(message: WccpMessage, pad: boolean): Uint8Array {
    const plain = encodeMessage(message);
    const bytes = pad ? padForSquid57(plain) : plain;
    if (this.config.password !== null) signMessage(bytes, this.config.password);
    return bytes;
  }
}
