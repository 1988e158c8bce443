// `twinflow boot` with a `host` port: the sim board's simulated clients and servers, but the
// monitor port's medium is this machine's IP stack, so the demo session's replicas leave as
// real GRE to a device address on loopback. A raw protocol-47 socket bound to that address (the
// kernel's delivery, independent of the router) receives every replica the session counted,
// each a GRE-WCCP packet from the port's address whose inner packet is the sniffed client's.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { addon } from '../../hal/drivers/linux/native.ts';
import { BOARDS_DIR } from '../../firmware/runtime/board.ts';
import { decapsulate } from '../fixtures/decap.ts';
import { TWINFLOW } from '../fixtures/capture.ts';
import { requireRoot, withLab } from '../net/netns.ts';

const LOOPBACK = `127.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const ROUTER = `${LOOPBACK}.1`;
const DEVICE = `${LOOPBACK}.88`;
const CLIENT = '10.1.0.10';
const SLOT = 2048;
const BURST = 64;

test('boot: a host port delivers the demo session\'s replicas to a device on loopback as real GRE', async () => {
  requireRoot('linux-boot.test.ts');
  await withLab('boot', async (lab) => {
    const sim = JSON.parse(fs.readFileSync(path.join(BOARDS_DIR, 'sim.json'), 'utf8'));
    const monitor = sim.ports.find((p: { name: string }) => p.name === 'monitor');
    delete monitor.endpoint;
    Object.assign(monitor, { driver: 'host', ipv4: `${ROUTER}/8` });
    sim.name = 'sim-host';
    sim.demo = [{ name: 'sniff-client', mode: 'sniff', filter: `host ${CLIENT}`, port: 'monitor', device: DEVICE, deviceMac: '02:00:00:00:00:88', encap: 'gre' }];
    delete sim.$schema;
    const file = path.join(lab.tempDir(), 'sim-host.json');
    fs.writeFileSync(file, JSON.stringify(sim));

    const n = addon();
    const rx = n.openRawIpv4(47, DEVICE);
    const mem = new Uint8Array(SLOT * BURST);
    const addrs = Uint32Array.from({ length: BURST }, (_, i) => i * SLOT);
    const lens = new Uint32Array(BURST);
    const wire = new Uint32Array(BURST);
    const replicas: Uint8Array[] = [];
    const id = n.watch(rx, () => {
      const k = n.recvBurst(rx, mem, addrs, SLOT, lens, wire, BURST);
      for (let i = 0; i < k; i++) replicas.push(mem.slice(addrs[i], addrs[i] + lens[i]));
    });
    try {
      const child = spawn(process.execPath, [TWINFLOW, 'boot', '--board', file, '--demo', '--duration', '2', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(timer);
      assert.is(code, 0, err);
      await new Promise((r) => setTimeout(r, 100));
      const s = JSON.parse(out);
      assert.equal(s.violations, []);
      const session = s.sessions['sniff-client'];
      assert.ok(session.replicated > 50, `replicated ${session.replicated}`);
      assert.is(s.drivers.monitor.txPackets, session.replicated);
      assert.is(s.drivers.monitor.txDropped, 0);
      assert.is(replicas.length, session.replicated, 'every replica arrived');
      const ethernet = Uint8Array.from([2, 0, 0, 0, 0, 0x88, 2, 0x74, 0x66, 0, 0, 0x12, 0x08, 0x00]);
      for (const r of replicas) {
        const frame = new Uint8Array(ethernet.length + r.length);
        frame.set(ethernet);
        frame.set(r, ethernet.length);
        const d = decapsulate(frame);
        assert.is(d.kind, 'gre');
        const inner = d.inner;
        const src = inner.subarray(12, 16).join('.');
        const dst = inner.subarray(16, 20).join('.');
        assert.ok(src === CLIENT || dst === CLIENT, `inner ${src} → ${dst}`);
        assert.is(r.subarray(12, 16).join('.'), ROUTER);
        assert.is(r.subarray(16, 20).join('.'), DEVICE);
      }
    } finally {
      n.unwatch(id);
      n.close(rx);
    }
  });
});

test.run();
