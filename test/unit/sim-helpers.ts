// Shared by the sim-*.test.ts suites: independent oracles (tshark, scapy), a tap endpoint that
// records what crosses a simulated wire, and a small harness that runs client and server groups
// and a collector through the real data plane on a simulated clock.
// Requires tshark and python3-scapy (see reference/toolchain.md).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { compileTables, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import type { EncapName } from '../../firmware/shell/sessions/template.ts';
import { portCounters, sessionCounters, type CounterSet } from '../../firmware/runtime/counters.ts';
import { encodePcap, LINKTYPE } from '../../hal/drivers/pcap/format/index.ts';
import { SimPortDriver } from '../../hal/drivers/sim/driver.ts';
import type { SimEndpoint } from '../../hal/drivers/sim/endpoint.ts';
import { ClientGroup, Collector, ServerGroup, parseIpv4, parseMac } from '../../hal/drivers/sim/index.ts';
import type { ClientGroupConfig, CollectorConfig, ServerGroupConfig } from '../../hal/drivers/sim/index.ts';

/** Debian's interpreter, which sees python3-scapy. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
/** An arbitrary epoch for capture timestamps (simulated time starts at 0). */
export const EPOCH_NS = 1_700_000_000_000_000_000n;
/** The simulated clock's step. */
export const STEP_NS = 100_000n;

// ── oracles ─────────────────────────────────────────────────────────────────────────────────

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-sim-'));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

/** Fields tshark prints per frame (`-T fields`, one column per name, repeated values joined by "|"), with checksum checks on. */
export function tsharkFields(frames: ReadonlyArray<{ data: Uint8Array; tsNs: bigint }>, fields: readonly string[], extra: readonly string[] = []): string[][] {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, 'frames.pcap');
    fs.writeFileSync(file, encodePcap(frames, { linkType: LINKTYPE.ETHERNET, nanosecond: true }));
    const args = ['-r', file, '-n',
      '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|',
      ...fields.flatMap((f) => ['-e', f])];
    const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Wireshark's expert severities (epan/proto.h PI_WARN, PI_ERROR). */
export const PI_WARN = 0x00600000;

/** Expert messages of severity warning or error, per frame number (1-based). */
export function tsharkProblems(frames: ReadonlyArray<{ data: Uint8Array; tsNs: bigint }>, extra: readonly string[] = []): string[] {
  const rows = tsharkFields(frames, ['frame.number', '_ws.expert.severity', '_ws.expert.message'], extra);
  const out: string[] = [];
  for (const [n, sev, msg] of rows) {
    if (!sev) continue;
    const sevs = sev.split('|').map(Number);
    const msgs = (msg ?? '').split('|');
    sevs.forEach((s, i) => { if (s >= PI_WARN) out.push(`frame ${n}: ${msgs[i] ?? '?'}`); });
  }
  return out;
}

/**
 * Evaluates scapy expressions after `prelude` (Python statements) and returns, per expression,
 * the packet's bytes and `describe(p)` (a Python function the prelude defines, returning JSON-able
 * data), or null for describe when the prelude defines none.
 */
