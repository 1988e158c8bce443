// Capture codecs against independent implementations. Two directions:
// - what we write, tshark (Wireshark's wiretap) and tcpdump (libpcap) read with the same frame
//   bytes, lengths, timestamps, interface names, directions and comments;
// - what scapy, tshark, editcap, mergecap and tcpdump write, we read as they (and tshark) say.
// The hand-swapped big-endian files of pcap-format are vouched for here by tshark.
// Requires tshark, tcpdump, editcap, mergecap and python3-scapy (see reference/toolchain.md).

import fs from 'node:fs';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  encodePcap,
  encodePcapng,
  LINKTYPE,
  openCaptureReader,
  PcapngWriter,
  PcapWriter,
  TSRESOL_USEC,
  tsresolPow2,
} from '../../hal/drivers/pcap/format/index.ts';
import type { CapturedPacket, PacketInput, PcapngWriterOptions } from '../../hal/drivers/pcap/format/index.ts';
import {
  concat,
  directionCode,
  ethFrame,
  hex,
  leBlock,
  makeTempDir,
  patternBytes,
  pcapngToBigEndian,
  pcapToBigEndian,
  removeTempDir,
  run,
  scapy,
  summary,
  tsharkFrames,
  tsharkFromStdin,
} from './pcap-helpers.ts';
import type { TsharkFrame } from './pcap-helpers.ts';

const T0 = 1_700_000_000_123_456_789n;
let dir = '';
const at = (name: string) => path.join(dir, name);

/** The fields tshark and we both report, as tshark spells them. */
type Comparable = Omit<TsharkFrame, 'encap'>;

function fromTshark(f: TsharkFrame): Comparable {
  const { encap: _encap, ...rest } = f;
  return rest;
}

/** Our reading of `file`, as comparable rows (interface ids section-local, as tshark shows them). */
function ourFrames(file: string): Comparable[] {
  const r = openCaptureReader(file);
  const rows: Comparable[] = [];
  for (const p of r) {
    const iface = r.interfaces[p.interfaceId]!;
    const firstOfSection = r.interfaces.findIndex((i) => i.section === iface.section);
    rows.push({
      data: hex(p.data),
      len: p.origLen,
      capLen: p.data.length,
      tsNs: p.tsNs,
      interfaceId: p.interfaceId - firstOfSection,
      interfaceName: iface.name ?? (r.format === 'pcapng' ? 'unknown' : ''), // tshark's word for none
      direction: directionCode(p.direction),
      comment: p.comment ?? '',
    });
  }
  return rows;
}

/** What tshark must show for packets we wrote (stored bytes after snaplen, time after resolution). */
function expectedRows(packets: PacketInput[], names: string[], snaplens: number[], toNs: Array<(ns: bigint) => bigint>): Comparable[] {
  return packets.map((p) => {
    const id = p.interfaceId ?? 0;
    const data = p.data.subarray(0, snaplens[id]);
    return {
      data: hex(data),
      len: p.origLen ?? p.data.length,
      capLen: data.length,
      tsNs: toNs[id]!(p.tsNs),
      interfaceId: id,
      interfaceName: names[id] ?? '',
      direction: directionCode(p.direction),
      comment: p.comment ?? '',
    };
  });
}

const exact = (ns: bigint) => ns;
const usec = (ns: bigint) => (ns / 1000n) * 1000n;
const pow2 = (e: bigint) => (ns: bigint) => (((ns << e) / 1_000_000_000n) * 1_000_000_000n) >> e;

const ETH_PACKETS: PacketInput[] = [60, 61, 62, 63, 1514, 9000, 15].map((n, i) => ({
  data: ethFrame(n, i),
  tsNs: T0 + BigInt(i) * 987_654_321n,
}));

