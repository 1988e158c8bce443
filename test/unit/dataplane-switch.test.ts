// Table switches while traffic flows (ARCHITECTURE "Reliability invariants"): a rule or session
// change loses no original and applies exactly at the bank switch — packets classified before the
// publish use the old sessions, every packet after it the new ones, even for flows the flow cache
// already holds. Drives a LineCard directly so the switch can fall between two batches of one
// stream.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { compileTables, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import { conservationViolations, globalCounters, portCounters, sessionCounters, type CounterSet } from '../../firmware/runtime/counters.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { session } from '../fixtures/oracle.ts';
import { decapsulate, type Decapsulated } from '../fixtures/decap.ts';
import { scapyBuild } from '../fixtures/scapy.ts';

// Two TCP flows to port 80, two UDP flows; each packet's payload says its stream index.
const FLOWS = [
  (i: number) => `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/Raw(b"%06d")`.replace('%06d', String(i).padStart(6, '0')),
  (i: number) => `E()/IP(src=C,dst=B)/TCP(sport=40001,dport=80)/Raw(b"%06d")`.replace('%06d', String(i).padStart(6, '0')),
  (i: number) => `E()/IP(src=A,dst=D)/UDP(sport=1025,dport=53)/Raw(b"%06d")`.replace('%06d', String(i).padStart(6, '0')),
  (i: number) => `E()/IPv6(src=A6,dst=B6)/UDP(sport=1025,dport=53)/Raw(b"%06d")`.replace('%06d', String(i).padStart(6, '0')),
];
const N = 200;
const STREAM = scapyBuild(Array.from({ length: N }, (_, i) => FLOWS[i % 4](i)));
const isTcp = (i: number): boolean => i % 4 < 2;
/** The stream index a replica carries (the last six payload bytes of its inner packet). */
const indexOf = (d: Decapsulated): number => Number(Buffer.from(d.inner.subarray(d.inner.length - 6)).toString());

interface Harness {
  readonly card: LineCard;
  readonly drivers: MemoryPortDriver[];
  readonly sessions: () => Record<string, CounterSet>;
}

function harness(slots: Record<string, number>): Harness {
  const spec = simSpec();
  const drivers = spec.ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
  return {
    card,
    drivers,
    sessions: () => Object.fromEntries(Object.entries(slots).map(([name, slot]) => [name, sessionCounters(card.dp, slot)])),
  };
}

function runToEnd(card: LineCard): void {
  while (!card.drained()) card.step(0n);
}

function replicas(d: MemoryPortDriver): Decapsulated[] {
  return d.sent.filter((f) => f.queue === 'replicas').map((f) => decapsulate(f.bytes));
}

test('a switch between two batches of one stream: before → old sessions, after → new ones, no original lost', () => {
  const A: SessionSpec[] = [session('web', 0, { filter: 'tcp port 80', encap: 'erspan2' })];
  // After the switch: "web" narrowed to one client (same slot and generation: its state carries
  // on), and a new "dns" session.
  const B: SessionSpec[] = [
    session('web', 0, { filter: 'tcp port 80 and src host 10.0.0.1', encap: 'erspan2' }),
    session('dns', 1, { filter: 'udp port 53', encap: 'erspan3' }),
  ];
  const h = harness({ web: 0, dns: 1 });
  const { card, drivers } = h;
  try {
    card.dp.publish(compileTables(A).bank.image);
    STREAM.forEach((f, i) => drivers[0].inject(f, BigInt(i + 1) * 1000n));
    const SWITCH_AT = 90;
    drivers[0].receive(0n);
    // Batches (at most the board's batchMax each) up to exactly the packets before the switch.
    for (let done = 0; done < SWITCH_AT;) {
      const n = card.dp.process(0n, SWITCH_AT - done);
      assert.ok(n > 0 && done + n <= SWITCH_AT, `batch of ${n} after ${done}`);
      done += n;
      for (const d of card.drivers) d.transmit(0n);
    }
    const before = card.dp.observedVersion;
    const version = card.dp.publish(compileTables(B).bank.image);
    assert.is.not(version, before);
    runToEnd(card);
    assert.is(card.dp.observedVersion, version, 'the data plane acknowledged the new tables');

    // Originals: all of them, in order, byte-identical.
    const originals = drivers[1].sent.filter((f) => f.queue === 'originals');
    assert.is(originals.length, N);
    originals.forEach((f, i) => assert.ok(Buffer.from(f.bytes).equals(Buffer.from(STREAM[i])), `original ${i}`));

    // Replicas: by device address (web → .10, dns → .11).
    const all = replicas(drivers[2]);
    const web = all.filter((d) => d.outer.dst === '192.0.2.10').map(indexOf);
    const dns = all.filter((d) => d.outer.dst === '192.0.2.11').map(indexOf);
    const idx = Array.from({ length: N }, (_, i) => i);
    assert.equal(web, idx.filter((i) => isTcp(i) && (i < SWITCH_AT || i % 4 === 0)), 'web: both TCP flows before, the 10.0.0.1 flow after');
    assert.equal(dns, idx.filter((i) => !isTcp(i) && i >= SWITCH_AT), 'dns: only after the switch, cached flows included');
    // web kept its slot and generation: its ERSPAN sequence runs on across the switch.
    assert.equal(all.filter((d) => d.outer.dst === '192.0.2.10').map((d) => d.sequence), web.map((_, k) => k));
    assert.equal(all.filter((d) => d.outer.dst === '192.0.2.11').map((d) => d.sequence), dns.map((_, k) => k));

    const ports = Object.fromEntries(card.dp.spec.ports.map((p, i) => [p.name, portCounters(card.dp, i)]));
    assert.equal(conservationViolations(ports, h.sessions()), []);
    assert.is(ports.p0.forwarded, N);
    assert.is(h.sessions().web.replicated, web.length);
    assert.is(h.sessions().dns.replicated, dns.length);
    const g = globalCounters(card.dp);
    assert.is(g.table_switches, 2, 'one switch at boot, one mid-stream');
    assert.ok(g.flow_cache_hits > 0, 'the flow cache was in use on both sides of the switch');
  } finally {
    void card.close();
  }
});

