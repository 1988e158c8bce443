// The addon's packet calls against the kernel, between two namespaces joined by a veth pair:
// sendBurst on one end, recvBurst on the other, with frame memory over an ArrayBuffer, a
// SharedArrayBuffer and a shared WebAssembly.Memory (where the data plane's memory is going),
// in both receive modes. Also: truncation is visible (wire length), our own transmissions are
// not received, the kernel's counters conserve (received + dropped = seen) and reset on read,
// watch() calls back on arrival, and a bad argument consumes nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addon, type LinuxAddon } from '../../hal/drivers/linux/native.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { requireRoot, withLab, type NetLab, type Netns } from '../net/netns.ts';
import { waitUntil } from '../net/card-loop.ts';

const FRAMES = scapyTable({
  plain: 'E()/IP(src=A, dst=B)/UDP(sport=1, dport=2)/pay(200)',
  dot1q: 'E()/Dot1Q(vlan=42, prio=6)/IP(src=A, dst=B)/TCP(sport=3, dport=4)/pay(100)',
  qinq: 'E()/Dot1AD(vlan=10)/Dot1Q(vlan=20)/IPv6(src=A6, dst=B6)/UDP()/pay(50)',
  arp: 'Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff")/ARP(psrc=A, pdst=B, hwsrc=MAC_A)',
});
const ORDER = ['plain', 'dot1q', 'qinq', 'arp'] as const;
const SLOT = 4096;
const ROOM = 2048;

interface End { readonly ns: Netns; readonly name: string; readonly ifindex: number }

function pair(lab: NetLab): [End, End] {
  const a = lab.netns('a');
  const b = lab.netns('b');
  const [la, lb] = lab.veth({ ns: a, tag: 'a' }, { ns: b, tag: 'b' });
  const n: LinuxAddon = addon();
  return [
    { ns: a, name: la.name, ifindex: n.interfaceInfo(la.name, { netns: a.path }).index },
    { ns: b, name: lb.name, ifindex: n.interfaceInfo(lb.name, { netns: b.path }).index },
  ];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Frame i of a burst sits at i * SLOT (+ an odd offset, so nothing depends on alignment). */
const addrsFor = (n: number, base = 3): Uint32Array => Uint32Array.from({ length: n }, (_, i) => base + i * SLOT);

function put(mem: Uint8Array, frames: readonly Uint8Array[], addrs: Uint32Array): Uint32Array {
  frames.forEach((f, i) => mem.set(f, addrs[i]));
  return Uint32Array.from(frames, (f) => f.length);
}

/** Receives until `want` frames arrived (bounded); returns their bytes and wire lengths. */
async function receive(n: LinuxAddon, fd: number, mem: Uint8Array, want: number, room = ROOM): Promise<Array<{ bytes: Uint8Array; wire: number }>> {
  const addrs = addrsFor(want, 5);
  const lens = new Uint32Array(want);
  const wire = new Uint32Array(want);
  const out: Array<{ bytes: Uint8Array; wire: number }> = [];
  await waitUntil(() => {
    const k = n.recvBurst(fd, mem, addrs.subarray(out.length), room, lens, wire, want - out.length);
    for (let i = 0; i < k; i++) {
      const at = addrs[out.length];
      out.push({ bytes: mem.slice(at, at + lens[i]), wire: wire[i] });
    }
    return out.length >= want;
  }, 5_000, () => `${want} frames (got ${out.length})`);
  return out;
}

const MEMORIES: Array<[string, () => Uint8Array]> = [
  ['ArrayBuffer', () => new Uint8Array(new ArrayBuffer(1 << 20))],
  ['SharedArrayBuffer', () => new Uint8Array(new SharedArrayBuffer(1 << 20))],
  ['shared WebAssembly.Memory', () => new Uint8Array(new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true }).buffer)],
];

