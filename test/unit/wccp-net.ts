// Test plumbing for the WCCP router and device suites: a manual clock, an in-memory network
// (transports that deliver synchronously, with a drop filter and a record of every datagram),
// hooks that record what the router reports, capture loading with times, and message builders.
// No tests live here.

import { spawnSync } from 'node:child_process';

import type { WccpClock } from '../../firmware/shell/wccp/clock.ts';
import { decodeMessage, encodeMessage, MessageType } from '../../firmware/shell/wccp/index.ts';
import type { HereIAm, ReplicationRequest, ServiceInfo, WccpMessage, WebCacheIdentityElement } from '../../firmware/shell/wccp/index.ts';
import type { DeviceRequest, RedirectMember, WccpRouterHooks } from '../../firmware/shell/wccp/router/index.ts';
import type { DatagramHandler, Endpoint, TransportFactory } from '../../firmware/shell/wccp/transport.ts';
import { ip, STANDARD_SERVICE } from './wccp-fixtures.ts';

/** A clock tests move by hand; periodic callbacks fire at each due time, in time order. */
export class ManualClock implements WccpClock {
  private t: number;
  private readonly timers: Array<{ period: number; next: number; fn: () => void; active: boolean }> = [];

  constructor(startMs = 1_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  every(periodMs: number, fn: () => void): () => void {
    const timer = { period: periodMs, next: this.t + periodMs, fn, active: true };
    this.timers.push(timer);
    return () => {
      timer.active = false;
    };
  }

  /** Move time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: (typeof this.timers)[number] | null = null;
      for (const x of this.timers) if (x.active && x.next <= end && (due === null || x.next < due.next)) due = x;
      if (due === null) break;
      this.t = due.next;
      due.next += due.period;
      due.fn();
    }
    this.t = end;
  }

  /** Pending periodic timers (a finished test must leave none). */
  activeTimers(): number {
    return this.timers.filter((x) => x.active).length;
  }
}

export interface Sent {
  readonly atMs: number;
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly datagram: Uint8Array;
  readonly delivered: boolean;
}

const key = (e: Endpoint) => `${e.address}:${e.port}`;

/** An in-memory UDP network: synchronous delivery, a drop filter, a record of every datagram. */
export class MemoryNet {
  private readonly handlers = new Map<string, DatagramHandler>();
  private readonly queue: Array<{ datagram: Uint8Array; from: Endpoint; to: Endpoint }> = [];
  private draining = false;
  readonly sent: Sent[] = [];
  /** Return false to drop a datagram (loss, a partition). */
  filter: (from: Endpoint, to: Endpoint, datagram: Uint8Array) => boolean = () => true;

  constructor(private readonly clock: WccpClock) {}

  transport(bind: Endpoint): TransportFactory {
    return async (onDatagram) => {
      if (this.handlers.has(key(bind))) throw new Error(`${key(bind)} is in use`);
      this.handlers.set(key(bind), onDatagram);
      let open = true;
      return {
        send: (datagram, to) => {
          if (!open) return;
          this.queue.push({ datagram: datagram.slice(), from: bind, to });
          this.drain();
        },
        close: async () => {
          open = false;
          this.handlers.delete(key(bind));
        },
      };
    };
  }

  /** Every recorded datagram between two addresses, decoded. */
  messages(from?: string, to?: string): Array<Sent & { message: WccpMessage }> {
    return this.sent
      .filter((s) => (from === undefined || s.from.address === from) && (to === undefined || s.to.address === to))
      .map((s) => ({ ...s, message: decodeMessage(s.datagram) }));
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const handler = this.handlers.get(key(next.to));
        const delivered = handler !== undefined && this.filter(next.from, next.to, next.datagram);
        this.sent.push({ atMs: this.clock.now(), from: next.from, to: next.to, datagram: next.datagram, delivered });
        if (delivered) handler!(next.datagram, next.from);
      }
    } finally {
      this.draining = false;
    }
  }
}

