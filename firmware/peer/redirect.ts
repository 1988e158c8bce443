// `twinflow peer --mode redirect`: a transparent web cache for a twinflow (or any WCCPv2) router —
// the redirect job end to end. It registers as a standard WCCP cache (WCCPv2, replication request
// mode redirect: the service, narrowed by --match; GRE forwarding, hash assignment, GRE return),
// becomes the designated cache and assigns the service's buckets with REDIRECT_ASSIGN
// (firmware/shell/wccp/device.ts), then takes what the router diverts to it — the clients'
// original packets, whole, in GRE with the WCCP redirect header (receiver.ts) — and for each one:
//
//   serve   the inner IPv4 packet goes into this machine's IP stack through a TUN
//           (tun-delivery.ts); policy routing delivers whatever arrives there locally
//           (transparent.ts), and an HTTP server on IP_TRANSPARENT listening sockets (the
//           addon's openTransparentListener; cache-server.ts) accepts the connection, addressed
//           to the origin, and answers from the origin's address, straight to the client
//   return  a packet --bypass names goes back to the router that diverted it (WCCP's GRE packet
//           return, redirect-wire.ts) through the addon's header-included IPv4 sender, and the
//           router forwards it on to the origin
//
// The cache listens on the service's ports: 80 for the web-cache service (0), --ports for a
// dynamic service. Only IPv4 is served (the transparent path, the TUN's policy rule and the
// listeners are IPv4).
//
// Counters: every packet the receiver decapsulated ends in exactly one of served, returned,
// not_wccp, not_ipv4, truncated, tun_blocked, tun_refused, return_too_large, return_blocked,
// return_refused (REDIRECT_CACHE_COUNTERS; what the receiver could not decapsulate it counts
// itself: malformed, not_from_router, not_for_us). The HTTP server counts connections and answers.
//
// Contract: bad options are one line and exit status 2 (PeerOptionError); a setup step that fails
// (no root, a routing table in use) undoes the ones before it; on SIGINT/SIGTERM or after
// --duration the cache stops registering (the router removes it after WCCP's 30 s), stops
// serving, and removes exactly the policy routing it added. Needs root (raw sockets, TUN,
// policy routing, IP_TRANSPARENT).

import fs from 'node:fs';
import type { WccpDevice, WccpDeviceService } from '../shell/wccp/device.ts';
import type { ReplicationRequest } from '../shell/wccp/extension.ts';
import { MAX_WELL_KNOWN_SERVICE_ID, SERVICE_PORT_COUNT, WEB_CACHE_SERVICE_ID } from '../shell/wccp/constants.ts';
import { FilterError } from '../shell/filter/index.ts';
import { parseIpv4 } from '../../hal/net/address.ts';
import { addon, BURST_MAX } from '../../hal/drivers/linux/native.ts';
import { newSendCounters, sendAll } from '../../hal/drivers/linux/burst.ts';
import { ReplicaReceiver, type ReceivedReplica, type ReceiverCounter } from './receiver.ts';
import { TunDelivery } from './tun-delivery.ts';
import { DEFAULT_TABLE, RESERVED_TABLES, TransparentRouting } from './transparent.ts';
import { CacheServer, type CacheHttpCounter } from './cache-server.ts';
import { bypassFilter, type BypassPredicate } from './bypass.ts';
import { returnPacket, wholeIpv4 } from './redirect-wire.ts';
import { checkOptions, type PeerOptions } from './command.ts';
import { PeerOptionError } from './errors.ts';
import { peerDevice, registrationAddress } from './registration.ts';
import { CommandRun } from './command-run.ts';

