// dup (seed Fig. 3–4) on real traffic. Two paths from router A to the server host: path 1 direct
// (A's wan port), path 2 through the peer router B (A's third port, then B's own link to the
// server host's second interface). A is twinflow on the linux board, a bump in the wire between
// the client and path 1; both of A's ports towards the paths lose 10 % of what they send
// (twinflow's fault driver, independent seeds) and delay it: 40 ms on path 1, 42 ms on path 2
// (the detour through B), so the eliminator sees the copies 2 ms apart, plus B's own relay time.
//
//   client ── lan │A│ wan ──── path 1 (10 % loss, 40 ms) ─────────── eth1 server host
//                 │ │ peer ─── path 2 (10 % loss, 42 ms) ── B ─────── eth2
//
// Measured three ways, each in a lab of its own, with a UDP stream of numbered datagrams
// (test/net/numbered.ts) from the client to the server:
//   - single lossy path (nobody registered): about 10 % lost, no duplicates;
//   - untagged dup (B registers, decapsulates and forwards the inner packets; no eliminator):
//     about 1 % lost, and most datagrams delivered twice;
//   - tagged dup (B registers with --far-end; the server host runs `twinflow eliminate`): about
//     1 % lost and no duplicate at all, the eliminator's counters matching what the receiver got.
// A TCP transfer from the client to the server (the duplicated direction) completes with the right
// checksum over the single lossy path and over tagged dup, where the eliminator loses only what
// both paths lost; its times are printed, not asserted (a shared machine).
// The router's conservation invariants hold at the end of every run. Needs root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireRoot, withLab, type Background, type NetLab, type Netns } from '../net/netns.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import { startRouter, type RunningRouter } from './topology.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NUMBERED = [process.execPath, '--import', 'tsx', path.join(ROOT, 'test/net/numbered.ts')];

const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';
const A_WAN = '10.0.0.254';
const A = '192.0.2.1';
const B = '192.0.2.2';
const B_SIDE = '198.51.100.1';
const SERVER_SIDE = '198.51.100.2';
const MATCH = `src host ${CLIENT} and dst host ${SERVER}`;
/** Paths carry member packets: 32 bytes of outer IPv4 and GRE around a 1500-byte original. */
const PATH_MTU = 1600;
const LOSS = 0.1;
/**
 * One-way delays: a WAN-like 40 ms on path 1, and path 2 (the detour through B) 2 ms longer. At
 * this RTT TCP's rate depends on the loss it sees, which is what dup changes.
 */
const PATH1_DELAY_NS = 40_000_000;
const PATH2_DELAY_NS = 42_000_000;

/** The UDP stream: 4000 datagrams of 200 bytes at 1000/s. */
const DATAGRAMS = 4000;
const RATE_PPS = 1000;
const DATAGRAM_BYTES = 200;
/** The TCP transfer. */
const TCP_BYTES = 16 << 20;
const TCP_TIMEOUT_S = 150;
const UDP_PORT = 9999;
const TCP_PORT = 5001;

/** Prints a run's figures (docs/jobs.md reports them). */
function report(run: string, figures: unknown): void {
  process.stdout.write(`\ndup figures, ${run}: ${JSON.stringify(figures)}\n`);
}

interface Lab {
  readonly r: RunningRouter;
  readonly client: Netns;
  readonly server: Netns;
  readonly b: Netns;
}

