// HostPortDriver: what the router sends on a `host` port leaves through this machine's IP stack.
// GRE packets built by scapy (untagged, 802.1Q-tagged, with Ethernet padding) go to 127.0.0.x
// and a raw IPv4 socket for protocol 47 bound to that address (the kernel's own delivery, not
// ours) receives exactly the IPv4 packets: Ethernet header, tag and padding gone, every other
// byte identical. A packet to another address is not received there. Non-IPv4 frames and a
// frame that cannot hold its IPv4 packet are dropped and counted by reason.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { HostPortDriver } from '../../hal/drivers/host/driver.ts';
import { addon } from '../../hal/drivers/linux/native.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { requireRoot } from '../net/netns.ts';
import { waitUntil } from '../net/card-loop.ts';

// Loopback addresses of this process's own (127.0.0.0/8 is all local), so concurrent runs never share one.
const LOOPBACK = `127.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const DEVICE = `${LOOPBACK}.77`;
const OTHER = `${LOOPBACK}.78`;
const gre = (dst: string, seed: number): string => `IP(src="${LOOPBACK}.1", dst="${dst}", id=${seed})/GRE(proto=0x883e)/Raw(b"\\x00\\x00\\x00\\x00")/IP(src=A, dst=B)/UDP(sport=${seed}, dport=80)/pay(${40 + seed}, seed=${seed})`;
const FRAMES = scapyTable({
  plain: `E()/${gre(DEVICE, 1)}`,
  tagged: `E()/Dot1Q(vlan=12)/${gre(DEVICE, 2)}`,
  qinq: `E()/Dot1AD(vlan=3)/Dot1Q(vlan=4)/${gre(DEVICE, 3)}`,
  other: `E()/${gre(OTHER, 4)}`,
  arp: 'Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff")/ARP(psrc=A, pdst=B, hwsrc=MAC_A)',
  ipv6: 'E()/IPv6(src=A6, dst=B6)/UDP()/pay(10)',
  padded: `E()/${gre(DEVICE, 5)}`,
  short: `E()/${gre(DEVICE, 6)}`,
});
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('host port: GRE to 127.0.0.x arrives at a raw protocol-47 socket byte-identical; the rest is counted', async () => {
  requireRoot('linux-host.test.ts');
  const n = addon();
  const rx = n.openRawIpv4(47, DEVICE);
  const host = new HostPortDriver();
  const memory = new MemoryPortDriver();
  const spec = simSpec({
    ports: [
      { name: 'p0', crossConnect: 1, mtu: 1500, side: 'inside' },
      { name: 'host', crossConnect: 0, mtu: 1500, side: 'outside' },
    ],
    frameSize: 2048,
  });
  const card = LineCard.create(spec, [{ name: 'p0', driver: memory }, { name: 'host', driver: host }]);
  try {
    const padded = new Uint8Array(FRAMES.padded.length + 10);
    padded.set(FRAMES.padded);
    // A frame cut inside its IPv4 packet: the header promises more than the frame holds.
    const short = FRAMES.short.subarray(0, FRAMES.short.length - 5);
    for (const f of [FRAMES.plain, FRAMES.arp, FRAMES.tagged, FRAMES.other, FRAMES.ipv6, FRAMES.qinq, padded, short]) memory.inject(f);
    let guard = 0;
    while (!card.drained() && guard++ < 100) card.step(BigInt(guard));

    const c = card.driverCounters(1);
    assert.is(c.txPackets, 5);
    assert.is(c.txDropped, 3);
    assert.equal(host.drops, { notIpv4: 2, malformed: 1, txBlocked: 0, txRefused: 0 });

    const expected = [FRAMES.plain.subarray(14), FRAMES.tagged.subarray(18), FRAMES.qinq.subarray(22), FRAMES.padded.subarray(14)];
    assert.is(c.txBytes, expected.reduce((s, p) => s + p.length, 0) + FRAMES.other.length - 14);
    const mem = new Uint8Array(1 << 16);
    const addrs = Uint32Array.from({ length: 8 }, (_, i) => i * 4096);
    const lens = new Uint32Array(8);
    const wire = new Uint32Array(8);
    const got: string[] = [];
    await waitUntil(() => {
      const k = n.recvBurst(rx, mem, addrs, 4000, lens, wire, 8);
      for (let i = 0; i < k; i++) got.push(hex(mem.subarray(addrs[i], addrs[i] + lens[i])));
      return got.length >= expected.length;
    }, 5_000, () => `${expected.length} GRE packets (got ${got.length})`);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(n.recvBurst(rx, mem, addrs, 4000, lens, wire, 8), 0, `nothing else arrives at ${DEVICE}`);
    assert.equal(got, expected.map(hex));
  } finally {
    await card.close();
    n.close(rx);
  }
});

test.run();
