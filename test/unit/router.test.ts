// The control plane over a real data plane: static sessions from the configuration, WCCP events
// turned into sessions (and refused within the limits), held replicas released in order when the
// device registers, explain, allowlists, limits and all-or-nothing state loading. The line card is
// the sim board's, with memory drivers so the test owns every frame in and out.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadBoard, dataPlaneSpec, type Board } from '../../firmware/runtime/board.ts';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { Router } from '../../firmware/shell/router.ts';
import { LocalCards } from '../../firmware/runtime/cards.ts';
import { ControlError } from '../../firmware/shell/control.ts';
import { SessionError } from '../../firmware/shell/sessions/compile.ts';
import type { RouterConfig } from '../../firmware/shell/config/types.ts';
import { buildFrame, TcpFlag } from '../../hal/drivers/sim/packets.ts';
import { ipv4Bytes, parseIpv4, parseMac } from '../../hal/net/address.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import { decapsulate } from '../fixtures/decap.ts';

const LAN = 0;
const MONITOR = 2;
const COLLECTOR = '192.0.2.2';

interface Rig {
  readonly board: Board;
  readonly card: LineCard;
  readonly drivers: MemoryPortDriver[];
  readonly router: Router;
  now: number;
}

function config(extra: Partial<RouterConfig> = {}): RouterConfig {
  return {
    file: 'test',
    wccp: { address: '127.0.0.1', port: 2048, squid57Compat: false },
    services: [{ id: 0, type: 'standard', allow: ['127.0.0.0/8'] }, { id: 90, type: 'dynamic', allow: ['192.0.2.0/24'] }],
    sessions: [],
    policy: [],
    limits: {},
    ...extra,
  };
}

function rig(cfg: RouterConfig = config()): Rig {
  const board = loadBoard('sim');
  const drivers = board.lineCards[0].ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(dataPlaneSpec(board, 0), board.lineCards[0].ports.map((name, i) => ({ name, driver: drivers[i] })));
  const r: Rig = { board, card, drivers, router: undefined as unknown as Router, now: 1_000 };
  (r as { router: Router }).router = new Router({ board, cards: new LocalCards([card]), config: cfg, version: 'test', clock: () => r.now });
  return r;
}

let seq = 0;
function packet(src = '10.1.0.10', dst = '198.51.100.10', dport = 80): Uint8Array {
  seq++;
  return buildFrame({
    srcMac: parseMac('02:00:0a:01:00:0a')!, dstMac: parseMac('02:74:66:00:00:10')!,
    src: ipv4Bytes(parseIpv4(src)!), dst: ipv4Bytes(parseIpv4(dst)!), ipId: seq,
    l4: { proto: 'tcp', srcPort: 40000, dstPort: dport, seq, ack: 1, flags: TcpFlag.Ack | TcpFlag.Psh },
    payload: Uint8Array.of(seq & 0xff, 1, 2, 3),
  });
}

/** The IP packet a frame carries (without Ethernet padding). */
const ipOf = (f: Uint8Array): Uint8Array => f.subarray(14, 14 + ((f[16] << 8) | f[17]));

function run(r: Rig, frames: readonly Uint8Array[]): void {
  for (const f of frames) r.drivers[LAN].inject(f, BigInt(r.now) * 1_000_000n);
  for (let i = 0; i < 8 && !r.card.drained(); i++) {
    r.router.poll(r.now);
    r.card.step(BigInt(r.now) * 1_000_000n);
  }
  r.router.poll(r.now);
  r.card.step(BigInt(r.now) * 1_000_000n);
}

function replicasOnMonitor(r: Rig): Uint8Array[] {
  return r.drivers[MONITOR].sent.filter((s) => s.queue === 'replicas').map((s) => decapsulate(s.bytes).inner);
}

function invariantsHold(r: Rig): void {
  const c = r.router.counters();
  assert.equal(conservationViolations(c.ports, c.sessions), []);
}

test('a static session from the configuration replicates matching packets to its device', async () => {
  const r = rig(config({ sessions: [{ name: 'client', mode: 'sniff', filter: 'host 10.1.0.10', device: COLLECTOR }] }));
  const mine = [packet(), packet()];
  run(r, [...mine, packet('10.1.0.11')]);
  assert.equal(replicasOnMonitor(r), mine.map(ipOf));
  const c = r.router.counters();
  assert.equal(c.sessions.client.matched, 2);
  assert.equal(c.sessions.client.replicated, 2);
  assert.equal(c.ports.lan.forwarded, 3);
  assert.equal(r.router.listSessions()[0].port, 'monitor');
  invariantsHold(r);
  await r.card.close();
});