const NG_OPTIONS: PcapngWriterOptions = {
  interfaces: [
    { linkType: LINKTYPE.ETHERNET, name: 'eth0', description: 'uplink' },
    { linkType: LINKTYPE.ETHERNET, name: 'eth1', tsresol: TSRESOL_USEC, snaplen: 64 },
    { linkType: LINKTYPE.RAW, name: 'tun0', tsresol: tsresolPow2(20) },
    { linkType: LINKTYPE.ETHERNET, name: 'eth2', tsresol: tsresolPow2(30) },
  ],
};
const NG_NAMES = ['eth0', 'eth1', 'tun0', 'eth2'];
const NG_SNAPLENS = [262144, 64, 262144, 262144];
const NG_TO_NS = [exact, usec, pow2(20n), pow2(30n)];
const NG_PACKETS: PacketInput[] = Array.from({ length: 12 }, (_, i) => ({
  data: i % 4 === 2 ? patternBytes(20 + i * 13, i) : ethFrame(60 + i * 97, i),
  tsNs: T0 + BigInt(i) * 123_456_789n,
  interfaceId: i % 4,
  ...(i % 3 === 1 ? { direction: 'inbound' as const } : i % 3 === 2 ? { direction: 'outbound' as const } : {}),
  ...(i % 5 === 0 ? { comment: `packet ${i}: ünïcødé ✓` } : {}),
  ...(i === 7 ? { origLen: 9000 } : {}),
}));

/** The tools' inputs written by scapy, with what scapy says it wrote. */
const SCAPY_SCRIPT = String.raw`
import json, sys, os
from scapy.all import Ether, IP, UDP, TCP, Raw, PcapWriter, RawPcapNgWriter, wrpcap, wrpcapng
out = sys.argv[1]
res = {}
def frames(n):
    return [Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02') / IP(src='10.0.0.1', dst='10.0.0.%d' % (i + 2))
            / UDP(sport=1000 + i, dport=2000) / Raw(bytes(range(i * 7 % 256))) for i in range(n)]
# classic pcap, microseconds, little-endian, explicit times and wire lengths
w = PcapWriter(os.path.join(out, 'scapy-usec.pcap'), linktype=1)
w.write_header(None)
res['scapy-usec.pcap'] = []
for i, p in enumerate(frames(5)):
    b = bytes(p); sec, us = 1700000000 + i, 123456 + i
    w.write_packet(b, sec=sec, usec=us, wirelen=len(b) + i)
    res['scapy-usec.pcap'].append({'hex': b.hex(), 'tsNs': str(sec * 10**9 + us * 1000), 'origLen': len(b) + i})
w.close()
# classic pcap, nanoseconds, big-endian
w = PcapWriter(os.path.join(out, 'scapy-nsec-be.pcap'), linktype=1, nano=True, endianness='>')
w.write_header(None)
res['scapy-nsec-be.pcap'] = []
for i, p in enumerate(frames(5)):
    b = bytes(p); sec, ns = 1700000000 + i, 123456789 + i
    w.write_packet(b, sec=sec, usec=ns)
    res['scapy-nsec-be.pcap'].append({'hex': b.hex(), 'tsNs': str(sec * 10**9 + ns), 'origLen': len(b)})
w.close()
# raw IP link type through wrpcap and packet times
pkts = [IP(src='192.0.2.1', dst='192.0.2.%d' % (i + 2)) / TCP(sport=40000 + i, dport=80, flags='S') for i in range(4)]
for i, p in enumerate(pkts):
    p.time = 1700000100 + i + 0.5
wrpcap(os.path.join(out, 'scapy-raw.pcap'), pkts, linktype=101)
res['scapy-raw.pcap'] = [{'hex': bytes(p).hex(), 'tsNs': str((1700000100 + i) * 10**9 + 500000000), 'origLen': len(bytes(p))} for i, p in enumerate(pkts)]
# pcapng (SHB, IDB, EPBs) with comments; scapy appends a newline to each comment
pk = frames(4)
for i, p in enumerate(pk):
    p.time = 1700000200 + i + 0.25
    if i % 2 == 0:
        p.comment = ('scapy note %d' % i).encode()
wrpcapng(os.path.join(out, 'scapy.pcapng'), pk)
res['scapy.pcapng'] = [{'hex': bytes(p).hex(), 'tsNs': str((1700000200 + i) * 10**9 + 250000000), 'origLen': len(bytes(p)),
                        'comment': ('scapy note %d\n' % i) if i % 2 == 0 else None} for i, p in enumerate(pk)]
# pcapng Simple Packet Blocks
w = RawPcapNgWriter(os.path.join(out, 'scapy-spb.pcapng'))
w._write_header(None)
res['scapy-spb.pcapng'] = []
for p in frames(3):
    b = bytes(p)
    w._write_block_spb(b)
    res['scapy-spb.pcapng'].append({'hex': b.hex(), 'tsNs': '0', 'origLen': len(b)})
w.close()
print(json.dumps(res))
`;

