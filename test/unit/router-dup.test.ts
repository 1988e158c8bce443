// A dup registration through the control plane over a real data plane: with a far end (tagged
// dup) the originals that leave by the far end's port are carried to it in the session's
// sequenced stream while the replicas go to the device, both with one stream id and the same
// sequence numbers; a far end the board cannot place is a refusal naming `farEnd`; without a far
// end dup is the untagged form (originals unchanged). Checked with the independent decapsulator.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadBoard, dataPlaneSpec, type Board } from '../../firmware/runtime/board.ts';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { Router } from '../../firmware/shell/router.ts';
import { LocalCards } from '../../firmware/runtime/cards.ts';
import { defaultStreamId, SessionError } from '../../firmware/shell/sessions/compile.ts';
import type { DeviceRequest } from '../../firmware/shell/sessions/manager.ts';
import type { RouterConfig } from '../../firmware/shell/config/types.ts';
import { buildFrame } from '../../hal/drivers/sim/packets.ts';
import { ipv4Bytes, parseIpv4, parseMac } from '../../hal/net/address.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import { decapsulate } from '../fixtures/decap.ts';

const LAN = 0;
const WAN = 1;
const MONITOR = 2;
const PEER = '192.0.2.2';
const FAR_END = '198.51.100.9';
const FAR_END_MAC = '02:00:c6:33:64:09';
const WCCP_ADDRESS = '127.0.0.1';

const CONFIG: RouterConfig = {
  file: 'test',
  wccp: { address: WCCP_ADDRESS, port: 2048, squid57Compat: false },
  services: [{ id: 90, type: 'dynamic', allow: ['192.0.2.0/24'] }],
  sessions: [],
  policy: [],
  limits: {},
};

const REQUEST: DeviceRequest = {
  device: PEER, service: 90, mode: 'dup', filter: 'src host 10.1.0.10', encap: 'gre-seq',
  snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, lifetime: 0,
};

interface Rig {
  readonly card: LineCard;
  readonly drivers: MemoryPortDriver[];
  readonly router: Router;
}

/** The sim board, with the far end as a static neighbour of the wan port. */
function rig(): Rig {
  const sim = loadBoard('sim');
  const board: Board = { ...sim, ports: sim.ports.map((p) => (p.name === 'wan' ? { ...p, neighbors: { ...p.neighbors, [FAR_END]: FAR_END_MAC } } : p)) };
  const drivers = board.lineCards[0].ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(dataPlaneSpec(board, 0), board.lineCards[0].ports.map((name, i) => ({ name, driver: drivers[i] })));
  return { card, drivers, router: new Router({ board, cards: new LocalCards([card]), config: CONFIG, version: 'test', clock: () => 1000 }) };
}

let ipId = 0;
function udp(src = '10.1.0.10', dst = '198.51.100.10'): Uint8Array {
  ipId++;
  return buildFrame({
    srcMac: parseMac('02:00:0a:01:00:0a')!, dstMac: parseMac('02:74:66:00:00:10')!,
    src: ipv4Bytes(parseIpv4(src)!), dst: ipv4Bytes(parseIpv4(dst)!), ipId,
    l4: { proto: 'udp', srcPort: 40000, dstPort: 9000 }, payload: new Uint8Array(64).fill(ipId),
  });
}

const ipOf = (f: Uint8Array): Uint8Array => f.subarray(14, 14 + ((f[16] << 8) | f[17]));

function run(r: Rig, frames: readonly Uint8Array[]): void {
  for (const f of frames) r.drivers[LAN].inject(f, 1_000_000_000n);
  for (let i = 0; i < 8 && !r.card.drained(); i++) r.card.step(1_000_000_000n);
  r.card.step(1_000_000_000n);
}

function invariantsHold(r: Rig): void {
  const c = r.router.counters();
  assert.equal(conservationViolations(c.ports, c.sessions), []);
}

