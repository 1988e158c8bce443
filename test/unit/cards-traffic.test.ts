// Traffic through line cards in worker threads (firmware/runtime/workers/): the sim board on one
// card and split over two, and boards/chassis.json on four. Simulated clients open a bounded
// number of flows through the router to simulated servers; a sniff session replicates to the
// collector. Afterwards: every flow completed with no retransmission (every original, both
// directions, crossed the router), the conservation invariants hold on the summed counters, the
// collector decapsulated as many replicas as the session made, and every sum is the sum of the
// per-card counters. With the test drivers, each card receives exactly as many packets of each
// direction (both directions of every flow land on the same card).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadBoard, validateBoard, type Board } from '../../firmware/runtime/board.ts';
import { WorkerCards } from '../../firmware/runtime/workers/worker-cards.ts';
import { sumCounters } from '../../firmware/runtime/cards.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import { compileTables, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import { parseIpv4, parseMac } from '../../firmware/shell/net/address.ts';
import { cardsBoard, SOURCE_TAG, trafficDrivers, type SinkReport } from '../fixtures/cards-drivers.ts';

const FLOWS_PER_CLIENT_GROUP = 120;

/** A board file's data with every client group stopping after FLOWS_PER_CLIENT_GROUP flows, and other line cards. */
function bounded(name: string, lineCards?: Board['lineCards']): Board {
  const { file: _file, ...data } = loadBoard(name);
  const copy = JSON.parse(JSON.stringify(data)) as Omit<Board, 'file'>;
  for (const p of copy.ports) {
    // A long retransmission timeout: on this shared machine a card can be descheduled for a
    // while, and a retransmission should mean a lost packet, not a late one.
    if (p.endpoint?.kind === 'clients') Object.assign(p.endpoint, { maxFlows: FLOWS_PER_CLIENT_GROUP, flowsPerSecond: 400, retransmitTimeoutMs: 10_000 });
  }
  return validateBoard(lineCards ? { ...copy, lineCards } : copy, `${name} (bounded)`);
}

/** A sniff session of every packet to the board's collector on port `monitor`. */
function sniffAll(board: Board): SessionSpec {
  const index = board.ports.findIndex((p) => p.name === 'monitor');
  const port = board.ports[index];
  const collector = port.endpoint!;
  return {
    name: 'all', mode: 'sniff', filter: 'ip', encap: 'gre', snaplen: 0, sample: 1, ratePps: 0, rateBps: 0,
    egressPort: index, mtu: port.mtu,
    source: { ip: parseIpv4(port.ipv4!.split('/')[0]), mac: parseMac(port.mac) },
    destination: { ip: parseIpv4(collector.address as string), mac: parseMac(collector.mac as string) },
    slot: 0, generation: 1,
  };
}

type Counters = Record<string, number>;

/** Waits until every client group has started and finished all its flows. */
async function flowsDone(cards: WorkerCards, clients: string[], timeoutMs: number): Promise<Record<string, Counters>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await cards.reports() as Record<string, Counters>;
    if (clients.every((c) => r[c].flowsStarted === FLOWS_PER_CLIENT_GROUP && r[c].activeFlows === 0)) return r;
    if (performance.now() > deadline) throw new Error(`flows did not finish: ${JSON.stringify(clients.map((c) => r[c]))}`);
    await sleep(50);
  }
}

