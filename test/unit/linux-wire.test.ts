// A two-port wire-mode router on real interfaces: namespaces A and B share a subnet, and the
// only path between them is a LineCard in namespace R with two LinuxPortDrivers cross-connected
// (simSpec's wire mode). The Linux kernels at both ends are the oracles: a real `ping` gets its
// replies, and a real TCP transfer (curl from A, Python's http.server in B) delivers a
// megabyte whose SHA-256 matches. The router's counters conserve and it lost nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { portCounters } from '../../firmware/runtime/counters.ts';
import { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';
import { requireRoot, withLab } from '../net/netns.ts';
import { CardLoop } from '../net/card-loop.ts';

const ADDRESS_A = '10.77.0.1';
const ADDRESS_B = '10.77.0.2';
const HTTP_PORT = 8080;
const BLOB_BYTES = 1 << 20;

test('wire mode over two real interfaces: ping and a TCP transfer between namespaces', async () => {
  requireRoot('linux-wire.test.ts');
  await withLab('wire', async (lab) => {
    const a = lab.netns('a');
    const b = lab.netns('b');
    const r = lab.netns('router');
    const [la, ra] = lab.veth({ ns: a, tag: 'a' }, { ns: r, tag: 'ra' });
    const [rb, lb] = lab.veth({ ns: r, tag: 'rb' }, { ns: b, tag: 'b' });
    for (const l of [la, ra, rb, lb]) l.noOffloads();
    la.addAddress(`${ADDRESS_A}/24`);
    lb.addAddress(`${ADDRESS_B}/24`);

    const portA = new LinuxPortDriver({ interface: ra.name, netns: r.path! });
    const portB = new LinuxPortDriver({ interface: rb.name, netns: r.path! });
    const spec = simSpec({
      ports: [
        { name: 'a', crossConnect: 1, mtu: 1500, side: 'inside' },
        { name: 'b', crossConnect: 0, mtu: 1500, side: 'outside' },
      ],
      frameSize: 2048,
    });
    const card = LineCard.create(spec, [{ name: 'a', driver: portA }, { name: 'b', driver: portB }]);
    const loop = new CardLoop(card, [portA, portB]).start();
    try {
      const ping = await a.run(['ping', '-c', '5', '-i', '0.2', '-W', '2', ADDRESS_B], { timeoutMs: 20_000, allowFailure: true });
      assert.match(ping.stdout, /5 packets transmitted, 5 received/, ping.stdout + ping.stderr);

      const www = path.join(lab.tempDir(), 'www');
      fs.mkdirSync(www);
      const blob = crypto.randomBytes(BLOB_BYTES);
      fs.writeFileSync(path.join(www, 'blob'), blob);
      const server = b.spawn(['/usr/bin/python3', '-u', '-m', 'http.server', String(HTTP_PORT), '--bind', ADDRESS_B, '--directory', www]);
      await server.waitFor(/Serving HTTP/);
      const out = path.join(lab.tempDir(), 'fetched');
      await a.run(['curl', '-sS', '--max-time', '30', '-o', out, `http://${ADDRESS_B}:${HTTP_PORT}/blob`], { timeoutMs: 40_000 });
      const sha = (buf: Buffer): string => crypto.createHash('sha256').update(buf).digest('hex');
      assert.is(sha(fs.readFileSync(out)), sha(blob), 'the transfer arrived intact');
      await server.stop();

      loop.stop();
      for (const d of [portA, portB]) d.refreshCounters();
      for (let p = 0; p < 2; p++) {
        const c = portCounters(card.dp, p);
        const d = card.driverCounters(p);
        assert.is(c.forwarded, c.rx_packets, `port ${p}: every frame forwarded`);
        assert.is(d.rxErrors, 0, `port ${p}: no oversize frame (offloads are off)`);
        assert.is(d.rxMissed, 0, `port ${p}: nothing lost in the kernel`);
        assert.is(d.txDropped, 0, `port ${p}: nothing refused`);
        assert.is([portA, portB][p].rxChecksumPartial, 0, `port ${p}: every checksum computed (offloads are off)`);
        assert.is(card.driverCounters(1 - p).txPackets, c.forwarded, `port ${p}'s frames all left by the other port`);
      }
      assert.ok(portCounters(card.dp, 1).rx_packets > BLOB_BYTES / 1500, 'the data crossed the router');
    } finally {
      loop.stop();
      await card.close();
    }
  });
});

test.run();