test('a far end makes the dup session tagged: originals carried to it, replicas to the peer, one stream, same numbers', async () => {
  const r = rig();
  r.router.wccpHooks.request({ ...REQUEST, farEnd: FAR_END });
  const [info] = r.router.listSessions();
  assert.is(info.farEnd, FAR_END);
  const frames = [udp(), udp(), udp('10.1.0.11'), udp()];
  run(r, frames);
  const stream = defaultStreamId(`${PEER}/90`);
  const carried = r.drivers[WAN].sent.map((s) => s.bytes);
  assert.is(carried.length, 4);
  assert.equal(carried[2], frames[2], 'a packet the session does not match leaves unchanged');
  const member1 = [carried[0], carried[1], carried[3]].map(decapsulate);
  const member2 = r.drivers[MONITOR].sent.filter((s) => s.queue === 'replicas').map((s) => decapsulate(s.bytes));
  assert.is(member2.length, 3);
  [frames[0], frames[1], frames[3]].forEach((f, i) => {
    for (const [what, d] of [['carried original', member1[i]], ['replica', member2[i]]] as const) {
      assert.is(d.kind, 'gre-seq', what);
      assert.is(d.key, stream, `${what} ${i}: stream id`);
      assert.is(d.sequence, i, `${what} ${i}: sequence`);
      assert.equal(d.inner, ipOf(f), `${what} ${i}: the original inside`);
      assert.is(d.outer.src, WCCP_ADDRESS, `${what}: sourced from the router's WCCP address`);
    }
    assert.is(member1[i].outer.dst, FAR_END);
    assert.is(member1[i].outer.dstMac, FAR_END_MAC);
    assert.is(member2[i].outer.dst, PEER);
  });
  const s = r.router.counters().sessions[`${PEER}/90`];
  assert.is(s.carried, 3);
  assert.is(s.replicated, 3);
  invariantsHold(r);
  await r.card.close();
});

test('without a far end dup stays untagged: originals unchanged, replicas numbered to the peer', async () => {
  const r = rig();
  r.router.wccpHooks.request(REQUEST);
  assert.is(r.router.listSessions()[0].farEnd, undefined);
  const frames = [udp(), udp()];
  run(r, frames);
  assert.equal(r.drivers[WAN].sent.map((s) => s.bytes), frames);
  assert.equal(r.drivers[MONITOR].sent.filter((s) => s.queue === 'replicas').map((s) => decapsulate(s.bytes).inner), frames.map(ipOf));
  assert.is(r.router.counters().sessions[`${PEER}/90`].carried, 0);
  invariantsHold(r);
  await r.card.close();
});

test('a far end the board cannot place is a refusal naming farEnd, and leaves nothing behind', async () => {
  const r = rig();
  const refusal = (farEnd: string, mode: DeviceRequest['mode'] = 'dup'): SessionError => {
    try {
      r.router.wccpHooks.request({ ...REQUEST, mode, farEnd });
    } catch (e) {
      assert.instance(e, SessionError);
      return e as SessionError;
    }
    throw new Error(`far end ${farEnd} accepted`);
  };
  const unrouted = refusal('203.0.113.50');
  assert.is(unrouted.field, 'farEnd');
  assert.match(unrouted.message, /203\.0\.113\.50 is on no connected subnet and no static route covers it/);
  const noMac = refusal('198.51.100.77');
  assert.is(noMac.field, 'farEnd');
  assert.match(noMac.message, /no MAC known for next hop 198\.51\.100\.77 on port "wan"/);
  assert.is(refusal('not-an-address').field, 'farEnd');
  assert.match(refusal(FAR_END, 'sniff').message, /farEnd: a far end is for dup sessions with encap gre-seq only/);
  assert.equal(r.router.listSessions(), []);
  run(r, [udp()]);
  assert.is(r.drivers[WAN].sent.length, 1, 'the original went on as it was');
  invariantsHold(r);
  await r.card.close();
});

test.run();
