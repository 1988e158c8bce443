// Every way a capture file can be wrong, with the error it must produce (code, byte offset,
// message), and every way a writer can be misused. Corrupt inputs are made by patching valid
// encodings at named offsets, so each case shows exactly which field is wrong.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  CaptureFormatError,
  encodePcap,
  encodePcapng,
  openBufferReader,
  openCaptureReader,
  PcapngWriter,
  PcapWriter,
  tsresolPow2,
} from '../../hal/drivers/pcap/format/index.ts';
import type { CaptureErrorCode, PacketInput } from '../../hal/drivers/pcap/format/index.ts';
import { concat, ethFrame, leBlock, makeTempDir, removeTempDir, spbBlock } from './pcap-helpers.ts';

const T0 = 1_700_000_000_000_000_000n;
const PACKETS: PacketInput[] = [0, 1, 2].map((i) => ({ data: ethFrame(60, i), tsNs: T0 + BigInt(i) }));
const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) removeTempDir(d);
});

const pcap = (options: { snaplen?: number } = {}) => encodePcap(PACKETS, { linkType: 1, ...options });
/** A pcapng file of one section: SHB (28 bytes, no options), IDB, three EPBs. */
const pcapng = (snaplen = 262144) => encodePcapng(PACKETS, { interfaces: [{ linkType: 1, snaplen }], application: '' });

const PCAP_HEADER = 24;
const PCAP_RECORD = 16 + 60;
const PCAP_CAPLEN = 8;

/** [offset, type, length] of every block of a little-endian pcapng file. */
function blocks(b: Uint8Array): Array<[number, number, number]> {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const out: Array<[number, number, number]> = [];
  for (let o = 0; o + 8 <= b.length; o += v.getUint32(o + 4, true)) out.push([o, v.getUint32(o, true), v.getUint32(o + 4, true)]);
  return out;
}

/** `b` with the u32 (or u16) at `off` set to `value`, little-endian. */
function patch(b: Uint8Array, off: number, value: number, width: 2 | 4 = 4): Uint8Array {
  const c = b.slice();
  const v = new DataView(c.buffer);
  if (width === 4) v.setUint32(off, value, true);
  else v.setUint16(off, value, true);
  return c;
}

/** Read `input` to its first error; check code, offset and message; return the packets before it. */
function expectError(input: Uint8Array, code: CaptureErrorCode, offset: number, message: RegExp): number {
  let packets = 0;
  try {
    const r = openBufferReader(input);
    while (r.next() !== null) packets++;
  } catch (err) {
    assert.instance(err, CaptureFormatError);
    const e = err as CaptureFormatError;
    assert.is(e.code, code, e.message);
    assert.is(e.offset, offset, e.message);
    assert.is(e.file, '<buffer>');
    assert.ok(e.message.startsWith(`<buffer>: byte ${offset}: `), e.message);
    assert.match(e.message, message);
    return packets;
  }
  assert.unreachable(`expected ${code}`);
  return packets;
}

test('unknown magic, gzip named as such', () => {
  expectError(new Uint8Array(32).fill(0x11), 'unknown-magic', 0, /unknown magic number, not a pcap or pcapng file: 0x11111111$/);
  expectError(new Uint8Array(zlib.gzipSync(pcap())), 'unknown-magic', 0, /0x1f8b0800 \(gzip-compressed: decompress it first\)/);
});

test('truncated header: empty input, short pcap header, short pcapng section header', () => {
  expectError(new Uint8Array(0), 'truncated-header', 0, /truncated file header: input has 0 bytes/);
  expectError(pcap().subarray(0, 20), 'truncated-header', 0, /20 bytes, a pcap file header needs 24/);
  expectError(pcapng().subarray(0, 10), 'truncated-header', 0, /10 bytes, a section header needs 12/);
  expectError(pcapng().subarray(0, 20), 'truncated-header', 0, /SHB of 28 bytes, only 20 remain/);
});

