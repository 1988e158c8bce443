// WCCPv2 packet return by GRE through the real data plane (wasm/forward/, docs/dataplane.md "GRE
// return"): a cache with a redirect session sends back packets in GRE 0x883E with the redirect
// header, and the router forwards the inner packet by the FIB it compiled from the board. Packets
// are built by scapy, and so is every expected forwarded frame: scapy decapsulates the return,
// decrements the TTL, recomputes the IPv4 checksum from scratch (twinflow updates it
// incrementally) and builds the Ethernet header for the next hop; tshark then decodes what the
// router sent with checksum validation on. GRE-WCCP from anyone else, or to anyone else, stays
// transit traffic, forwarded byte for byte; every malformed or unforwardable return is counted
// under its reason, and conservation holds throughout.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { SessionManager, type RedirectMember } from '../../firmware/shell/sessions/manager.ts';
import type { CompiledTables } from '../../firmware/shell/sessions/compile.ts';
import { boardFib } from '../../firmware/shell/tables/fib.ts';
import { simulateTables, simSpec, type SimPacket, type SimResult } from '../../firmware/runtime/simulate.ts';
import type { BoardPort } from '../../firmware/runtime/board.ts';
import { parseIpv4 } from '../../firmware/shell/net/address.ts';
import { Bank, DescFlag } from '../../wasm/abi.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { encodePcapFile, makeTempDir, removeTempDir, tshark } from '../fixtures/capture.ts';

// The simulated router's three ports (simSpec: p0 inside ↔ p1 outside, p2 unconnected), as a board
// declares them: p0 a LAN with one known host, p1 the uplink with its gateway, p2 the cache's port.
const PORTS: BoardPort[] = [
  { name: 'p0', driver: 'linux', interface: 'x0', side: 'inside', mtu: 1500, mac: '02:74:66:00:00:10', ipv4: '10.1.0.1/24', neighbors: { '10.1.0.10': '02:00:0a:01:00:0a' } },
  { name: 'p1', driver: 'linux', interface: 'x1', side: 'outside', mtu: 1500, mac: '02:74:66:00:00:11', ipv4: '198.51.100.1/24', neighbors: { '198.51.100.254': '02:00:c6:33:64:fe' } },
  { name: 'p2', driver: 'linux', interface: 'x2', side: 'inside', mtu: 1500, mac: '02:74:66:00:00:12', ipv4: '192.0.2.1/24', neighbors: { '192.0.2.10': '02:00:c0:00:02:0a' } },
];
const ROUTES = [
  { prefix: '198.18.0.0/15', port: 'p1', via: '198.51.100.254' },
  { prefix: '203.0.113.0/24', port: 'p1', via: '198.51.100.99' }, // a gateway nobody declared
];
const FIB = boardFib({ ports: PORTS, routes: ROUTES }, PORTS.map((p) => p.name));
const ROUTER = '192.0.2.1';
const CACHE = '192.0.2.10';
const CACHE_PORT = 2;

/** A session manager whose tables have the return path (the router's address and the FIB). */
function manager(): { m: SessionManager; tables: () => CompiledTables } {
  let current: CompiledTables | undefined;
  const m = new SessionManager({
    slots: 64,
    resolve: () => ({ port: 'p2', portIndex: CACHE_PORT, mtu: 1500, source: { ip: parseIpv4(ROUTER), mac: Uint8Array.of(2, 0x74, 0x66, 0, 0, 0x12) }, destinationMac: Uint8Array.of(2, 0, 0xc0, 0, 2, 0x0a) }),
    publish: (t) => { current = t; },
    release: () => {},
    retire: () => {},
    counters: () => ({}),
    resetSlot: () => {},
    compile: { portCount: 3, returnPath: { locals: [parseIpv4(ROUTER)], routes: FIB } },
  });
  return { m, tables: () => current! };
}

const webCache = (device: string): RedirectMember => ({
  device, service: 0, serviceFilter: 'tcp dst port 80', priority: 0, dynamic: false, caches: [device],
});

