// WccpDevice against WccpRouter end to end: the real server and device on an in-memory network
// under a manual clock (so the 10/15/25/30 s timers take microseconds). Joining and usability
// per router, the designated cache's REDIRECT_ASSIGN 15 s after a membership change (hash and
// mask, one and two routers, two caches), answers to REMOVAL_QUERY, lost routers, a replication
// request accepted and refused, MD5, a lost REDIRECT_ASSIGN sent again, and hostile input.
// Against Squid's captured bytes: the device's HERE_I_AM is Squid's byte for byte, and fed the
// captured router's answers it sends exactly what the working Squid sent, REDIRECT_ASSIGN too.

import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { WccpDevice } from '../../firmware/shell/wccp/device.ts';
import type { RouterLinkState, WccpDeviceOptions } from '../../firmware/shell/wccp/device.ts';
import { decodeMessage, MessageType } from '../../firmware/shell/wccp/index.ts';
import { WccpConfigError, WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import type { WccpServiceConfig } from '../../firmware/shell/config/types.ts';
import { WccpServer } from '../../firmware/shell/wccp/server.ts';
import type { ReplicationRequest } from '../../firmware/shell/wccp/extension.ts';
import { CAPTURE_DIR, DUP_REQUEST, hex, SNIFF_REQUEST } from './wccp-fixtures.ts';
import { captureMessages, ManualClock, MemoryNet, recordingHooks } from './wccp-net.ts';

const R1 = '10.0.0.1';
const R2 = '10.0.0.2';
const A = '10.0.0.11';
const B = '10.0.0.12';
const WEB_CACHE: WccpServiceConfig = { id: 0, type: 'standard', allow: ['10.0.0.0/24'] };
const DYNAMIC: WccpServiceConfig = { id: 90, type: 'dynamic', allow: ['10.0.0.0/24'], password: 'secret' };

interface World {
  clock: ManualClock;
  net: MemoryNet;
  routers: Map<string, { router: WccpRouter; server: WccpServer; rec: ReturnType<typeof recordingHooks> }>;
  devices: Map<string, WccpDevice>;
  states: string[];
  close(): Promise<void>;
}

async function world(
  routerAddrs: readonly string[],
  services: readonly WccpServiceConfig[],
  devices: ReadonlyArray<{ address: string } & Partial<WccpDeviceOptions>>,
  refuse?: Parameters<typeof recordingHooks>[0],
): Promise<World> {
  const clock = new ManualClock();
  const net = new MemoryNet(clock);
  const routers = new Map<string, { router: WccpRouter; server: WccpServer; rec: ReturnType<typeof recordingHooks> }>();
  for (const address of routerAddrs) {
    const rec = recordingHooks(refuse);
    const router = new WccpRouter({ address, services, hooks: rec.hooks });
    const server = new WccpServer({ router, address, port: 2048, clock, transport: net.transport({ address, port: 2048 }) });
    await server.start();
    routers.set(address, { router, server, rec });
  }
  const states: string[] = [];
  const devs = new Map<string, WccpDevice>();
  for (const d of devices) {
    const device = new WccpDevice({
      routers: routerAddrs,
      service: { id: 0, type: 'standard' },
      clock,
      transport: net.transport({ address: d.address, port: 2048 }),
      onState: (r: string, s: RouterLinkState) => states.push(`${d.address}→${r} ${s}`),
      ...d,
    });
    await device.start();
    devs.set(d.address, device);
  }
  return {
    clock,
    net,
    routers,
    devices: devs,
    states,
    async close() {
      for (const d of devs.values()) await d.stop();
      for (const r of routers.values()) await r.server.close();
      assert.is(clock.activeTimers(), 0);
    },
  };
}

function typesSent(w: World, from: string, type: number): Array<{ atMs: number; to: string }> {
  return w.net.messages(from).filter((s) => s.message.type === type).map((s) => ({ atMs: s.atMs, to: s.to.address }));
}

test('a device joins: usable after its second HERE_I_AM echoes the Receive ID', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A }]);
  const start = w.clock.now();
  assert.equal(w.routers.get(R1)!.router.group(0)!.caches.map((c) => c.state), ['joining']);
  assert.equal(w.devices.get(A)!.states(), { [R1]: 'joining' });
  w.clock.advance(10_000);
  assert.equal(w.routers.get(R1)!.router.group(0)!.caches.map((c) => c.state), ['usable']);
  assert.equal(w.devices.get(A)!.states(), { [R1]: 'usable' });
  assert.equal(w.states, [`${A}→${R1} usable`]);
  assert.equal(typesSent(w, A, MessageType.HereIAm).map((s) => s.atMs - start), [0, 10_000]);
  await w.close();
});