test('a session waiting for its device holds replicas, then releases them first and in order', async () => {
  const r = rig(config({ sessions: [{ name: 'early', mode: 'sniff', filter: 'host 10.1.0.10', device: COLLECTOR, requireRegistration: true }] }));
  const before = [packet(), packet(), packet()];
  run(r, before);
  assert.equal(replicasOnMonitor(r), [], 'nothing leaves before the device registers');
  assert.is(r.router.listSessions()[0].state, 'holding');
  assert.is(r.router.counters().sessions.early.held, 3);
  r.router.wccpHooks.usable(COLLECTOR, 90);
  assert.is(r.router.listSessions()[0].state, 'active');
  const after = [packet()];
  run(r, after);
  assert.equal(replicasOnMonitor(r), [...before, ...after].map(ipOf));
  r.router.wccpHooks.removed(COLLECTOR, 90);
  assert.is(r.router.listSessions()[0].state, 'holding', 'a device that leaves puts its static session back on hold');
  invariantsHold(r);
  await r.card.close();
});

test('a registration request becomes a session, within the limits, and ends when its device leaves', async () => {
  const r = rig(config({ limits: { snaplenMin: 128, peers: 1 } }));
  const request = { device: COLLECTOR, service: 90, mode: 'sniff' as const, filter: 'tcp dst port 80', encap: 'gre' as const, snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, lifetime: 0 };
  assert.throws(() => r.router.wccpHooks.request({ ...request, snaplen: 64 }), (e: unknown) => e instanceof SessionError && e.field === 'snaplen');
  assert.throws(() => r.router.wccpHooks.request({ ...request, filter: 'tcp dst port' }), (e: unknown) => e instanceof SessionError && e.field === 'filter');
  assert.equal(r.router.listSessions(), [], 'a refused request leaves nothing behind');
  r.router.wccpHooks.request(request);
  assert.equal(r.router.listSessions().map((s) => [s.name, s.origin, s.mode]), [['192.0.2.2/90', 'registration', 'sniff']]);
  assert.throws(() => r.router.wccpHooks.request({ ...request, device: '192.0.2.3' }), (e: unknown) => e instanceof SessionError && e.field === 'peers');
  run(r, [packet(), packet('10.1.0.12', '198.51.100.11', 443)]);
  assert.is(replicasOnMonitor(r).length, 1);
  r.router.wccpHooks.removed(COLLECTOR, 90);
  assert.equal(r.router.listSessions(), []);
  run(r, [packet()]);
  assert.is(replicasOnMonitor(r).length, 1, 'no replica after removal');
  assert.is(r.router.counters().ports.lan.forwarded, 3, 'originals never notice');
  invariantsHold(r);
  await r.card.close();
});

test('explain runs the running tables on a described packet without touching live counters', async () => {
  const r = rig(config({
    sessions: [{ name: 'web', mode: 'sniff', filter: 'tcp dst port 80', device: COLLECTOR }],
    policy: [{ action: 'deny', filter: 'udp dst port 53' }],
  }));
  const hit = await r.router.explain({ port: 'lan', proto: 'tcp', src: '10.1.0.10', dst: '198.51.100.10', dport: 80, length: 100 });
  assert.equal(hit.verdict, 'forwarded');
  assert.equal(hit.egress, 'wan');
  assert.equal(hit.sessions, [{ name: 'web', outcome: 'replicated' }]);
  assert.equal(hit.counters['port lan rx_packets'], 1);
  assert.equal(hit.counters['session web matched'], 1);
  const denied = await r.router.explain({ port: 'lan', proto: 'udp', src: '10.1.0.10', dst: '198.51.100.10', dport: 53 });
  assert.equal([denied.verdict, denied.egress, denied.sessions], ['dropped', null, []]);
  const v6 = await r.router.explain({ port: 'wan', proto: 'icmp', src: '2001:db8::1', dst: '2001:db8::2' });
  assert.equal(v6.verdict, 'forwarded');
  assert.equal(v6.egress, 'lan');
  for (const [p, field] of [[{ port: 'nope' }, 'port'], [{ src: '10.0.0.300' }, 'src'], [{ dport: 70000 }, 'dport'], [{ length: 10 }, 'length'], [{ proto: 'sctp' }, 'proto'], [{ dst: '2001:db8::2' }, 'dst']] as const) {
    await r.router.explain({ port: 'lan', proto: 'tcp', src: '10.1.0.10', dst: '198.51.100.10', ...p } as never).then(
      () => assert.unreachable(`explain accepted a bad ${field}`),
      (e: unknown) => assert.ok(e instanceof ControlError && e.field === field, `${field}: ${String(e)}`),
    );
  }
  assert.is(r.router.counters().ports.lan.rx_packets, 0);
  await r.card.close();
});

