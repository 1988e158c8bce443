// Capture codecs on their own: literal bytes, round trips, both byte orders, several sections,
// skipped blocks, records straddling read chunks, pipes, bounded memory, the writers' targets
// and the reader's lifetime rules. Interoperability with other tools is in pcap-interop, the
// error paths in pcap-errors.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  copyPacket,
  encodePcap,
  encodePcapng,
  LINKTYPE,
  openBufferReader,
  openCaptureReader,
  PcapngWriter,
  PcapWriter,
  readCaptureBuffer,
  TSRESOL_NSEC,
  TSRESOL_USEC,
  tsresolPow2,
} from '../../hal/drivers/pcap/format/index.ts';
import type { CapturedPacket, PacketInput, PcapngWriterOptions } from '../../hal/drivers/pcap/format/index.ts';
import {
  concat,
  ethFrame,
  hex,
  leBlock,
  makeTempDir,
  patternBytes,
  pcapngToBigEndian,
  pcapToBigEndian,
  removeTempDir,
  spbBlock,
  summary,
} from './pcap-helpers.ts';

const T0 = 1_700_000_000_123_456_789n;
const dirs: string[] = [];
function tempDir(): string {
  const d = makeTempDir();
  dirs.push(d);
  return d;
}
test.after(() => {
  for (const d of dirs) removeTempDir(d);
});

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Packets of varied sizes (0, odd, padded, jumbo) with distinct times. */
function ethPackets(count: number, first = 0): PacketInput[] {
  const sizes = [60, 0, 1, 3, 1514, 9000, 64, 65, 66, 67];
  return Array.from({ length: count }, (_, i) => ({
    data: ethFrame(Math.max(14, sizes[(i + first) % sizes.length]!), i + first),
    tsNs: T0 + BigInt(i) * 1_000_333n,
  }));
}

/** Three interfaces with different resolutions, and packets exercising every EPB option. */
const NG_OPTIONS: PcapngWriterOptions = {
  interfaces: [
    { linkType: LINKTYPE.ETHERNET, name: 'eth0', description: 'uplink', tsresol: TSRESOL_NSEC },
    { linkType: LINKTYPE.RAW, name: 'tun0', snaplen: 100, tsresol: TSRESOL_USEC },
    { linkType: 276, name: 'sll2', tsresol: tsresolPow2(20) },
  ],
};
const NG_PACKETS: PacketInput[] = [
  { data: ethFrame(60, 1), tsNs: T0, direction: 'inbound', comment: 'first' },
  { data: patternBytes(150, 2), tsNs: T0 + 1_999n, interfaceId: 1, direction: 'outbound' },
  { data: patternBytes(33, 3), tsNs: T0 + 2_000_000n, interfaceId: 2, comment: 'ünïcødé ✓ comment' },
  { data: ethFrame(1514, 4), tsNs: T0 + 3n, origLen: 1600 },
  { data: patternBytes(1, 5), tsNs: 0n, interfaceId: 1 },
];

/** What a reader must return for NG_PACKETS: snaplen truncation, timestamps in each resolution. */
function expectedNg(): Array<Record<string, unknown>> {
  const linkTypes = [LINKTYPE.ETHERNET, LINKTYPE.RAW, 276];
  const toNs = [
    (ns: bigint) => ns,
    (ns: bigint) => (ns / 1000n) * 1000n,
    (ns: bigint) => ((ns * 1_048_576n) / 1_000_000_000n) * 1_000_000_000n / 1_048_576n,
  ];
  return NG_PACKETS.map((p) => {
    const id = p.interfaceId ?? 0;
    const data = id === 1 ? p.data.subarray(0, 100) : p.data;
    return summary({
      data,
      origLen: p.origLen ?? p.data.length,
      tsNs: toNs[id]!(p.tsNs),
      linkType: linkTypes[id]!,
      interfaceId: id,
      ...(p.direction ? { direction: p.direction } : {}),
      ...(p.comment ? { comment: p.comment } : {}),
    });
  });
}

test('pcap: literal bytes decode, and the writer produces the same bytes', () => {
  const file = fromHex(`
    d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000
    00f15365 40e20100 04000000 3c000000 deadbeef`);
  const [p, ...rest] = readCaptureBuffer(file);
  assert.equal(rest.length, 0);
  assert.equal(summary(p!), summary({
    data: fromHex('deadbeef'), origLen: 60, tsNs: 1_700_000_000_123_456_000n, linkType: 1, interfaceId: 0,
  }));
  const again = encodePcap([{ data: fromHex('deadbeef'), tsNs: 1_700_000_000_123_456_000n, origLen: 60 }],
    { linkType: LINKTYPE.ETHERNET, snaplen: 65535 });
  assert.is(hex(again), hex(file));
});

