// `twinflow peer` against a configured router on the sim board, over loopback: the router is
// `twinflow boot --board sim --config FILE` (a real process: WCCP on UDP 2048, the management
// port, a pcapng tap on the lan port); the peers are real `twinflow peer` processes that register
// over WCCP, receive real GRE/ERSPAN through the sim board's uplink port and write pcapng.
// Checked: the peers' captures are read by tshark without malformed packets; every replica equals
// an original the router forwarded (the lan tap saw it), byte for byte; ERSPAN's sequence shows
// nothing lost; directions and ingress ports are recorded; a session configured before its device
// connects delivers the packets that matched in between (held, then released first); ctl and the
// metrics endpoint see the sessions. Needs root (raw sockets).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { requireRoot } from '../net/netns.ts';
import { makeTempDir, removeTempDir, tshark } from '../fixtures/capture.ts';
import { startTwinflow, type Running } from '../fixtures/process.ts';
import { readCaptureBuffer } from '../../hal/drivers/pcap/format/index.ts';
import { generateKeyFile } from '../../firmware/shell/mgmt/keyfile.ts';

const ROUTER = '127.0.0.1';
const MGMT_PORT = 20000 + (process.pid % 20000);
const METRICS_PORT = MGMT_PORT + 1;
const STARTUP_MS = 20_000;
const hash = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function multiset(frames: Iterable<Uint8Array>): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of frames) m.set(hash(f), (m.get(hash(f)) ?? 0) + 1);
  return m;
}

/** The IP packet of an Ethernet frame (no padding). */
function ipOf(frame: Uint8Array): Uint8Array {
  let l3 = 14;
  let type = (frame[12] << 8) | frame[13];
  while (type === 0x8100 || type === 0x88a8) { type = (frame[l3 + 2] << 8) | frame[l3 + 3]; l3 += 4; }
  const len = type === 0x0800 ? (frame[l3 + 2] << 8) | frame[l3 + 3] : 40 + ((frame[l3 + 4] << 8) | frame[l3 + 5]);
  return frame.subarray(l3, l3 + len);
}

/** Addresses, protocol, IP ID and length of a replica, for a failure message. */
function describe(data: Uint8Array, kind: 'ip' | 'eth'): string {
  const ip = kind === 'ip' ? data : ipOf(data);
  return `${ip.subarray(12, 16).join('.')} > ${ip.subarray(16, 20).join('.')} proto ${ip[9]} id ${(ip[4]! << 8) | ip[5]!} len ${ip.length}: ${Buffer.from(ip.subarray(0, 48)).toString('hex')}`;
}