interface ScapyPacket {
  hex: string;
  tsNs: string;
  origLen: number;
  comment?: string | null;
}
let scapyWrote: Record<string, ScapyPacket[]> = {};

test.before(() => {
  dir = makeTempDir();
  scapyWrote = JSON.parse(scapy(SCAPY_SCRIPT, [dir])) as Record<string, ScapyPacket[]>;
});

test.after(() => {
  removeTempDir(dir);
});

test('tshark reads our pcap files: µs, ns, raw IP, truncated by snaplen', () => {
  const cases: Array<[string, { linkType: number; nanosecond?: boolean; snaplen?: number }]> = [
    ['ours-usec.pcap', { linkType: LINKTYPE.ETHERNET }],
    ['ours-nsec.pcap', { linkType: LINKTYPE.ETHERNET, nanosecond: true }],
    ['ours-snap.pcap', { linkType: LINKTYPE.ETHERNET, nanosecond: true, snaplen: 100 }],
    ['ours-raw.pcap', { linkType: LINKTYPE.RAW }],
  ];
  for (const [name, options] of cases) {
    const w = new PcapWriter(at(name), options);
    for (const p of ETH_PACKETS) w.write(p);
    w.close();
    const want = expectedRows(ETH_PACKETS, [], [options.snaplen ?? 262144], [options.nanosecond ? exact : usec]);
    assert.equal(tsharkFrames(at(name)).map(fromTshark), want, name);
    assert.equal(ourFrames(at(name)), want, name);
  }
  const encaps = tsharkFrames(at('ours-raw.pcap')).map((f) => f.encap);
  assert.ok(encaps.every((e) => e === 7), 'tshark sees raw IP (WTAP_ENCAP_RAW_IP)');
});

test('tshark reads our pcapng: interfaces, resolutions, snaplen, direction, comments', () => {
  const w = new PcapngWriter(at('ours.pcapng'), NG_OPTIONS);
  for (const p of NG_PACKETS) w.write(p);
  w.close();
  const want = expectedRows(NG_PACKETS, NG_NAMES, NG_SNAPLENS, NG_TO_NS);
  assert.equal(tsharkFrames(at('ours.pcapng')).map(fromTshark), want);
  assert.equal(ourFrames(at('ours.pcapng')), want);
  const info = run('capinfos', ['-I', at('ours.pcapng')]) + run('capinfos', [at('ours.pcapng')]);
  assert.match(info, /Capture application: twinflow/);
  assert.match(info, /Description = uplink/);
});

test('tshark reads our pcapng streamed to its stdin (tshark -i -, as wireshark -k -i -)', async () => {
  const { stdin, frames } = tsharkFromStdin();
  const w = new PcapngWriter(stdin, { ...NG_OPTIONS, bufferSize: 256 });
  for (const p of NG_PACKETS) w.write(p);
  await w.close();
  assert.equal((await frames).map(fromTshark), expectedRows(NG_PACKETS, NG_NAMES, NG_SNAPLENS, NG_TO_NS));
});

