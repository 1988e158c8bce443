// Measures (does not assert) the packet rates of one LinuxPortDriver over a veth pair, and
// prints them: receive (mmap ring and recvmmsg) from a generator process blasting 60-byte
// frames in another namespace, sustained (bounded by what the kernel's veth path delivers) and
// draining a full queue (the driver's own capacity), and transmit of 60-byte frames placed
// straight on the port's originals ring. The driver alone is measured: received frames are released without the data
// plane, transmitted frames never pass through it. The figures depend on a shared, noisy
// machine (two cores); the only assertions are that frames moved and were all accounted for.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { writeRxDescriptor } from '../../hal/descriptor.ts';
import { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { ROOT } from '../fixtures/capture.ts';
import { requireRoot, withLab, type NetLab } from '../net/netns.ts';

const WINDOW_NS = 1_000_000_000n;
/** An EtherType no protocol handles (IEEE local experimental): the far kernel drops it at once. */
const FRAME = scapyTable({ f: 'Ether(src=MAC_A, dst=MAC_B, type=0x88b5)/pay(46)' }).f;
/** Frames the drain measurement queues: the ring (or receive buffer) holds them all. */
const QUEUED = 16384;
const mpps = (packets: number, ns: bigint): string => (packets / (Number(ns) / 1e9) / 1e6).toFixed(3);

function oneLinuxPort(linux: LinuxPortDriver): LineCard {
  const spec = simSpec({ ports: [{ name: 'p0', crossConnect: null, mtu: 1500, side: 'inside' }], frameSize: 2048, rxRing: 1024, txRing: 1024, rxFrames: 4096 });
  return LineCard.create(spec, [{ name: 'p0', driver: linux }]);
}

function topology(lab: NetLab) {
  const router = lab.netns('router');
  const peer = lab.netns('peer');
  const [mine, theirs] = lab.veth({ ns: router, tag: 'r' }, { ns: peer, tag: 'p' });
  return { router, peer, mine, theirs };
}

const results: string[] = [];

/** Receives and releases (no data plane) until the driver delivers nothing `idle` calls running. */
function drain(linux: LinuxPortDriver, card: LineCard, t0: bigint, until: bigint, idle = Infinity): number {
  const port = card.ports[0];
  let delivered = 0;
  let quiet = 0;
  for (let now = process.hrtime.bigint() - t0; now < until && quiet < idle; now = process.hrtime.bigint() - t0) {
    const n = linux.receive(now);
    delivered += n;
    quiet = n === 0 ? quiet + 1 : 0;
    const k = port.rx.peek(port.rx.capacity);
    for (let i = 0; i < k; i++) port.frames.release(port.rx.consSlot(i));
    port.rx.release(k);
  }
  return delivered;
}

const blastArgs = (iface: string, mode: 'seconds' | 'count', value: number): string[] =>
  [process.execPath, '--import', 'tsx', `${ROOT}/test/net/blast.ts`, iface, mode, String(value), Buffer.from(FRAME).toString('hex')];

for (const ring of [true, false]) {
  const mode = ring ? 'mmap ring' : 'recvmmsg';
  test(`rate: receive (${mode}), 60-byte frames: sustained from a generator, and draining a full queue`, async () => {
    requireRoot('linux-rate.test.ts');
    await withLab('rxrate', async (lab) => {
      const { router, peer, mine, theirs } = topology(lab);
      const linux = new LinuxPortDriver({ interface: mine.name, netns: router.path!, ring, ringFrames: QUEUED, bufferBytes: 64 << 20 });
      const card = oneLinuxPort(linux);
      const port = card.ports[0];
      try {
        // Sustained: the generator runs for 2 s; the driver receives for 1 s inside that.
        const blast = peer.spawn(blastArgs(theirs.name, 'seconds', 2));
        await blast.waitFor(/ready/);
        const t0 = process.hrtime.bigint();
        const delivered = drain(linux, card, t0, WINDOW_NS);
        const elapsed = process.hrtime.bigint() - t0;
        linux.refreshCounters();
        const missed = port.counters.rxMissed;
        await blast.wait(10_000);
        drain(linux, card, t0, process.hrtime.bigint() - t0 + WINDOW_NS, 1000);
        const sent = Number(/sent (\d+)/.exec(blast.stdout)?.[1] ?? 0);
        results.push(`rx ${mode.padEnd(9)} sustained: ${mpps(delivered, elapsed)} Mpps (${delivered} in ${(Number(elapsed) / 1e6).toFixed(0)} ms, kernel drops ${missed}; the generator sent ${sent} in 2 s, what the veth could not carry never reached the socket)`);
        assert.ok(delivered > 0);

        // Drain: the queue is filled while nobody reads, then emptied as fast as the driver can.
        const fill = peer.spawn(blastArgs(theirs.name, 'count', QUEUED));
        await fill.wait(20_000);
        await new Promise((r) => setTimeout(r, 200));
        const t1 = process.hrtime.bigint();
        const queued = drain(linux, card, t1, 10n * WINDOW_NS, 100);
        const took = process.hrtime.bigint() - t1;
        results.push(`rx ${mode.padEnd(9)} drain    : ${mpps(queued, took)} Mpps (${queued} queued frames in ${(Number(took) / 1e6).toFixed(1)} ms)`);
        assert.ok(queued > 0);
      } finally {
        await card.close();
      }
    });
  });
}

test('rate: transmit, 60-byte frames', async () => {
  requireRoot('linux-rate.test.ts');
  await withLab('txrate', async (lab) => {
    const { router, mine } = topology(lab);
    const linux = new LinuxPortDriver({ interface: mine.name, netns: router.path! });
    const card = oneLinuxPort(linux);
    const port = card.ports[0];
    try {
      const t0 = process.hrtime.bigint();
      let offered = 0;
      let now = 0n;
      for (; now < WINDOW_NS; now = process.hrtime.bigint() - t0) {
        const ring = port.txOriginals;
        const k = ring.reserve(256);
        let placed = 0;
        for (; placed < k; placed++) {
          const index = port.frames.takeRx();
          if (index < 0) break;
          const data = port.frames.data(index);
          port.mem.set(FRAME, data);
          writeRxDescriptor(port.dv, ring.prodSlot(placed), index, data, FRAME.length, FRAME.length, 0, now);
        }
        ring.submit(placed);
        offered += placed;
        linux.transmit(now);
      }
      const c = port.counters;
      assert.is(c.txPackets + c.txDropped, offered, 'every frame offered is sent or counted');
      results.push(`tx         : ${mpps(c.txPackets, now)} Mpps sent (${c.txPackets} in ${(Number(now) / 1e6).toFixed(0)} ms; pushed back ${linux.drops.txBlocked}, refused ${linux.drops.txRefused})`);
    } finally {
      await card.close();
    }
  });
});

test('rate: report', () => {
  process.stdout.write(`\n  LinuxPortDriver over veth (measured, not asserted):\n${results.map((r) => `    ${r}\n`).join('')}`);
});

test.run();
