// LinuxPortDriver receive, against frames scapy puts on a veth from inside a namespace: plain,
// 802.1Q (with a priority tag and a zero TCI among them), QinQ (802.1ad outer tag), ARP, IPv6,
// runt-sized. Each arrives in the real data plane (LineCard, wire mode to a memory port) and
// leaves byte-identical, tags included, in both receive modes (mmap ring, recvmmsg). A frame
// longer than a data-plane frame is counted as rxErrors, never forwarded cut. The driver's end
// lives in the test's own namespace; the sender in a namespace of its own.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { portCounters } from '../../firmware/runtime/counters.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { requireRoot, withLab } from '../net/netns.ts';
import { CardLoop, waitUntil } from '../net/card-loop.ts';
import { scapySend } from '../net/scapy-send.ts';

const FRAME_SIZE = 2048;
/** The veth MTU: large enough to carry the jumbo frame to the driver. */
const LINK_MTU = 4000;

const FRAMES = scapyTable({
  plain: 'E()/IP(src=A, dst=B)/UDP(sport=1234, dport=5678)/pay(100)',
  dot1q: 'E()/Dot1Q(vlan=100, prio=3)/IP(src=A, dst=B)/TCP(sport=40000, dport=80, flags="S")/pay(40)',
  priorityTag: 'E()/Dot1Q(vlan=0, prio=5)/IP(src=A, dst=C)/UDP(sport=53, dport=53)/pay(30)',
  zeroTci: 'E()/Dot1Q(vlan=0, prio=0)/IP(src=A, dst=D)/UDP(sport=9, dport=9)/pay(30)',
  qinq: 'E()/Dot1AD(vlan=200)/Dot1Q(vlan=300)/IP(src=C, dst=D)/ICMP()/pay(64)',
  arp: 'Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff")/ARP(hwsrc=MAC_A, psrc=A, pdst=B)',
  ipv6: 'E()/IPv6(src=A6, dst=B6)/UDP(sport=1, dport=2)/pay(20)',
  runt: 'E()/IP(src=A, dst=B, proto=253)',
  fullSize: 'E()/Dot1Q(vlan=7)/IP(src=A, dst=B)/UDP(sport=7, dport=7)/pay(1472)',
  jumbo: 'E()/IP(src=A, dst=B)/UDP(sport=5, dport=5)/pay(2500)',
});
const DELIVERED = ['plain', 'dot1q', 'priorityTag', 'zeroTci', 'qinq', 'arp', 'ipv6', 'runt', 'fullSize'] as const;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

for (const ring of [true, false]) {
  test(`receive (${ring ? 'mmap ring' : 'recvmmsg'}): scapy frames arrive byte-identical, tags restored; a jumbo is an rxError`, async () => {
    requireRoot('linux-rx.test.ts');
    await withLab('rx', async (lab) => {
      const peer = lab.netns('peer');
      const [mine, theirs] = lab.veth({ tag: 'rx' }, { ns: peer, tag: 'tx' }, { up: false });
      mine.mtu(LINK_MTU).up();
      theirs.mtu(LINK_MTU).up();

      const linux = new LinuxPortDriver({ interface: mine.name, ring });
      const memory = new MemoryPortDriver();
      const spec = simSpec({
        ports: [
          { name: 'p0', crossConnect: 1, mtu: LINK_MTU, side: 'inside' },
          { name: 'p1', crossConnect: 0, mtu: LINK_MTU, side: 'outside' },
        ],
        frameSize: FRAME_SIZE,
      });
      const card = LineCard.create(spec, [{ name: 'p0', driver: linux }, { name: 'p1', driver: memory }]);
      const loop = new CardLoop(card, [linux]).start();
      try {
        const order = [...DELIVERED.slice(0, 5), 'jumbo', ...DELIVERED.slice(5)] as const;
        await scapySend(peer, theirs.name, order.map((k) => FRAMES[k]));
        await waitUntil(() => memory.sent.length >= DELIVERED.length && linux.drops.rxTooLong >= 1, 10_000,
          () => `${DELIVERED.length} frames (got ${memory.sent.length}, rxErrors ${card.driverCounters(0).rxErrors})`);
        loop.stop();
        assert.equal(memory.sent.map((s) => hex(s.bytes)), DELIVERED.map((k) => hex(FRAMES[k])));
        const c = card.driverCounters(0);
        assert.is(c.rxErrors, 1, 'the jumbo frame');
        linux.refreshCounters();
        assert.is(c.rxMissed, 0);
        const p0 = portCounters(card.dp, 0);
        assert.is(p0.rx_packets, DELIVERED.length);
        assert.is(p0.forwarded, DELIVERED.length);
        assert.is(memory.sent[1].desc.len, FRAMES.dot1q.length);
        assert.is(memory.sent[1].desc.origLen, FRAMES.dot1q.length);
      } finally {
        loop.stop();
        await card.close();
      }
      assert.is(linux.socket, -1, 'close() closed the socket');
    });
  });
}

test('receive: frames left while the rx ring is full stay in the kernel ring; its overflow is rxMissed', async () => {
  requireRoot('linux-rx.test.ts');
  await withLab('rxfull', async (lab) => {
    const peer = lab.netns('peer');
    const [mine, theirs] = lab.veth({ tag: 'rx' }, { ns: peer, tag: 'tx' });
    const linux = new LinuxPortDriver({ interface: mine.name, ringFrames: 16 });
    const memory = new MemoryPortDriver();
    const spec = simSpec({
      ports: [
        { name: 'p0', crossConnect: 1, mtu: 1500, side: 'inside' },
        { name: 'p1', crossConnect: 0, mtu: 1500, side: 'outside' },
      ],
      frameSize: FRAME_SIZE,
      rxRing: 64,
    });
    const card = LineCard.create(spec, [{ name: 'p0', driver: linux }, { name: 'p1', driver: memory }]);
    try {
      const sent = 200;
      // Nobody polls while scapy sends: the kernel ring (one 64 KiB block, 30 frames) overflows.
      await scapySend(peer, theirs.name, Array.from({ length: sent }, () => FRAMES.plain));
      let idle = 0;
      for (let now = 1n; idle < 3; now++) idle = card.step(now * 1000n) === 0 ? idle + 1 : 0;
      linux.refreshCounters();
      const c = card.driverCounters(0);
      assert.ok(c.rxMissed > 0, 'the kernel dropped frames');
      assert.is(memory.sent.length + c.rxMissed, sent, `delivered ${memory.sent.length} + missed ${c.rxMissed}`);
      assert.is(linux.drops.kernel, c.rxMissed);
      for (const s of memory.sent) assert.is(hex(s.bytes), hex(FRAMES.plain));
    } finally {
      await card.close();
    }
  });
});

test.run();