test('every bad management input names its field and changes nothing', async () => {
  const r = rig();
  const field = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof ControlError) return e.field;
      throw e;
    }
    throw new Error('accepted');
  };
  assert.is(field(() => r.router.addSession({ name: 'x', mode: 'sniff', filter: 'host', device: COLLECTOR })), 'spec.filter');
  assert.is(field(() => r.router.addSession({ name: 'x', mode: 'sniff', filter: '', device: '203.0.113.9' })), 'spec.device');
  assert.is(field(() => r.router.addSession({ name: 'x', mode: 'sniff', filter: '', device: COLLECTOR, snaplen: 10 })), 'spec.snaplen');
  assert.is(field(() => r.router.addSession({ name: 'x', mode: 'sniff', filter: '', device: COLLECTOR, port: 'wan' })), 'spec.port');
  assert.is(field(() => r.router.setAllowlist({ service: 7, prefixes: [] })), 'service');
  assert.is(field(() => r.router.setAllowlist({ service: 0, prefixes: ['10.0.0.0/33'] })), 'prefixes.0');
  assert.is(field(() => r.router.setLimits({ sessions: 1000 })), 'limits.sessions');
  assert.is(field(() => r.router.setLimits({ snaplenMin: 2000, snaplenMax: 1000 })), 'limits.snaplenMax');
  assert.is(field(() => r.router.setPolicy([{ action: 'drop' as never, filter: 'tcp' }])), 'rules.rules.0.action');
  r.router.addSession({ name: 'ok', mode: 'sniff', filter: 'tcp', device: COLLECTOR });
  const state = r.router.runningState();
  assert.throws(() => r.router.applyState({ ...state, sessions: [...state.sessions, { name: 'bad', mode: 'sniff', filter: 'tcp port', device: COLLECTOR }] }), (e: unknown) => e instanceof ControlError && e.field === 'state.sessions.filter');
  assert.equal(r.router.listSessions().map((s) => s.name), ['ok'], 'a refused state leaves the running sessions');
  r.router.setAllowlist({ service: 0, prefixes: ['10.9.0.0/16'] });
  r.router.applyState({ ...state, sessions: [{ name: 'new', mode: 'dup', filter: 'udp', device: COLLECTOR }] });
  assert.equal(r.router.listSessions().map((s) => [s.name, s.mode]), [['new', 'dup']]);
  assert.equal(r.router.getAllowlist(0), { service: 0, prefixes: ['127.0.0.0/8'] });
  await r.card.close();
});

test('devices registering mode race form one race session for their service, refused when they disagree', async () => {
  const r = rig();
  const members = ['198.51.100.10', '198.51.100.12', '198.51.100.11'];
  const neighbors = Object.fromEntries(members.map((m, i) => [m, `02:00:c6:33:64:${(0x10 + i).toString(16)}`]));
  // The servers' MACs as static neighbours of the wan port (where their subnet is).
  (r.board.ports.find((p) => p.name === 'wan') as { neighbors?: Record<string, string> }).neighbors = neighbors;
  const race = (device: string, filter = 'tcp dst port 80 and dst host 198.51.100.100') => ({
    device, service: 91, mode: 'race' as const, filter, encap: 'gre' as const, snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, lifetime: 0,
  });
  for (const m of members) r.router.wccpHooks.request(race(m));
  const sessions = r.router.listSessions();
  assert.equal(sessions.map((s) => [s.name, s.mode, s.origin]), [['race/91', 'race', 'registration']]);
  assert.equal(sessions[0].members, ['198.51.100.10', '198.51.100.11', '198.51.100.12'].map((address) => ({ address, port: 'wan' })), 'the group, as listed');
  const group = r.router.manager.tables()!.order.find((s) => s.name === 'race/91')!.race!;
  assert.equal(group.members.map((m) => m.address), ['198.51.100.10', '198.51.100.11', '198.51.100.12'], 'members in address order');
  assert.equal(group.members.map((m) => m.port), [1, 1, 1], 'reached by the wan port');
  assert.throws(() => r.router.wccpHooks.request(race('198.51.100.13', 'tcp dst port 443')), (e: unknown) => e instanceof SessionError && e.field === 'filter');
  r.router.wccpHooks.removed('198.51.100.11', 91);
  assert.equal(r.router.manager.tables()!.order.find((s) => s.name === 'race/91')!.race!.members.map((m) => m.address), ['198.51.100.10', '198.51.100.12']);
  r.router.wccpHooks.removed('198.51.100.10', 91);
  r.router.wccpHooks.removed('198.51.100.12', 91);
  assert.equal(r.router.listSessions(), [], 'the last member takes the race with it');
  await r.card.close();
});

test.run();
