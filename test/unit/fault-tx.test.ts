// The fault wrapper on the transmit side, and around the drivers that use the wasm record movers:
// - port 1 is wrapped; frames injected on port 0 are forwarded by the router to port 1, where the
//   tx faults act on what the router sends (originals and, with a session, replicas);
// - a classic-pcap source (whose fast path, pcapIngest, writes into the port's rx ring by port
//   index) and a pcapng sink (pcapngEmit, given a ring address) work through the staging rings.

import fs from 'node:fs';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { DescFlag } from '../../wasm/abi.ts';
import { FaultDriver, type FaultConfig } from '../../hal/drivers/fault/index.ts';
import { CORRUPT_FROM } from '../../hal/drivers/fault/fate.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { PcapSinkDriver } from '../../hal/drivers/pcap/sink-driver.ts';
import { PcapSourceDriver } from '../../hal/drivers/pcap/source-driver.ts';
import { encodePcap, LINKTYPE, readCaptureBuffer } from '../../hal/drivers/pcap/format/index.ts';
import { session } from '../fixtures/oracle.ts';
import { conserved, hex, inject, makeTempDir, poolsFull, rig, runToDrained, scapyFrames, sentHex, STEP_NS, T0, TS_STEP } from './fault-helpers.ts';

const N = 1000;
const FRAMES = scapyFrames(N);
const HEX = FRAMES.map(hex);
const SIGMAS = 5;
/** Sink write buffer: the sim board's io region is 1 MiB, the sink's default chunk 4 MiB. */
const SINK_CHUNK = 256 << 10;

function withinSigmas(count: number, n: number, p: number): boolean {
  return Math.abs(count - n * p) <= SIGMAS * Math.sqrt(n * p * (1 - p));
}

/** Port 1 wrapped with `config`; FRAMES injected on port 0; optional sessions replicating to port 1. */
async function runTx(config: FaultConfig, replicate = false) {
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 1 ? (fault = new FaultDriver(m, config)) : m));
  if (replicate) r.card.dp.publish(compileTables([session('s', 0, { filter: 'udp', egressPort: 1 })]).bank.image);
  inject(r, 0, FRAMES);
  runToDrained(r);
  await r.card.close();
  assert.ok(poolsFull(r), 'frame pools are full again');
  const c = fault.counters();
  assert.ok(conserved(c.tx), `tx counters conserved: ${JSON.stringify(c.tx)}`);
  assert.is(c.rx.seen, 0);
  return { r, fault, c };
}

test('tx drop acts on what the router sends: survivors are the forwarded frames, in order', async () => {
  const p = 0.2;
  const { r, c } = await runTx({ tx: { drop: p, seed: 9 } });
  assert.is(c.tx.seen, N, 'the router forwarded every frame to port 1');
  assert.is(r.card.dp.txOriginals[1]!.used(), 0);
  const sent = sentHex(r, 1);
  assert.is(sent.length, N - c.tx.dropped);
  assert.ok(withinSigmas(c.tx.dropped, N, p), `${c.tx.dropped} drops`);
  let k = 0;
  for (const h of HEX) if (sent[k] === h) k++;
  assert.is(k, sent.length, 'survivors are a subsequence of the input, in order');
  assert.is(r.card.driverCounters(1).txPackets, sent.length, 'the medium counts what it was given');
});

test('tx corrupt flips one bit at or after byte 14 of what the router sends', async () => {
  const { r, c } = await runTx({ tx: { corrupt: 0.5, seed: 4 } });
  const out = r.media[1]!.sent;
  assert.is(out.length, N);
  let changed = 0;
  out.forEach((s, i) => {
    const a = FRAMES[i]!;
    let bits = 0;
    for (let j = 0; j < a.length; j++) {
      const x = a[j]! ^ s.bytes[j]!;
      if (x !== 0) assert.ok(j >= CORRUPT_FROM, `frame ${i}: byte ${j} changed`);
      for (let v = x; v; v &= v - 1) bits++;
    }
    assert.ok(bits <= 1);
    changed += bits;
  });
  assert.is(changed, c.tx.corrupted);
  assert.ok(withinSigmas(changed, N, 0.5));
});

test('tx delay holds sent frames until their time, in order, originals and replicas alike', async () => {
  const delay = 3n * STEP_NS;
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 1 ? (fault = new FaultDriver(m, { tx: { delayNs: Number(delay) } })) : m));
  r.card.dp.publish(compileTables([session('s', 0, { filter: 'udp', egressPort: 1 })]).bank.image);
  inject(r, 0, FRAMES.slice(0, 40));
  const out = r.media[1]!.sent;
  for (let now = STEP_NS; now < STEP_NS + delay; now += STEP_NS) {
    r.card.step(now);
    assert.is(out.length, 0, `nothing leaves before the delay (now ${now})`);
  }
  r.card.step(STEP_NS + delay);
  const originals = out.filter((s) => s.queue === 'originals').map((s) => hex(s.bytes));
  const replicas = out.filter((s) => s.queue === 'replicas');
  assert.equal(originals, HEX.slice(0, 40));
  assert.ok(replicas.length > 0 && replicas.every((s) => (s.desc.flags & DescFlag.Replica) !== 0));
  assert.is(out.length, fault.counters().tx.delayed);
  assert.ok(r.card.drained());
  await r.card.close();
  assert.ok(poolsFull(r));
});

