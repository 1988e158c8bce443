// The trace tap: port 1 of a wire-mode card is wrapped; frames enter on port 0 (leaving on port 1
// as originals, plus replicas of UDP from a session whose egress is port 1) and on port 1 (inbound,
// forwarded to port 0). The pcapng file is read back with our codec and with tshark and must list
// every frame in both directions, byte-identical to what the wrapped driver delivered and was
// given, with the documented timestamps, directions and replica comments. Requires tshark.

import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { DescFlag } from '../../wasm/abi.ts';
import type { PortDriver } from '../../hal/driver.ts';
import { descriptorBytes } from '../../hal/descriptor.ts';
import type { PortHandle } from '../../hal/port.ts';
import { FaultDriver } from '../../hal/drivers/fault/index.ts';
import type { MemoryPortDriver, SentFrame } from '../../hal/drivers/memory/driver.ts';
import { openBufferReader, readCaptureBuffer, TSRESOL_NSEC, type CapturedPacket } from '../../hal/drivers/pcap/format/index.ts';
import { REPLICA_COMMENT_PREFIX, TRACE_ERRORS, TraceDriver, type TraceOptions } from '../../hal/drivers/trace/driver.ts';
import { session } from '../fixtures/oracle.ts';
import { run, tsharkFrames } from './pcap-helpers.ts';
import { hex, inject, makeTempDir, poolsFull, rig, scapyFrames, STEP_NS, T0, TS_STEP, type Rig } from './fault-helpers.ts';

const OUT = 300; // frames entering on port 0 (outbound on port 1)
const IN = 200; // frames entering on port 1 (inbound)
const FRAMES = scapyFrames(OUT + IN);
/** Two sessions replicating to port 1; Desc.Session (and so the comment) is the bank index 0 or 1. */
const SESSIONS = [
  session('udp', 0, { filter: 'udp', egressPort: 1 }),
  session('tcp', 1, { filter: 'tcp', egressPort: 1 }),
];
/** tshark's frame.packet_flags_direction values. */
const TSHARK_INBOUND = '0x00000001';
const TSHARK_OUTBOUND = '0x00000002';

interface Traced {
  readonly rig: Rig;
  readonly trace: TraceDriver;
  /** Per step: the clock, then what the port-1 medium had been sent after it. */
  readonly steps: Array<{ now: bigint; sentBefore: number; sentAfter: number }>;
}

/** Runs the scenario with port 1 wrapped by `wrap`; returns after close(). */
async function traced(options: TraceOptions, wrap: (medium: MemoryPortDriver) => PortDriver = (m) => m): Promise<Traced> {
  let trace!: TraceDriver;
  const r = rig((p, m) => (p === 1 ? (trace = new TraceDriver(wrap(m), options)) : m));
  r.card.dp.publish(compileTables(SESSIONS).bank.image);
  inject(r, 0, FRAMES.slice(0, OUT));
  inject(r, 1, FRAMES.slice(OUT), OUT);
  const steps: Traced['steps'] = [];
  let now = STEP_NS;
  while (!r.card.drained()) {
    const sentBefore = r.media[1]!.sent.length;
    r.card.step(now);
    steps.push({ now, sentBefore, sentAfter: r.media[1]!.sent.length });
    now += STEP_NS;
  }
  await r.card.close();
  assert.ok(poolsFull(r));
  return { rig: r, trace, steps };
}

/** The comment a sent frame's record must carry. */
function commentOf(s: SentFrame): string | undefined {
  return (s.desc.flags & DescFlag.Replica) !== 0 ? `${REPLICA_COMMENT_PREFIX}${s.desc.session}` : undefined;
}

/** Checks the records against the run: inbound = frames injected on port 1, outbound = port 1's sent. */
function checkRecords(t: Traced, records: readonly CapturedPacket[]): void {
  const inbound = records.filter((p) => p.direction === 'inbound');
  const outbound = records.filter((p) => p.direction === 'outbound');
  assert.is(inbound.length + outbound.length, records.length, 'every record has a direction');
  assert.equal(inbound.map((p) => hex(p.data)), FRAMES.slice(OUT).map(hex), 'inbound: what the driver delivered');
  assert.equal(inbound.map((p) => p.tsNs), FRAMES.slice(OUT).map((_, i) => T0 + BigInt(OUT + i) * TS_STEP), 'descriptor timestamps');
  assert.ok(inbound.every((p) => p.comment === undefined));
  const sent = t.rig.media[1]!.sent;
  assert.equal(outbound.map((p) => hex(p.data)), sent.map((s) => hex(s.bytes)), 'outbound: what the driver was given, in order');
  assert.equal(outbound.map((p) => p.comment), sent.map(commentOf), 'replicas carry their session');
  assert.equal(outbound.map((p) => p.origLen), sent.map((s) => Math.max(s.desc.origLen, s.desc.len)));
  // Each outbound record carries the `now` of the step in which the medium was given it.
  const stamps: bigint[] = [];
  for (const s of t.steps) for (let k = s.sentBefore; k < s.sentAfter; k++) stamps.push(s.now);
  assert.equal(outbound.map((p) => p.tsNs), stamps);
  assert.equal(t.trace.counters(), { inbound: IN, outbound: sent.length });
}

