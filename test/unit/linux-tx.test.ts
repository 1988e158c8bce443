// LinuxPortDriver transmit, against tcpdump in the namespace at the other end of the veth.
// Frames enter the real data plane by a memory port, cross to the linux port (wire mode), and
// a sniff session replicates the UDP ones out of the same port. tcpdump must capture every
// original byte-identical (plain, 802.1Q, QinQ, ARP) in order, then the replicas (originals
// first within a transmit), each decapsulating to its original. A frame larger than the link's
// MTU is refused by the kernel, counted as txDropped (txRefused), and does not stop the frames
// after it. The driver's end is in a namespace of its own (the addon's netns option).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { portCounters, sessionCounters } from '../../firmware/runtime/counters.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { session } from '../fixtures/oracle.ts';
import { decapsulate, viewOriginal } from '../fixtures/decap.ts';
import { requireRoot, withLab } from '../net/netns.ts';

const FRAMES = scapyTable({
  udp: 'E()/IP(src=A, dst=B)/UDP(sport=1000, dport=2000)/pay(300)',
  tcp: 'E()/IP(src=A, dst=B)/TCP(sport=1000, dport=80, flags="PA")/pay(500, seed=2)',
  dot1q: 'E()/Dot1Q(vlan=33, prio=2)/IP(src=C, dst=D)/UDP(sport=5, dport=6)/pay(100, seed=3)',
  oversize: 'E()/IP(src=A, dst=B)/TCP(sport=1, dport=1)/pay(1600)',
  qinq: 'E()/Dot1AD(vlan=5)/Dot1Q(vlan=6)/IP(src=A, dst=D)/UDP(sport=7, dport=8)/pay(60, seed=4)',
  arp: 'Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff")/ARP(psrc=A, pdst=B, hwsrc=MAC_A)',
});
const SENT = ['udp', 'tcp', 'dot1q', 'oversize', 'qinq', 'arp'] as const;
const ORIGINALS = ['udp', 'tcp', 'dot1q', 'qinq', 'arp'] as const;
const REPLICATED = ['udp', 'dot1q', 'qinq'] as const;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('transmit: tcpdump captures originals byte-identical, then replicas; an oversize frame is refused and counted', async () => {
  requireRoot('linux-tx.test.ts');
  await withLab('tx', async (lab) => {
    const router = lab.netns('router');
    const peer = lab.netns('peer');
    const [mine, theirs] = lab.veth({ ns: router, tag: 'tx' }, { ns: peer, tag: 'rx' });
    const capture = await peer.capture(theirs.name);

    const linux = new LinuxPortDriver({ interface: mine.name, netns: router.path! });
    const memory = new MemoryPortDriver();
    const spec = simSpec({
      ports: [
        // The data plane's MTU is set above the link's, so the kernel is the one to refuse.
        { name: 'p0', crossConnect: 1, mtu: 9000, side: 'outside' },
        { name: 'p1', crossConnect: 0, mtu: 9000, side: 'inside' },
      ],
      frameSize: 9216,
    });
    const card = LineCard.create(spec, [{ name: 'p0', driver: linux }, { name: 'p1', driver: memory }]);
    let frames;
    let txBytes = 0;
    try {
      card.dp.publish(compileTables([session('udp', 0, { filter: 'udp', egressPort: 0 })]).bank.image);
      for (const k of SENT) memory.inject(FRAMES[k]);
      let guard = 0;
      while (!card.drained() && guard++ < 100) card.step(BigInt(guard) * 1000n);
      const c = card.driverCounters(0);
      assert.is(c.txPackets, ORIGINALS.length + REPLICATED.length);
      assert.is(c.txDropped, 1);
      assert.is(linux.drops.txRefused, 1);
      assert.match(linux.lastTxError, /EMSGSIZE/);
      txBytes = c.txBytes;
      const p1 = portCounters(card.dp, 1);
      assert.is(p1.rx_packets, SENT.length);
      assert.is(p1.forwarded, SENT.length);
      assert.is(sessionCounters(card.dp, 0).replicated, REPLICATED.length);
      // Let the last frames reach tcpdump before it stops.
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await card.close();
      frames = await capture.stop();
    }
    const got = frames.map((r) => r.data);
    assert.is(got.length, ORIGINALS.length + REPLICATED.length, `captured ${got.length}`);
    assert.is(txBytes, got.reduce((sum, f) => sum + f.length, 0), 'txBytes = bytes on the wire');
    assert.equal(got.slice(0, ORIGINALS.length).map(hex), ORIGINALS.map((k) => hex(FRAMES[k])));
    REPLICATED.forEach((k, i) => {
      const d = decapsulate(got[ORIGINALS.length + i]);
      const o = viewOriginal(FRAMES[k]);
      assert.is(hex(d.inner), hex(FRAMES[k].subarray(o.l3!, o.l3! + o.ipLength)), `replica ${i} carries ${k}`);
    });
  });
});

test.run();