test('a new generation in a reused slot starts afresh (sequence from 0); removing every session stops replication at once', () => {
  const h = harness({ s: 0 });
  const { card, drivers } = h;
  try {
    const g1 = [session('s', 0, { filter: '', encap: 'erspan2', generation: 1 })];
    const g2 = [session('s', 0, { filter: 'udp', encap: 'erspan2', generation: 2 })];
    card.dp.publish(compileTables(g1).bank.image);
    STREAM.slice(0, 40).forEach((f, i) => drivers[0].inject(f, BigInt(i + 1) * 1000n));
    runToEnd(card);
    card.dp.publish(compileTables(g2).bank.image);
    STREAM.slice(40, 80).forEach((f, i) => drivers[0].inject(f, BigInt(i + 41) * 1000n));
    runToEnd(card);
    card.dp.publish(compileTables([]).bank.image);
    STREAM.slice(80, 120).forEach((f, i) => drivers[0].inject(f, BigInt(i + 81) * 1000n));
    runToEnd(card);

    const all = replicas(drivers[2]);
    const idx = all.map(indexOf);
    const want = [...Array.from({ length: 40 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => 40 + i).filter((i) => !isTcp(i))];
    assert.equal(idx, want);
    assert.equal(all.map((d) => d.sequence), [...Array.from({ length: 40 }, (_, k) => k), ...Array.from({ length: 20 }, (_, k) => k)], 'sequence restarts with the new generation');
    assert.equal(all.map((d) => d.outer.id), all.map((d) => d.sequence), 'so does the outer IP id');
    const originals = drivers[1].sent.filter((f) => f.queue === 'originals');
    assert.is(originals.length, 120, 'no original lost across three switches');
    originals.forEach((f, i) => assert.ok(Buffer.from(f.bytes).equals(Buffer.from(STREAM[i])), `original ${i}`));
    assert.is(globalCounters(card.dp).table_switches, 3);
  } finally {
    void card.close();
  }
});

test('sessions published while packets wait in the rx ring apply to all of them (tables are read per batch)', () => {
  const h = harness({ a: 0, b: 1 });
  const { card, drivers } = h;
  try {
    card.dp.publish(compileTables([session('a', 0, { filter: 'tcp' })]).bank.image);
    STREAM.slice(0, 100).forEach((f, i) => drivers[0].inject(f, BigInt(i + 1) * 1000n));
    drivers[0].receive(0n); // all 100 received under "a" but not yet processed
    card.dp.publish(compileTables([session('b', 1, { filter: 'udp' })]).bank.image);
    runToEnd(card);
    const all = replicas(drivers[2]);
    assert.ok(all.every((d) => d.outer.dst === '192.0.2.11'), 'only b: classification happens at processing time');
    assert.equal(all.map(indexOf), Array.from({ length: 100 }, (_, i) => i).filter((i) => !isTcp(i)));
    assert.is(drivers[1].sent.filter((f) => f.queue === 'originals').length, 100);
  } finally {
    void card.close();
  }
});

test.run();
