// The GRE return path through the control plane: the Router compiles the FIB from the board it
// runs (connected subnets, static routes, neighbours and the sim board's blocks of simulated hosts)
// and the router's addresses (its WCCP address and its ports'), and publishes them with the
// redirect sessions to every line card. Here the sim board runs on two line cards in this thread
// (LocalCards: both get the same bank image, as worker cards do) with memory drivers, and a cache
// registered over WCCP returns packets on either card. Frames are built by scapy, and so are the
// frames the router must send (scapy decapsulates, decrements the TTL and recomputes the checksum).
// Also: a board whose FIB would exceed the hot path's bound is refused at boot, and a bank whose
// FIB names a port the card lacks is refused at publish.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadBoard, dataPlaneSpec, validateBoard, type Board } from '../../firmware/runtime/board.ts';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { LocalCards } from '../../firmware/runtime/cards.ts';
import { TablePublishError } from '../../firmware/runtime/dataplane.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { Router } from '../../firmware/shell/router.ts';
import type { RouterConfig } from '../../firmware/shell/config/types.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import { compileTables, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import { boardFib } from '../../firmware/shell/tables/fib.ts';
import { FibFlag, ReturnLimits } from '../../wasm/abi.ts';
import { parseIpv4 } from '../../hal/net/address.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { formatCounters } from '../../firmware/shell/mgmt/ctl-format.ts';
import { metricFamilies } from '../../firmware/shell/mgmt/metrics.ts';

const CACHE = '192.0.2.10';
const CACHE_MAC = '02:00:c0:00:02:0a';
const PORT = { lan: 0, wan: 1, monitor: 2, uplink: 3 } as const;

/** The sim board, with the cache declared as a neighbour on the monitor port. */
function board(): Board {
  const { file: _file, ...data } = loadBoard('sim');
  const copy = JSON.parse(JSON.stringify(data)) as { ports: Array<Record<string, unknown>> };
  const monitor = copy.ports.find((p) => p.name === 'monitor')!;
  monitor.neighbors = { [CACHE]: CACHE_MAC };
  return validateBoard(copy, 'sim (with a cache)');
}

const CONFIG: RouterConfig = {
  file: 'test',
  wccp: { address: '127.0.0.1', port: 2048, squid57Compat: false },
  services: [{ id: 0, type: 'standard', allow: ['192.0.2.0/24'] }],
  sessions: [],
  policy: [],
  limits: {},
};

interface Rig {
  readonly cards: Array<{ card: LineCard; drivers: MemoryPortDriver[] }>;
  readonly router: Router;
}

function rig(): Rig {
  const b = board();
  const cards = [0, 1].map(() => {
    const drivers = b.lineCards[0].ports.map(() => new MemoryPortDriver());
    return { card: LineCard.create(dataPlaneSpec(b, 0), b.lineCards[0].ports.map((name, i) => ({ name, driver: drivers[i] }))), drivers };
  });
  const router = new Router({ board: b, cards: new LocalCards(cards.map((c) => c.card)), config: CONFIG, version: 'test', clock: () => 1_000 });
  return { cards, router };
}

/** Injects frames on `port` of card `card`, runs both cards until they are drained. */
function run(r: Rig, card: number, port: number, frames: readonly Uint8Array[]): void {
  for (const f of frames) r.cards[card].drivers[port].inject(f, 1_000_000n);
  for (let i = 0; i < 16 && r.cards.some((c) => !c.card.drained()); i++) for (const c of r.cards) c.card.step(1_000_000n);
}

const sent = (r: Rig, card: number, port: number): string[] =>
  r.cards[card].drivers[port].sent.filter((s) => s.queue === 'originals').map((s) => Buffer.from(s.bytes).toString('hex'));

const ret = (dst: string, inner: string): string =>
  `Ether(src="${CACHE_MAC}",dst="02:74:66:00:00:12")/IP(src="${CACHE}",dst="${dst}")/GRE(proto=0x883e)/Raw(b"\\x00\\x00\\x00\\x11")/${inner}`;
const forwarded = (r: string, src: string, dst: string): string =>
  `(lambda ip: (setattr(ip, "ttl", ip.ttl - 1), ip.__delattr__("chksum"), Ether(src="${src}",dst="${dst}")/ip)[2])(IP(bytes(Ether(bytes(${r}))[GRE].payload)[4:]))`;