test('pcapng: literal bytes decode, and the writer produces the same bytes', () => {
  const file = fromHex(`
    0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000
    01000000 28000000 0100 0000 00000000  0200 0200 65300000  0900 0100 09000000  00000000 28000000
    06000000 30000000 00000000 fe9c9717 15cd853d 04000000 04000000 deadbeef
             0200 0400 01000000  00000000 30000000`);
  const r = openBufferReader(file);
  const p = r.next()!;
  assert.equal(summary(p), summary({
    data: fromHex('deadbeef'), origLen: 4, tsNs: T0, linkType: 1, interfaceId: 0, direction: 'inbound',
  }));
  assert.is(r.next(), null);
  assert.equal(r.interfaces, [{ linkType: 1, snaplen: 0, tsresol: 9, name: 'e0', section: 0 }]);
  const again = encodePcapng([{ data: fromHex('deadbeef'), tsNs: T0, direction: 'inbound' }],
    { interfaces: [{ linkType: 1, name: 'e0', snaplen: 0 }], application: '' });
  assert.is(hex(again), hex(file));
});

test('pcap: round trip in µs and ns, any link type passes through, snaplen truncates', () => {
  const packets = ethPackets(10);
  for (const nanosecond of [false, true]) {
    for (const linkType of [LINKTYPE.ETHERNET, LINKTYPE.RAW, LINKTYPE.USER0, 276, 0xffff]) {
      const r = openBufferReader(encodePcap(packets, { linkType, nanosecond, snaplen: 1500 }));
      assert.is(r.format, 'pcap');
      assert.equal(r.interfaces, [{ linkType, snaplen: 1500, tsresol: nanosecond ? 9 : 6, section: 0 }]);
      const got = [...r].map(summary);
      const want = packets.map((p) => summary({
        data: p.data.subarray(0, 1500),
        origLen: p.data.length,
        tsNs: nanosecond ? p.tsNs : (p.tsNs / 1000n) * 1000n,
        linkType,
        interfaceId: 0,
      }));
      assert.equal(got, want, `nanosecond=${nanosecond} linkType=${linkType}`);
    }
  }
});

test('pcapng: round trip with interfaces, names, resolutions, snaplen, direction, comments', () => {
  const r = openBufferReader(encodePcapng(NG_PACKETS, NG_OPTIONS));
  assert.is(r.format, 'pcapng');
  assert.equal(r.interfaces, [], 'IDBs are reported as they are read');
  const got = [...r].map(summary);
  assert.equal(got, expectedNg());
  assert.equal(r.interfaces, [
    { linkType: 1, snaplen: 262144, tsresol: 9, section: 0, name: 'eth0', description: 'uplink' },
    { linkType: 101, snaplen: 100, tsresol: 6, section: 0, name: 'tun0' },
    { linkType: 276, snaplen: 262144, tsresol: 0x94, section: 0, name: 'sll2' },
  ]);
});

test('pcap: a big-endian file (hand-swapped) reads the same as the little-endian one', () => {
  for (const nanosecond of [false, true]) {
    const le = encodePcap(ethPackets(10), { linkType: LINKTYPE.ETHERNET, nanosecond });
    const be = pcapToBigEndian(le);
    assert.is.not(hex(be), hex(le));
    assert.is(hex(be.subarray(0, 4)), nanosecond ? 'a1b23c4d' : 'a1b2c3d4');
    assert.equal(readCaptureBuffer(be).map(summary), readCaptureBuffer(le).map(summary));
  }
});

test('pcapng: big-endian sections (hand-swapped) and several sections in one file', () => {
  const le = encodePcapng(NG_PACKETS, NG_OPTIONS);
  const be = pcapngToBigEndian(le);
  assert.is(hex(be.subarray(8, 12)), '1a2b3c4d');
  assert.equal(readCaptureBuffer(be).map(summary), expectedNg());

  // LE section, BE section, LE section: interface ids are file-wide, sections counted.
  const third = encodePcapng([{ data: ethFrame(70, 9), tsNs: T0 }], { interfaces: [{ linkType: 1, name: 'last' }] });
  const r = openBufferReader(concat(le, be, third));
  const got = [...r];
  assert.is(got.length, NG_PACKETS.length * 2 + 1);
  assert.equal(got.slice(5, 10).map(summary), expectedNg().map((p) => ({ ...p, interfaceId: (p.interfaceId as number) + 3 })));
  assert.is(got[10]!.interfaceId, 6);
  assert.equal(r.interfaces.map((i) => [i.section, i.name]), [
    [0, 'eth0'], [0, 'tun0'], [0, 'sll2'], [1, 'eth0'], [1, 'tun0'], [1, 'sll2'], [2, 'last'],
  ]);
});

/**
 * One file with everything a reader meets: LE section with an SPB and unknown blocks (one
 * larger than the small chunks used below), a BE section, a classic-size jumbo packet.
 */
