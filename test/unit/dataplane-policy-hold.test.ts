// The forwarding policy (first-match permit/deny over originals) and the hold buffer of a session
// whose device has not registered yet (seed, step 210: packets of interest buffered and delivered
// when the device connects). Packets built by scapy; replicas checked by the independent decoder.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scapyBuild } from '../fixtures/scapy.ts';
import { session } from '../fixtures/oracle.ts';
import { decapsulate } from '../fixtures/decap.ts';
import { simulate, simSpec } from '../../firmware/runtime/simulate.ts';
import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { sessionCounters, portCounters, conservationViolations } from '../../firmware/runtime/counters.ts';

const [ssh, web, sshFromC, udp] = scapyBuild([
  'E()/IP(src=A,dst=B)/TCP(sport=40000,dport=22)/pay(30)',
  'E()/IP(src=A,dst=B)/TCP(sport=40001,dport=80)/pay(30)',
  'E()/IP(src=C,dst=B)/TCP(sport=40002,dport=22)/pay(30)',
  'E()/IP(src=A,dst=B)/UDP(sport=5000,dport=53)/pay(30)',
]);

test('policy: the first matching rule decides; deny drops the original, sessions still see it', async () => {
  const r = await simulate(
    [session('all-tcp', 0, { filter: 'tcp' })],
    [ssh, web, sshFromC, udp].map((frame) => ({ port: 0, frame })),
    simSpec(),
    [{ action: 'permit', filter: 'src host 10.1.2.3' }, { action: 'deny', filter: 'tcp port 22' }],
  );
  assert.equal(r.violations, []);
  assert.is(r.ports[0].rx_packets, 4);
  assert.is(r.ports[0].dropped_policy, 1, 'ssh from A is denied');
  assert.is(r.ports[0].forwarded, 3, 'ssh from C is permitted by the earlier rule');
  const forwarded = r.sent[1].filter((f) => f.queue === 'originals').map((f) => Buffer.from(f.bytes).toString('hex'));
  assert.equal(forwarded, [web, sshFromC, udp].map((b) => Buffer.from(b).toString('hex')));
  assert.is(r.sessions['all-tcp'].replicated, 3, 'the denied packet is still replicated');
  const inner = r.sent[2].filter((f) => f.queue === 'replicas').map((f) => decapsulate(f.bytes));
  assert.is(inner.length, 3);
});

test('policy errors name the rule and the field', () => {
  assert.throws(() => compileTables([], [{ action: 'deny', filter: 'port 99999' }]), /policy.*rules\.0\.filter/);
  assert.throws(() => compileTables([], [{ action: 'maybe' as 'deny', filter: 'tcp' }]), /rules\.0\.action/);
});

test('hold: replicas wait in a bounded buffer until the device registers, then leave in order', async () => {
  const spec = { ...simSpec(), holdRing: 4 };
  const drivers = spec.ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
  try {
    const held = session('waiting', 3, { filter: 'tcp', hold: true });
    card.dp.publish(compileTables([held]).bank.image);
    const frames = scapyBuild(Array.from({ length: 6 }, (_, i) => `E()/IP(src=A,dst=B)/TCP(sport=${41000 + i},dport=80)/pay(20,${i})`));
    frames.forEach((f, i) => drivers[0].inject(f, BigInt(i + 1) * 1000n));
    while (!card.drained()) card.step(0n);
    let c = sessionCounters(card.dp, 3);
    assert.is(c.matched, 6);
    assert.is(c.replicated, 4);
    assert.is(c.held, 4);
    assert.is(c.hold_full, 2, 'the buffer is bounded and what it cannot take is counted');
    assert.equal(conservationViolations({ p0: portCounters(card.dp, 0) }, { waiting: c }), []);
    assert.is(drivers[2].sent.length, 0, 'nothing leaves before the device registers');
    assert.is(drivers[1].sent.length, 6, 'originals never wait');

    // The device registers: the session is republished active and the held replicas leave first.
    card.dp.publish(compileTables([{ ...held, hold: false }]).bank.image);
    assert.is(card.dp.releaseHeld(3, 2), 4);
    const late = scapyBuild(['E()/IP(src=A,dst=B)/TCP(sport=42000,dport=80)/pay(20,9)']);
    drivers[0].inject(late[0], 10_000n);
    while (!card.drained()) card.step(0n);
    const inner = drivers[2].sent.map((f) => decapsulate(f.bytes));
    assert.is(inner.length, 5);
    const ip = (b: Uint8Array): string => Buffer.from(b.subarray(14)).toString('hex');
    assert.equal(inner.map((d) => Buffer.from(d.inner).toString('hex')), [...frames.slice(0, 4), late[0]].map(ip));
    c = sessionCounters(card.dp, 3);
    assert.is(c.replicated, 5);
    assert.is(c.held, 4);
  } finally {
    await card.close();
  }
});

test('a session that ends before its device registers gives its held frames back', async () => {
  const spec = { ...simSpec(), holdRing: 8 };
  const drivers = spec.ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
  try {
    card.dp.publish(compileTables([session('gone', 1, { filter: 'udp', hold: true })]).bank.image);
    drivers[0].inject(udp, 1000n);
    drivers[0].inject(udp, 2000n);
    while (!card.drained()) card.step(0n);
    const free = card.dp.replicaFree.used();
    card.dp.publish(compileTables([]).bank.image);
    assert.is(card.dp.discardHeld(1), 2);
    assert.is(card.dp.replicaFree.used(), free + 2);
  } finally {
    await card.close();
  }
});

test.run();