async function topology(lab: NetLab): Promise<Lab> {
  const r = await startRouter(lab, {
    ports: [
      { name: 'lan', side: 'inside', crossConnect: 'wan', host: { tag: 'client', ipv4: `${CLIENT}/24` } },
      {
        name: 'wan', side: 'outside', crossConnect: 'lan', routerIpv4: `${A_WAN}/24`, mtu: PATH_MTU,
        host: { tag: 'server', ipv4: `${SERVER}/24` },
        fault: { tx: { drop: LOSS, delayNs: PATH1_DELAY_NS, seed: 0x1234 } },
      },
      {
        name: 'peer', side: 'inside', routerIpv4: `${A}/24`, mtu: PATH_MTU,
        host: { tag: 'b', ipv4: `${B}/24` },
        fault: { tx: { drop: LOSS, delayNs: PATH2_DELAY_NS, seed: 0xbeef } },
      },
    ],
    config: {
      wccp: { address: A },
      services: [{ id: 90, type: 'dynamic', allow: ['192.0.2.0/24'] }],
    },
  });
  const client = r.hosts.client.ns;
  const server = r.hosts.server.ns;
  const b = r.hosts.b.ns;
  // Path 2's second half: B ── server host, B routes the server's address over it.
  const [bEnd, serverEnd] = lab.veth({ ns: b, tag: 'bs' }, { ns: server, tag: 'sb' });
  for (const [l, a] of [[bEnd, `${B_SIDE}/24`], [serverEnd, `${SERVER_SIDE}/24`]] as const) l.mtu(PATH_MTU).addAddress(a);
  b.route(`${SERVER}/32`, { gateway: SERVER_SIDE });
  // The server host's default route is B: it reaches router A's WCCP address (the source of
  // member 1) that way, which the reverse-path filter checks.
  server.route('default', { gateway: B_SIDE });
  // Loose reverse-path filtering (Debian's default): the server host gets the client's packets on
  // a TUN (tagged) or on its second link (untagged), neither of which is its route to the client.
  server.sysctl('net.ipv4.conf.all.rp_filter', 2);
  // The server's receive buffer, and so the window it offers, at most 1 MiB: a host's buffers, not
  // the paths' queues (the fault driver's hold queue, 1024 frames), bound what is in flight, so
  // every packet the paths lose is the seeded 10 %.
  server.sysctl('net.ipv4.tcp_rmem', '4096 131072 1048576');
  // Static neighbours: ARP through a lossy path would only add noise to the figures.
  client.ip('neigh', 'replace', SERVER, 'lladdr', r.hosts.server.mac, 'dev', r.hosts.client.link.name, 'nud', 'permanent');
  server.ip('neigh', 'replace', CLIENT, 'lladdr', r.hosts.client.mac, 'dev', r.hosts.server.link.name, 'nud', 'permanent');
  return { r, client, server, b };
}

interface UdpResult {
  readonly received: number;
  readonly unique: number;
  readonly duplicates: number;
  readonly reordered: number;
  readonly highest: number;
}

/** The UDP stream from the client to the server: what the server's socket received. */
async function udpStream(l: Lab): Promise<UdpResult> {
  const receiver = l.server.spawn([...NUMBERED, 'udp-recv', SERVER, String(UDP_PORT)]);
  await receiver.waitFor(/ready/, 20_000);
  const sent = await l.client.run([...NUMBERED, 'udp-send', SERVER, String(UDP_PORT), String(DATAGRAMS), String(RATE_PPS), String(DATAGRAM_BYTES)], { timeoutMs: 60_000 });
  assert.is(JSON.parse(sent.stdout).sent, DATAGRAMS);
  await new Promise((res) => setTimeout(res, 1000)); // the slower path's last packets
  await receiver.stop();
  return JSON.parse(receiver.stdout.trim().split('\n').pop()!) as UdpResult;
}

interface TcpResult {
  /** The client's time from connect to the server's answer. */
  readonly seconds: number;
  /** The client's kernel: segments sent, and how many of them were retransmissions (nstat). */
  readonly segments: number;
  readonly retransmitted: number;
}

/** The TCP transfer from the client to the server, checked for every byte. */
async function tcpTransfer(l: Lab): Promise<TcpResult> {
  const receiver = l.server.spawn([...NUMBERED, 'tcp-recv', SERVER, String(TCP_PORT)]);
  await receiver.waitFor(/ready/, 20_000);
  await l.client.run(['nstat', '-n']);
  const out = await l.client.run([...NUMBERED, 'tcp-send', SERVER, String(TCP_PORT), String(TCP_BYTES), String(TCP_TIMEOUT_S)], { timeoutMs: (TCP_TIMEOUT_S + 10) * 1000 });
  const stats = (await l.client.run(['nstat', '-z', 'TcpOutSegs', 'TcpRetransSegs'])).stdout;
  const r = JSON.parse(out.stdout) as { bytes: number; sha256: string; seconds: number; receiver: { bytes: number; sha256: string } };
  assert.is(r.receiver.bytes, TCP_BYTES, 'every byte arrived');
  assert.is(r.receiver.sha256, r.sha256, 'and intact');
  await receiver.wait(10_000);
  const stat = (name: string): number => Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(stats)?.[1] ?? NaN);
  return { seconds: r.seconds, segments: stat('TcpOutSegs'), retransmitted: stat('TcpRetransSegs') };
}

