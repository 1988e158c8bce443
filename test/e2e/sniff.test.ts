// sniff (seed Fig. 1–2) on real traffic: a client and a server in their own network namespaces,
// twinflow between them in a third (the linux board, AF_PACKET), a sniffer host reachable through
// another router port running `twinflow peer`. A real HTTP download (curl against Python's
// http.server) of a file with a known checksum:
//   - the download completes with the right checksum (the originals are untouched);
//   - the sniffer's pcapng holds both directions of that connection and nothing else, and its
//     packets are exactly the ones tcpdump saw on the client's and on the server's interface;
//   - a session configured before its sniffer connects delivers what matched in between;
//   - when the sniffer stops sending keepalives, replication stops at removal time (30 s) and the
//     download in flight is not disturbed.
// Needs root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { requireRoot, withLab, type Background, type NetLab } from '../net/netns.ts';
import { readCaptureBuffer } from '../../hal/drivers/pcap/format/index.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';
import { startRouter, type RunningRouter } from './topology.ts';

const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';
const ROUTER = '192.0.2.1';
const SNIFFER = '192.0.2.2';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function topology(lab: NetLab, sessions: unknown[] = []): Promise<RunningRouter> {
  return startRouter(lab, {
    ports: [
      { name: 'lan', side: 'inside', crossConnect: 'wan', host: { tag: 'client', ipv4: `${CLIENT}/24` } },
      { name: 'wan', side: 'outside', crossConnect: 'lan', host: { tag: 'server', ipv4: `${SERVER}/24` } },
      // The sniffer's link carries GRE around full-size originals: 1500 + 28 bytes of IPv4+GRE.
      { name: 'mon', side: 'inside', routerIpv4: `${ROUTER}/24`, mtu: 1600, host: { tag: 'sniffer', ipv4: `${SNIFFER}/24` } },
    ],
    config: {
      wccp: { address: ROUTER },
      services: [{ id: 90, type: 'dynamic', allow: ['192.0.2.0/24'] }],
      sessions,
    },
  });
}

/** A file of `bytes` random bytes served by Python's http.server on SERVER:port. */
async function serve(lab: NetLab, r: RunningRouter, port: number, bytes: number): Promise<{ name: string; digest: string; server: Background }> {
  const root = path.join(lab.tempDir(), `www-${port}`);
  fs.mkdirSync(root, { recursive: true });
  const data = randomBytes(bytes);
  fs.writeFileSync(path.join(root, 'file.bin'), data);
  const server = r.hosts.server.ns.spawn(['/usr/bin/python3', '-m', 'http.server', String(port), '--bind', SERVER, '--directory', root]);
  await server.waitFor(/Serving HTTP/, 20_000);
  return { name: 'file.bin', digest: sha(data), server };
}

function peer(r: RunningRouter, out: string, match: string, extra: string[] = []): Background {
  return r.hosts.sniffer.ns.spawn([process.execPath, TWINFLOW_BIN, 'peer', '--router', ROUTER, '--address', SNIFFER, '--match', match, '--out', out, ...extra], { stopSignal: 'SIGINT' });
}

async function download(r: RunningRouter, port: number, name: string, out: string, extra: string[] = []): Promise<string> {
  await r.hosts.client.ns.run(['curl', '-sS', '--max-time', '120', '-o', out, ...extra, `http://${SERVER}:${port}/${name}`], { timeoutMs: 130_000 });
  return sha(fs.readFileSync(out));
}

/** IP packets of a pcap (Ethernet) capture, or of the peer's pcapng (raw IP). */
function ipPackets(records: ReadonlyArray<{ data: Uint8Array }>, ethernet: boolean): Uint8Array[] {
  return records.map((r) => {
    const ip = ethernet ? r.data.subarray(14) : r.data;
    return ip.subarray(0, (ip[2] << 8) | ip[3]);
  });
}

const tcpPort = (ip: Uint8Array): [number, number] | null => {
  if (ip[9] !== 6) return null;
  const l4 = (ip[0] & 15) * 4;
  return [(ip[l4] << 8) | ip[l4 + 1], (ip[l4 + 2] << 8) | ip[l4 + 3]];
};
const onPort = (port: number) => (ip: Uint8Array): boolean => { const p = tcpPort(ip); return p !== null && (p[0] === port || p[1] === port); };
const sorted = (packets: readonly Uint8Array[]): string[] => packets.map((p) => Buffer.from(p).toString('hex')).sort();

/** Prints a test's figures (docs/jobs.md reports them). */
function report(run: string, figures: unknown): void {
  process.stdout.write(`\nsniff figures, ${run}: ${JSON.stringify(figures)}\n`);
}