export const REDIRECT_CACHE_COUNTERS = {
  served: 'diverted packets delivered into this machine\'s IP stack through the TUN (to the transparent listeners)',
  returned: 'diverted packets --bypass names, returned to their router (GRE packet return)',
  not_wccp: 'packets in another encapsulation than GRE with the WCCP redirect header (not a redirect)',
  not_ipv4: 'inner packets that are not a whole IPv4 packet (the transparent path is IPv4 only)',
  truncated: 'inner packets the router cut short: neither servable nor returnable',
  tun_blocked: 'packets the TUN could not take now (its queue was full)',
  tun_refused: 'packets the kernel refused on the TUN',
  return_too_large: 'packets too large for one IPv4 packet once encapsulated for return',
  return_blocked: 'returns the kernel could not take now (its socket buffer was full)',
  return_refused: 'returns the kernel refused (larger than the route\'s MTU, no route, …)',
} as const;
export type RedirectCacheCounter = keyof typeof REDIRECT_CACHE_COUNTERS;

/** The port of the web-cache service (WCCPv2's service 0: HTTP, by destination port). */
export const WEB_CACHE_PORT = 80;
/** Bytes of one queue slot: the largest IPv4 packet the receiver hands on, with the return's header. */
const SLOT_BYTES = 16384;
const TCP = 6;
/** Every address: the listeners take connections to any origin the router diverts. */
const ANY_ADDRESS = '0.0.0.0';
const TUN_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const U32_MAX = 0xffff_ffff;

/** What a redirect cache runs with, its options checked. */
export interface RedirectPlan {
  readonly service: WccpDeviceService;
  /** The TCP ports it listens on (the service's). */
  readonly ports: readonly number[];
  readonly bypass: BypassPredicate | null;
  readonly root?: string;
  readonly table: number;
  readonly tun?: string;
}