interface Counters {
  ports: Record<string, Record<string, number>>;
  sessions: Record<string, Record<string, number>>;
}

async function routerCounters(r: RunningRouter): Promise<Counters> {
  const c = await r.ctl('counters') as Counters;
  assert.equal(conservationViolations(c.ports, c.sessions), [], 'conservation on the router');
  for (const p of ['lan', 'wan']) assert.is(c.ports[p].dropped_tx_full, 0);
  return c;
}

function peerB(l: Lab, farEnd?: string): Background {
  return l.b.spawn([process.execPath, TWINFLOW_BIN, 'peer', '--router', A, '--address', B, '--mode', 'dup', '--match', MATCH,
    ...(farEnd ? ['--far-end', farEnd] : []), '--json'], { stopSignal: 'SIGINT' });
}

/**
 * The eliminator's window must cover the paths' skew in packets (reference/performance.md 5.3):
 * path 2 lags by 2 ms plus B's relay, which is a Node process on a shared VM (up to 20 ms in the
 * tail); at the TCP transfer's 15–20 kpps bursts that is several hundred packets.
 */
const HISTORY = 1024;

function eliminator(l: Lab, lab: NetLab): Background {
  return l.server.spawn([process.execPath, TWINFLOW_BIN, 'eliminate', '--address', SERVER, '--from', A, '--from', B_SIDE,
    '--tun', lab.ifname('el'), '--history', String(HISTORY), '--json'], { stopSignal: 'SIGINT' });
}

const lossOf = (u: UdpResult): number => 1 - u.unique / DATAGRAMS;
const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
const lastJson = <T>(bg: Background): T => JSON.parse(bg.stdout.slice(bg.stdout.indexOf('{'))) as T;

test('single lossy path: about 10 % of the datagrams lost, none duplicated; TCP completes', async () => {
  requireRoot('dup.test.ts');
  await withLab('dup-single', async (lab) => {
    const l = await topology(lab);
    const u = await udpStream(l);
    const tcp = await tcpTransfer(l);
    const c = await routerCounters(l.r);
    report('single lossy path', { udp: { ...u, loss: pct(lossOf(u)) }, tcp });
    assert.ok(lossOf(u) > 0.06 && lossOf(u) < 0.14, `loss ${pct(lossOf(u))} on one path with ${LOSS * 100} % loss`);
    assert.is(u.duplicates, 0);
    assert.equal(c.sessions, {}, 'no session: nobody registered');
    await l.r.stop();
  });
});

test('untagged dup: B forwards the inner packets, about 1 % lost, most datagrams arrive twice', async () => {
  requireRoot('dup.test.ts');
  await withLab('dup-untagged', async (lab) => {
    const l = await topology(lab);
    const b = peerB(l);
    await b.waitFor(/router 192\.0\.2\.1: usable/, 30_000);
    const u = await udpStream(l);
    const c = await routerCounters(l.r);
    await b.stop();
    const bc = lastJson<{ form: string; dup: Record<string, number>; receiver: Record<string, number> }>(b);
    const s = c.sessions[`${B}/90`];
    report('untagged dup', { udp: { ...u, loss: pct(lossOf(u)) }, session: s, peer: bc.dup, peerReceiver: bc.receiver });
    assert.is(bc.form, 'untagged');
    assert.ok(lossOf(u) > 0.001 && lossOf(u) < 0.03, `loss ${pct(lossOf(u))} with two paths of ${LOSS * 100} % each`);
    assert.ok(u.duplicates > DATAGRAMS * 0.6, `${u.duplicates} duplicates: both copies arrive for about 81 % of the datagrams`);
    assert.is(u.received, u.unique + u.duplicates);
    assert.is(s.matched, DATAGRAMS, 'the session matched the stream, nothing else');
    assert.is(s.replicated, DATAGRAMS);
    assert.is(s.carried, 0, 'untagged: originals go as they are');
    assert.is(bc.dup.forwarded, bc.receiver.received, 'B forwarded every replica it received');
    const viaPath1 = u.received - bc.dup.forwarded;
    assert.ok(viaPath1 > DATAGRAMS * 0.86 && viaPath1 < DATAGRAMS * 0.94, `${viaPath1} datagrams came by path 1 (received less what B forwarded), ${DATAGRAMS - viaPath1} lost there`);
    await l.r.stop();
  });
});