test('peers register over WCCP, receive real GRE and ERSPAN from the sim board, and write what the router forwarded', async () => {
  requireRoot('peer-sim.test.ts');
  const dir = makeTempDir('peer-sim');
  const procs: Running[] = [];
  try {
    generateKeyFile(path.join(dir, 'mgmt.key'));
    fs.writeFileSync(path.join(dir, 'router.json'), JSON.stringify({
      wccp: { address: ROUTER, port: 2048 },
      services: [{ id: 90, type: 'dynamic', allow: ['127.0.0.0/8'] }],
      sessions: [{ name: 'early', mode: 'sniff', filter: 'host 10.1.0.11', device: '127.0.0.4', encap: 'erspan3', requireRegistration: true }],
      management: { address: ROUTER, port: MGMT_PORT, keyFile: 'mgmt.key', metrics: { address: ROUTER, port: METRICS_PORT } },
    }));
    const lanTrace = path.join(dir, 'lan.pcapng');
    const router = startTwinflow(['boot', '--board', 'sim', '--config', path.join(dir, 'router.json'), '--trace', `lan=${lanTrace}`, '--duration', '120']);
    procs.push(router);
    await router.waitFor(/router up: WCCP 127\.0\.0\.1:2048\/udp, management 127\.0\.0\.1:\d+/, STARTUP_MS);
    // Let the held session collect while its device is away.
    await new Promise((r) => setTimeout(r, 1500));

    const peer = (address: string, encap: string, match: string, out: string): Running => {
      const p = startTwinflow(['peer', '--router', ROUTER, '--address', address, '--match', match, '--encap', encap, '--out', path.join(dir, out), '--count', '200', '--duration', '60', '--json']);
      procs.push(p);
      return p;
    };
    const gre = peer('127.0.0.2', 'gre', 'host 10.1.0.10', 'gre.pcapng');
    const erspan = peer('127.0.0.3', 'erspan2', 'host 10.1.0.10', 'erspan.pcapng');
    const early = startTwinflow(['peer', '--router', ROUTER, '--address', '127.0.0.4', '--match', 'host 10.1.0.11', '--encap', 'erspan3', '--out', path.join(dir, 'early.pcapng'), '--count', '100', '--duration', '60', '--json']);
    procs.push(early);
    for (const p of [gre, erspan, early]) assert.is(await p.exited(90_000), 0, p.stderr);

    const ctl = startTwinflow(['ctl', '--connect', `${ROUTER}:${MGMT_PORT}`, '--key', path.join(dir, 'mgmt.key'), 'sessions', '--json']);
    assert.is(await ctl.exited(30_000), 0, ctl.stderr);
    const sessions = JSON.parse(ctl.stdout) as Array<{ name: string; origin: string; state: string; port: string }>;
    // The third peer asked for exactly what the configured session sends it: it got that session.
    assert.equal(sessions.map((s) => [s.name, s.origin, s.state, s.port]).sort(), [
      ['127.0.0.2/90', 'registration', 'active', 'uplink'], ['127.0.0.3/90', 'registration', 'active', 'uplink'], ['early', 'static', 'active', 'uplink'],
    ]);
    const counters = startTwinflow(['ctl', '--connect', `${ROUTER}:${MGMT_PORT}`, '--key', path.join(dir, 'mgmt.key'), 'counters', '--json']);
    assert.is(await counters.exited(30_000), 0, counters.stderr);
    const ports = (JSON.parse(counters.stdout) as { ports: Record<string, Record<string, number>> }).ports;
    const metrics = await (await fetch(`http://${ROUTER}:${METRICS_PORT}/metrics`)).text();
    assert.match(metrics, /twinflow_session_matched_total\{session="127\.0\.0\.2\/90"\} [1-9]/);
    assert.is(await router.stop('SIGINT', 30_000), 0, router.stderr);

    // What the router forwarded on lan, both directions (the tap), and the peers' captures.
    const lan = readCaptureBuffer(fs.readFileSync(lanTrace), { copy: true }).map((p) => p.data);
    const lanFrames = multiset(lan);
    const lanPackets = multiset(lan.map(ipOf));
    for (const [file, kind] of [['gre.pcapng', 'ip'], ['erspan.pcapng', 'eth'], ['early.pcapng', 'eth']] as const) {
      const t = tshark(['-r', path.join(dir, file), '--disable-protocol', 'dns', '-q', '-z', 'expert,warn']);
      assert.is(t.status, 0, t.stderr);
      assert.not.match(t.stdout, /Malformed|Error/, `${file}: ${t.stdout}`);
      const packets = readCaptureBuffer(fs.readFileSync(path.join(dir, file)), { copy: true });
      assert.ok(packets.length >= 100, `${file}: ${packets.length} replicas`);
      const pool = kind === 'ip' ? new Map(lanPackets) : new Map(lanFrames);
      for (const p of packets) {
        const h = hash(p.data);
        const left = pool.get(h) ?? 0;
        assert.ok(left > 0, `${file}: a replica that is no original the router forwarded on lan: ${describe(p.data, kind)} (${p.comment}, ${p.direction}); lan ${lan.length} frames; ports ${JSON.stringify(ports)}`);
        pool.set(h, left - 1);
        const src = kind === 'ip' ? p.data.subarray(12, 16) : p.data.subarray(26, 30);
        const fromClient = src.join('.').startsWith('10.1.0.');
        if (p.linkType === 1 && file === 'early.pcapng') continue; // ERSPAN III carries the direction, not the port
        assert.is(p.comment, fromClient ? 'router port 0' : 'router port 1', `${file}: ingress port`);
      }
      for (const p of packets) {
        const src = kind === 'ip' ? p.data.subarray(12, 16) : p.data.subarray(26, 30);
        assert.is(p.direction, src.join('.').startsWith('10.1.0.') ? 'outbound' : 'inbound', `${file}: direction`);
      }
    }
    const stats = JSON.parse(erspan.stdout) as { receiver: Record<string, number> };
    assert.equal([stats.receiver.lost, stats.receiver.reordered, stats.receiver.malformed, stats.receiver.not_from_router, stats.receiver.not_for_us], [0, 0, 0, 0, 0]);
    // Each peer received only its own session's encapsulation (the three share this host's GRE).
    const greStats = (JSON.parse(gre.stdout) as { receiver: Record<string, number> }).receiver;
    assert.equal([greStats.received, greStats.erspan2, greStats.erspan3, greStats.not_for_us], [greStats.gre_wccp, 0, 0, 0], `gre peer: ${JSON.stringify(greStats)}`);

    // The held session: its first replicas are from before its device registered — the first
    // packet the router forwarded for 10.1.0.11 is among them.
    const firstMatch = lan.find((f) => { const ip = ipOf(f); return ip.subarray(12, 16).join('.') === '10.1.0.11' || ip.subarray(16, 20).join('.') === '10.1.0.11'; })!;
    const earlyFrames = readCaptureBuffer(fs.readFileSync(path.join(dir, 'early.pcapng')), { copy: true }).map((p) => hash(p.data));
    assert.ok(earlyFrames.slice(0, 64).includes(hash(firstMatch)), 'the packet that matched before the device registered was delivered');
  } finally {
    for (const p of procs) await p.stop('SIGKILL', 5000);
    removeTempDir(dir);
  }
});

test.run();