test('tshark reads the hand-swapped big-endian files as the little-endian originals', () => {
  const le = encodePcapng(NG_PACKETS, NG_OPTIONS);
  fs.writeFileSync(at('be.pcapng'), pcapngToBigEndian(le));
  const want = expectedRows(NG_PACKETS, NG_NAMES, NG_SNAPLENS, NG_TO_NS);
  assert.equal(tsharkFrames(at('be.pcapng')).map(fromTshark), want);
  assert.equal(ourFrames(at('be.pcapng')), want);
  for (const nanosecond of [false, true]) {
    fs.writeFileSync(at('be.pcap'), pcapToBigEndian(encodePcap(ETH_PACKETS, { linkType: 1, nanosecond })));
    const wantPcap = expectedRows(ETH_PACKETS, [], [262144], [nanosecond ? exact : usec]);
    assert.equal(tsharkFrames(at('be.pcap')).map(fromTshark), wantPcap);
    assert.equal(ourFrames(at('be.pcap')), wantPcap);
  }
  // Three sections (LE, BE, LE) with an unknown block type in between: tshark skips it too.
  const multi = concat(le, leBlock(0x777, patternBytes(13, 1)), pcapngToBigEndian(le), le);
  fs.writeFileSync(at('multi.pcapng'), multi);
  const rows = tsharkFrames(at('multi.pcapng')).map(fromTshark);
  assert.is(rows.length, NG_PACKETS.length * 3);
  assert.equal(ourFrames(at('multi.pcapng')), rows);
});

test('we read what scapy writes: pcap µs LE, pcap ns BE, raw IP, pcapng with comments, SPBs', () => {
  const names = ['scapy-usec.pcap', 'scapy-nsec-be.pcap', 'scapy-raw.pcap', 'scapy.pcapng', 'scapy-spb.pcapng'];
  assert.equal(Object.keys(scapyWrote).sort(), [...names].sort());
  for (const name of names) {
    const got: CapturedPacket[] = [];
    const r = openCaptureReader(at(name), { copy: true });
    for (const p of r) got.push(p);
    assert.equal(got.map((p) => ({ hex: hex(p.data), tsNs: p.tsNs.toString(), origLen: p.origLen, comment: p.comment ?? null })),
      scapyWrote[name]!.map((p) => ({ ...p, comment: p.comment ?? null })), name);
    const linkType = name === 'scapy-raw.pcap' ? LINKTYPE.RAW : LINKTYPE.ETHERNET;
    assert.ok(got.every((p) => p.linkType === linkType), `${name} link type`);
    assert.equal(ourFrames(at(name)), tsharkFrames(at(name)).map(fromTshark), `${name} vs tshark`);
  }
  const [be] = [fs.readFileSync(at('scapy-nsec-be.pcap'))];
  assert.is(hex(be.subarray(0, 4)), 'a1b23c4d', 'scapy wrote a big-endian ns file');
});

test('we read what tshark, editcap and mergecap write', () => {
  const eth = encodePcap(ETH_PACKETS, { linkType: 1, nanosecond: true });
  fs.writeFileSync(at('in.pcap'), eth);
  const raw = ETH_PACKETS.map((p, i) => ({ data: patternBytes(40 + i, i + 50), tsNs: p.tsNs + 500n }));
  fs.writeFileSync(at('in-raw.pcap'), encodePcap(raw, { linkType: LINKTYPE.RAW, nanosecond: true }));
  fs.writeFileSync(at('keys.txt'), `CLIENT_RANDOM ${'00'.repeat(32)} ${'11'.repeat(48)}\n`);

  // tshark converts our pcap to pcapng (its SHB/IDB options, its EPB layout).
  run('tshark', ['-r', at('in.pcap'), '-F', 'pcapng', '-w', at('tshark.pcapng')]);
  // editcap adds a Decryption Secrets Block (skipped by us) and then packet comments.
  run('editcap', ['--inject-secrets', `tls,${at('keys.txt')}`, at('tshark.pcapng'), at('dsb.pcapng')]);
  run('editcap', ['-a', '2:edited by editcap', '-a', '5:another', at('tshark.pcapng'), at('commented.pcapng')]);
  // mergecap interleaves two files into one pcapng with two interfaces of different link types.
  run('mergecap', ['-F', 'pcapng', '-w', at('merged.pcapng'), at('in.pcap'), at('in-raw.pcap')]);

  const want = expectedRows(ETH_PACKETS, [], [262144], [exact]);
  for (const name of ['tshark.pcapng', 'dsb.pcapng']) {
    assert.equal(ourFrames(at(name)).map((f) => ({ ...f, interfaceName: '' })), want, name);
    assert.equal(ourFrames(at(name)), tsharkFrames(at(name)).map(fromTshark), `${name} vs tshark`);
  }
  assert.match(fs.readFileSync(at('dsb.pcapng')).subarray(0, 200).toString('latin1'), /KSLT/, 'the DSB is there');
  const commented = ourFrames(at('commented.pcapng'));
  assert.equal(commented.map((f) => f.comment), ['', 'edited by editcap', '', '', 'another', '', '']);
  assert.equal(commented, tsharkFrames(at('commented.pcapng')).map(fromTshark));

  const merged = openCaptureReader(at('merged.pcapng'), { copy: true });
  const packets = [...merged];
  assert.equal(merged.interfaces.map((i) => i.linkType), [LINKTYPE.ETHERNET, LINKTYPE.RAW]);
  assert.equal(packets.map((p) => p.interfaceId), ETH_PACKETS.flatMap(() => [0, 1]));
  assert.equal(packets.filter((p) => p.interfaceId === 1).map(summary),
    raw.map((p) => summary({ data: p.data, origLen: p.data.length, tsNs: p.tsNs, linkType: LINKTYPE.RAW, interfaceId: 1 })));
  assert.equal(ourFrames(at('merged.pcapng')), tsharkFrames(at('merged.pcapng')).map(fromTshark));
});