let dir = '';
test.before(() => {
  dir = makeTempDir();
});
test.after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the pcapng file lists every frame in both directions, byte-identical, per our codec', async () => {
  const file = path.join(dir, 'both.pcapng');
  const t = await traced({ target: file });
  const sent = t.rig.media[1]!.sent;
  assert.is(sent.filter((s) => s.queue === 'originals').length, OUT);
  assert.ok(sent.some((s) => s.queue === 'replicas'), 'the session produced replicas');
  const buf = fs.readFileSync(file);
  const reader = openBufferReader(buf);
  const records = [...reader];
  assert.equal(reader.interfaces.map((i) => ({ name: i.name, tsresol: i.tsresol })), [{ name: 'p1', tsresol: TSRESOL_NSEC }]);
  assert.ok(records.every((p) => p.interfaceId === 0));
  checkRecords(t, records);
  const comments = new Set(records.map((p) => p.comment));
  assert.equal(comments, new Set([undefined, `${REPLICA_COMMENT_PREFIX}0`, `${REPLICA_COMMENT_PREFIX}1`]));
});

test('tshark reads the same: interface name, direction, length, replica comment and bytes per frame', async () => {
  const file = path.join(dir, 'tshark.pcapng');
  const t = await traced({ target: file });
  const ours = readCaptureBuffer(fs.readFileSync(file));
  const rows = run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.packet_flags_direction', '-e', 'frame.len', '-e', 'frame.comment'])
    .split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
  assert.equal(rows, ours.map((p) => ['p1', p.direction === 'inbound' ? TSHARK_INBOUND : TSHARK_OUTBOUND, String(p.origLen), p.comment ?? '']));
  assert.is(rows.filter((r) => r[1] === TSHARK_INBOUND).length, IN);
  assert.is(rows.filter((r) => r[1] === TSHARK_OUTBOUND).length, t.rig.media[1]!.sent.length);
  const frames = tsharkFrames(file);
  assert.equal(frames.map((f) => f.data), ours.map((p) => hex(p.data)));
  assert.equal(frames.map((f) => f.tsNs), ours.map((p) => p.tsNs));
  checkRecords(t, ours);
});

test('the tap changes nothing: every port sends exactly what an untraced run sends', async () => {
  const t = await traced({ target: path.join(dir, 'same.pcapng') });
  const plain = rig();
  plain.card.dp.publish(compileTables(SESSIONS).bank.image);
  inject(plain, 0, FRAMES.slice(0, OUT));
  inject(plain, 1, FRAMES.slice(OUT), OUT);
  for (let i = 0, now = STEP_NS; i < t.steps.length; i++, now += STEP_NS) plain.card.step(now);
  await plain.card.close();
  for (const port of [0, 1, 2]) assert.equal(t.rig.media[port]!.sent, plain.media[port]!.sent, `port ${port}`);
});

test('a Writable target receives the same bytes as a file; interfaceName and snaplen apply', async () => {
  const file = path.join(dir, 'file.pcapng');
  await traced({ target: file });
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  await traced({ target: stream });
  assert.equal(new Uint8Array(Buffer.concat(chunks)), new Uint8Array(fs.readFileSync(file)));

  const snapFile = path.join(dir, 'snap.pcapng');
  const snapped = await traced({ target: snapFile, interfaceName: 'uplink', snaplen: 64 });
  const reader = openBufferReader(fs.readFileSync(snapFile));
  const records = [...reader];
  assert.is(reader.interfaces[0]!.name, 'uplink');
  assert.is(reader.interfaces[0]!.snaplen, 64);
  const sent = snapped.rig.media[1]!.sent;
  const outbound = records.filter((p) => p.direction === 'outbound');
  assert.equal(outbound.map((p) => hex(p.data)), sent.map((s) => hex(s.bytes.subarray(0, 64))), 'stored bytes are a prefix');
  assert.equal(outbound.map((p) => p.origLen), sent.map((s) => s.bytes.length), 'original lengths are whole');
});

