// The epoch barrier of WorkerCards.publish() under traffic (firmware/runtime/workers/worker-cards.ts):
// while both directions of 400 flows cross two line cards (worker threads), the tables switch
// many times between version X (one session, x, replicating every UDP packet) and version Y (two
// sessions: yb for the servers' direction, source port 53, and ya for the clients', destination
// port 53). Every packet is identified by the id in its last bytes, so the sinks prove per packet:
// no original lost or duplicated, and every packet handled by exactly one version: one replica
// (never two; none only for a counted replica drop) whose outer destination names its session,
// and a session of Y only ever replicates its own direction. A packet classified by X's rules but
// acted on with Y's session table (a stale flow-cache result across a switch, say) would be
// replicated by yb whatever its direction. publish() returns only when every card has observed
// the new version.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerCards } from '../../firmware/runtime/workers/worker-cards.ts';
import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { conservationViolations, type CounterSet } from '../../firmware/runtime/counters.ts';
import { sumCounters } from '../../firmware/runtime/cards.ts';
import { session } from '../fixtures/oracle.ts';
import { cardsBoard, SOURCE_TAG, trafficDrivers, type SinkReport } from '../fixtures/cards-drivers.ts';

const FRAMES = 12_000;
const FLOWS = 400;
/** Frames each source may send between two publishes: the test's steps pace the traffic. */
const STEP = 100;
const M = 2; // the mirror port's index (board order a, b, m)
const X = session('x', 0, { filter: 'udp', egressPort: M });
const YB = session('yb', 1, { filter: 'udp and src port 53', egressPort: M });
const YA = session('ya', 2, { filter: 'udp and dst port 53', egressPort: M });
const TABLES = { x: compileTables([X]).bank.image, y: compileTables([YB, YA]).bank.image };

const allIds = (tag: number): number[] => Array.from({ length: FRAMES }, (_, k) => ((tag << 24) | k) >>> 0);
const sorted = (a: Uint32Array): number[] => Array.from(a).sort((p, q) => p - q);

test('tables switch many times under traffic: no original lost, every packet handled by exactly one version', async () => {
  const allowance = new SharedArrayBuffer(4);
  const allowed = new Int32Array(allowance);
  const cards = await WorkerCards.start(cardsBoard({ lc0: ['a', 'm'], lc1: ['b'] }), { drivers: trafficDrivers({ frames: FRAMES, flows: FLOWS, perMs: 0, allowance }) });
  try {
    cards.publish(TABLES.x);
    let publishes = 1;
    while (Atomics.load(allowed, 0) < FRAMES) {
      Atomics.add(allowed, 0, STEP);
      await sleep(1);
      cards.publish(publishes % 2 === 0 ? TABLES.x : TABLES.y);
      publishes++;
      for (const v of cards.versions()) assert.is(v.observed, v.table, 'publish() returned before a card observed the new version');
    }
    await cards.settle(30_000);

    const reports = await cards.reports() as Record<string, SinkReport>;
    // Originals: every frame of a left by b and every frame of b by a, once each.
    assert.equal(sorted(reports.b.originals), allIds(SOURCE_TAG.a), 'every original from a left by b, once');
    assert.equal(sorted(reports.a.originals), allIds(SOURCE_TAG.b), 'every original from b left by a, once');

    const x = cards.sessionCounters(X.slot);
    const yb = cards.sessionCounters(YB.slot);
    const ya = cards.sessionCounters(YA.slot);
    assert.is(x.matched + yb.matched + ya.matched, 2 * FRAMES, 'every packet matched by exactly one version');
    assert.ok(x.matched > 0 && yb.matched + ya.matched > 0, `both versions ran: x ${x.matched}, y ${yb.matched + ya.matched}`);

    const m = reports.m;
    const ids = new Set(m.replicas);
    assert.is(ids.size, m.replicas.length, 'no packet was replicated twice');
    const dropped = (c: CounterSet): number => c.matched - c.replicated;
    assert.is(ids.size + dropped(x) + dropped(yb) + dropped(ya), 2 * FRAMES, 'every packet has one replica, or a counted replica drop');
    const by = { x: 0, yb: 0, ya: 0 };
    m.replicas.forEach((id, k) => {
      const destination = m.replicaDestinations[k];
      const tag = id >>> 24;
      if (destination === X.destination.ip) by.x++;
      else if (destination === YB.destination.ip && tag === SOURCE_TAG.b) by.yb++;
      else if (destination === YA.destination.ip && tag === SOURCE_TAG.a) by.ya++;
      else assert.unreachable(`replica of packet ${id.toString(16)} (from ${tag === SOURCE_TAG.a ? 'a' : 'b'}) went to ${destination.toString(16)}: classified by one version, acted on by another`);
    });
    assert.equal(by, { x: x.replicated, yb: yb.replicated, ya: ya.replicated }, 'replicas per session');

    const ports = cards.portCounters();
    assert.equal(conservationViolations(ports, { x, yb, ya }), []);
    assert.is(ports.a.rx_packets + ports.b.rx_packets, 2 * FRAMES);
    for (const [name, d] of Object.entries(cards.driverCounters())) assert.is(d.rxMissed, 0, `${name}: rxMissed`);
    for (let k = 0; k < cards.cardCount; k++) {
      assert.is(cards.card(k).global.table_switches, publishes, `card ${k} started every version`);
    }
    const perCard = [0, 1].map((k) => cards.card(k));
    for (const slot of [X.slot, YB.slot, YA.slot]) assert.equal(cards.sessionCounters(slot), sumCounters(perCard.map((c) => c.sessionCounters(slot))));
    assert.equal(ports, Object.fromEntries(Object.keys(ports).map((name) => [name, sumCounters(perCard.map((c) => c.ports[name]))])));
  } finally {
    await cards.close();
  }
});

test('publish() is refused whole when the image does not fit a bank', async () => {
  const cards = await WorkerCards.start(cardsBoard({ lc0: ['a', 'm'], lc1: ['b'] }), { drivers: trafficDrivers({ frames: 0, flows: 1, perMs: 0 }) });
  try {
    const before = cards.versions();
    assert.throws(() => cards.publish(new Uint8Array((1 << 20) + 64)), /bank holds/);
    assert.equal(cards.versions(), before);
  } finally {
    await cards.close();
  }
});

test.run();
