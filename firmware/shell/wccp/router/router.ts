// The WCCPv2 router: every configured service group, behind two verbs that take the time as an
// argument and return the datagrams to send.
//
//   receive(datagram, from, nowMs) → answers     (HERE_I_AM → I_SEE_YOU; REDIRECT_ASSIGN → none)
//   tick(nowMs)                    → timer output (REMOVAL_QUERY), removals, assignment flushes
//
// Pure logic: no sockets, no clock, no timers (server.ts adds those). Events go to the hooks
// (hooks.ts); configuration can change at run time (configure, setAllowlist).
//
// Contract: datagrams are untrusted. receive() never throws: every datagram is either used or
// dropped under exactly one named counter (counters.ts) with a log line. Checks run cheapest
// first — decode, message type, service group, allowlist, MD5 — so a datagram from outside a
// group's allowlist costs no digest and leaves no state. Configuration input throws
// WccpConfigError naming the field, and then nothing changes. Hook calls never escape: a
// throwing request/redirect hook is a refusal, any other throwing hook is `hook_failed`.

import type { Allowlist, ServiceInfo } from '../../control.ts';
import type { WccpServiceConfig } from '../../config/types.ts';
import { parseIpv4 } from '../../../../hal/net/address.ts';
import { MessageType } from '../constants.ts';
import { WccpDecodeError } from '../errors.ts';
import { decodeMessage } from '../message.ts';
import type { WccpMessage } from '../message.ts';
import { checkSecurity } from '../security.ts';
import type { Endpoint, WccpOutput } from '../transport.ts';
import { allowed } from './allowlist.ts';
import { allowlistOf, groupConfigs, WccpConfigError } from './config.ts';
import { zeroCounters } from './counters.ts';
import type { WccpCounterName, WccpCounters } from './counters.ts';
import { ServiceGroup } from './group.ts';
import type { GroupContext, GroupSnapshot } from './group.ts';
import type { WccpRouterHooks } from './hooks.ts';
import { LOG_HISTORY, LOG_LINES_PER_SECOND } from './limits.ts';

export interface WccpRouterOptions {
  /** IPv4 address caches send to (Sent-To); also the Router ID unless routerId is given. */
  readonly address: string;
  readonly routerId?: string;
  /** Pad I_SEE_YOU for stock Squid 5.7 (squid57.ts). Default off: it is not standard WCCP. */
  readonly squid57Compat?: boolean;
  readonly services: readonly WccpServiceConfig[];
  readonly hooks?: WccpRouterHooks;
}