export function scapyEval(prelude: string, expressions: readonly string[]): Array<{ bytes: Uint8Array; info: unknown }> {
  const script = `
import logging, sys, json
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
load_contrib("erspan")
from scapy.contrib.erspan import *
${prelude}
for e in json.loads(sys.stdin.read()):
    p = eval(e)
    d = describe(p) if "describe" in globals() else None
    print(json.dumps([bytes(p).hex(), d]))
`;
  const r = spawnSync(SYSTEM_PYTHON, ['-c', script], { input: JSON.stringify(expressions), encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`scapy failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.length > 0);
  if (lines.length !== expressions.length) throw new Error(`scapy printed ${lines.length} lines for ${expressions.length} expressions:\n${r.stderr}`);
  return lines.map((l) => {
    const [h, info] = JSON.parse(l) as [string, unknown];
    return { bytes: fromHex(h), info };
  });
}

// ── a recording tap ─────────────────────────────────────────────────────────────────────────

export interface TappedFrame {
  readonly dir: 'out' | 'in';
  readonly data: Uint8Array;
  readonly tsNs: bigint;
}

/** Wraps an endpoint and records copies of what it emits ('out') and is delivered ('in'). */
export class Tap implements SimEndpoint {
  readonly frames: TappedFrame[] = [];
  constructor(readonly inner: SimEndpoint) {}
  get name(): string { return this.inner.name; }
  poll(now: bigint, emit: (frame: Uint8Array) => boolean): void {
    this.inner.poll(now, (f) => {
      this.frames.push({ dir: 'out', data: f.slice(), tsNs: EPOCH_NS + now });
      return emit(f);
    });
  }
  deliver(frame: Uint8Array, now: bigint): void {
    this.frames.push({ dir: 'in', data: frame.slice(), tsNs: EPOCH_NS + now });
    this.inner.deliver(frame, now);
  }
  counters(): Record<string, number> { return this.inner.counters(); }
}

// ── the board harness ───────────────────────────────────────────────────────────────────────

export const CLIENTS: ClientGroupConfig = {
  name: 'clients',
  firstAddress: '10.0.0.10',
  count: 4,
  mac: '02:00:00:00:01:00',
  ipv6: { firstAddress: '2001:db8::10', share: 0.3 },
  servers: { firstAddress: '10.1.0.20', count: 3, mac: '02:00:00:00:02:00', ports: [9000, 9001], ipv6: { firstAddress: '2001:db8:1::20' } },
  flowsPerSecond: 2000,
  tcpShare: 0.7,
  segmentsPerFlow: [1, 6],
  payloadBytes: [4, 1000],
  maxActiveFlows: 256,
  seed: 7,
  maxFlows: 300,
};

export const SERVERS: ServerGroupConfig = {
  name: 'servers',
  firstAddress: '10.1.0.20',
  count: 3,
  mac: '02:00:00:00:02:00',
  ipv6: { firstAddress: '2001:db8:1::20' },
  responseBytes: [4, 1000],
  seed: 9,
};

export const COLLECTOR: CollectorConfig = { name: 'collector', address: '192.0.2.50', mac: '02:00:00:00:03:00' };
export const ROUTER = { ip: '192.0.2.1', mac: '02:74:66:00:00:01' };

/** A sniff session to the collector on port 2. */
export function sniffSession(filter: string, encap: EncapName, o: Partial<SessionSpec> = {}): SessionSpec {
  return {
    name: `sniff-${encap}`,
    mode: 'sniff',
    filter,
    encap,
    snaplen: 0,
    sample: 1,
    ratePps: 0,
    rateBps: 0,
    egressPort: 2,
    mtu: 1500,
    source: { ip: parseIpv4(ROUTER.ip)!, mac: parseMac(ROUTER.mac)! },
    destination: { ip: parseIpv4(COLLECTOR.address)!, mac: parseMac(COLLECTOR.mac)! },
    serviceId: 61,
    erspanSession: 321,
    slot: 0,
    generation: 1,
    ...o,
  };
}

export interface BoardRun {
  readonly card: LineCard;
  readonly clients: ClientGroup;
  readonly servers: ServerGroup;
  readonly collector: Collector;
  readonly clientTap: Tap;
  readonly serverTap: Tap;
  readonly ports: CounterSet[];
  readonly sessions: CounterSet[];
  /** Simulated time when everything was done. */
  readonly endNs: bigint;
}

/**
 * Runs clients on p0, servers on p1 and a collector on p2 of the sim router, stepping the clock by
 * STEP_NS until the clients are idle and the servers have nothing pending (or `limitNs`).
 */
export async function runBoard(o: {
  clients?: Partial<ClientGroupConfig>;
  servers?: Partial<ServerGroupConfig>;
  collector?: Partial<CollectorConfig>;
  sessions?: SessionSpec[];
  limitNs?: bigint;
} = {}): Promise<BoardRun> {
  const clients = new ClientGroup({ ...CLIENTS, ...o.clients });
  const servers = new ServerGroup({ ...SERVERS, ...o.servers });
  const collector = new Collector({ ...COLLECTOR, ...o.collector });
  const clientTap = new Tap(clients);
  const serverTap = new Tap(servers);
  const card = LineCard.create(simSpec(), [
    { name: 'p0', driver: new SimPortDriver(clientTap) },
    { name: 'p1', driver: new SimPortDriver(serverTap) },
    { name: 'p2', driver: new SimPortDriver(collector) },
  ]);
  if (o.sessions?.length) card.dp.publish(compileTables(o.sessions).bank.image);
  const limit = o.limitNs ?? 10_000_000_000n;
  let now = 0n;
  while (!(clients.idle && servers.pending === 0) && now < limit) {
    card.step(now);
    now += STEP_NS;
  }
  const ports = [0, 1, 2].map((p) => portCounters(card.dp, p));
  const sessions = (o.sessions ?? []).map((s) => sessionCounters(card.dp, s.slot));
  await card.close();
  return { card, clients, servers, collector, clientTap, serverTap, ports, sessions, endNs: now };
}

/** Connects a client group and a server group back to back (no router), optionally losing frames. */
export function runDirect(clients: SimEndpoint, servers: SimEndpoint, o: { untilNs: bigint; lose?: (dir: 'c2s' | 's2c', n: number) => boolean }): void {
  let c2s = 0;
  let s2c = 0;
  for (let now = 0n; now < o.untilNs; now += STEP_NS) {
    const up: Uint8Array[] = [];
    clients.poll(now, (f) => { if (!o.lose?.('c2s', c2s++)) up.push(f.slice()); return true; });
    for (const f of up) servers.deliver(f, now);
    const down: Uint8Array[] = [];
    servers.poll(now, (f) => { if (!o.lose?.('s2c', s2c++)) down.push(f.slice()); return true; });
    for (const f of down) clients.deliver(f, now);
  }
}