test('fastJoin: the device echoes the first Receive ID at once, usable after one round trip, and never storms', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A, fastJoin: true }]);
  const start = w.clock.now();
  w.clock.advance(1);
  assert.equal(w.devices.get(A)!.states(), { [R1]: 'usable' });
  assert.equal(typesSent(w, A, MessageType.HereIAm).map((s) => s.atMs - start), [0, 0]);
  w.clock.advance(30_000);
  assert.equal(typesSent(w, A, MessageType.HereIAm).map((s) => s.atMs - start), [0, 0, 10_000, 20_000, 30_000], 'then the usual period');
  await w.close();
  // A router that never lists the device (its request refused): at most two HERE_I_AMs per period.
  const refused = await world([R1], [DYNAMIC], [{ address: A, fastJoin: true, service: { id: 90, type: 'dynamic' }, password: 'secret', request: SNIFF_REQUEST }], () => 'refused');
  refused.clock.advance(60_000);
  assert.ok(typesSent(refused, A, MessageType.HereIAm).length <= 14);
  await refused.close();
});

test('the designated device assigns all 256 buckets 15 s after the change; the router echoes its key', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A }]);
  const start = w.clock.now();
  w.clock.advance(60_000);
  const assigns = typesSent(w, A, MessageType.RedirectAssign);
  assert.equal(assigns.map((s) => s.atMs - start), [25_000]);
  const { router, rec } = w.routers.get(R1)!;
  assert.is(router.counters().redirect_assign, 1);
  assert.is(router.counters().stale_assignment, 0);
  assert.equal(rec.redirects.map((m) => [m.device, m.buckets!.length, m.caches]), [[A, 256, [A]]]);
  assert.equal(router.group(0)!.assignmentKey, { address: 0x0a00000b, changeNumber: 1 });
  assert.ok(w.devices.get(A)!.designated());
  await w.close();
});

/** A transparent cache (`twinflow peer --mode redirect`): a standard cache whose service its filter narrows. */
const REDIRECT_REQUEST: ReplicationRequest = {
  mode: 'redirect', encapsulation: 'gre-wccp', filter: 'dst host 203.0.113.80', snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, lifetime: 0,
};

test('a cache whose request is of mode redirect is a standard cache: designated, it assigns, the service narrowed by its filter', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A, request: REDIRECT_REQUEST, fastJoin: true }]);
  const start = w.clock.now();
  w.clock.advance(60_000);
  assert.ok(w.devices.get(A)!.designated());
  assert.equal(typesSent(w, A, MessageType.RedirectAssign).map((s) => s.atMs - start), [15_000], 'usable after one round trip (fastJoin), REDIRECT_ASSIGN 15 s later');
  const { router, rec } = w.routers.get(R1)!;
  assert.is(router.counters().redirect_assign, 1);
  assert.is(router.counters().not_designated, 0);
  assert.equal(rec.requests, [], 'a redirect request is not a replication session');
  assert.equal(rec.redirects.map((m) => [m.device, m.buckets!.length, m.serviceFilter, m.caches]), [[A, 256, '(tcp dst port 80) and (dst host 203.0.113.80)', [A]]]);
  assert.equal(router.group(0)!.assignmentKey, { address: 0x0a00000b, changeNumber: 1 });
  // Switching to a replicating mode ends its part in assignment.
  w.devices.get(A)!.setRequest(SNIFF_REQUEST);
  assert.ok(!w.devices.get(A)!.designated());
  await w.close();
});

test('a sniffing device at a lower address never assigns; the redirect cache above it is the designated cache', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A, request: SNIFF_REQUEST }, { address: B, request: REDIRECT_REQUEST }]);
  const start = w.clock.now();
  w.clock.advance(60_000);
  assert.equal(typesSent(w, A, MessageType.RedirectAssign), []);
  assert.equal(typesSent(w, B, MessageType.RedirectAssign).map((s) => s.atMs - start), [25_000]);
  assert.ok(!w.devices.get(A)!.designated());
  assert.ok(w.devices.get(B)!.designated());
  const { router, rec } = w.routers.get(R1)!;
  assert.is(router.counters().redirect_assign, 1);
  assert.is(router.counters().stale_assignment, 0);
  assert.equal(rec.redirects.map((m) => [m.device, m.buckets!.length]), [[B, 256]], 'all of the service to the cache, none to the sniffer');
  assert.equal(rec.requests.map((r) => [r.device, r.mode]), [[A, 'sniff']]);
  await w.close();
});

