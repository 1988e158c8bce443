// redirect (standard WCCPv2 interception) on real traffic, with twinflow at both ends: the router
// (linux board, a bump in the wire) and a transparent cache, `twinflow peer --mode redirect`, on
// the LAN beside the client. The classic WCCP deployment:
//
//        client 10.0.0.1 ─┐ switch (a bridge)
//                         ├──────────── lan ┌────────┐ wan ──── origin 10.0.0.2
//        cache  10.0.0.3 ─┘   10.0.0.254   │ router │          HTTP on 80, 8080, 9090
//                          (WCCP, router ns) └────────┘
//
// The cache registers (WCCPv2, replication request mode redirect), is the designated cache and
// assigns the service with REDIRECT_ASSIGN; the router then diverts the client's packets to the
// origin's port 80, whole, in GRE with the WCCP redirect header, to the cache, which serves them
// through a TUN, policy routing and an IP_TRANSPARENT listener, answering from the origin's
// address straight to the client across the switch. Checked against curl (content checksums,
// the Via header), tcpdump on the origin's link and the router's own counters and sessions:
//   1. web-cache service 0: the client's downloads from the origin come from the cache, and the
//      origin's link sees none of those connections; the router shows the cache's redirect session
//      and `redirected` on lan; the cache's own request to the origin, and a request to a port the
//      service does not cover, are forwarded to the origin untouched; when the cache stops, the
//      router removes its session at WCCP's removal time and the client gets the origin again;
//   2. a dynamic service (ports 80 and 8080) with --bypass 'tcp dst port 8080': port 80 is served
//      by the cache, port 8080 is returned to the router (GRE packet return) and answered by the
//      origin; the packets the origin receives on 8080 are exactly the inner packets the cache
//      returned: the router's data plane decapsulated each return and forwarded it by its FIB
//      (docs/dataplane.md, GRE returns), counted as `returned` on lan.
// Conservation holds on the router, and every packet the cache received is accounted for. Needs root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { requireRoot, withLab, type Background, type NetLab } from '../net/netns.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import { REDIRECT_CACHE_COUNTERS } from '../../firmware/peer/redirect.ts';
import { startRouter, type RunningRouter } from './topology.ts';

const CLIENT = '10.0.0.1';
const ORIGIN = '10.0.0.2';
const CACHE = '10.0.0.3';
/** The router's WCCP address, held by its namespace's kernel on the lan port. */
const ROUTER = '10.0.0.254';
const DYNAMIC = 91;
const UNCOVERED_PORT = 9090;
/** The segment carries GRE around full-size originals (1500 + 28); the client's own link stays at 1500. */
const SEGMENT_MTU = 1600;
const FILE_BYTES = 256 << 10;
/** Sequential downloads through the cache in the first test. */
const REQUESTS = 20;
/** REDIRECT_ASSIGN comes 15 s after the cache becomes usable (one round trip with fastJoin). */
const ASSIGN_MS = 40_000;
/** The router removes a silent cache 30 s after its last HERE_I_AM (sent every 10 s). */
const REMOVAL_MS = 50_000;
const CURL_MAX_S = 10;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Counters = { ports: Record<string, Record<string, number>>; sessions: Record<string, Record<string, number>> };
type Session = { name: string; mode: string; device: string; port: string; filter: string; counters: Record<string, number> };

/** Prints figures (docs/jobs.md reports them). */
function report(run: string, figures: unknown): void {
  process.stdout.write(`\nredirect figures, ${run}: ${JSON.stringify(figures)}\n`);
}

/**
 * The origin: a Node HTTP server answering /file with the bytes of argv[1] on every port given,
 * and 404 otherwise (Node rather than Python's http.server, which looks its own name up at start).
 */
const ORIGIN_SERVER = `
const [file, address, ...ports] = process.argv.slice(1);
const body = require('node:fs').readFileSync(file);
let up = 0;
for (const p of ports) require('node:http').createServer((req, res) => {
  if (req.url === '/file') res.writeHead(200, { 'Content-Length': body.length }).end(body);
  else res.writeHead(404).end();
}).listen(Number(p), address, () => { if (++up === ports.length) console.log('listening'); });
process.on('SIGTERM', () => process.exit(0));
`;