test('unsupported versions', () => {
  expectError(patch(pcap(), 4, 3, 2), 'bad-version', 4, /pcap major version 3, expected 2/);
  expectError(patch(pcapng(), 12, 2, 2), 'bad-version', 12, /pcapng major version 2, expected 1/);
});

test('pcap: truncated record header and record data, after the complete packets', () => {
  const good = pcap();
  const extra = concat(good, new Uint8Array(10));
  assert.is(expectError(extra, 'truncated-record', good.length, /10 bytes at end of file, a record header needs 16/), 3);
  const cut = good.subarray(0, good.length - 7);
  const last = PCAP_HEADER + 2 * PCAP_RECORD;
  assert.is(expectError(cut, 'truncated-record', last, /record needs 60 bytes of packet data, only 53 remain/), 2);
});

test('pcap: caplen above the snaplen, and above 256 KiB (checked before any read or allocation)', () => {
  const snap100 = patch(pcap(), 16, 50);
  expectError(snap100, 'caplen-too-large', PCAP_HEADER + PCAP_CAPLEN, /caplen 60 exceeds the file's snaplen 50/);
  // Snaplen 0 ("unknown"): the 256 KiB bound applies. The file is short: a reader that trusted
  // caplen would report truncation (or try to buffer 4 GiB) instead.
  const huge = patch(patch(pcap(), 16, 0), PCAP_HEADER + PCAP_RECORD + PCAP_CAPLEN, 0xfffffff0);
  assert.is(expectError(huge, 'caplen-too-large', PCAP_HEADER + PCAP_RECORD + PCAP_CAPLEN,
    /caplen 4294967280 exceeds the 262144-byte limit/), 1);
  expectError(patch(pcap(), PCAP_HEADER + PCAP_CAPLEN, 262145), 'caplen-too-large', PCAP_HEADER + PCAP_CAPLEN, /262145 exceeds the file's snaplen 262144/);
});

test('data after a truncated or malformed record is not read: later next() calls fail too', () => {
  const bad = patch(pcap({ snaplen: 1500 }), PCAP_HEADER + PCAP_RECORD + PCAP_CAPLEN, 5000);
  const r = openBufferReader(bad);
  assert.ok(r.next());
  let first: unknown;
  try {
    r.next();
  } catch (err) {
    first = err;
  }
  assert.is((first as CaptureFormatError).code, 'caplen-too-large');
  for (let i = 0; i < 2; i++) {
    try {
      r.next();
      assert.unreachable('the third record must not be returned');
    } catch (err) {
      const e = err as CaptureFormatError;
      assert.is(e.code, 'after-error');
      assert.is(e.cause, first);
      assert.is(e.offset, (first as CaptureFormatError).offset);
      assert.match(e.message, /data after a truncated or malformed record is not read: reading stopped here: caplen 5000/);
    }
  }
  const cut = pcap().subarray(0, 50);
  const t = openBufferReader(cut);
  assert.throws(() => t.next(), (e: CaptureFormatError) => e.code === 'truncated-record');
  assert.throws(() => t.next(), (e: CaptureFormatError) => e.code === 'after-error' && (e.cause as CaptureFormatError).code === 'truncated-record');
});

test('pcapng: unknown byte-order magic', () => {
  expectError(patch(pcapng(), 8, 0x12345678), 'bad-byte-order-magic', 8,
    /unknown byte-order magic: 0x12345678 read little-endian, expected 0x1a2b3c4d in either order/);
  // ... also in a later section.
  const two = concat(pcapng(), patch(pcapng(), 8, 0xdeadbeef));
  assert.is(expectError(two, 'bad-byte-order-magic', pcapng().length + 8, /0xdeadbeef/), 3);
});

test('pcapng: bad block total lengths', () => {
  const f = pcapng();
  const [, idb, epb] = blocks(f);
  const [e] = epb!;
  expectError(patch(f, e + 4, epb![2] + 1), 'bad-block-length', e + 4, /EPB length 93 is not a multiple of 4/);
  expectError(patch(f, e + 4, 16), 'bad-block-length', e + 4, /EPB length 16 is below its 32-byte minimum/);
  expectError(patch(f, e + 4, 40), 'bad-block-length', e + 4, /EPB length 40 cannot hold caplen 60 \(needs at least 92\)/);
  // Far beyond the file: refused by the parsed-block limit before any buffering.
  expectError(patch(f, e + 4, 0x7ffffffc), 'bad-block-length', e + 4, /EPB length 2147483644 exceeds the 1048576-byte limit for a parsed block/);
  expectError(patch(f, idb![0] + 4, 8), 'bad-block-length', idb![0] + 4, /IDB length 8 is below its 20-byte minimum/);
  expectError(patch(f, 4, 0x40000000), 'bad-block-length', 4, /SHB length 1073741824 exceeds/);
  const unknown = concat(f, leBlock(0x1234, new Uint8Array(8)));
  expectError(patch(unknown, f.length + 4, 6), 'bad-block-length', f.length + 4, /block type 0x00001234 length 6 is not a multiple of 4/);
});

test('pcapng: mismatched trailing length (parsed and skipped blocks)', () => {
  const f = pcapng();
  const [shb, idb, epb] = blocks(f);
  const trailer = ([o, , len]: [number, number, number]) => o + len - 4;
  expectError(patch(f, trailer(epb!), 999), 'trailer-mismatch', trailer(epb!), /EPB leading length 92, trailing length 999/);
  expectError(patch(f, trailer(idb!), 0), 'trailer-mismatch', trailer(idb!), /IDB leading length 32, trailing length 0/);
  expectError(patch(f, trailer(shb!), 24), 'trailer-mismatch', trailer(shb!), /SHB leading length 28/);
  const withIsb = concat(f, leBlock(5, new Uint8Array(100)));
  const isbTrailer = withIsb.length - 4;
  assert.is(expectError(patch(withIsb, isbTrailer, 7), 'trailer-mismatch', isbTrailer, /ISB leading length 112, trailing length 7/), 3);
});

test('pcapng: truncated blocks (header, parsed body, skipped body)', () => {
  const f = pcapng();
  const [, , epb, epb2] = blocks(f);
  assert.is(expectError(concat(f, new Uint8Array(5)), 'truncated-block', f.length, /5 bytes at end of file, a block header needs 8/), 3);
  assert.is(expectError(f.subarray(0, epb2![0] + 20), 'truncated-block', epb2![0], /EPB of 92 bytes, only 20 remain in the file/), 1);
  assert.is(expectError(f.subarray(0, epb![0] + 50), 'truncated-block', epb![0], /EPB of 92 bytes, only 50 remain/), 0);
  const withDsb = concat(f, leBlock(0x0a, new Uint8Array(100)));
  assert.is(expectError(withDsb.subarray(0, withDsb.length - 2), 'truncated-block', f.length,
    /DSB of 112 bytes, the file ends before its trailing length/), 3);
  const bigUnknown = concat(f, leBlock(0x0bad, new Uint8Array(64)));
  expectError(patch(bigUnknown, f.length + 4, 0xfffffff0), 'truncated-block', f.length, /block type 0x00000bad of 4294967280 bytes/);
});

test('pcapng: caplen above the interface snaplen, and above 256 KiB', () => {
  const f = pcapng();
  const [, idb, epb] = blocks(f);
  expectError(patch(f, idb![0] + 12, 50), 'caplen-too-large', epb![0] + 20, /caplen 60 exceeds interface 0's snaplen 50/);
  const snap0 = pcapng(0);
  const [, , epb0] = blocks(snap0);
  expectError(patch(snap0, epb0![0] + 20, 0xfffffff0), 'caplen-too-large', epb0![0] + 20, /caplen 4294967280 exceeds the 262144-byte limit/);
  // SPB: derived caplen (origLen, no snaplen) above the limit.
  const spb = concat(snap0, spbBlock(new Uint8Array(8), 300000));
  const spbAt = snap0.length;
  expectError(patch(spb, spbAt + 4, 0x100010), 'caplen-too-large', spbAt + 8, /caplen 300000 exceeds the 262144-byte limit/);
});

test('pcapng: malformed options', () => {
  const named = encodePcapng(PACKETS, { interfaces: [{ linkType: 1, name: 'eth0' }], application: '' });
  const [, idb] = blocks(named);
  const opt = idb![0] + 16; // if_name, the IDB's first option
  expectError(patch(named, opt + 2, 200, 2), 'bad-option', opt, /option 2 of 200 bytes \(200 padded\) runs 184 bytes past the end of the block's options/);
  // if_tsresol (second option, 8 bytes after if_name "eth0") with a wrong length or value.
  const tsresol = opt + 8;
  expectError(patch(named, tsresol + 2, 2, 2), 'bad-option', tsresol + 4, /if_tsresol has length 2, expected 1/);
  expectError(patch(named, tsresol + 4, tsresolPow2(64), 2), 'bad-option', tsresol + 4, /if_tsresol 0xc0 is finer than a 64-bit timestamp can use/);
  const flagged = encodePcapng([{ ...PACKETS[0]!, direction: 'inbound' }], { interfaces: [{ linkType: 1 }], application: '' });
  const [, , epb] = blocks(flagged);
  const flags = epb![0] + 28 + 60;
  expectError(patch(flagged, flags + 2, 2, 2), 'bad-option', flags + 4, /epb_flags has length 2, expected 4/);
});

test('pcapng: packets naming an interface the section does not describe', () => {
  const f = pcapng();
  const [, , epb] = blocks(f);
  expectError(patch(f, epb![0] + 8, 5), 'unknown-interface', epb![0] + 8, /EPB names interface 5, section 0 has 1/);
  // The second section has no IDB: its SPB has no interface 0.
  const shbOnly = f.subarray(0, 28);
  const twoSections = concat(f, shbOnly, spbBlock(new Uint8Array(4), 4));
  assert.is(expectError(twoSections, 'unknown-interface', f.length + 28, /SPB names interface 0, section 1 has 0/), 3);
});

test('file readers: the message names the path; a failed open leaves no descriptor open', () => {
  const dir = makeTempDir();
  dirs.push(dir);
  const file = path.join(dir, 'bad.pcap');
  fs.writeFileSync(file, patch(pcap(), 4, 9, 2));
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let i = 0; i < 20; i++) {
    assert.throws(() => openCaptureReader(file), (e: CaptureFormatError) => e.message === `${file}: byte 4: unsupported format version: pcap major version 9, expected 2`);
  }
  assert.is(fds(), before);
  const cut = path.join(dir, 'cut.pcapng');
  fs.writeFileSync(cut, pcapng().subarray(0, 100));
  const r = openCaptureReader(cut, { chunkSize: 3 });
  assert.throws(() => r.next(), (e: CaptureFormatError) => e.file === cut && e.code === 'truncated-block');
  r.close();
  assert.throws(() => openCaptureReader(path.join(dir, 'missing.pcap')), /ENOENT/);
  assert.throws(() => openCaptureReader(file, { chunkSize: 0 }), /chunkSize must be a positive integer/);
});

test('writers refuse what the format cannot hold, and leave no partial record', () => {
  const dir = makeTempDir();
  dirs.push(dir);
  const file = path.join(dir, 'refuse.pcapng');
  const options = { interfaces: [{ linkType: 1 }, { linkType: 101, tsresol: 19 }] };
  const good = encodePcapng(PACKETS, options);
  const cases: Array<[string, PacketInput, RegExp]> = [
    ['negative time', { data: new Uint8Array(4), tsNs: -1n }, /timestamp is negative: -1/],
    ['undeclared interface', { data: new Uint8Array(4), tsNs: 0n, interfaceId: 2 }, /interfaceId does not name a declared interface: 2 \(2 declared\)/],
    ['fractional interface', { data: new Uint8Array(4), tsNs: 0n, interfaceId: 0.5 }, /interfaceId/],
    ['link type mismatch', { data: new Uint8Array(4), tsNs: 0n, linkType: 101 }, /packet's link type differs from the interface's: 101 vs 1/],
    ['origLen below caplen', { data: new Uint8Array(4), tsNs: 0n, origLen: 3 }, /origLen is smaller than the captured length or larger than 2\^32-1: 3 for 4/],
    ['origLen above 32 bits', { data: new Uint8Array(4), tsNs: 0n, origLen: 2 ** 32 }, /origLen/],
    ['comment too long', { data: new Uint8Array(4), tsNs: 0n, comment: 'x'.repeat(65536) }, /option value longer than 65535 bytes: 65536/],
    ['time beyond 64 bits at 10^-19 s', { data: new Uint8Array(4), tsNs: T0, interfaceId: 1 }, /timestamp does not fit the format/],
  ];
  for (const [what, packet, message] of cases) {
    const w = new PcapngWriter(file, options);
    w.write(PACKETS[0]!);
    assert.throws(() => w.write(packet), (e: Error) => e instanceof RangeError && message.test(e.message), what);
    w.write(PACKETS[1]!);
    w.write(PACKETS[2]!);
    w.close();
    assert.is(Buffer.compare(fs.readFileSync(file), Buffer.from(good)), 0, `${what}: output as if never attempted`);
  }
  const pcapCases: Array<[string, PacketInput, RegExp]> = [
    ['negative time', { data: new Uint8Array(4), tsNs: -5n }, /timestamp is negative/],
    ['past 2106', { data: new Uint8Array(4), tsNs: 2n ** 32n * 1_000_000_000n }, /past pcap's 32-bit ts_sec/],
    ['link type mismatch', { data: new Uint8Array(4), tsNs: 0n, linkType: 228 }, /differs/],
  ];
  for (const [what, packet, message] of pcapCases) {
    assert.throws(() => encodePcap([packet], { linkType: 1 }), (e: Error) => e instanceof RangeError && message.test(e.message), what);
  }
});

test('writer options are validated; writing after close throws', () => {
  const dir = makeTempDir();
  dirs.push(dir);
  const file = path.join(dir, 'w.pcapng');
  assert.throws(() => encodePcapng([], { interfaces: [] }), /a pcapng writer needs at least one interface/);
  assert.throws(() => encodePcapng([], { interfaces: [{ linkType: 70000 }] }), /link type must be an integer in 0..65535: 70000/);
  assert.throws(() => encodePcapng([], { interfaces: [{ linkType: 1, tsresol: tsresolPow2(64) }] }), /if_tsresol out of range: 192/);
  assert.throws(() => encodePcapng([], { interfaces: [{ linkType: 1, tsresol: 20 }] }), /if_tsresol out of range: 20/);
  assert.throws(() => encodePcapng([], { interfaces: [{ linkType: 1, snaplen: 262145 }] }), /snaplen out of range: 262145 \(allowed 0..262144\)/);
  assert.throws(() => encodePcapng([], { interfaces: [{ linkType: 1, name: 'n'.repeat(70000) }] }), /longer than 65535/);
  assert.throws(() => encodePcap([], { linkType: 1, snaplen: 0 }), /snaplen out of range: 0 \(allowed 1..262144\)/);
  assert.throws(() => encodePcap([], { linkType: -1 }), /link type/);
  assert.throws(() => new PcapWriter(file, { linkType: 1, bufferSize: 10 }), /bufferSize must be an integer of at least 64/);
  const w = new PcapngWriter(file, { interfaces: [{ linkType: 1 }] });
  w.write(PACKETS[0]!);
  w.close();
  w.close();
  assert.throws(() => w.write(PACKETS[1]!), /capture writer is closed/);
  assert.is([...openCaptureReader(file)].length, 1);
  const p = new PcapWriter(path.join(dir, 'w.pcap'), { linkType: 1 });
  p.close();
  assert.throws(() => p.write(PACKETS[0]!), /capture writer is closed/);
});

test.run();