/** Hooks that record every call; `refuse` decides request refusals. */
export function recordingHooks(refuse: (r: DeviceRequest) => string | null = () => null) {
  const events: string[] = [];
  const requests: DeviceRequest[] = [];
  const redirects: RedirectMember[] = [];
  const log: string[] = [];
  const hooks: WccpRouterHooks = {
    request(r) {
      const why = refuse(r);
      events.push(`request ${r.device} ${r.service}${why === null ? '' : ' refused'}`);
      if (why !== null) throw new Error(why);
      requests.push(r);
    },
    usable: (a, s) => events.push(`usable ${a} ${s}`),
    redirect(m) {
      events.push(`redirect ${m.device} ${m.service}`);
      redirects.push(m);
    },
    unassigned: (a, s) => events.push(`unassigned ${a} ${s}`),
    removed: (a, s) => events.push(`removed ${a} ${s}`),
    log: (line) => log.push(line),
  };
  return { hooks, events, requests, redirects, log };
}

/** The WCCP datagrams of a capture with their time (ms from the first frame) and source. */
export function captureMessages(file: string): Array<{ atMs: number; src: string; payload: Uint8Array }> {
  const r = spawnSync('tshark', ['-r', file, '-Y', 'wccp', '-T', 'fields', '-e', 'frame.time_relative', '-e', 'ip.src', '-e', 'udp.payload'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tshark: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'))
    .map(([t, src, payload]) => ({ atMs: Math.round(Number(t) * 1000), src: src!, payload: new Uint8Array(Buffer.from(payload!, 'hex')) }));
}

// ── message builders (a hand-written cache, independent of WccpDevice) ──────────────────────

export const NO_BUCKETS = new Uint8Array(32);

export function hashIdentity(address: string, weight = 10000): WebCacheIdentityElement {
  return { address: ip(address), hashRevision: 0, flags: 0, assignment: { kind: 'hash', buckets: NO_BUCKETS, weight, status: 0 } };
}

export function maskIdentity(address: string): WebCacheIdentityElement {
  return {
    address: ip(address),
    hashRevision: 0,
    flags: 0x0002,
    assignment: { kind: 'mask', sets: [{ mask: { srcAddr: 0, dstAddr: 0x1741, srcPort: 0, dstPort: 0 }, values: [] }], weight: 0, status: 0 },
  };
}

export interface HereOptions {
  readonly service?: ServiceInfo;
  readonly routers?: ReadonlyArray<{ routerId: string; receiveId: number }>;
  readonly identity?: WebCacheIdentityElement;
  readonly methods?: { forwarding: number; assignment: number; return: number } | null;
  readonly request?: ReplicationRequest;
  readonly password?: string;
}

/** A HERE_I_AM from `cache` echoing `receiveId` for router `router`. */
export function hereIAm(cache: string, router: string, receiveId: number, o: HereOptions = {}): Uint8Array {
  const m: HereIAm = {
    type: MessageType.HereIAm,
    security: { option: 'none' },
    service: o.service ?? STANDARD_SERVICE,
    webCacheIdentity: o.identity ?? hashIdentity(cache),
    webCacheView: {
      changeNumber: 1,
      routers: (o.routers ?? [{ routerId: router, receiveId }]).map((r) => ({ routerId: ip(r.routerId), receiveId: r.receiveId })),
      webCaches: [],
    },
    ...(o.methods === null
      ? {}
      : {
          capabilities: {
            elements: [
              { kind: 'forwarding-method', methods: o.methods?.forwarding ?? 1 },
              { kind: 'assignment-method', methods: o.methods?.assignment ?? 1 },
              { kind: 'return-method', methods: o.methods?.return ?? 1 },
            ],
          },
        }),
    ...(o.request === undefined ? {} : { commandExtension: { commands: [{ kind: 'replication', request: o.request }] } }),
  };
  return encodeMessage(m, o.password === undefined ? {} : { password: o.password });
}

/** The I_SEE_YOU in a router's answer. */
export function iSeeYouOf(out: ReadonlyArray<{ datagram: Uint8Array }>, password?: string) {
  if (out.length !== 1) throw new Error(`expected one answer, got ${out.length}`);
  const m = decodeMessage(out[0]!.datagram, password === undefined ? {} : { password });
  if (m.type !== MessageType.ISeeYou) throw new Error(`expected I_SEE_YOU, got type ${m.type}`);
  return m;
}