interface Lab {
  readonly r: RunningRouter;
  readonly dir: string;
  readonly origin: { digest: string };
  readonly cacheContent: { dir: string; digest: string };
}

async function topology(lab: NetLab): Promise<Lab> {
  const r = await startRouter(lab, {
    ports: [
      {
        name: 'lan', side: 'inside', crossConnect: 'wan', routerIpv4: `${ROUTER}/24`, mtu: SEGMENT_MTU,
        segment: [{ tag: 'client', ipv4: `${CLIENT}/24`, mtu: 1500 }, { tag: 'cache', ipv4: `${CACHE}/24` }],
      },
      { name: 'wan', side: 'outside', crossConnect: 'lan', host: { tag: 'origin', ipv4: `${ORIGIN}/24` } },
    ],
    config: {
      wccp: { address: ROUTER },
      services: [
        { id: 0, type: 'standard', allow: [CACHE] },
        { id: DYNAMIC, type: 'dynamic', allow: [CACHE] },
      ],
    },
  });
  const dir = lab.tempDir();
  const originFile = path.join(dir, 'origin.bin');
  const originData = randomBytes(FILE_BYTES);
  fs.writeFileSync(originFile, originData);
  const server = r.hosts.origin.ns.spawn([process.execPath, '-e', ORIGIN_SERVER, originFile, ORIGIN, '80', '8080', String(UNCOVERED_PORT)]);
  await server.waitFor(/listening/, 20_000);
  const www = path.join(dir, 'cache-www');
  fs.mkdirSync(www);
  const cacheData = randomBytes(FILE_BYTES);
  fs.writeFileSync(path.join(www, 'file'), cacheData);
  return { r, dir, origin: { digest: sha(originData) }, cacheContent: { dir: www, digest: sha(cacheData) } };
}

function startCache(l: Lab, extra: string[]): Background {
  return l.r.hosts.cache.ns.spawn([process.execPath, TWINFLOW_BIN, 'peer', '--mode', 'redirect', '--router', ROUTER, '--address', CACHE,
    '--match', 'tcp', '--serve', l.cacheContent.dir, '--json', ...extra], { stopSignal: 'SIGINT' });
}

type Download = { digest: string; via: string | null } | { failed: string };

/** Downloads http://ORIGIN:port/file from a host: its checksum and the Via header, or why curl failed. */
async function tryDownload(l: Lab, host: 'client' | 'cache', port: number, tag: string): Promise<Download> {
  const out = path.join(l.dir, `${host}-${port}-${tag}.bin`);
  const headers = `${out}.headers`;
  const res = await l.r.hosts[host].ns.run(['curl', '-sS', '--max-time', String(CURL_MAX_S), '-D', headers, '-o', out, `http://${ORIGIN}:${port}/file`], { timeoutMs: (CURL_MAX_S + 5) * 1000, allowFailure: true });
  if (res.status !== 0) return { failed: `curl from the ${host} to port ${port} failed: ${res.stderr.trim()}` };
  const via = /^via:\s*(.*)$/im.exec(fs.readFileSync(headers, 'utf8'))?.[1]?.trim() ?? null;
  return { digest: sha(fs.readFileSync(out)), via };
}

async function download(l: Lab, host: 'client' | 'cache', port: number, tag: string): Promise<{ digest: string; via: string | null }> {
  const d = await tryDownload(l, host, port, tag);
  if ('failed' in d) throw new Error(d.failed);
  return d;
}

async function sessions(r: RunningRouter): Promise<Session[]> {
  return (await r.ctl('sessions')) as Session[];
}

/** Polls until the router lists the cache's redirect session for `service` (bounded); returns it. */
async function waitForRedirectSession(r: RunningRouter, service: number, timeoutMs: number): Promise<Session> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await sessions(r)).find((x) => x.mode === 'redirect' && x.name === `${CACHE}/${service}`);
    if (s) return s;
    if (Date.now() > deadline) throw new Error(`no redirect session for ${CACHE}/${service} within ${timeoutMs} ms: ${JSON.stringify(await sessions(r))}`);
    await sleep(250);
  }
}