function mixedPcapng(): Uint8Array {
  const sec1 = encodePcapng(ethPackets(12), {
    interfaces: [{ linkType: 1, name: 'a', snaplen: 2000 }, { linkType: 101, tsresol: tsresolPow2(30) }],
  });
  const unknownSmall = leBlock(0x00000bad, patternBytes(13, 7));
  const isb = leBlock(5, patternBytes(4000, 8));
  const spb = spbBlock(patternBytes(1400, 9), 1400);
  const spbTruncated = spbBlock(patternBytes(2000, 10), 5000);
  const sec2 = pcapngToBigEndian(encodePcapng(NG_PACKETS, NG_OPTIONS));
  return concat(sec1, unknownSmall, spb, isb, spbTruncated, sec2);
}

test('pcapng: SPBs are read, unknown blocks skipped (trailers checked)', () => {
  const packets = readCaptureBuffer(mixedPcapng());
  assert.is(packets.length, 12 + 2 + NG_PACKETS.length);
  const [spb, spbTruncated] = [packets[12]!, packets[13]!];
  assert.equal(summary(spb), summary({ data: patternBytes(1400, 9), origLen: 1400, tsNs: 0n, linkType: 1, interfaceId: 0 }));
  // The SPB's captured length is the minimum of its original length and interface 0's snaplen.
  assert.equal(summary(spbTruncated), summary({ data: patternBytes(2000, 10), origLen: 5000, tsNs: 0n, linkType: 1, interfaceId: 0 }));
  assert.equal(packets.slice(14).map(summary), expectedNg().map((p) => ({ ...p, interfaceId: (p.interfaceId as number) + 2 })));
});

test('chunked file reads: records straddling every chunk boundary read as from a buffer', () => {
  const dir = tempDir();
  const files: Array<[string, Uint8Array]> = [
    ['mixed.pcapng', mixedPcapng()],
    ['le.pcap', encodePcap(ethPackets(25), { linkType: 1, nanosecond: true })],
    ['be.pcap', pcapToBigEndian(encodePcap(ethPackets(25, 3), { linkType: 1 }))],
  ];
  for (const [name, bytes] of files) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    const want = readCaptureBuffer(bytes).map(summary);
    for (const chunkSize of [1, 2, 3, 5, 7, 8, 13, 16, 17, 64, 1000, 4096, 1 << 20]) {
      const got = Array.from(openCaptureReader(file, { chunkSize }), summary); // summarised while valid
      assert.equal(got, want, `${name} chunkSize=${chunkSize}`);
    }
  }
});

test('reading from a pipe (not seekable): skipped blocks are read and discarded', async () => {
  const dir = tempDir();
  const bytes = mixedPcapng();
  const source = path.join(dir, 'mixed.pcapng');
  const fifo = path.join(dir, 'fifo');
  fs.writeFileSync(source, bytes);
  const mk = spawnSync('mkfifo', [fifo]);
  assert.is(mk.status, 0, 'mkfifo');
  const writer = spawn('cp', [source, fifo], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => writer.on('close', resolve));
  const got = Array.from(openCaptureReader(fifo, { chunkSize: 7 }), summary);
  assert.is(await exited, 0);
  assert.equal(got, readCaptureBuffer(bytes).map(summary));
});