/** Checks the options of --mode redirect (one PeerOptionError naming the option at fault). */
export function checkRedirectOptions(o: PeerOptions): RedirectPlan {
  const refuse = (option: string, why: string): never => { throw new PeerOptionError(`${option}: ${why}`); };
  if (o.out !== undefined) refuse('--out', 'not with --mode redirect: the cache serves what the router diverts, there are no replicas to write');
  if (o.count !== undefined) refuse('--count', 'not with --mode redirect: the cache runs until stopped (or --duration)');
  if (o.farEnd !== undefined) refuse('--far-end', 'only with --mode dup');
  if (o.sample !== 1) refuse('--sample', 'not with --mode redirect: the router diverts whole flows, never one packet in n');
  if (o.ratePps !== 0 || o.rateBps !== 0) refuse(o.ratePps !== 0 ? '--rate-pps' : '--rate-bps', 'not with --mode redirect: a diverted packet is the original, it cannot be rate-limited away');
  if (o.lifetime !== 0) refuse('--lifetime', 'not with --mode redirect: the cache\'s share lasts while it stays registered');
  if (o.label !== undefined) refuse('--label', 'not with --mode redirect: the router names a redirect session after the cache and its service');

  let service: WccpDeviceService;
  let ports: number[];
  if (o.service <= MAX_WELL_KNOWN_SERVICE_ID) {
    if (o.service !== WEB_CACHE_SERVICE_ID) refuse('--service', `${o.service} is a well-known service other than web-cache (0), which WCCP routers do not define; use 0 or a dynamic service (51..255) with --ports`);
    if (o.ports !== undefined) refuse('--ports', 'only with a dynamic service (51..255): the web-cache service (0) is TCP port 80');
    service = { id: o.service, type: 'standard' };
    ports = [WEB_CACHE_PORT];
  } else {
    if (o.ports === undefined) refuse('--ports', `give the TCP ports of dynamic service ${o.service} (e.g. --ports 80,8080): the cache listens on them`);
    ports = parsePorts(o.ports!);
    service = { id: o.service, type: 'dynamic', protocol: TCP, ports };
  }

  let bypass: BypassPredicate | null = null;
  if (o.bypass !== undefined) {
    try {
      bypass = bypassFilter(o.bypass);
    } catch (e) {
      if (e instanceof FilterError) refuse('--bypass', e.message.replace(/^filter: /, ''));
      throw e;
    }
  }
  if (o.serve !== undefined) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(o.serve);
    } catch (e) {
      refuse('--serve', `${o.serve}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!stat!.isDirectory()) refuse('--serve', `${o.serve} is not a directory`);
  }
  const table = o.table ?? DEFAULT_TABLE;
  if (!Number.isInteger(table) || table < 1 || table > U32_MAX || RESERVED_TABLES.has(table)) refuse('--table', `${table} is not a routing table for a cache: 1..${U32_MAX} but 253, 254 and 255 (default, main, local)`);
  if (o.tun !== undefined && !TUN_NAME.test(o.tun)) refuse('--tun', `"${o.tun}" is not an interface name (1..15 letters, digits, "_", "." or "-")`);
  return { service, ports, bypass, table, ...(o.serve !== undefined ? { root: o.serve } : {}), ...(o.tun !== undefined ? { tun: o.tun } : {}) };
}

function parsePorts(list: string): number[] {
  const words = list.split(',').map((w) => w.trim());
  if (words.length > SERVICE_PORT_COUNT) throw new PeerOptionError(`--ports: a WCCP service lists at most ${SERVICE_PORT_COUNT} ports`);
  const ports = words.map((w) => {
    const p = /^\d{1,5}$/.test(w) ? Number(w) : NaN;
    if (!(p >= 1 && p <= 0xffff)) throw new PeerOptionError(`--ports: "${w}" is not a port (1..65535)`);
    return p;
  });
  if (new Set(ports).size !== ports.length) throw new PeerOptionError('--ports: a port listed twice');
  return ports;
}

/** The cache's packet path: each diverted packet served through the TUN or returned to its router. */
class DivertedPackets {
  readonly counters = Object.fromEntries(Object.keys(REDIRECT_CACHE_COUNTERS).map((k) => [k, 0])) as Record<RedirectCacheCounter, number>;
  private readonly serveMem = new Uint8Array(SLOT_BYTES * BURST_MAX);
  private readonly returnMem = new Uint8Array(SLOT_BYTES * BURST_MAX);
  private readonly addrs = Uint32Array.from({ length: BURST_MAX }, (_, i) => i * SLOT_BYTES);
  private readonly serveLens = new Uint32Array(BURST_MAX);
  private readonly returnLens = new Uint32Array(BURST_MAX);
  private serving = 0;
  private returning = 0;
  private flushScheduled = false;
  private readonly tx = newSendCounters();

  constructor(
    private readonly cache: number,
    private readonly tun: TunDelivery,
    private readonly bypass: BypassPredicate | null,
    private readonly sendReturns: ((mem: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number) => number) | null,
  ) {}

  take(r: ReceivedReplica): void {
    const c = this.counters;
    if (r.encap !== 'gre' || r.redirectHeader === undefined) {
      c.not_wccp++;
      return;
    }
    if (r.truncated) {
      c.truncated++;
      return;
    }
    if (!wholeIpv4(r.inner)) {
      c.not_ipv4++;
      return;
    }
    const inner = r.inner.subarray(0, (r.inner[2] << 8) | r.inner[3]);
    if (this.bypass !== null && this.sendReturns !== null && this.bypass(inner)) {
      const at = this.addrs[this.returning];
      const n = returnPacket(this.returnMem.subarray(0, at + SLOT_BYTES), at, { cache: this.cache, router: parseIpv4(r.router)!, redirectHeader: r.redirectHeader }, inner);
      if (typeof n === 'string') {
        c.return_too_large++;
        return;
      }
      this.returnLens[this.returning++] = n;
    } else {
      if (inner.length > SLOT_BYTES) {
        c.tun_refused++;
        return;
      }
      this.serveMem.set(inner, this.addrs[this.serving]);
      this.serveLens[this.serving++] = inner.length;
    }
    // The receiver hands a whole burst over synchronously: send it as one burst afterwards.
    if (this.serving === BURST_MAX || this.returning === BURST_MAX) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  flush(): void {
    this.flushScheduled = false;
    const c = this.counters;
    if (this.serving > 0) {
      const before = this.tun.counters();
      this.tun.deliver(this.serveMem, this.addrs, this.serveLens, this.serving);
      const after = this.tun.counters();
      c.served += after.delivered - before.delivered;
      c.tun_blocked += after.blocked - before.blocked;
      c.tun_refused += after.refused - before.refused;
      this.serving = 0;
    }
    if (this.returning > 0 && this.sendReturns !== null) {
      const { blocked, refused } = this.tx;
      c.returned += sendAll((a, l, n) => this.sendReturns!(this.returnMem, a, l, n), this.addrs, this.returnLens, this.returning, this.tx);
      c.return_blocked += this.tx.blocked - blocked;
      c.return_refused += this.tx.refused - refused;
      this.returning = 0;
    }
  }

  lastReturnError(): string {
    return this.tx.lastError;
  }
}

export async function redirectCacheCommand(o: PeerOptions): Promise<void> {
  checkOptions(o);
  const plan = checkRedirectOptions(o);
  const address = await registrationAddress(o, 'give the cache another one');
  const request: ReplicationRequest = {
    mode: 'redirect', encapsulation: 'gre-wccp', filter: o.match, snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, lifetime: 0,
  };
  const say = (line: string): void => { process.stderr.write(`twinflow peer: ${line}\n`); };
  const native = addon();
  const run = new CommandRun();
  let tun: TunDelivery | null = null;
  let routing: TransparentRouting | null = null;
  let sender = -1;
  let packets: DivertedPackets | null = null;
  let receiver: ReplicaReceiver | null = null;
  let device: WccpDevice | null = null;
  const server = new CacheServer({ address, ...(plan.root !== undefined ? { root: plan.root } : {}) });
  const notes: string[] = [];
  try {
    tun = new TunDelivery({ name: plan.tun ?? '' });
    for (const w of tun.warnings()) say(`warning: ${w}`);
    routing = TransparentRouting.setUp(tun.name, plan.table);
    for (const port of plan.ports) await server.listen(native.openTransparentListener(ANY_ADDRESS, port));
    if (plan.bypass !== null) sender = native.openIpv4Sender();
    const send = sender;
    packets = new DivertedPackets(parseIpv4(address)!, tun, plan.bypass, send >= 0 ? (mem, a, l, n) => native.sendIpv4Burst(send, mem, a, l, n) : null);
    const path = packets;
    receiver = new ReplicaReceiver({ address, routers: o.router, onReplica: (r) => path.take(r) });
    // The cache's own service (checkRedirectOptions): web-cache, or a dynamic one with its ports.
    device = peerDevice(o, { address, service: plan.service, request, say });
    receiver.start();
    await device.start();
    say(`registered as ${address} with ${o.router.join(', ')} (service ${o.service}, redirect "${o.match}"); serving TCP ${plan.ports.join(', ')} ${plan.root !== undefined ? `from ${plan.root}` : 'with a fixed answer'} through ${tun.name} (table ${plan.table})${o.bypass !== undefined ? `; returning "${o.bypass}" to the router` : ''}`);
    run.stopAfter(o.duration);
    const rx = receiver;
    run.showStatus(() => status(rx.counters(), path.counters, server.counters), say);
    await run.stopped;
  } finally {
    run.close();
    await device?.stop();
    receiver?.drain();
    packets?.flush();
    receiver?.close();
    await server.close();
    notes.push(...(routing?.close() ?? []));
    tun?.close();
    if (sender >= 0) native.close(sender);
    for (const n of notes) say(`warning: could not undo ${n}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  const final = {
    address, routers: device.states(), designated: device.designated(), service: o.service, ports: plan.ports,
    tun: tun!.name, table: plan.table, receiver: receiver.counters(), cache: packets.counters, http: server.counters,
    ...(packets.lastReturnError() ? { lastReturnError: packets.lastReturnError() } : {}), wccp: device.counters(),
  };
  if (o.json) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else say(`stopped: ${status(final.receiver, final.cache, final.http)}`);
}

function status(r: Record<ReceiverCounter, number>, c: Record<RedirectCacheCounter, number>, h: Record<CacheHttpCounter, number>): string {
  const other = Object.entries(c).reduce((n, [k, v]) => (k === 'served' || k === 'returned' ? n : n + v), 0);
  return `received ${r.received}  served ${c.served}  returned ${c.returned}  not handed on ${other}  malformed ${r.malformed}  not_from_router ${r.not_from_router}  http ${h.requests} requests (${h.ok} ok)`;
}