async function routerCounters(r: RunningRouter): Promise<Counters> {
  const c = (await r.ctl('counters')) as Counters;
  assert.equal(conservationViolations(c.ports, c.sessions), [], 'conservation on the router');
  for (const p of ['lan', 'wan']) assert.is(c.ports[p].dropped_tx_full, 0);
  return c;
}

interface CacheReport {
  designated: boolean;
  receiver: Record<string, number>;
  cache: Record<string, number>;
  http: Record<string, number>;
  tun: string;
  table: number;
}

function finalReport(cache: Background): CacheReport {
  return JSON.parse(cache.stdout.slice(cache.stdout.indexOf('{'))) as CacheReport;
}

/** Every packet the cache's receiver decapsulated ended under exactly one of its counters. */
function assertCacheConservation(c: CacheReport): void {
  const sum = Object.keys(REDIRECT_CACHE_COUNTERS).reduce((n, k) => n + c.cache[k], 0);
  assert.is(sum, c.receiver.received, `cache: received = served + returned + every named reason (${JSON.stringify(c.cache)})`);
}

const tcpPorts = (ip: Uint8Array): [number, number] => {
  const l4 = (ip[0] & 15) * 4;
  return [(ip[l4] << 8) | ip[l4 + 1], (ip[l4 + 2] << 8) | ip[l4 + 3]];
};
const ipOf = (frame: Uint8Array): Uint8Array => frame.subarray(14, 14 + ((frame[16] << 8) | frame[17]));
const dotted = (b: Uint8Array): string => Array.from(b).join('.');