test('two routers, two caches: the lowest IP assigns to both routers, each cache gets half the buckets', async () => {
  const w = await world([R1, R2], [WEB_CACHE], [{ address: A }, { address: B }]);
  w.clock.advance(90_000);
  assert.equal(typesSent(w, B, MessageType.RedirectAssign), []);
  const sentByA = typesSent(w, A, MessageType.RedirectAssign);
  assert.equal(sentByA.map((s) => s.to).sort(), [R1, R2]);
  for (const r of [R1, R2]) {
    const { router, rec } = w.routers.get(r)!;
    assert.is(router.counters().redirect_assign, 1, r);
    assert.is(router.counters().stale_assignment, 0, r);
    const g = router.group(0)!;
    assert.equal(g.routers, [R1, R2]);
    assert.equal(g.caches.map((c) => [c.address, c.state]), [[A, 'usable'], [B, 'usable']]);
    const last = Object.fromEntries(rec.redirects.map((m) => [m.device, m]));
    assert.is(last[A]!.buckets!.length, 128);
    assert.is(last[B]!.buckets!.length, 128);
    assert.equal([...last[A]!.buckets!, ...last[B]!.buckets!].sort((x, y) => x - y), Array.from({ length: 256 }, (_, i) => i));
  }
  assert.equal(w.devices.get(B)!.states(), { [R1]: 'usable', [R2]: 'usable' });
  assert.ok(w.devices.get(A)!.designated());
  assert.ok(!w.devices.get(B)!.designated());
  await w.close();
});

test('mask assignment: 64 values dealt over the caches, one mask', async () => {
  const w = await world([R1], [{ ...DYNAMIC, password: undefined }], [
    { address: A, assignment: 'mask', forwarding: 'l2', return: 'l2', service: { id: 90, type: 'dynamic', protocol: 6, flags: 0x0002, ports: [443] } },
    { address: B, assignment: 'mask', forwarding: 'l2', return: 'l2', service: { id: 90, type: 'dynamic', protocol: 6, flags: 0x0002, ports: [443] } },
  ]);
  w.clock.advance(60_000);
  const { router, rec } = w.routers.get(R1)!;
  assert.is(router.counters().redirect_assign, 1);
  const last = Object.fromEntries(rec.redirects.map((m) => [m.device, m]));
  assert.equal(last[A]!.mask!.element, { srcAddr: 0, dstAddr: 0x1741, srcPort: 0, dstPort: 0 });
  assert.is(last[A]!.mask!.values.length, 32);
  assert.is(last[B]!.mask!.values.length, 32);
  assert.is(last[A]!.serviceFilter, 'tcp dst port 443');
  assert.is(router.services()[0]!.assignment, 'mask');
  await w.close();
});

test('REMOVAL_QUERY is answered with three HERE_I_AMs 1 s apart, and the device stays', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A }]);
  w.clock.advance(20_000);
  let silenced = true;
  let queryAt: number | null = null;
  w.net.filter = (from, _to, d) => {
    if (from.address === R1 && decodeMessage(d).type === MessageType.RemovalQuery) {
      silenced = false;
      queryAt = w.clock.now();
    }
    return !(silenced && from.address === A);
  };
  w.clock.advance(40_000);
  assert.ok(queryAt !== null);
  const replies = typesSent(w, A, MessageType.HereIAm).filter((s) => s.atMs >= queryAt! && s.atMs < queryAt! + 3000).map((s) => s.atMs - queryAt!);
  assert.equal(replies, [0, 1000, 2000]);
  assert.is(w.devices.get(A)!.counters().removal_queries, 1);
  const { router } = w.routers.get(R1)!;
  assert.is(router.counters().removals, 0);
  assert.equal(router.group(0)!.caches.map((c) => c.state), ['usable']);
  await w.close();
});