test('a large file is read with bounded memory (1 MiB chunks)', () => {
  const dir = tempDir();
  const file = path.join(dir, 'big.pcap');
  const w = new PcapWriter(file, { linkType: 1 });
  const frame = ethFrame(1400, 1);
  const count = 24_000; // ~34 MB
  for (let i = 0; i < count; i++) w.write({ data: frame, tsNs: T0 + BigInt(i) });
  w.close();
  assert.ok(fs.statSync(file).size > 32 * 1024 * 1024);
  const before = process.memoryUsage().arrayBuffers;
  let peak = 0;
  let n = 0;
  let bytes = 0;
  for (const p of openCaptureReader(file)) {
    bytes += p.data.length;
    if (++n % 1000 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
  }
  assert.is(n, count);
  assert.is(bytes, count * 1400);
  assert.ok(peak < 8 * 1024 * 1024, `array buffers grew by ${peak} bytes`);
});

test('writers: a path and a Writable receive exactly what encode produces', async () => {
  const dir = tempDir();
  const ngWant = encodePcapng(NG_PACKETS, NG_OPTIONS);
  const pcapWant = encodePcap(ethPackets(10), { linkType: 1, nanosecond: true });

  const ngPath = path.join(dir, 'out.pcapng');
  const ng = new PcapngWriter(ngPath, NG_OPTIONS);
  for (const p of NG_PACKETS) ng.write(p);
  assert.is(ng.close(), undefined, 'close() on a path is synchronous');
  assert.is(hex(fs.readFileSync(ngPath)), hex(ngWant));

  const pcapPath = path.join(dir, 'out.pcap');
  const pw = new PcapWriter(pcapPath, { linkType: 1, nanosecond: true, bufferSize: 64 });
  for (const p of ethPackets(10)) pw.write(p);
  pw.close();
  assert.is(hex(fs.readFileSync(pcapPath)), hex(pcapWant));

  // A tiny buffer forces chunked and oversize writes to the stream.
  for (const bufferSize of [64, 100, 4096, 1 << 20]) {
    const stream = new PassThrough();
    const parts: Buffer[] = [];
    stream.on('data', (b: Buffer) => parts.push(b));
    const w = new PcapngWriter(stream, { ...NG_OPTIONS, bufferSize });
    for (const p of NG_PACKETS) w.write(p);
    const closing = w.close();
    assert.instance(closing, Promise);
    await closing;
    assert.ok(stream.writableEnded);
    assert.is(hex(Buffer.concat(parts)), hex(ngWant), `bufferSize=${bufferSize}`);
  }
});

test('writers: end:false leaves the stream open; flush() pushes data out early', async () => {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  const w = new PcapWriter(stream, { linkType: 1, end: false });
  await new Promise((r) => setImmediate(r));
  assert.is(parts.length, 0, 'the header waits in the buffer');
  w.flush();
  await new Promise((r) => setImmediate(r));
  assert.is(Buffer.concat(parts).length, 24, 'flush() sends the header');
  w.write(ethPackets(1)[0]!);
  await w.close();
  assert.not.ok(stream.writableEnded);
  assert.is(Buffer.concat(parts).length, 24 + 16 + 60);
  stream.end();
});

test('writers: back-pressure is reported, drain() waits, stream errors reject close()', async () => {
  const slow = new Writable({ highWaterMark: 100, write: (_c, _e, cb) => setTimeout(cb, 1) });
  const w = new PcapWriter(slow, { linkType: 1, bufferSize: 64 });
  let asked = 0;
  for (const p of ethPackets(20)) {
    if (!w.write(p)) {
      asked++;
      await w.drain();
    }
  }
  assert.ok(asked > 0, 'write() returned false at least once');
  await w.close();

  const broken = new Writable({ write: (_c, _e, cb) => cb(new Error('disk on fire')) });
  const bw = new PcapWriter(broken, { linkType: 1, bufferSize: 64 });
  bw.write(ethPackets(1)[0]!);
  await new Promise((r) => setImmediate(r));
  assert.throws(() => bw.write(ethPackets(1)[0]!), /disk on fire/);
  try {
    await bw.close();
    assert.unreachable('close() should reject');
  } catch (err) {
    assert.match((err as Error).message, /disk on fire/);
  }
});

test('reader: data is a view until next(); copy and copyPacket give owned packets', () => {
  const dir = tempDir();
  const file = path.join(dir, 'v.pcap');
  fs.writeFileSync(file, encodePcap(ethPackets(4), { linkType: 1 }));
  const r = openCaptureReader(file, { chunkSize: 4096 });
  const a = r.next()!;
  const kept = copyPacket(a);
  const b = r.next()!;
  assert.is(a.data.buffer, b.data.buffer, 'both views share the read buffer');
  assert.is.not(kept.data.buffer, a.data.buffer);
  assert.is(hex(kept.data), hex(ethPackets(1)[0]!.data));
  r.close();

  const packets = [...openCaptureReader(file, { copy: true, chunkSize: 1 })];
  assert.equal(packets.map((p) => hex(p.data)), ethPackets(4).map((p) => hex(p.data)));
  assert.is(new Set(packets.map((p) => p.data.buffer)).size, 4);

  // readCaptureBuffer returns views of the caller's buffer: no copy.
  const buf = encodePcap(ethPackets(2), { linkType: 1 });
  assert.ok(readCaptureBuffer(buf).every((p) => p.data.buffer === buf.buffer));
  assert.ok(readCaptureBuffer(buf, { copy: true }).every((p) => p.data.buffer !== buf.buffer));
});

test('reader: iteration closes the reader, also on break; next() after close throws', () => {
  const dir = tempDir();
  const file = path.join(dir, 'i.pcapng');
  fs.writeFileSync(file, encodePcapng(NG_PACKETS, NG_OPTIONS));
  const r = openCaptureReader(file);
  let seen: CapturedPacket | undefined;
  for (const p of r) {
    seen = p;
    break;
  }
  assert.is(seen!.comment, 'first');
  assert.throws(() => r.next(), /capture reader is closed/);
  r.close();
  const all = openCaptureReader(file);
  assert.is([...all].length, NG_PACKETS.length);
  assert.throws(() => all.next(), /closed/);
  assert.is(all.interfaces.length, 3, 'interfaces stay readable after close');
});

test.run();