/** What one IPv4 hop makes of a packet: TTL − 1 and the header checksum recomputed in full (RFC 791). */
function routed(ip: Uint8Array): Uint8Array {
  const out = Uint8Array.from(ip);
  out[8] -= 1;
  out[10] = 0;
  out[11] = 0;
  let sum = 0;
  for (let i = 0; i < (out[0] & 15) * 4; i += 2) sum += (out[i] << 8) | out[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  out[10] = (~sum >> 8) & 0xff;
  out[11] = ~sum & 0xff;
  return out;
}

test('web-cache service 0: the cache serves the client, its own request and other ports reach the origin, and its departure gives the origin back', async () => {
  requireRoot('redirect.test.ts');
  await withLab('redirect', async (lab) => {
    const l = await topology(lab);
    const { r } = l;
    // Before any cache: the client gets the origin.
    assert.is((await download(l, 'client', 80, 'before')).digest, l.origin.digest, 'no cache yet: the origin answers');

    const startedAt = Date.now();
    const cache = startCache(l, ['--service', '0']);
    await cache.waitFor(/router 10\.0\.0\.254: usable/, 30_000);
    await cache.waitFor(/REDIRECT_ASSIGN \d+ to 10\.0\.0\.254/, ASSIGN_MS);
    const session = await waitForRedirectSession(r, 0, 10_000);
    const redirectAfterS = (Date.now() - startedAt) / 1000;
    assert.is(session.device, CACHE);
    assert.is(session.port, 'lan', 'the cache is placed on the segment it sits on');
    assert.match(session.filter, /tcp dst port 80/);

    const atOrigin = await r.hosts.origin.ns.capture(r.hosts.origin.link.name, { direction: 'inout', filter: ['tcp', 'and', 'host', CLIENT] });
    const before = await routerCounters(r);
    const served: string[] = [];
    let via: string | null = null;
    for (let i = 0; i < REQUESTS; i++) {
      const d = await download(l, 'client', 80, `cached-${i}`);
      served.push(d.digest);
      via = d.via;
    }
    await sleep(300);
    const fromClient = await atOrigin.stop();
    const afterCached = await routerCounters(r);
    assert.equal(served, new Array(REQUESTS).fill(l.cacheContent.digest), 'every download came from the cache, not the origin');
    assert.match(via ?? '', new RegExp(`${CACHE.replace(/\./g, '\\.')} \\(twinflow redirect cache\\)`), 'and says so in its Via header');
    assert.is(fromClient.length, 0, `the origin's link saw none of the client's connections (${fromClient.length} packets)`);
    const redirected = afterCached.ports.lan.redirected - before.ports.lan.redirected;
    assert.ok(redirected >= REQUESTS * 5, `${redirected} of the client's packets diverted to the cache (at least SYN, ACK, GET, ACKs, FIN per request)`);
    assert.is(afterCached.ports.wan.redirected, 0, 'nothing from the origin side is diverted');

    // The cache's own request to the origin (port 80, through the router): forwarded, not redirected.
    const atOrigin2 = await r.hosts.origin.ns.capture(r.hosts.origin.link.name, { direction: 'in', filter: ['tcp', 'dst', 'port', '80', 'and', 'src', 'host', CACHE] });
    const own = await download(l, 'cache', 80, 'own');
    await sleep(300);
    const ownAtOrigin = await atOrigin2.stop();
    const afterOwn = await routerCounters(r);
    assert.is(own.digest, l.origin.digest, 'the cache\'s own request got the origin\'s content');
    assert.is(own.via, null);
    assert.is(afterOwn.ports.lan.redirected, afterCached.ports.lan.redirected, 'the cache\'s own packets are never diverted back to it');
    assert.ok(ownAtOrigin.length >= 4, `the origin received the cache's request itself (${ownAtOrigin.length} packets)`);
    assert.ok(afterOwn.ports.lan.forwarded - afterCached.ports.lan.forwarded >= ownAtOrigin.length, 'and the router counted them forwarded');

    // A port the service does not cover: forwarded untouched, answered by the origin.
    const other = await download(l, 'client', UNCOVERED_PORT, 'other');
    const afterOther = await routerCounters(r);
    assert.is(other.digest, l.origin.digest, `port ${UNCOVERED_PORT} is not the web-cache service: the origin answers`);
    assert.is(afterOther.ports.lan.redirected, afterOwn.ports.lan.redirected, 'nothing of it was diverted');

    // The cache stops: it no longer registers; at removal time the router ends its session.
    await cache.stop();
    const stoppedAt = Date.now();
    const c = finalReport(cache);
    assertCacheConservation(c);
    assert.ok(c.designated, 'it was the designated cache');
    assert.is(c.receiver.received, afterOther.ports.lan.redirected, 'the cache received every packet the router diverted');
    assert.is(c.cache.served, c.receiver.received, 'and served every one');
    assert.is(c.cache.returned, 0);
    assert.is(c.receiver.malformed + c.receiver.not_from_router, 0);
    assert.ok(c.http.ok >= REQUESTS, `${c.http.ok} answers`);
    const rules = r.hosts.cache.ns.ip('-4', 'rule', 'show').stdout;
    assert.not.match(rules, new RegExp(`iif ${c.tun}\\b`), 'its policy rule is gone');
    assert.is(r.hosts.cache.ns.ip('-4', 'route', 'show', 'table', String(c.table)).stdout.trim(), '', 'and its local route');
    for (;;) {
      if (!(await sessions(r)).some((s) => s.mode === 'redirect')) break;
      if (Date.now() - stoppedAt > REMOVAL_MS) assert.unreachable(`the redirect session outlived the cache by ${REMOVAL_MS} ms`);
      await sleep(500);
    }
    const removedAfterS = (Date.now() - stoppedAt) / 1000;
    assert.ok(removedAfterS > 15 && removedAfterS < 35, `session removed ${removedAfterS.toFixed(1)} s after the cache stopped (30 s after its last HERE_I_AM)`);
    assert.is((await download(l, 'client', 80, 'after')).digest, l.origin.digest, 'the cache gone, the origin answers again');
    const end = await routerCounters(r);
    report('web-cache service 0', {
      redirectAfterS, removedAfterS, requests: REQUESTS, redirectedPackets: redirected, session: { name: session.name, port: session.port, filter: session.filter },
      cache: c.cache, http: c.http, receiver: c.receiver, lan: end.ports.lan, wan: end.ports.wan,
    });
    await r.stop();
  });
});

test('dynamic service 80 and 8080 with --bypass: port 80 served by the cache, 8080 returned to the router (GRE return) and answered by the origin', async () => {
  requireRoot('redirect.test.ts');
  await withLab('redirect-bypass', async (lab) => {
    const l = await topology(lab);
    const { r } = l;
    const cache = startCache(l, ['--service', String(DYNAMIC), '--ports', '80,8080', '--bypass', 'tcp dst port 8080']);
    await cache.waitFor(/REDIRECT_ASSIGN \d+ to 10\.0\.0\.254/, ASSIGN_MS);
    const session = await waitForRedirectSession(r, DYNAMIC, 10_000);
    assert.match(session.filter, /dst port 80 or dst port 8080/);

    assert.is((await download(l, 'client', 80, 'cached')).digest, l.cacheContent.digest, 'port 80: the cache');
    // Returned packets leave the cache as GRE to the router; the origin gets their inner packets.
    const returned = await r.hosts.cache.ns.capture(r.hosts.cache.link.name, { direction: 'out', filter: ['ip', 'proto', '47', 'and', 'dst', 'host', ROUTER] });
    const atOrigin = await r.hosts.origin.ns.capture(r.hosts.origin.link.name, { direction: 'in', filter: ['tcp', 'dst', 'port', '8080'] });
    const bypassed = await tryDownload(l, 'client', 8080, 'bypassed');
    await sleep(300);
    const gre = (await returned.stop()).map((f) => ipOf(f.data));
    const arrived = (await atOrigin.stop()).map((f) => ipOf(f.data));

    // The cache's side: what it returned, and how.
    assert.ok(gre.length >= 1, `${gre.length} packets returned`);
    const inner = gre.map((p) => {
      assert.is(dotted(p.subarray(12, 16)), CACHE, 'outer source: the cache');
      assert.is(dotted(p.subarray(16, 20)), ROUTER, 'outer destination: the router');
      assert.is(p[9], 47);
      assert.is(Buffer.from(p.subarray(20, 24)).toString('hex'), '0000883e', 'GRE without flags, protocol 0x883E');
      assert.is(p[25], DYNAMIC, 'the redirect header names the service');
      return p.subarray(28);
    });
    assert.ok(inner.every((p) => dotted(p.subarray(12, 16)) === CLIENT && tcpPorts(p)[1] === 8080), 'each carries a client packet to port 8080');

    // The router's side (GRE return in its data plane): it forwards what the cache returned.
    assert.ok(!('failed' in bypassed), `port 8080 answered through the router's GRE return: ${'failed' in bypassed ? bypassed.failed : ''}`);
    assert.is(bypassed.digest, l.origin.digest, 'port 8080: the origin\'s content');
    assert.is(bypassed.via, null, 'not the cache\'s');
    assert.ok(gre.length >= 4, `${gre.length} packets returned: the whole connection's, SYN to FIN`);
    const hex = (ps: readonly Uint8Array[]): string[] => ps.map((p) => Buffer.from(p).toString('hex')).sort();
    assert.equal(hex(arrived), hex(inner.map(routed)), 'the origin received exactly the packets the cache returned, routed: TTL − 1, checksum updated');

    await cache.stop();
    const c = finalReport(cache);
    assertCacheConservation(c);
    assert.is(c.cache.returned, gre.length);
    assert.is(c.cache.return_refused + c.cache.return_blocked + c.cache.return_too_large, 0);
    const end = await routerCounters(r);
    assert.is(end.ports.lan.returned, gre.length, 'the router forwarded every return (lan: returned)');
    report('dynamic service with --bypass', { returned: c.cache.returned, served: c.cache.served, http: c.http, lan: end.ports.lan, wan: end.ports.wan });
    await r.stop();
  });
});

test.run();