test('a silent router is lost after 30 s; it removes the device after 30 s of silence; both recover', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A }]);
  w.clock.advance(15_000);
  w.net.filter = () => false;
  w.clock.advance(40_000);
  assert.equal(w.devices.get(A)!.states(), { [R1]: 'lost' });
  const { router, rec } = w.routers.get(R1)!;
  assert.equal(router.group(0)!.caches, []);
  assert.ok(rec.events.includes(`removed ${A} 0`));
  w.net.filter = () => true;
  w.clock.advance(30_000);
  assert.equal(w.devices.get(A)!.states(), { [R1]: 'usable' });
  assert.equal(w.states, [`${A}→${R1} usable`, `${A}→${R1} lost`, `${A}→${R1} joining`, `${A}→${R1} usable`]);
  await w.close();
});

test('a replication request rides the registration; a refused one leaves the device unlisted', async () => {
  const ok = await world([R1], [DYNAMIC], [{ address: A, password: 'secret', service: { id: 90, type: 'dynamic' }, request: SNIFF_REQUEST }]);
  ok.clock.advance(30_000);
  assert.equal(ok.devices.get(A)!.states(), { [R1]: 'usable' });
  const rec = ok.routers.get(R1)!.rec;
  assert.equal(rec.requests.map((r) => [r.device, r.service, r.mode, r.filter]), [[A, 90, 'sniff', SNIFF_REQUEST.filter]]);
  // Devices never assign.
  assert.equal(typesSent(ok, A, MessageType.RedirectAssign), []);
  // A changed request is handed on at once.
  ok.devices.get(A)!.setRequest(DUP_REQUEST);
  assert.equal(rec.requests.map((r) => r.mode), ['sniff', 'dup']);
  await ok.close();

  const refused = await world([R1], [DYNAMIC], [{ address: A, password: 'secret', service: { id: 90, type: 'dynamic' }, request: SNIFF_REQUEST }], () => 'over the limit');
  refused.clock.advance(60_000);
  assert.equal(refused.devices.get(A)!.states(), { [R1]: 'joining' });
  assert.equal(refused.states, []);
  assert.ok(refused.routers.get(R1)!.router.counters().request_refused >= 5);
  await refused.close();
});

test('MD5: the right password joins; a wrong one is refused by the router and the device never joins', async () => {
  const right = await world([R1], [DYNAMIC], [{ address: A, password: 'secret', service: { id: 90, type: 'dynamic' } }]);
  right.clock.advance(30_000);
  assert.equal(right.devices.get(A)!.states(), { [R1]: 'usable' });
  assert.ok(right.net.messages(A).every((s) => s.message.security.option === 'md5'));
  await right.close();
  const wrong = await world([R1], [DYNAMIC], [{ address: A, password: 'secreT', service: { id: 90, type: 'dynamic' } }]);
  wrong.clock.advance(30_000);
  assert.equal(wrong.devices.get(A)!.states(), { [R1]: 'joining' });
  assert.is(wrong.routers.get(R1)!.router.counters().unauthentic, 4);
  assert.equal(wrong.routers.get(R1)!.router.group(90)!.caches, []);
  await wrong.close();
});

test('a REDIRECT_ASSIGN lost on the way is sent again once an I_SEE_YOU shows the key missing', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A }]);
  let dropped = 0;
  w.net.filter = (from, _to, d) => {
    if (from.address === A && dropped === 0 && decodeMessage(d).type === MessageType.RedirectAssign) {
      dropped++;
      return false;
    }
    return true;
  };
  const start = w.clock.now();
  w.clock.advance(60_000);
  assert.is(dropped, 1);
  const assigns = typesSent(w, A, MessageType.RedirectAssign).map((s) => s.atMs - start);
  assert.equal(assigns, [25_000, 40_000]);
  const { router } = w.routers.get(R1)!;
  assert.is(router.counters().redirect_assign, 1);
  assert.equal(router.group(0)!.assignmentKey.changeNumber, 1);
  await w.close();
});

test('hostile datagrams never stop the device; each is counted', async () => {
  const w = await world([R1], [WEB_CACHE], [{ address: A }]);
  w.clock.advance(10_000);
  const attacker = await w.net.transport({ address: R1, port: 9999 })(() => {}, () => {});
  const stranger = await w.net.transport({ address: '10.9.9.9', port: 2048 })(() => {}, () => {});
  for (let i = 0; i < 200; i++) attacker.send(new Uint8Array(i).fill(i), { address: A, port: 2048 });
  stranger.send(new Uint8Array(16), { address: A, port: 2048 });
  const d = w.devices.get(A)!.counters();
  assert.is(d.malformed, 200);
  assert.is(d.unknown_router, 1);
  assert.is(d.internal_error, 0);
  w.clock.advance(10_000);
  assert.equal(w.devices.get(A)!.states(), { [R1]: 'usable' });
  await attacker.close();
  await stranger.close();
  await w.close();
});