for (const [kind, make] of MEMORIES) {
  for (const ring of [true, false]) {
    test(`sendBurst → recvBurst over ${kind} (${ring ? 'ring' : 'recvmmsg'}): byte-identical, tags restored`, async () => {
      requireRoot('linux-native.test.ts');
      await withLab('native', async (lab) => {
        const n = addon();
        const [a, b] = pair(lab);
        const tx = n.openPacket(a.ifindex, { netns: a.ns.path });
        const rx = n.openPacket(b.ifindex, { netns: b.ns.path, ring, promiscuous: true });
        try {
          assert.is(n.describe(rx).kind, ring ? 'packet-ring' : 'packet');
          const mem = make();
          const frames = ORDER.map((k) => FRAMES[k]);
          const addrs = addrsFor(frames.length, 1 << 19);
          const lens = put(mem, frames, addrs);
          assert.is(n.sendBurst(tx, mem, addrs, lens, frames.length), frames.length);
          const got = await receive(n, rx, mem, frames.length);
          assert.equal(got.map((g) => hex(g.bytes)), frames.map(hex));
          assert.equal(got.map((g) => g.wire), frames.map((f) => f.length));
          assert.is(n.recvBurst(tx, mem, addrsFor(4), ROOM, new Uint32Array(4), new Uint32Array(4), 4), 0, 'our own transmissions are not received');
          const st = n.packetStats(rx);
          assert.equal(st, { packets: frames.length, drops: 0, checksumPartial: 0 });
          assert.equal(n.packetStats(rx), { packets: 0, drops: 0, checksumPartial: 0 }, 'reading resets');
        } finally {
          n.close(tx);
          n.close(rx);
        }
      });
    });
  }
}

for (const ring of [true, false]) {
  test(`truncation (${ring ? 'ring' : 'recvmmsg'}): a frame longer than room is cut at room and its wire length says so`, async () => {
    requireRoot('linux-native.test.ts');
    await withLab('trunc', async (lab) => {
      const n = addon();
      const [a, b] = pair(lab);
      const tx = n.openPacket(a.ifindex, { netns: a.ns.path });
      const rx = n.openPacket(b.ifindex, { netns: b.ns.path, ring });
      try {
        const mem = new Uint8Array(1 << 20);
        const frames = [FRAMES.plain, FRAMES.dot1q];
        const addrs = addrsFor(2, 1 << 19);
        n.sendBurst(tx, mem, addrs, put(mem, frames, addrs), 2);
        const room = 64;
        const got = await receive(n, rx, mem, 2, room);
        for (let i = 0; i < 2; i++) {
          assert.is(hex(got[i].bytes), hex(frames[i].subarray(0, room)));
          assert.is(got[i].wire, frames[i].length);
        }
      } finally {
        n.close(tx);
        n.close(rx);
      }
    });
  });
}

for (const ring of [true, false]) {
  test(`checksumPartial (${ring ? 'ring' : 'recvmmsg'}): counts UDP a local sender left to checksum offload`, async () => {
    requireRoot('linux-native.test.ts');
    await withLab('csum', async (lab) => {
      const n = addon();
      const [a, b] = pair(lab);
      a.ns.link(a.name).addAddress('10.78.0.1/24');
      a.ns.ip('neigh', 'add', '10.78.0.2', 'lladdr', '02:00:00:00:00:0b', 'dev', a.name);
      const rx = n.openPacket(b.ifindex, { netns: b.ns.path, ring });
      try {
        const send = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x' * 100, ('10.78.0.2', 9))";
        await a.ns.run(['/usr/bin/python3', '-c', send]);
        const [frame] = await receive(n, rx, new Uint8Array(1 << 20), 1);
        assert.is(frame.bytes.length, 14 + 20 + 8 + 100);
        assert.is(n.packetStats(rx).checksumPartial, 1);
      } finally {
        n.close(rx);
      }
    });
  });
}

test('kernel ring overflow: received + drops = packets (PACKET_STATISTICS)', async () => {
  requireRoot('linux-native.test.ts');
  await withLab('overflow', async (lab) => {
    const n = addon();
    const [a, b] = pair(lab);
    const tx = n.openPacket(a.ifindex, { netns: a.ns.path });
    const rx = n.openPacket(b.ifindex, { netns: b.ns.path, ringFrames: 16 });
    try {
      const ringFrames = n.describe(rx).ring!.frames;
      const mem = new Uint8Array(2 << 20);
      const total = 200;
      let sent = 0;
      const addrs = addrsFor(50, 1 << 20);
      const lens = put(mem, Array.from({ length: 50 }, () => FRAMES.plain), addrs);
      while (sent < total) sent += n.sendBurst(tx, mem, addrs, lens, Math.min(50, total - sent));
      await waitUntil(() => n.rxPending(rx, 1) === 1, 5_000, 'the first frame');
      await new Promise((r) => setTimeout(r, 100));
      let received = 0;
      for (;;) {
        const k = n.recvBurst(rx, mem, addrsFor(64), ROOM, new Uint32Array(64), new Uint32Array(64), 64);
        if (k === 0) break;
        received += k;
      }
      const st = n.packetStats(rx);
      assert.is(received, ringFrames, 'the ring was full');
      assert.is(st.packets, total);
      assert.is(received + st.drops, total);
    } finally {
      n.close(tx);
      n.close(rx);
    }
  });
});

