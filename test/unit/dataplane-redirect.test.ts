// Standard WCCP redirect through the real data plane: the session manager turns a cache's
// assignment (hash buckets, other hash fields, mask/value elements) into tables, and every
// packet of the service goes to exactly the cache the draft's algorithm names — checked against
// the WCCP assignment helpers (firmware/shell/wccp/assignment.ts, tested on real Squid captures)
// — diverted whole (GRE, WCCP redirect header), never copied; a cache's own traffic and other
// services are forwarded as usual.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SessionManager, type RedirectMember } from '../../firmware/shell/sessions/manager.ts';
import type { CompiledTables } from '../../firmware/shell/sessions/compile.ts';
import { simulateTables, simSpec } from '../../firmware/runtime/simulate.ts';
import { buildHashTable, bucketsOf, bitmapForCache, hashBucket, hashKey, lookupHash, matchMask, ServiceFlag } from '../../firmware/shell/wccp/index.ts';
import type { MaskValueSet } from '../../firmware/shell/wccp/index.ts';
import { buildFrame, TcpFlag } from '../../hal/drivers/sim/packets.ts';
import { formatIpv4, ipv4Bytes, parseIpv4 } from '../../hal/net/address.ts';
import { XorShift32 } from '../../hal/prng.ts';
import { decapsulate } from '../fixtures/decap.ts';

const CACHE_PORT = 2;
const CACHES = ['192.0.2.10', '192.0.2.11'];
const MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);

function manager(): { m: SessionManager; tables: () => CompiledTables } {
  let current: CompiledTables | undefined;
  const m = new SessionManager({
    slots: 64,
    resolve: () => ({ port: 'p2', portIndex: CACHE_PORT, mtu: 1500, source: { ip: parseIpv4('192.0.2.1')!, mac: MAC }, destinationMac: MAC }),
    publish: (t) => { current = t; },
    release: () => {},
    retire: () => {},
    counters: () => ({}),
    resetSlot: () => {},
  });
  return { m, tables: () => current! };
}

interface Flow {
  readonly src: number;
  readonly dst: number;
  readonly sport: number;
  readonly dport: number;
}

function flows(n: number, seed: number): Flow[] {
  const rng = new XorShift32(seed);
  return Array.from({ length: n }, () => ({
    src: (0x0a010000 | (rng.next() & 0xffff)) >>> 0,
    dst: rng.next() >>> 0,
    sport: 1024 + (rng.next() % 60000),
    dport: rng.next() % 4 === 0 ? 443 : 80,
  }));
}

function frame(f: Flow, i: number): Uint8Array {
  return buildFrame({
    srcMac: MAC, dstMac: MAC, src: ipv4Bytes(f.src), dst: ipv4Bytes(f.dst), ipId: i,
    l4: { proto: 'tcp', srcPort: f.sport, dstPort: f.dport, seq: i, ack: 0, flags: TcpFlag.Syn },
  });
}

const ipOf = (b: Uint8Array): Uint8Array => b.subarray(14, 14 + ((b[16] << 8) | b[17]));

/** Runs the flows in on port 0 and says where each original went: a cache address or 'forwarded'. */
async function route(tables: CompiledTables, fs: readonly Flow[]): Promise<string[]> {
  const frames = fs.map(frame);
  const r = await simulateTables(tables, frames.map((f) => ({ port: 0, frame: f })), simSpec());
  assert.equal(r.violations, []);
  const out: string[] = new Array(fs.length).fill('lost');
  for (const s of r.sent[1]) out[Number(s.desc.timestamp / 1000n) - 1] = 'forwarded';
  for (const s of r.sent[CACHE_PORT]) {
    assert.is(s.queue, 'originals', 'a redirected packet is the original, diverted, never a copy');
    const d = decapsulate(s.bytes);
    const i = Number(s.desc.timestamp / 1000n) - 1;
    assert.equal(d.inner, ipOf(frames[i]), 'the cache receives the original packet unchanged inside GRE');
    out[i] = d.outer.dst;
  }
  return out;
}

const webService = (device: string, extra: Partial<RedirectMember>): RedirectMember => ({
  device, service: 0, serviceFilter: 'tcp dst port 80', priority: 0, dynamic: false, caches: CACHES, ...extra,
});