test("the device's first HERE_I_AM is byte for byte Squid 5.7's (hash; mask, dynamic 70, L2, MD5; mask, standard 0)", async () => {
  const clock = new ManualClock();
  const net = new MemoryNet(clock);
  const squid = (file: string, i: number) => captureMessages(path.join(CAPTURE_DIR, file))[i]!.payload;
  const cases: ReadonlyArray<[Partial<WccpDeviceOptions>, Uint8Array]> = [
    [{ service: { id: 0, type: 'standard' } }, squid('squid_here_i_am.pcap', 0)],
    [
      { service: { id: 70, type: 'dynamic', priority: 240, protocol: 6, flags: 0x21, ports: [80, 8080] }, assignment: 'mask', forwarding: 'l2', return: 'l2', password: 'abc' },
      squid('squid_here_i_am_mask_dynamic.pcap', 0),
    ],
    [{ service: { id: 0, type: 'standard' }, assignment: 'mask', forwarding: 'l2', return: 'l2' }, squid('squid_here_i_am_mask_dynamic.pcap', 1)],
  ];
  for (const [[o, captured], i] of cases.map((c, k) => [c, k] as const)) {
    const d = new WccpDevice({ address: '127.0.0.1', routers: ['127.0.0.2'], service: { id: 0, type: 'standard' }, clock, transport: net.transport({ address: '127.0.0.1', port: 4000 + i }), ...o });
    await d.start();
    await d.stop();
    assert.is(hex(net.sent.at(-1)!.datagram), hex(captured), `case ${i}`);
  }
});

test("fed the captured router's I_SEE_YOUs, the device sends what the working Squid sent, REDIRECT_ASSIGN included", async () => {
  const clock = new ManualClock();
  const net = new MemoryNet(clock);
  const frames = captureMessages(path.join(CAPTURE_DIR, 'squid_full_handshake_hash_gre.pcap'));
  const fakeRouter = await net.transport({ address: '127.0.0.2', port: 2048 })(() => {}, () => {});
  const start = clock.now();
  const d = new WccpDevice({ address: '127.0.0.1', routers: ['127.0.0.2'], service: { id: 0, type: 'standard' }, clock, transport: net.transport({ address: '127.0.0.1', port: 2048 }) });
  await d.start();
  for (const f of frames.filter((x) => x.src === '127.0.0.2')) {
    clock.advance(start + f.atMs - clock.now());
    fakeRouter.send(f.payload, { address: '127.0.0.1', port: 2048 });
  }
  clock.advance(start + 31_000 - clock.now());
  await d.stop();
  await fakeRouter.close();
  const ours = net.sent.filter((x) => x.from.address === '127.0.0.1');
  const theirs = frames.filter((x) => x.src === '127.0.0.1');
  assert.equal(ours.map((x) => hex(x.datagram)), theirs.map((x) => hex(x.payload)));
  // Same timing to the tick: HERE_I_AM every 10 s, REDIRECT_ASSIGN 15 s after the change at 10 s.
  ours.forEach((x, i) => assert.ok(Math.abs(x.atMs - start - theirs[i]!.atMs) <= 100, `message ${i}: ${x.atMs - start} vs ${theirs[i]!.atMs}`));
});

test('device options are checked, naming the field', () => {
  const base: WccpDeviceOptions = { address: A, routers: [R1], service: { id: 0, type: 'standard' } };
  for (const [o, field] of [
    [{ address: 'x' }, 'address'],
    [{ routers: [] }, 'routers'],
    [{ routers: [R1, 'nope'] }, 'routers[1]'],
    [{ routers: [R1, R1] }, 'routers'],
    [{ password: '123456789' }, 'password'],
    [{ assignment: 'weight' }, 'assignment'],
    [{ service: { id: 256, type: 'standard' } }, 'service.id'],
    [{ service: { id: 90, type: 'dynamic', ports: [1, 2, 3, 4, 5, 6, 7, 8, 9] } }, 'service.ports'],
    [{ weight: -1 }, 'weight'],
  ] as const) {
    assert.throws(() => new WccpDevice({ ...base, ...(o as object) }), (e: unknown) => e instanceof WccpConfigError && e.field === field, field);
  }
});

test.run();
