// TUN through the addon, with a namespace's kernel as the oracle: an ICMP echo request written
// to the TUN (sendBurst) is answered by the kernel and the reply comes back out of it
// (recvBurst); and a real `ping` from the namespace gets the replies this test writes for the
// requests it reads. Read → write → read, each packet a bare IPv4 packet (IFF_NO_PI).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addon, type LinuxAddon } from '../../hal/drivers/linux/native.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { requireRoot, withLab } from '../net/netns.ts';
import { waitUntil } from '../net/card-loop.ts';

const KERNEL_SIDE = '10.79.0.1';
const OUR_SIDE = '10.79.0.2';
const REQUEST = scapyTable({
  echo: `IP(src="${OUR_SIDE}", dst="${KERNEL_SIDE}", id=99)/ICMP(type=8, id=0x1234, seq=7)/pay(32)`,
}).echo;

const SLOT = 4096;
const ROOM = 2048;

/** RFC 1071 checksum of b (with its checksum field zeroed by the caller). */
function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const verifies = (b: Uint8Array): boolean => checksum(b) === 0;

function read(n: LinuxAddon, fd: number, mem: Uint8Array, max = 8): Uint8Array[] {
  const addrs = Uint32Array.from({ length: max }, (_, i) => i * SLOT);
  const lens = new Uint32Array(max);
  const wire = new Uint32Array(max);
  const k = n.recvBurst(fd, mem, addrs, ROOM, lens, wire, max);
  return Array.from({ length: k }, (_, i) => mem.slice(addrs[i], addrs[i] + lens[i]));
}

function write(n: LinuxAddon, fd: number, mem: Uint8Array, packet: Uint8Array): number {
  const at = 32 * SLOT;
  mem.set(packet, at);
  return n.sendBurst(fd, mem, Uint32Array.of(at), Uint32Array.of(packet.length), 1);
}

/** The echo reply to an echo request: addresses swapped, type 0, both checksums recomputed. */
function replyTo(request: Uint8Array): Uint8Array {
  const p = request.slice();
  const ihl = (p[0] & 15) * 4;
  p.set(request.subarray(16, 20), 12);
  p.set(request.subarray(12, 16), 16);
  p[10] = p[11] = 0;
  const ipSum = checksum(p.subarray(0, ihl));
  p[10] = ipSum >> 8;
  p[11] = ipSum & 255;
  p[ihl] = 0;
  p[ihl + 2] = p[ihl + 3] = 0;
  const icmpSum = checksum(p.subarray(ihl));
  p[ihl + 2] = icmpSum >> 8;
  p[ihl + 3] = icmpSum & 255;
  return p;
}

test('TUN in a namespace: the kernel answers a written echo request; a real ping gets our replies', async () => {
  requireRoot('linux-tun.test.ts');
  await withLab('tun', async (lab) => {
    const n = addon();
    const ns = lab.netns('tun');
    const wanted = lab.ifname('tun');
    const tun = n.openTun(wanted, { netns: ns.path! });
    try {
      assert.is(tun.name, wanted);
      assert.is(n.describe(tun.fd).kind, 'tun');
      ns.link(tun.name).addAddress(`${KERNEL_SIDE}/24`).up();
      const mem = new Uint8Array(1 << 20);

      assert.is(write(n, tun.fd, mem, REQUEST), 1);
      let reply: Uint8Array | undefined;
      await waitUntil(() => {
        reply = read(n, tun.fd, mem).find((p) => p[9] === 1 && p[20] === 0);
        return reply !== undefined;
      }, 5_000, 'the kernel\'s echo reply');
      const r = reply!;
      assert.equal([...r.subarray(12, 16)], [10, 79, 0, 1], 'from the kernel side');
      assert.equal([...r.subarray(16, 20)], [10, 79, 0, 2], 'to us');
      assert.equal([...r.subarray(24, 28)], [...REQUEST.subarray(24, 28)], 'same ICMP id and sequence');
      assert.is(Buffer.from(r.subarray(28)).toString('hex'), Buffer.from(REQUEST.subarray(28)).toString('hex'), 'same payload');
      assert.ok(verifies(r.subarray(0, 20)) && verifies(r.subarray(20)), 'valid checksums');

      let answered = 0;
      const id = n.watch(tun.fd, () => {
        for (const p of read(n, tun.fd, mem)) {
          if (p[9] === 1 && p[20] === 8) answered += write(n, tun.fd, mem, replyTo(p));
        }
      });
      try {
        const ping = await ns.run(['ping', '-c', '3', '-i', '0.2', '-W', '3', OUR_SIDE], { timeoutMs: 20_000, allowFailure: true });
        assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout + ping.stderr);
        assert.is(answered, 3);
      } finally {
        n.unwatch(id);
      }
    } finally {
      n.close(tun.fd);
    }
  });
});

test('openTun with up and ipv4: the device comes up at once with its /32 address, and a write reaches the kernel without `ip`', async () => {
  requireRoot('linux-tun.test.ts');
  await withLab('tun-up', async (lab) => {
    const n = addon();
    const ns = lab.netns('tunup');
    const down = n.openTun(lab.ifname('tun'), { netns: ns.path! });
    const up = n.openTun(lab.ifname('tun'), { netns: ns.path!, up: true, ipv4: '192.0.0.8' });
    try {
      assert.is(n.interfaceInfo(down.name, { netns: ns.path! }).up, false, 'without the option the device stays down');
      assert.is(n.interfaceInfo(up.name, { netns: ns.path! }).up, true);
      assert.match(ns.ip('-4', '-o', 'address', 'show', 'dev', up.name).stdout, /inet 192\.0\.0\.8\/32 /, 'the address, with a /32 mask');
      assert.is(ns.ip('-4', 'route', 'show', 'dev', up.name).stdout.trim(), '', 'and no subnet route');
      assert.throws(() => n.openTun(lab.ifname('tun'), { netns: ns.path!, ipv4: '192.0.0' }), RangeError);
      const mem = new Uint8Array(1 << 20);
      assert.throws(() => write(n, down.fd, mem, REQUEST), (e: unknown) => (e as { code?: string }).code === 'EIO', 'the kernel refuses a write to a TUN that is down');
      assert.is(write(n, up.fd, mem, REQUEST), 1);
    } finally {
      n.close(down.fd);
      n.close(up.fd);
    }
  });
});

test('openTun: a name longer than 15 bytes is refused before anything is opened', () => {
  assert.throws(() => addon().openTun('a-name-that-is-too-long'), RangeError);
});

test.run();