const TO_SERVER = 'IP(src="10.1.0.15",dst="198.51.100.12",id=3)/TCP(sport=40000,dport=80,flags="S")/pay(200)';
const TO_CLIENT = 'IP(src="198.51.100.12",dst="10.1.0.15",id=4,ttl=60)/TCP(sport=80,dport=40000,flags="SA")/pay(100,2)';
const TO_UPLINK = 'IP(src="10.1.0.15",dst="127.0.0.5",id=5)/UDP(sport=40000,dport=9)/pay(50,3)';
const P = scapyTable({
  toServer: ret('192.0.2.1', TO_SERVER),
  toClient: ret('127.0.0.1', TO_CLIENT),
  toUplink: ret('192.0.2.1', TO_UPLINK),
  // Server 198.51.100.12 is host 2 of the wan's block (MAC base + 2), client 10.1.0.15 host 5 of the lan's.
  toServerOut: forwarded(ret('192.0.2.1', TO_SERVER), '02:74:66:00:00:11', '02:00:c6:33:64:0c'),
  toClientOut: forwarded(ret('127.0.0.1', TO_CLIENT), '02:74:66:00:00:10', '02:00:0a:01:00:0f'),
  toUplinkOut: forwarded(ret('192.0.2.1', TO_UPLINK), '02:74:66:00:00:13', '00:00:00:00:00:00'),
});
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('a registered cache\'s returns are forwarded by the board\'s FIB on every line card', async () => {
  const r = rig();
  try {
    // Before the cache registers, its GRE is transit: the monitor port forwards nowhere.
    run(r, 0, PORT.monitor, [P.toServer]);
    assert.is(r.router.counters().ports.monitor.dropped_policy, 1);
    r.router.wccpHooks.redirect({ device: CACHE, service: 0, serviceFilter: 'tcp dst port 80', priority: 0, dynamic: false, caches: [CACHE] });
    run(r, 0, PORT.monitor, [P.toServer]);
    run(r, 1, PORT.monitor, [P.toClient, P.toUplink]);
    assert.equal(sent(r, 0, PORT.wan), [hex(P.toServerOut)], 'card 0: to the simulated server, by its MAC in the wan host block');
    assert.equal(sent(r, 1, PORT.lan), [hex(P.toClientOut)], 'card 1: to the simulated client, sent to the WCCP address');
    assert.equal(sent(r, 1, PORT.uplink), [hex(P.toUplinkOut)], 'card 1: the host stack port needs no MAC');
    const c = r.router.counters();
    assert.is(c.ports.monitor.returned, 3);
    assert.is(c.ports.monitor.rx_packets, 4);
    assert.equal(conservationViolations(c.ports, c.sessions), []);
    // The counters as `ctl counters` prints them and as the metrics endpoint exports them.
    assert.match(formatCounters(c), /^returned +0 +0 +3 +0$/m);
    assert.match(formatCounters(c), /^dropped_return_no_route +0 +0 +0 +0$/m);
    const families = metricFamilies(c);
    const sample = (name: string, labels: Record<string, string>): number | undefined =>
      families.find((f) => f.name === name)?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
    assert.is(sample('twinflow_port_returned_total', { port: 'monitor' }), 3);
    assert.is(sample('twinflow_port_dropped_total', { port: 'monitor', reason: 'return_no_route' }), 0);
    assert.is(sample('twinflow_port_dropped_total', { port: 'monitor', reason: 'policy' }), 1);
    // Once the cache leaves, its GRE is transit again.
    r.router.wccpHooks.removed(CACHE, 0);
    run(r, 1, PORT.monitor, [P.toServer]);
    assert.is(r.router.counters().ports.monitor.dropped_policy, 2);
    assert.is(r.router.counters().ports.monitor.returned, 3);
  } finally {
    for (const c of r.cards) await c.card.close();
  }
});

test('the sim board\'s FIB: host blocks for simulated hosts, the collector, the subnets', () => {
  const b = loadBoard('sim');
  const fib = boardFib(b, b.lineCards[0].ports);
  const text = fib.map((e) => `${e.lo >>> 0}+${e.width} p${e.port} f${e.flags}`);
  assert.equal(text, [
    `${parseIpv4('10.1.0.10')}+9 p0 f${FibFlag.HostBlock}`,
    `${parseIpv4('198.51.100.10')}+3 p1 f${FibFlag.HostBlock}`,
    `${parseIpv4('192.0.2.2')}+0 p2 f0`,
    `${parseIpv4('10.1.0.0')}+255 p0 f${FibFlag.NoNeighbor}`,
    `${parseIpv4('198.51.100.0')}+255 p1 f${FibFlag.NoNeighbor}`,
    `${parseIpv4('192.0.2.0')}+255 p2 f${FibFlag.NoNeighbor}`,
    `${parseIpv4('127.0.0.0')}+16777215 p3 f0`,
  ]);
});

test('a board whose FIB would exceed the hot path\'s bound is refused at boot, naming routes', () => {
  const { file: _file, ...data } = loadBoard('linux');
  const copy = JSON.parse(JSON.stringify(data)) as { ports: Array<Record<string, unknown>> };
  const neighbors: Record<string, string> = {};
  for (let i = 0; i < ReturnLimits.MaxRoutes; i++) neighbors[`10.9.${i >> 8}.${i & 255}`] = '02:00:00:00:00:01';
  copy.ports[2].neighbors = neighbors;
  // 512 neighbours and the port's connected subnet.
  assert.throws(() => validateBoard(copy, 'big'), /^big: routes: the forwarding table \(connected subnets, routes and the ports' neighbours\) would hold 513 entries; at most 512$/);
  delete neighbors['10.9.1.255'];
  assert.not.throws(() => validateBoard(copy, 'big'));
});

test('a bank whose FIB leaves by a port the card lacks is refused at publish', async () => {
  const b = loadBoard('sim');
  const drivers = b.lineCards[0].ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(dataPlaneSpec(b, 0), b.lineCards[0].ports.map((name, i) => ({ name, driver: drivers[i] })));
  try {
    const redirect: SessionSpec = {
      name: 'cache', mode: 'redirect', filter: 'tcp dst port 80', encap: 'gre', snaplen: 0, sample: 1, ratePps: 0, rateBps: 0,
      egressPort: 2, mtu: 1500, source: { ip: parseIpv4('192.0.2.1')!, mac: new Uint8Array(6) },
      destination: { ip: parseIpv4(CACHE)!, mac: new Uint8Array(6) }, slot: 0, generation: 1,
    };
    const far = boardFib(b, b.lineCards[0].ports).map((e) => ({ ...e, port: 7 }));
    const tables = compileTables([redirect], [], { returnPath: { locals: [parseIpv4('192.0.2.1')!], routes: far } });
    assert.throws(() => card.dp.publish(tables.bank.image), (e: unknown) => e instanceof TablePublishError && /forwarding entry #0 leaves by port 7, but this line card has 4 ports/.test((e as Error).message));
  } finally {
    await card.close();
  }
});

test.run();