async function runSimBoard(board: Board): Promise<void> {
  const cards = await WorkerCards.start(board, { paused: true });
  try {
    const s = sniffAll(board);
    cards.publish(compileTables([s]).bank.image);
    cards.resume();
    const clients = board.ports.filter((p) => p.endpoint?.kind === 'clients').map((p) => p.name);
    await flowsDone(cards, clients, 60_000);
    await cards.settle(20_000);
    const r = await cards.reports() as Record<string, Counters>;
    const ports = cards.portCounters();
    const session = cards.sessionCounters(s.slot);
    let clientPackets = 0;
    const drivers = cards.driverCounters();
    for (const c of clients) {
      const servers = board.ports.find((p) => p.name === c)!.crossConnect!;
      assert.is(r[c].flowsCompleted, FLOWS_PER_CLIENT_GROUP, `${c}: every flow completed`);
      assert.is(r[c].retransmits, 0, `${c}: no retransmission (no original lost)`);
      assert.is(r[c].flowsAbandoned, 0, `${c}: no abandoned flow`);
      assert.is(ports[c].rx_packets, r[c].packetsSent, `${c}: the router received every client packet`);
      assert.is(r[servers].packetsReceived, r[c].packetsSent, `${servers}: the servers received every client packet`);
      assert.is(r[c].packetsReceived, r[servers].packetsSent, `${c}: the clients received every server packet`);
      assert.is(drivers[servers].txPackets, ports[c].forwarded, `${servers}: every original forwarded from ${c} was sent`);
      clientPackets += r[c].packetsSent;
    }
    assert.equal(conservationViolations(ports, { all: session }), []);
    for (const [name, d] of Object.entries(cards.driverCounters())) {
      assert.is(d.rxMissed, 0, `${name}: rxMissed`);
      assert.is(d.txDropped, 0, `${name}: txDropped`);
    }
    const ipPackets = Object.values(ports).reduce((n, p) => n + p.rx_packets - p.not_ip, 0);
    assert.ok(clientPackets > 0);
    assert.is(session.matched, ipPackets, 'the session matched every IP packet');
    assert.ok(session.replicated > 0, 'replicas were made');
    assert.is(r.monitor.replicas, session.replicated, 'the collector decapsulated every replica the session made');
    assert.is(r.monitor.malformed, 0);

    await cards.close(); // the final counters: idle cards still count batches while they run
    const per = board.lineCards.map((_, k) => cards.card(k));
    assert.equal(cards.portCounters(), ports, 'no packet moved after the cards settled');
    for (const name of cards.portNames) assert.equal(ports[name], sumCounters(per.map((c) => c.ports[name])), `port ${name}: sum of the cards`);
    assert.equal(session, sumCounters(per.map((c) => c.sessionCounters(s.slot))), 'session: sum of the cards');
    assert.equal(cards.globalCounters(), sumCounters(per.map((c) => c.global)), 'global: sum of the cards');
    if (board.lineCards.length > 1) {
      for (const c of per) assert.ok(c.global.packets > 0, `card ${c.name} processed packets`);
      const steered = per.reduce((n, c) => n + Object.values(c.handoff).reduce((m, h) => m + h.steered_out, 0), 0);
      const arrived = per.reduce((n, c) => n + Object.values(c.handoff).reduce((m, h) => m + h.steered_in, 0), 0);
      assert.ok(steered > 0, 'frames were steered to other cards');
      assert.is(arrived, steered, 'every steered frame arrived');
      const out = per.reduce((n, c) => n + Object.values(c.handoff).reduce((m, h) => m + h.tx_handed_out, 0), 0);
      const taken = per.reduce((n, c) => n + Object.values(c.handoff).reduce((m, h) => m + h.tx_handed_in, 0), 0);
      assert.is(taken, out, 'every frame handed to a port owner was taken');
    }
  } finally {
    await cards.close();
  }
}

test('the sim board on one line card (a worker thread)', async () => {
  await runSimBoard(bounded('sim'));
});

test('the sim board over two line cards: lan and monitor on lc0, wan and uplink on lc1', async () => {
  await runSimBoard(bounded('sim', [{ name: 'lc0', ports: ['lan', 'monitor'] }, { name: 'lc1', ports: ['wan', 'uplink'] }]));
});

test('boards/chassis.json: four line cards', async () => {
  const board = bounded('chassis');
  assert.is(board.lineCards.length, 4);
  await runSimBoard(board);
});

test('both directions of every flow are processed by the same card (two and three cards)', async () => {
  const FRAMES = 6000;
  const layouts: Record<string, string[]>[] = [{ lc0: ['a', 'm'], lc1: ['b'] }, { lc0: ['a'], lc1: ['b'], lc2: ['m'] }];
  for (const layout of layouts) {
    const cards = await WorkerCards.start(cardsBoard(layout), { drivers: trafficDrivers({ frames: FRAMES, flows: 300, perMs: 60 }) });
    try {
      await cards.settle(30_000);
      const reports = await cards.reports() as Record<string, SinkReport>;
      assert.is(reports.b.originals.length, FRAMES);
      assert.is(new Set(reports.b.originals).size, FRAMES);
      assert.ok(reports.b.originals.every((id) => id >>> 24 === SOURCE_TAG.a));
      assert.is(reports.a.originals.length, FRAMES);
      let processed = 0;
      for (let k = 0; k < cards.cardCount; k++) {
        const c = cards.card(k);
        // Flow f sends its k-th frame both ways; the card of flow f gets both: equal counts.
        assert.is(c.ports.a.rx_packets, c.ports.b.rx_packets, `card ${c.name}: a → b and b → a packets`);
        processed += c.ports.a.rx_packets;
      }
      assert.is(processed, FRAMES);
      const busy = [0, 1].map((k) => cards.card(k).ports.a.rx_packets);
      assert.ok(busy.every((n) => n > FRAMES / 4), `flows spread over the cards that own traffic: ${busy.join(', ')}`);
    } finally {
      await cards.close();
    }
  }
});

test.run();