test('sniff: a real download, both directions replicated, exactly what the client and the server saw', async () => {
  requireRoot('sniff.test.ts');
  await withLab('sniff', async (lab) => {
    const r = await topology(lab);
    const web = await serve(lab, r, 8080, 2 << 20);
    const atClient = await r.hosts.client.ns.capture(r.hosts.client.link.name, { direction: 'inout' });
    const atServer = await r.hosts.server.ns.capture(r.hosts.server.link.name, { direction: 'inout' });
    const out = path.join(lab.tempDir(), 'sniffer.pcapng');
    const sniffer = peer(r, out, `tcp port 8080 and host ${CLIENT} and host ${SERVER}`);
    await sniffer.waitFor(/router 192\.0\.2\.1: usable/, 30_000);
    // Other traffic between the same hosts, which the sniffer did not ask for.
    await r.hosts.client.ns.run(['ping', '-c', '3', '-i', '0.2', SERVER], { timeoutMs: 20_000 });
    const digest = await download(r, 8080, web.name, path.join(lab.tempDir(), 'got.bin'));
    assert.is(digest, web.digest, 'the download arrived intact through the router');
    await new Promise((res) => setTimeout(res, 500));
    await sniffer.stop();
    const client = ipPackets(await atClient.stop(), true);
    const server = ipPackets(await atServer.stop(), true);

    const sniffed = readCaptureBuffer(fs.readFileSync(out), { copy: true });
    const replicas = ipPackets(sniffed, false);
    assert.ok(replicas.length > 1000, `${replicas.length} replicas`);
    assert.ok(replicas.every(onPort(8080)), 'nothing but the connection');
    const fromClient = replicas.filter((p) => p.subarray(12, 16).join('.') === CLIENT).length;
    const fromServer = replicas.filter((p) => p.subarray(12, 16).join('.') === SERVER).length;
    assert.ok(fromClient > 100 && fromServer > 1000, `both directions: ${fromClient} from the client, ${fromServer} from the server`);
    assert.equal(sorted(replicas), sorted(client.filter(onPort(8080))), 'the replicas are exactly the packets the client saw');
    assert.equal(sorted(replicas), sorted(server.filter(onPort(8080))), '…and exactly the packets the server saw');
    assert.ok(sniffed.every((p) => p.direction === (p.data.subarray(12, 16).join('.') === CLIENT ? 'outbound' : 'inbound')), 'directions recorded');
    const c = await r.ctl('counters') as { ports: Record<string, Record<string, number>>; sessions: Record<string, Record<string, number>> };
    for (const p of ['lan', 'wan']) assert.is(c.ports[p].dropped_tx_full, 0);
    const s = c.sessions[`${SNIFFER}/90`];
    assert.is(s.matched, s.replicated, JSON.stringify(s));
    report('download', { bytes: 2 << 20, replicas: replicas.length, fromClient, fromServer, atClient: client.filter(onPort(8080)).length, session: { matched: s.matched, replicated: s.replicated, truncated: s.truncated } });
    await r.stop();
    await web.server.stop();
  });
});

test('a session configured before its sniffer connects delivers the packets that matched in between', async () => {
  requireRoot('sniff.test.ts');
  await withLab('sniff-hold', async (lab) => {
    const r = await topology(lab, [{ name: 'early', mode: 'sniff', filter: 'tcp port 8081', device: SNIFFER, requireRegistration: true }]);
    const web = await serve(lab, r, 8081, 16 << 10);
    const atClient = await r.hosts.client.ns.capture(r.hosts.client.link.name, { direction: 'inout', filter: ['tcp', 'port', '8081'] });
    assert.is(await download(r, 8081, web.name, path.join(lab.tempDir(), 'got.bin')), web.digest);
    const before = ipPackets(await atClient.stop(), true);
    const held = (await r.ctl('sessions') as Array<{ name: string; state: string; counters: Record<string, number> }>).find((s) => s.name === 'early')!;
    assert.is(held.state, 'holding');
    assert.is(held.counters.held, before.length, 'every packet of the download is held');
    const out = path.join(lab.tempDir(), 'late.pcapng');
    const sniffer = peer(r, out, 'tcp port 8081', ['--count', String(before.length), '--duration', '60']);
    assert.equal((await sniffer.wait(70_000)).status, 0, sniffer.stderr);
    assert.equal(sorted(ipPackets(readCaptureBuffer(fs.readFileSync(out), { copy: true }), false)), sorted(before), 'the held packets, delivered once the device registered');
    report('held before registration', { bytes: 16 << 10, held: held.counters.held });
    await r.stop();
    await web.server.stop();
  });
});

test('a sniffer that stops its keepalives loses its session at removal time; the download in flight goes on', async () => {
  requireRoot('sniff.test.ts');
  await withLab('sniff-removal', async (lab) => {
    const r = await topology(lab);
    const web = await serve(lab, r, 8082, 4 << 20);
    const out = path.join(lab.tempDir(), 'gone.pcapng');
    const sniffer = peer(r, out, 'tcp port 8082');
    await sniffer.waitFor(/router 192\.0\.2\.1: usable/, 30_000);
    const gre = await r.hosts.sniffer.ns.capture(r.hosts.sniffer.link.name, { filter: ['ip', 'proto', '47'] });
    // About 45 s at 100 KB/s: it outlives the removal.
    const got = download(r, 8082, web.name, path.join(lab.tempDir(), 'got.bin'), ['--limit-rate', '100K']);
    await new Promise((res) => setTimeout(res, 3000));
    sniffer.killNow();
    const killedAt = Date.now();
    assert.is(await got, web.digest, 'the download completed intact');
    const records = await gre.stop();
    const lastGreMs = Number(records[records.length - 1].tsNs / 1_000_000n);
    const afterKill = (lastGreMs - killedAt) / 1000;
    assert.ok(records.length > 100, `${records.length} replicas arrived before`);
    assert.ok(afterKill > 15 && afterKill < 34, `replication stopped ${afterKill.toFixed(1)} s after the last keepalive (removal at 30 s of silence; the last HERE_I_AM was up to 10 s before the kill)`);
    const sessions = await r.ctl('sessions') as unknown[];
    assert.equal(sessions, [], 'the session ended with the device');
    report('removal', { replicasBeforeRemoval: records.length, lastReplicaAfterKillS: Number(afterKill.toFixed(1)) });
    await r.stop();
    await web.server.stop();
  });
});

test.run();