const LOG_WINDOW_MS = 1000;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class WccpRouter {
  readonly address: string;
  readonly routerId: string;
  private readonly groups = new Map<number, ServiceGroup>();
  private readonly stats: WccpCounters = zeroCounters();
  private readonly hooks: WccpRouterHooks;
  private readonly history: string[] = [];
  private readonly context: GroupContext;
  private nowMs = 0;
  private logWindowStart = -Infinity;
  private logWindowLines = 0;

  /** Throws WccpConfigError (naming the field) for an unusable configuration. */
  constructor(o: WccpRouterOptions) {
    const address = parseIpv4(o.address);
    if (address === null) throw new WccpConfigError('address', `"${o.address}" is not an IPv4 address`);
    const routerId = o.routerId === undefined ? address : parseIpv4(o.routerId);
    if (routerId === null) throw new WccpConfigError('routerId', `"${o.routerId}" is not an IPv4 address`);
    this.address = o.address;
    this.routerId = o.routerId ?? o.address;
    this.hooks = o.hooks ?? {};
    this.context = {
      routerId,
      routerAddress: address,
      squid57Compat: o.squid57Compat ?? false,
      count: (name, n = 1) => this.count(name, n),
      log: (line) => this.log(line),
      request: (r, now) => this.refusalOf(() => this.hooks.request?.(r, now)),
      redirect: (m, now) => this.refusalOf(() => this.hooks.redirect?.(m, now)),
      notify: (event, a, s, now) => {
        try {
          this.hooks[event]?.(a, s, now);
        } catch (e) {
          this.count('hook_failed');
          this.log(`service ${s}: the ${event} hook failed for ${a}: ${errorText(e)}`);
        }
      },
    };
    for (const [id, config] of groupConfigs(o.services)) this.groups.set(id, new ServiceGroup(config, this.context));
  }

  // ── the protocol ────────────────────────────────────────────────────────────────────────

  /** One datagram from `from`; returns what to send. Never throws. */
  receive(datagram: Uint8Array, from: Endpoint, nowMs: number): WccpOutput[] {
    this.nowMs = nowMs;
    this.count('datagrams');
    try {
      return this.dispatch(datagram, from, nowMs);
    } catch (e) {
      this.count('internal_error');
      this.log(`internal error on a datagram from ${from.address}:${from.port}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return [];
    }
  }

  /** Run the timers; call at least once a second. Never throws. */
  tick(nowMs: number): WccpOutput[] {
    this.nowMs = nowMs;
    const out: WccpOutput[] = [];
    for (const g of this.groups.values()) {
      try {
        out.push(...g.tick(nowMs));
      } catch (e) {
        this.count('internal_error');
        this.log(`internal error in the timers of service ${g.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
    return out;
  }

  private dispatch(datagram: Uint8Array, from: Endpoint, nowMs: number): WccpOutput[] {
    let m: WccpMessage;
    try {
      m = decodeMessage(datagram);
    } catch (e) {
      if (!(e instanceof WccpDecodeError)) throw e;
      return this.drop('malformed', `malformed datagram from ${from.address}:${from.port}: ${e.message}`);
    }
    if (m.type !== MessageType.HereIAm && m.type !== MessageType.RedirectAssign) {
      return this.drop('unexpected_message', `message type ${m.type} from ${from.address}: a router takes only HERE_I_AM and REDIRECT_ASSIGN`);
    }
    if (m.addressTable !== undefined) {
      return this.drop('address_table', `message from ${from.address} uses a rev1 Address Table (IPv4 addresses only)`);
    }
    const g = this.groups.get(m.service.serviceId);
    if (g === undefined || g.settings.type !== m.service.serviceType) {
      return this.drop('unknown_service', `${m.service.serviceType} service ${m.service.serviceId} from ${from.address} is not configured`);
    }
    const address = parseIpv4(from.address);
    if (address === null || !allowed(g.settings.allow, address)) {
      return this.drop('not_allowed', `service ${g.id}: refused ${from.address}: not in the allowlist`);
    }
    const verdict = checkSecurity(datagram, m.security, g.settings.password);
    if (verdict !== 'ok') return this.drop('unauthentic', `service ${g.id}: dropped a message from ${from.address}: ${verdict}`);
    if (m.type === MessageType.HereIAm) return g.hereIAm(m, from, address, nowMs);
    g.redirectAssign(m, address, nowMs);
    return [];
  }

  // ── configuration ───────────────────────────────────────────────────────────────────────

  /**
   * Replace the service groups. Groups that disappear (or change type) remove their caches;
   * changed groups keep theirs unless the new allowlist or methods exclude them. Throws
   * WccpConfigError and changes nothing when the list is not usable.
   */
  configure(services: readonly WccpServiceConfig[], nowMs: number): void {
    const next = groupConfigs(services);
    this.nowMs = nowMs;
    for (const [id, g] of [...this.groups]) {
      const c = next.get(id);
      if (c === undefined || c.type !== g.settings.type) {
        g.removeAll(nowMs, 'service group removed from the configuration');
        this.groups.delete(id);
      }
    }
    for (const [id, c] of next) {
      const g = this.groups.get(id);
      if (g === undefined) this.groups.set(id, new ServiceGroup(c, this.context));
      else g.reconfigure(c, nowMs);
    }
  }

  /** Replace a group's allowlist; caches outside it are removed at once. */
  setAllowlist(list: Allowlist, nowMs: number): void {
    const g = this.groups.get(list.service);
    if (g === undefined) throw new WccpConfigError('service', `no service group ${String(list.service)} is configured`);
    const allow = allowlistOf('prefixes', list.prefixes);
    this.nowMs = nowMs;
    g.reconfigure({ ...g.settings, allow, allowText: [...list.prefixes] }, nowMs);
  }

  getAllowlist(service: number): Allowlist {
    const g = this.groups.get(service);
    if (g === undefined) throw new WccpConfigError('service', `no service group ${String(service)} is configured`);
    return { service, prefixes: [...g.settings.allowText] };
  }

  // ── views ───────────────────────────────────────────────────────────────────────────────

  services(): ServiceInfo[] {
    return [...this.groups.values()].sort((a, b) => a.id - b.id).map((g) => g.info());
  }

  /** A group's protocol state (Receive ID, change number, key, designated cache, caches). */
  group(service: number): GroupSnapshot | null {
    return this.groups.get(service)?.snapshot() ?? null;
  }

  counters(): WccpCounters {
    return { ...this.stats };
  }

  /** The most recent log lines, oldest first. */
  recentLog(): string[] {
    return [...this.history];
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  private count(name: WccpCounterName, n = 1): void {
    this.stats[name] += n;
  }

  private drop(reason: WccpCounterName, line: string): WccpOutput[] {
    this.count(reason);
    this.log(line);
    return [];
  }

  private refusalOf(call: () => void): string | null {
    try {
      call();
      return null;
    } catch (e) {
      return errorText(e);
    }
  }

  private log(line: string): void {
    this.history.push(line);
    if (this.history.length > LOG_HISTORY) this.history.shift();
    if (this.hooks.log === undefined) return;
    if (this.nowMs - this.logWindowStart >= LOG_WINDOW_MS) {
      this.logWindowStart = this.nowMs;
      this.logWindowLines = 0;
    }
    if (this.logWindowLines >= LOG_LINES_PER_SECOND) {
      this.count('log_suppressed');
      return;
    }
    this.logWindowLines++;
    try {
      this.hooks.log(line);
    } catch {
      this.count('hook_failed');
    }
  }
}