test('watch: callback on arrival, one watcher per fd, unwatch and close stop it', async () => {
  requireRoot('linux-native.test.ts');
  await withLab('watch', async (lab) => {
    const n = addon();
    const [a, b] = pair(lab);
    const tx = n.openPacket(a.ifindex, { netns: a.ns.path });
    const rx = n.openPacket(b.ifindex, { netns: b.ns.path });
    let closed = false;
    try {
      const mem = new Uint8Array(1 << 20);
      let calls = 0;
      const id = n.watch(rx, () => {
        calls++;
        n.recvBurst(rx, mem, addrsFor(8), ROOM, new Uint32Array(8), new Uint32Array(8), 8);
      });
      assert.ok(n.describe(rx).watched);
      assert.throws(() => n.watch(rx, () => {}), (e: any) => e.code === 'EBUSY');
      assert.is(n.rxPending(rx, 8), 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.is(calls, 0, 'no call while nothing arrives');
      const addrs = addrsFor(1, 1 << 19);
      n.sendBurst(tx, mem, addrs, put(mem, [FRAMES.plain], addrs), 1);
      await waitUntil(() => calls > 0, 5_000, 'the watch callback');
      n.unwatch(id);
      n.unwatch(id);
      assert.not.ok(n.describe(rx).watched);
      const before = calls;
      n.sendBurst(tx, mem, addrs, Uint32Array.of(FRAMES.plain.length), 1);
      await waitUntil(() => n.rxPending(rx, 8) === 1, 5_000, 'a frame in the ring');
      await new Promise((r) => setTimeout(r, 50));
      assert.is(calls, before, 'no call after unwatch');
      // close() stops a live watcher: the loop is not kept alive and nothing fires on a dead fd.
      n.watch(rx, () => { calls++; });
      n.close(rx);
      closed = true;
      assert.is(n.describe(rx).kind, 'unknown');
    } finally {
      n.close(tx);
      if (!closed) n.close(rx);
    }
  });
});

test('bad arguments throw before anything moves: the frame stays in the ring', async () => {
  requireRoot('linux-native.test.ts');
  await withLab('args', async (lab) => {
    const n = addon();
    const [a, b] = pair(lab);
    const tx = n.openPacket(a.ifindex, { netns: a.ns.path });
    const rx = n.openPacket(b.ifindex, { netns: b.ns.path });
    try {
      const mem = new Uint8Array(1 << 20);
      const addrs = addrsFor(1, 1 << 19);
      n.sendBurst(tx, mem, addrs, put(mem, [FRAMES.plain], addrs), 1);
      await waitUntil(() => n.rxPending(rx, 8) === 1, 5_000, 'a frame in the ring');
      const lens = new Uint32Array(2);
      const wire = new Uint32Array(2);
      assert.throws(() => n.recvBurst(rx, mem, Uint32Array.of(mem.length - 100), ROOM, lens, wire, 1), /outside mem/);
      assert.throws(() => n.recvBurst(rx, mem, addrsFor(1), ROOM, lens, wire, 3), /lens has 2 entries, 3 needed|addrs has 1 entries/);
      assert.throws(() => n.recvBurst(rx, mem, addrsFor(1), 10, lens, wire, 1), RangeError);
      assert.throws(() => n.recvBurst(rx, mem, addrsFor(1), ROOM, lens, wire, 257), RangeError);
      assert.throws(() => n.recvBurst(rx, new Uint16Array(8) as unknown as Uint8Array, addrsFor(1), ROOM, lens, wire, 1), TypeError);
      assert.throws(() => n.sendBurst(tx, mem, Uint32Array.of(mem.length - 10), Uint32Array.of(60), 1), /outside mem/);
      assert.is(n.rxPending(rx, 8), 1, 'the frame is still there');
      assert.is(n.recvBurst(rx, mem, addrsFor(1), ROOM, lens, wire, 1), 1);
      assert.is(hex(mem.subarray(3, 3 + lens[0])), hex(FRAMES.plain));
    } finally {
      n.close(tx);
      n.close(rx);
    }
  });
});

test.run();