test('tx duplicate copies replicas into receive frames (pools stay whole); originals stay first per queue', async () => {
  const { r, c } = await runTx({ tx: { duplicate: 1 } }, true);
  const out = r.media[1]!.sent;
  const originals = out.filter((s) => s.queue === 'originals').map((s) => hex(s.bytes));
  assert.equal(originals, HEX.flatMap((h) => [h, h]));
  const replicas = out.filter((s) => s.queue === 'replicas');
  assert.ok(replicas.length > 0);
  for (let i = 0; i < replicas.length; i += 2) {
    assert.equal(replicas[i + 1]!.bytes, replicas[i]!.bytes);
    assert.is(replicas[i]!.desc.flags & DescFlag.ReplicaPool, DescFlag.ReplicaPool);
    assert.is(replicas[i + 1]!.desc.flags & DescFlag.ReplicaPool, 0, 'the copy belongs to the receive pool');
    assert.is(replicas[i + 1]!.desc.flags & DescFlag.Replica, DescFlag.Replica, 'and is still a replica');
  }
  assert.is(c.tx.duplicated, out.length / 2);
});

test('tx and rx faults together on one port are independent and both conserved', async () => {
  let fault!: FaultDriver;
  const r = rig((p, m) => (p === 1 ? (fault = new FaultDriver(m, { rx: { drop: 0.5, seed: 1 }, tx: { drop: 0.5, seed: 2 } })) : m));
  inject(r, 0, FRAMES.slice(0, 500));
  inject(r, 1, FRAMES.slice(500), 500);
  runToDrained(r);
  await r.card.close();
  const c = fault.counters();
  assert.ok(conserved(c.rx) && conserved(c.tx));
  assert.is(c.rx.seen, 500);
  assert.is(c.tx.seen, 500);
  assert.is(r.media[0]!.sent.length, c.rx.passed, 'what port 1 received reaches port 0');
  assert.is(r.media[1]!.sent.length, c.tx.passed);
  assert.ok(poolsFull(r));
});

/** A card whose port 0 reads `file` through the pcap source, wrapped with `config`. */
async function pcapSourceRun(file: string, config: FaultConfig) {
  const spec = simSpec();
  const sink = new MemoryPortDriver();
  const fault = new FaultDriver(new PcapSourceDriver(file, { chunkBytes: SINK_CHUNK }), config);
  const card = LineCard.create(spec, [
    { name: 'p0', driver: fault },
    { name: 'p1', driver: sink },
    { name: 'p2', driver: new MemoryPortDriver() },
  ]);
  let now = STEP_NS;
  while (!card.drained()) {
    card.step(now);
    now += STEP_NS;
  }
  await card.close();
  return { fault, sent: sink.sent, full: card.dp.rxFree.used() === spec.rxFrames };
}

test('around the classic-pcap source (wasm pcapIngest by port index): frames pass through the faults', async () => {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, 'in.pcap');
    fs.writeFileSync(file, encodePcap(FRAMES.map((data, i) => ({ data, tsNs: T0 + BigInt(i) * TS_STEP })), { linkType: LINKTYPE.ETHERNET, nanosecond: true }));
    const clear = await pcapSourceRun(file, {});
    assert.equal(clear.sent.map((s) => hex(s.bytes)), HEX, 'every record, unchanged, in order');
    assert.equal(clear.sent.map((s) => s.desc.timestamp), FRAMES.map((_, i) => T0 + BigInt(i) * TS_STEP));
    assert.is(clear.fault.counters().rx.seen, N);
    assert.ok(clear.full);
    const lossy = await pcapSourceRun(file, { rx: { drop: 0.5, seed: 6 } });
    const c = lossy.fault.counters().rx;
    assert.is(c.seen, N, 'ingested records went through the staging ring');
    assert.is(lossy.sent.length, N - c.dropped);
    assert.ok(withinSigmas(c.dropped, N, 0.5), `${c.dropped} drops`);
    assert.ok(lossy.full);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('around the pcapng sink (wasm pcapngEmit on a ring address): the file holds what survived', async () => {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, 'out.pcapng');
    const fault = new FaultDriver(new PcapSinkDriver(file, { format: 'pcapng', queues: 'both', chunkBytes: SINK_CHUNK }), { tx: { drop: 0.3, seed: 12 } });
    const source = new MemoryPortDriver();
    const card = LineCard.create(simSpec(), [
      { name: 'p0', driver: source },
      { name: 'p1', driver: fault },
      { name: 'p2', driver: new MemoryPortDriver() },
    ]);
    FRAMES.forEach((f, i) => source.inject(f, T0 + BigInt(i) * TS_STEP));
    let now = STEP_NS;
    while (!card.drained()) {
      card.step(now);
      now += STEP_NS;
    }
    await card.close();
    const c = fault.counters().tx;
    const records = readCaptureBuffer(fs.readFileSync(file));
    assert.is(c.seen, N);
    assert.is(records.length, N - c.dropped);
    let k = 0;
    for (let i = 0; i < N && k < records.length; i++) {
      if (hex(records[k]!.data) === HEX[i]) {
        assert.is(records[k]!.tsNs, T0 + BigInt(i) * TS_STEP);
        k++;
      }
    }
    assert.is(k, records.length, 'records are the surviving frames, in order, with their timestamps');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