test('we read what tcpdump (libpcap) writes from our pcapng, in µs and in ns', () => {
  const options: PcapngWriterOptions = {
    // libpcap needs one link type and snaplen per file; resolutions may differ.
    interfaces: [{ linkType: 1, name: 'a' }, { linkType: 1, name: 'b', tsresol: tsresolPow2(24) }],
  };
  const packets = ETH_PACKETS.map((p, i) => ({ ...p, interfaceId: i % 2 }));
  fs.writeFileSync(at('for-tcpdump.pcapng'), encodePcapng(packets, options));
  run('tcpdump', ['-r', at('for-tcpdump.pcapng'), '-w', at('tcpdump-usec.pcap')]);
  run('tcpdump', ['--time-stamp-precision=nano', '-r', at('for-tcpdump.pcapng'), '-w', at('tcpdump-nsec.pcap')]);
  const ns = packets.map((p) => (p.interfaceId === 0 ? p.tsNs : pow2(24n)(p.tsNs)));
  for (const [name, toNs] of [['tcpdump-usec.pcap', usec], ['tcpdump-nsec.pcap', exact]] as const) {
    const r = openCaptureReader(at(name));
    const got = Array.from(r, summary);
    assert.equal(got, packets.map((p, i) => summary({
      data: p.data, origLen: p.data.length, tsNs: toNs(ns[i]!), linkType: 1, interfaceId: 0,
    })), name);
    assert.equal(ourFrames(at(name)), tsharkFrames(at(name)).map(fromTshark), `${name} vs tshark`);
  }
});

test('a file of two writers: scapy\'s pcapng section followed by our big-endian section', () => {
  const ours = pcapngToBigEndian(encodePcapng(NG_PACKETS, NG_OPTIONS));
  fs.writeFileSync(at('two-writers.pcapng'), concat(fs.readFileSync(at('scapy.pcapng')), ours));
  const rows = ourFrames(at('two-writers.pcapng'));
  assert.is(rows.length, 4 + NG_PACKETS.length);
  // "the correct interface will be the one whose Interface Description Block (within the
  // current Section of the file) is identified by the same number" (pcapng §4.3). tshark 4.0
  // shows the section-local frame.interface_id but looks frame.interface_name up in its
  // file-wide list, so names in a later section are shifted: names are checked against the
  // IDBs we wrote, everything else against tshark.
  const withoutNames = (r: Comparable[]) => r.map((f) => ({ ...f, interfaceName: '' }));
  assert.equal(withoutNames(rows), withoutNames(tsharkFrames(at('two-writers.pcapng')).map(fromTshark)));
  assert.equal(rows.map((f) => f.interfaceName), [...Array(4).fill('unknown'), ...NG_PACKETS.map((p) => NG_NAMES[p.interfaceId!])]);
});

test.run();