test('tagged dup: B relays to the eliminator, about 1 % lost and no duplicate; TCP completes (its time is reported)', async () => {
  requireRoot('dup.test.ts');
  await withLab('dup-tagged', async (lab) => {
    const l = await topology(lab);
    let far = eliminator(l, lab);
    await far.waitFor(/listening for GRE/, 20_000);
    const b = peerB(l, SERVER);
    await b.waitFor(/router 192\.0\.2\.1: usable/, 30_000);
    const sessions = await l.r.ctl('sessions') as Array<{ name: string; mode: string; farEnd?: string; port: string }>;
    assert.equal(sessions.map((s) => [s.name, s.mode, s.farEnd, s.port]), [[`${B}/90`, 'dup', SERVER, 'peer']]);

    const u = await udpStream(l);
    await far.stop();
    const e = lastJson<{ counters: Record<string, number>; streams: Array<Record<string, number>> }>(far);
    const afterUdp = await routerCounters(l.r);
    const s = afterUdp.sessions[`${B}/90`];
    assert.ok(lossOf(u) > 0.001 && lossOf(u) < 0.03, `loss ${pct(lossOf(u))} with two paths of ${LOSS * 100} % each`);
    assert.is(u.duplicates, 0, 'the eliminator delivered each datagram once');
    assert.is(s.matched, DATAGRAMS);
    assert.is(s.carried, DATAGRAMS, 'every original travelled in the stream (member 1)');
    assert.is(s.carrier_bypassed, 0);
    assert.is(e.streams.length, 1, 'one stream: the session');
    const st = e.streams[0];
    assert.is(st.passed, u.unique, 'what the eliminator passed is what the receiver got');
    assert.is(e.counters.delivered, u.unique);
    assert.is(e.counters.received, st.passed + st.discarded + st.rogue, 'every member packet has a verdict');
    assert.ok(st.lost <= DATAGRAMS - u.unique && st.lost >= DATAGRAMS - u.unique - HISTORY, `lost ${st.lost}: the numbers neither member brought, but the last window's`);
    assert.is(e.counters.malformed + e.counters.not_allowed + e.counters.truncated + e.counters.tun_blocked + e.counters.tun_refused, 0);

    // TCP over tagged dup, with a fresh eliminator (its stream starts anew: take any).
    far = eliminator(l, lab);
    await far.waitFor(/listening for GRE/, 20_000);
    const tcp = await tcpTransfer(l);
    await far.stop();
    const t = lastJson<{ counters: Record<string, number>; streams: Array<Record<string, number>> }>(far);
    await b.stop();
    const bc = lastJson<{ form: string; dup: Record<string, number>; receiver: Record<string, number> }>(b);
    const end = await routerCounters(l.r);
    report('tagged dup', {
      udp: { ...u, loss: pct(lossOf(u)) }, eliminatorUdp: { ...e.counters, stream: st }, tcp,
      eliminatorTcp: { ...t.counters, stream: t.streams[0] }, session: end.sessions[`${B}/90`], peer: bc.dup, peerReceiver: bc.receiver,
    });
    assert.is(bc.form, 'tagged');
    assert.is(bc.dup.relayed, bc.receiver.received, 'B relayed every member-2 packet it received');
    assert.is(t.streams[0].discarded + t.streams[0].passed + t.streams[0].rogue, t.counters.received);
    // 802.1CB's promise for TCP too: with the window covering the skew, no copy is rogue and only
    // the numbers both paths lost (about 1 %) are missing.
    assert.is(t.streams[0].rogue, 0, 'the window covers path 2\'s lag');
    assert.ok(t.streams[0].lost < 0.03 * t.streams[0].passed, `lost ${t.streams[0].lost} of ${t.streams[0].passed}: about 1 %`);
    assert.is(end.sessions[`${B}/90`].carrier_bypassed, 0, 'full-size TCP segments fit the 1600-byte paths with the 32 bytes around them');
    await l.r.stop();
  });
});

test.run();