function withCache(): CompiledTables {
  const { m, tables } = manager();
  m.redirect(webCache(CACHE), 0);
  return tables();
}

// ── Packets ─────────────────────────────────────────────────────────────────────────────────

/** A return as the cache sends it: outer IPv4 to the router, GRE 0x883E, redirect header, inner. */
const ret = (inner: string, o: { src?: string; dst?: string; outer?: string; gre?: string; header?: string; eth?: string } = {}): string =>
  `${o.eth ?? 'Ether(src="02:00:c0:00:02:0a",dst="02:74:66:00:00:12")'}/IP(src="${o.src ?? CACHE}",dst="${o.dst ?? ROUTER}"${o.outer ?? ''})/${o.gre ?? 'GRE(proto=0x883e)'}/Raw(${o.header ?? 'b"\\x00\\x00\\x00\\x2a"'})/${inner}`;

/** What a router makes of the return `r`, by scapy: the inner packet, TTL − 1, a fresh checksum, new MACs. */
const forwarded = (r: string, srcMac: string, dstMac: string): string =>
  `(lambda ip: (setattr(ip, "ttl", ip.ttl - 1), ip.__delattr__("chksum"), Ether(src="${srcMac}",dst="${dstMac}")/ip)[2])` +
  `(IP(bytes(Ether(bytes(${r}))[GRE].payload)[4:]))`;

const P1 = '02:74:66:00:00:11';
const P0 = '02:74:66:00:00:10';
const GW = '02:00:c6:33:64:fe';
const HOST = '02:00:0a:01:00:0a';

const INNER = {
  web: 'IP(src="10.1.0.10",dst="198.18.3.4",id=7,ttl=64)/TCP(sport=40000,dport=80,flags="S",seq=1000)/pay(120)',
  toHost: 'IP(src="198.18.3.4",dst="10.1.0.10",id=8,ttl=57)/TCP(sport=80,dport=40000,flags="SA",seq=5,ack=1001)/pay(300,2)',
  udp: 'IP(src="10.1.0.10",dst="198.19.0.1",id=9,ttl=2)/UDP(sport=40053,dport=9)/pay(64,3)',
  options: 'IP(src="10.1.0.10",dst="198.18.0.9",id=10,options=[IPOption_NOP()]*3+[IPOption_EOL()])/TCP(sport=40001,dport=80,flags="A")/pay(40,4)',
};