test('hash assignment: each packet goes to the cache its destination bucket names', async () => {
  const { m, tables } = manager();
  const table = buildHashTable([1, 1]);
  CACHES.forEach((c, i) => m.redirect(webService(c, { buckets: bucketsOf(bitmapForCache(table, i)) }), 0));
  const fs = flows(400, 7);
  const got = await route(tables(), fs);
  const want = fs.map((f) => {
    if (f.dport !== 80) return 'forwarded';
    const hit = lookupHash(table, ServiceFlag.DstIpHash, { srcAddr: f.src, dstAddr: f.dst, srcPort: f.sport, dstPort: f.dport });
    return hit ? CACHES[hit.cacheIndex] : 'forwarded';
  });
  assert.equal(got, want);
  assert.ok(got.filter((g) => g === CACHES[0]).length > 50 && got.filter((g) => g === CACHES[1]).length > 50, 'both caches get a share');
});

test('hash on other fields: a dynamic service that hashes on the source address', async () => {
  const { m, tables } = manager();
  const table = buildHashTable([3, 1]);
  const flags = ServiceFlag.SrcIpHash | ServiceFlag.PortsDefined;
  CACHES.forEach((c, i) => m.redirect({ ...webService(c, { buckets: bucketsOf(bitmapForCache(table, i)) }), service: 90, dynamic: true, hashFlags: flags }, 0));
  const fs = flows(300, 11);
  const got = await route(tables(), fs);
  const want = fs.map((f) => f.dport !== 80 ? 'forwarded' : CACHES[table[hashBucket(hashKey(flags, { srcAddr: f.src, dstAddr: f.dst, srcPort: f.sport, dstPort: f.dport }))]]);
  assert.equal(got, want);
});

test('mask assignment: value elements under Squid\'s 0x1741 mask pick the cache', async () => {
  const { m, tables } = manager();
  const mask = { srcAddr: 0, dstAddr: 0x1741, srcPort: 0, dstPort: 0 };
  // Every value v with (v & mask) == v, dealt to the caches in turn, as Squid does.
  const values = [];
  for (let v = 0; v <= 0x1741; v++) if ((v & 0x1741) === v) values.push(v);
  assert.is(values.length, 64);
  const elements = values.map((v, i) => ({ srcAddr: 0, dstAddr: v, srcPort: 0, dstPort: 0, cacheAddress: parseIpv4(CACHES[i % 2])! }));
  const sets: MaskValueSet[] = [{ mask, values: elements }];
  CACHES.forEach((c) => m.redirect(webService(c, { mask: { element: mask, values: elements.filter((e) => formatIpv4(e.cacheAddress) === c) } }), 0));
  const fs = flows(300, 13);
  const got = await route(tables(), fs);
  const want = fs.map((f) => {
    if (f.dport !== 80) return 'forwarded';
    const v = matchMask(sets, { srcAddr: f.src, dstAddr: f.dst, srcPort: f.sport, dstPort: f.dport });
    return v ? formatIpv4(v.cacheAddress) : 'forwarded';
  });
  assert.equal(got, want);
  assert.ok(new Set(got).size === 3, 'both caches and the forwarded rest');
});

test("a cache's own traffic is never redirected, and a cache with no share is refused", async () => {
  const { m, tables } = manager();
  m.redirect(webService(CACHES[0], {}), 0);
  const own = { src: parseIpv4(CACHES[1])!, dst: parseIpv4('203.0.113.5')!, sport: 5000, dport: 80 };
  const other = { ...own, src: parseIpv4('10.1.0.9')! };
  assert.equal(await route(tables(), [own, other]), ['forwarded', CACHES[0]]);
  assert.throws(() => m.redirect(webService(CACHES[1], { buckets: [] }), 0), /nothing of the service is assigned/);
  assert.throws(() => m.redirect(webService(CACHES[1], { mask: { element: { srcAddr: 0, dstAddr: 1, srcPort: 0, dstPort: 0 }, values: [{ srcAddr: 0, dstAddr: 2, srcPort: 0, dstPort: 0, cacheAddress: 0 }] } }), 0), /bits outside the mask/);
});

test.run();