test('around a fault wrapper the tap shows the router\'s side: after rx faults, before tx faults', async () => {
  const file = path.join(dir, 'fault.pcapng');
  let fault!: FaultDriver;
  const t = await traced({ target: file }, (m) => (fault = new FaultDriver(m, { rx: { drop: 0.5, seed: 1 }, tx: { corrupt: 1, seed: 2 } })));
  const records = readCaptureBuffer(fs.readFileSync(file));
  const inbound = records.filter((p) => p.direction === 'inbound');
  const outbound = records.filter((p) => p.direction === 'outbound');
  const c = fault.counters();
  assert.is(inbound.length, c.rx.passed, 'only what survived the rx faults was received');
  assert.equal(inbound.map((p) => hex(p.data)), t.rig.media[0]!.sent.map((s) => hex(s.bytes)), 'and it is what port 0 forwarded');
  const sent = t.rig.media[1]!.sent;
  assert.is(outbound.length, sent.length);
  assert.is(c.tx.corrupted, sent.length);
  const originalsOut = outbound.filter((p) => p.comment === undefined).map((p) => hex(p.data));
  assert.equal(originalsOut, FRAMES.slice(0, OUT).map(hex), 'the trace holds the bytes the router sent');
  outbound.forEach((p, i) => assert.is.not(hex(p.data), hex(sent[i]!.bytes), 'the medium got them corrupted'));
});

test('a frame the inner driver leaves on a tx ring is written once, when first seen', async () => {
  const file = path.join(dir, 'slow.pcapng');
  /** Takes one frame per queue per transmit() (a medium slower than the router). */
  class SlowDriver implements PortDriver {
    readonly kind = 'slow';
    readonly capabilities = 0;
    readonly exhausted = true;
    readonly taken: string[] = [];
    private port!: PortHandle;
    attach(port: PortHandle): void {
      this.port = port;
    }
    receive(): number {
      return 0;
    }
    transmit(): number {
      let n = 0;
      for (const ring of [this.port.txOriginals, this.port.txReplicas]) {
        if (ring.peek(1) === 0) continue;
        this.taken.push(hex(descriptorBytes(this.port.mem, this.port.dv, ring.consSlot(0))));
        this.port.frames.release(ring.consSlot(0));
        ring.release(1);
        n++;
      }
      return n;
    }
    close(): void {}
  }
  const slow = new SlowDriver();
  const trace = new TraceDriver(slow, { target: file });
  const r = rig((p, m) => (p === 1 ? trace : m));
  r.card.dp.publish(compileTables(SESSIONS).bank.image);
  inject(r, 0, FRAMES.slice(0, 50));
  let now = STEP_NS;
  while (!r.card.drained()) {
    r.card.step(now);
    now += STEP_NS;
  }
  await r.card.close();
  assert.ok(poolsFull(r));
  const records = readCaptureBuffer(fs.readFileSync(file));
  const originals = records.filter((p) => p.comment === undefined).map((p) => hex(p.data));
  assert.equal(originals, FRAMES.slice(0, 50).map(hex), 'each original once, in order');
  assert.is(records.length, slow.taken.length, 'as many records as frames taken');
  assert.equal(new Set(records.map((p) => hex(p.data))), new Set(slow.taken));
  assert.ok(records[records.length - 1]!.tsNs < now - STEP_NS, 'written when first seen, not when taken');
});

test('close() closes the inner driver first, then completes the file; invalid snaplen is refused', async () => {
  const file = path.join(dir, 'order.pcapng');
  let sizeAtInnerClose = -1;
  const inner: PortDriver = {
    kind: 'probe',
    capabilities: 0,
    exhausted: true,
    attach: () => {},
    receive: () => 0,
    transmit: () => 0,
    close: () => {
      sizeAtInnerClose = fs.statSync(file).size;
    },
  };
  const t = new TraceDriver(inner, { target: file });
  const r = rig((p, m) => (p === 1 ? t : m));
  await r.card.close();
  assert.is(sizeAtInnerClose, 0, 'the writer had not flushed when the inner driver closed');
  const reader = openBufferReader(fs.readFileSync(file));
  assert.is(reader.next(), null);
  assert.is(reader.interfaces.length, 1);
  for (const snaplen of [-1, 1.5, 262_145]) {
    assert.throws(() => new TraceDriver(inner, { target: file, snaplen }), (e: unknown) => e instanceof RangeError && e.message.startsWith(TRACE_ERRORS.snaplen));
  }
});

test.run();