const P = scapyTable({
  web: ret(INNER.web),
  toHost: ret(INNER.toHost),
  udp: ret(INNER.udp),
  options: ret(INNER.options),
  nullHeader: ret(INNER.web, { header: 'b"\\x00\\x00\\x00\\x00"' }),
  tagged: ret(INNER.web, { eth: 'Ether(src="02:00:c0:00:02:0a",dst="02:74:66:00:00:12")/Dot1Q(vlan=20)' }),
  webOut: forwarded(ret(INNER.web), P1, GW),
  toHostOut: forwarded(ret(INNER.toHost), P0, HOST),
  udpOut: forwarded(ret(INNER.udp), P1, GW),
  optionsOut: forwarded(ret(INNER.options), P1, GW),
  // Not returns: transit, forwarded as they are.
  stranger: ret(INNER.web, { src: '192.0.2.99' }),
  notForUs: ret(INNER.web, { dst: '192.0.2.200' }),
  greIp: `Ether()/IP(src="${CACHE}",dst="${ROUTER}")/GRE(proto=0x0800)/${INNER.web}`,
  greKeyed: ret(INNER.web, { gre: 'GRE(proto=0x883e,key_present=1,key=5)' }),
  // Returns that cannot be forwarded, each for one reason.
  outerTooLong: ret(INNER.web, { outer: ',len=1400' }),
  outerFragment: ret(INNER.web, { outer: ',flags="MF"' }),
  outerLaterFragment: ret(INNER.web, { outer: ',frag=100' }),
  outerChecksum: ret(INNER.web, { outer: ',chksum=0x1234' }),
  outerIhl: ret(INNER.web, { outer: ',ihl=4' }),
  redirectHeaderOnly: `Ether()/IP(src="${CACHE}",dst="${ROUTER}")/GRE(proto=0x883e)/Raw(b"\\x00\\x00\\x00\\x2a")`,
  innerChecksum: ret('IP(src="10.1.0.10",dst="198.18.3.4",chksum=0x4321)/TCP(dport=80)/pay(20)'),
  innerTooLong: ret('IP(src="10.1.0.10",dst="198.18.3.4",len=900)/TCP(dport=80)/pay(20)'),
  innerNotIp: ret('Raw(bytes(range(0x50, 0x50 + 40)))'),
  innerIpv6: ret('IPv6(src="2001:db8::1",dst="2001:db8::2")/TCP(dport=80)/pay(20)'),
  ttl1: ret('IP(src="10.1.0.10",dst="198.18.3.4",ttl=1)/TCP(dport=80)/pay(20)'),
  ttl0: ret('IP(src="10.1.0.10",dst="198.18.3.4",ttl=0)/TCP(dport=80)/pay(20)'),
  noRoute: ret('IP(src="10.1.0.10",dst="8.8.8.8")/TCP(dport=80)/pay(20)'),
  unknownHost: ret('IP(src="198.18.3.4",dst="10.1.0.77")/TCP(sport=80)/pay(20)'),
  unknownGateway: ret('IP(src="10.1.0.10",dst="203.0.113.5")/TCP(dport=80)/pay(20)'),
  tooBig: ret('IP(src="10.1.0.10",dst="198.18.3.4")/UDP(dport=9)/pay(1473)'),
  // The same packet as `web`, but sent plainly (no tunnel): the redirect session takes it.
  plainWeb: `Ether(src="${HOST}",dst="${P0}")/${INNER.web}`,
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SEVERITY_WARN = 0x600000;

async function run(tables: CompiledTables, frames: ReadonlyArray<Uint8Array | SimPacket>, port = CACHE_PORT): Promise<SimResult> {
  const packets = frames.map((f) => (f instanceof Uint8Array ? { port, frame: f } : f));
  const r = await simulateTables(tables, packets, simSpec());
  assert.equal(r.violations, [], 'conservation');
  return r;
}

const originals = (r: SimResult, port: number) => r.sent[port].filter((s) => s.queue === 'originals');
const replicas = (r: SimResult) => r.sent.flatMap((s) => s.filter((f) => f.queue === 'replicas'));

// ── The FIB ─────────────────────────────────────────────────────────────────────────────────

test('the FIB compiled from the board: hosts, then subnets, then static routes, longest first', () => {
  const rows = FIB.map((e) => `${e.lo >>> 0}/${e.width} p${e.port} ${e.flags}`);
  const ip = (a: string): number => parseIpv4(a);
  assert.equal(rows, [
    `${ip('10.1.0.10')}/0 p0 0`, `${ip('198.51.100.254')}/0 p1 0`, `${ip('192.0.2.10')}/0 p2 0`,
    `${ip('10.1.0.0')}/255 p0 1`, `${ip('198.51.100.0')}/255 p1 1`, `${ip('192.0.2.0')}/255 p2 1`,
    `${ip('203.0.113.0')}/255 p1 1`,
    `${ip('198.18.0.0')}/131071 p1 0`,
  ]);
  assert.is(hex(FIB[7].mac), GW.replace(/:/g, ''), 'a route forwards to its via neighbour');
  assert.is(hex(FIB[7].routerMac), P1.replace(/:/g, ''));
});

test('no return table without a cache, and none once the last cache leaves', () => {
  const { m, tables } = manager();
  m.addStatic({ name: 'sniff', mode: 'sniff', filter: 'tcp', device: '192.0.2.50' }, 0);
  assert.is(new DataView(tables().bank.image.buffer).getUint32(Bank.Return, true), 0);
  m.redirect(webCache(CACHE), 0);
  assert.is.not(new DataView(tables().bank.image.buffer).getUint32(Bank.Return, true), 0);
  m.endMembership(CACHE, 0);
  assert.is(new DataView(tables().bank.image.buffer).getUint32(Bank.Return, true), 0);
});

// ── Forwarding ──────────────────────────────────────────────────────────────────────────────

test('a return from a registered cache leaves by the FIB port: next hop MAC, TTL − 1, the rest as scapy rebuilds it', async () => {
  const cases: Array<[keyof typeof P, keyof typeof P, number]> = [
    ['web', 'webOut', 1], ['toHost', 'toHostOut', 0], ['udp', 'udpOut', 1], ['options', 'optionsOut', 1],
    ['nullHeader', 'webOut', 1], ['tagged', 'webOut', 1],
  ];
  const r = await run(withCache(), cases.map(([k]) => P[k]));
  const got = new Map<number, string[]>();
  for (const port of [0, 1, 2]) got.set(port, originals(r, port).map((s) => hex(s.bytes)));
  for (const port of [0, 1, 2]) {
    const want = cases.filter(([, , p]) => p === port).map(([, out]) => hex(P[out]));
    assert.equal(got.get(port), want, `port p${port}`);
  }
  for (const s of [...originals(r, 0), ...originals(r, 1)]) {
    assert.is(s.desc.flags & DescFlag.Returned, DescFlag.Returned);
    assert.is(s.desc.origLen, s.bytes.length);
  }
  assert.equal(replicas(r), []);
  assert.is(r.ports[CACHE_PORT].returned, cases.length);
  assert.is(r.ports[CACHE_PORT].forwarded, 0);
  assert.is(r.ports[CACHE_PORT].rx_packets, cases.length);
});

test('tshark decodes the forwarded frames as IPv4 with a good header checksum and good TCP/UDP checksums', async () => {
  const r = await run(withCache(), [P.web, P.toHost, P.udp, P.options]);
  const frames = [...originals(r, 0), ...originals(r, 1)].map((s) => s.bytes);
  assert.is(frames.length, 4);
  const dir = makeTempDir('twinflow-return-');
  try {
    const file = path.join(dir, 'out.pcap');
    fs.writeFileSync(file, encodePcapFile(frames.map((data, i) => ({ data, tsNs: BigInt(i + 1) * 1000n }))));
    const prefs = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const fields = ['frame.protocols', 'ip.ttl', 'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', '_ws.expert.severity'];
    const t = tshark(['-r', file, ...prefs, '-T', 'fields', '-E', 'separator=\t', ...fields.flatMap((f) => ['-e', f])]);
    assert.is(t.status, 0, t.stderr);
    const rows = t.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.equal(rows.map((c) => c[0].split(':').slice(0, 4).join(':')), ['eth:ethertype:ip:tcp', 'eth:ethertype:ip:tcp', 'eth:ethertype:ip:udp', 'eth:ethertype:ip:tcp']);
    assert.equal(rows.map((c) => c[1]).sort(), ['1', '56', '63', '63'].sort(), 'every TTL one less than the cache sent');
    // Checksum status 1 is "Good" (Wireshark's PROTO_CHECKSUM_E_GOOD); expert items of warning
    // severity (0x600000) or worse would flag anything a dissector finds wrong.
    for (const c of rows) {
      assert.is(c[2], '1', `IPv4 header checksum good: ${c.join(' ')}`);
      assert.is(c[3] || c[4], '1', `transport checksum good: ${c.join(' ')}`);
      const severities = (c[5] ?? '').split(',').filter((x) => x !== '').map(Number);
      assert.ok(severities.every((v) => v < SEVERITY_WARN), `no warnings or errors: ${c.join(' ')}`);
    }
  } finally {
    removeTempDir(dir);
  }
});

test('GRE-WCCP from a host that is no cache, to another address, or of another GRE kind is transit, byte for byte', async () => {
  const transit = [P.stranger, P.notForUs, P.greIp, P.greKeyed];
  const r = await run(withCache(), transit, 0);
  assert.equal(originals(r, 1).map((s) => hex(s.bytes)), transit.map(hex));
  for (const s of originals(r, 1)) assert.is(s.desc.flags, 0);
  assert.is(r.ports[0].forwarded, transit.length);
  assert.is(r.ports[0].returned, 0);
  // And without any redirect session, the cache's own returns are transit too.
  const { m, tables } = manager();
  m.addStatic({ name: 'sniff', mode: 'sniff', filter: 'udp', device: '192.0.2.50' }, 0);
  const plain = await run(tables(), [P.web, P.udp], 0);
  assert.equal(originals(plain, 1).map((s) => hex(s.bytes)), [P.web, P.udp].map(hex));
  assert.is(plain.ports[0].returned, 0);
});

test('returns that cannot be forwarded are dropped, each under its reason', async () => {
  const cases: Array<[keyof typeof P, string]> = [
    ['outerTooLong', 'dropped_return_malformed'], ['outerFragment', 'dropped_return_malformed'],
    ['outerLaterFragment', 'dropped_return_malformed'], ['outerChecksum', 'dropped_return_malformed'],
    ['outerIhl', 'dropped_return_malformed'], ['redirectHeaderOnly', 'dropped_return_malformed'],
    ['innerChecksum', 'dropped_return_malformed'], ['innerTooLong', 'dropped_return_malformed'],
    ['innerNotIp', 'dropped_return_malformed'], ['innerIpv6', 'dropped_return_unsupported'],
    ['ttl1', 'dropped_return_ttl'], ['ttl0', 'dropped_return_ttl'], ['noRoute', 'dropped_return_no_route'],
    ['unknownHost', 'dropped_return_no_neighbor'], ['unknownGateway', 'dropped_return_no_neighbor'],
    ['tooBig', 'dropped_return_mtu'],
  ];
  const tables = withCache();
  for (const [k, reason] of cases) {
    const r = await run(tables, [P[k]]);
    const c = r.ports[CACHE_PORT];
    const nonzero = Object.entries(c).filter(([n, v]) => v !== 0 && n.startsWith('dropped_')).map(([n]) => n);
    assert.equal(nonzero, [reason], `${k}`);
    assert.equal(r.sent.flat(), [], `${k}: nothing sent`);
  }
  // A return captured short (the inner packet is not all there) is malformed too.
  const cut = await run(tables, [{ port: CACHE_PORT, frame: P.web.slice(0, 80), origLen: P.web.length }]);
  assert.is(cut.ports[CACHE_PORT].dropped_return_malformed, 1);
  // Every received frame, mixed, has exactly one outcome.
  const all = await run(tables, [...cases.map(([k]) => P[k]), P.web, P.stranger]);
  const c = all.ports[CACHE_PORT];
  assert.is(c.rx_packets, cases.length + 2);
  assert.is(c.returned, 1);
  assert.is(c.dropped_policy, 1, 'the stranger\'s GRE arrived on a port with no cross-connect');
});

test('a returned packet is never diverted again nor sniffed, though the same packet sent plainly is both', async () => {
  const { m, tables } = manager();
  m.redirect(webCache(CACHE), 0);
  m.addStatic({ name: 'sniff', mode: 'sniff', filter: 'tcp', device: '192.0.2.50' }, 0);
  const r = await run(tables(), [P.web, P.web]);
  assert.equal(originals(r, 1).map((s) => hex(s.bytes)), [hex(P.webOut), hex(P.webOut)]);
  assert.equal(replicas(r), [], 'no replica of a returned packet');
  assert.equal(originals(r, CACHE_PORT), [], 'not redirected back to the cache');
  assert.is(r.sessions.sniff.matched, 0);
  assert.is(r.ports[CACHE_PORT].returned, 2);
  assert.is(r.ports[CACHE_PORT].redirected, 0);
  // Control: the same inner packet arriving plainly on p0 is redirected to the cache and sniffed.
  const plain = await run(tables(), [P.plainWeb], 0);
  assert.is(plain.ports[0].redirected, 1);
  assert.is(plain.sessions.sniff.matched, 1);
  assert.is(originals(plain, CACHE_PORT).length, 1);
});

test.run();
