// hal/drivers/sim/packets.ts against independent implementations, both directions:
// - frames we build, tshark (Wireshark's dissectors, checksum validation on) decodes without a
//   warning, with good checksums and with every field as specified;
// - frames scapy builds, we parse to the fields scapy reports, and we see their bad checksums;
// - we never mistake a cut, non-IP, fragmented or other-protocol frame for a segment.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  buildFrame, Eth, formatIpv6, formatMac, parseIp, parseIpv6, parseSegment, TcpFlag, Udp, XorShift32,
  type FrameSpec, type SegmentView,
} from '../../hal/drivers/sim/index.ts';
import { ipv4Bytes, parseIpv4 } from '../../hal/net/address.ts';
import { EPOCH_NS, hex, scapyEval, tsharkFields, tsharkProblems } from './sim-helpers.ts';

const MAC_A = Uint8Array.of(0x02, 0, 0, 0, 0x01, 0x0a);
const MAC_B = Uint8Array.of(0x02, 0, 0, 0, 0x02, 0x0b);
const V4_A = ipv4Bytes(parseIpv4('10.0.0.1')!);
const V4_B = ipv4Bytes(parseIpv4('10.1.2.3')!);
const V6_A = parseIpv6('2001:db8::1')!;
const V6_B = parseIpv6('2001:db8:1::abcd')!;
/** IPv6 header bytes before the payload length (version, traffic class, flow label), and the hop limit's offset. */
const IPV6_UNCOVERED = 4;
const IPV6_HOP_LIMIT = 7;
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const pay = (n: number, salt = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => 0x41 + ((i * 7 + salt) % 26));

/** The frames the tshark test decodes: every family × transport, tagged or not, edge lengths. */
const SPECS: readonly FrameSpec[] = [
  { srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, ipId: 1, l4: { proto: 'tcp', srcPort: 50000, dstPort: 9000, seq: 0xfffffff0, ack: 0, flags: TcpFlag.Syn, mss: 1460 } },
  { srcMac: MAC_B, dstMac: MAC_A, src: V4_B, dst: V4_A, ipId: 0xffff, l4: { proto: 'tcp', srcPort: 9000, dstPort: 50000, seq: 12345, ack: 0xfffffff1, flags: TcpFlag.Syn | TcpFlag.Ack, mss: 1460 } },
  { srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, ipId: 2, l4: { proto: 'tcp', srcPort: 50001, dstPort: 9000, seq: 7, ack: 99, flags: TcpFlag.Psh | TcpFlag.Ack }, payload: pay(333) },
  { srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, ipId: 3, l4: { proto: 'udp', srcPort: 50002, dstPort: 9001 }, payload: pay(5, 1) },
  { srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, ipId: 4, l4: { proto: 'udp', srcPort: 50003, dstPort: 9001 } },
  { srcMac: MAC_A, dstMac: MAC_B, vlan: 100, src: V6_A, dst: V6_B, l4: { proto: 'tcp', srcPort: 50004, dstPort: 9000, seq: 1, ack: 2, flags: TcpFlag.Psh | TcpFlag.Ack }, payload: pay(1440, 2) },
  { srcMac: MAC_B, dstMac: MAC_A, vlan: 4094, src: V6_B, dst: V6_A, l4: { proto: 'udp', srcPort: 9001, dstPort: 50005 }, payload: pay(77, 3) },
  { srcMac: MAC_A, dstMac: MAC_B, vlan: 1, src: V4_A, dst: V4_B, ttl: 1, l4: { proto: 'tcp', srcPort: 50006, dstPort: 9000, seq: 100, ack: 200, flags: TcpFlag.Fin | TcpFlag.Ack } },
  { srcMac: MAC_A, dstMac: MAC_B, src: V6_A, dst: V6_B, l4: { proto: 'tcp', srcPort: 50007, dstPort: 9000, seq: 0, ack: 0, flags: TcpFlag.Syn, mss: 1440 } },
  { srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, l4: { proto: 'tcp', srcPort: 50008, dstPort: 9000, seq: 5, ack: 6, flags: TcpFlag.Ack } },
];

/** A UDP datagram whose computed checksum is 0, which RFC 768 sends as 0xffff. */
function zeroChecksumUdp(): Uint8Array {
  for (let v = 0; v < 0x10000; v++) {
    const f = buildFrame({ srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, l4: { proto: 'udp', srcPort: 50009, dstPort: 9001 }, payload: Uint8Array.of(v >> 8, v & 0xff, 0x41) });
    const at = Eth.Header + 20 + Udp.Checksum;
    if (f[at] === 0xff && f[at + 1] === 0xff) return f;
  }
  throw new Error('no payload gives a zero UDP checksum');
}

test('tshark decodes every built frame without a warning and with good IP, TCP and UDP checksums', () => {
  const frames = [...SPECS.map((s) => buildFrame(s)), zeroChecksumUdp()].map((data, i) => ({ data, tsNs: EPOCH_NS + BigInt(i) * 1000n }));
  // Sequence analysis is off: these frames are unrelated, so "ACKed unseen segment" would be noise.
  const noAnalysis = ['-o', 'tcp.analyze_sequence_numbers:FALSE'];
  assert.equal(tsharkProblems(frames, noAnalysis), []);
  const rows = tsharkFields(frames, ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status'], noAnalysis);
  assert.is(rows.length, frames.length);
  rows.forEach(([ip, tcp, udp], i) => {
    if (parseSegment(frames[i].data)!.family === 4) assert.is(ip, '1', `frame ${i + 1}: IPv4 header checksum status`);
    assert.is(tcp || udp, '1', `frame ${i + 1}: transport checksum status`);
  });
});

test('tshark reads back every field as specified', () => {
  const frames = SPECS.map((s, i) => ({ data: buildFrame(s), tsNs: EPOCH_NS + BigInt(i) * 1000n }));
  const fields = ['frame.len', 'eth.dst', 'eth.src', 'vlan.id', 'ip.src', 'ip.dst', 'ip.id', 'ip.ttl', 'ip.flags.df', 'ipv6.src', 'ipv6.dst', 'ipv6.hlim',
    'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.len', 'tcp.options.mss_val', 'tcp.window_size_value',
    'udp.srcport', 'udp.dstport', 'udp.length', 'data.data'];
  const rows = tsharkFields(frames, fields, ['-o', 'tcp.analyze_sequence_numbers:FALSE']);
  rows.forEach((row, i) => {
    const s = SPECS[i];
    const got = Object.fromEntries(fields.map((f, k) => [f, row[k] ?? '']));
    const v6 = s.src.length === 16;
    const payload = s.payload ?? new Uint8Array(0);
    const l3 = 14 + (s.vlan !== undefined ? 4 : 0);
    const l4 = (s.l4.proto === 'tcp' ? 20 + (s.l4.mss !== undefined ? 4 : 0) : 8) + payload.length;
    const want: Record<string, string> = {
      'frame.len': String(Math.max(60, l3 + (v6 ? 40 : 20) + l4)),
      'eth.dst': formatMac(s.dstMac),
      'eth.src': formatMac(s.srcMac),
      'vlan.id': s.vlan !== undefined ? String(s.vlan) : '',
      'ip.src': v6 ? '' : Array.from(s.src).join('.'),
      'ip.dst': v6 ? '' : Array.from(s.dst).join('.'),
      'ip.id': v6 ? '' : `0x${(s.ipId ?? 0).toString(16).padStart(4, '0')}`,
      'ip.ttl': v6 ? '' : String(s.ttl ?? 64),
      'ip.flags.df': v6 ? '' : '1',
      'ipv6.src': v6 ? formatIpv6(s.src) : '',
      'ipv6.dst': v6 ? formatIpv6(s.dst) : '',
      'ipv6.hlim': v6 ? String(s.ttl ?? 64) : '',
      'tcp.srcport': s.l4.proto === 'tcp' ? String(s.l4.srcPort) : '',
      'tcp.dstport': s.l4.proto === 'tcp' ? String(s.l4.dstPort) : '',
      'tcp.seq_raw': s.l4.proto === 'tcp' ? String(s.l4.seq >>> 0) : '',
      'tcp.ack_raw': s.l4.proto === 'tcp' ? String(s.l4.ack >>> 0) : '',
      'tcp.flags': s.l4.proto === 'tcp' ? `0x${s.l4.flags.toString(16).padStart(4, '0')}` : '',
      'tcp.len': s.l4.proto === 'tcp' ? String(payload.length) : '',
      'tcp.options.mss_val': s.l4.proto === 'tcp' && s.l4.mss !== undefined ? String(s.l4.mss) : '',
      'tcp.window_size_value': s.l4.proto === 'tcp' ? '65535' : '',
      'udp.srcport': s.l4.proto === 'udp' ? String(s.l4.srcPort) : '',
      'udp.dstport': s.l4.proto === 'udp' ? String(s.l4.dstPort) : '',
      'udp.length': s.l4.proto === 'udp' ? String(8 + payload.length) : '',
      'data.data': payload.length ? hex(payload) : '',
    };
    assert.equal(got, want, `frame ${i + 1}`);
  });
});

test('ICMP and ICMPv6 echo requests decode in tshark with good checksums', () => {
  const specs: FrameSpec[] = [
    { srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, l4: { proto: 'icmp', id: 0x1234, seq: 7 }, payload: pay(56) },
    { srcMac: MAC_A, dstMac: MAC_B, vlan: 12, src: V6_A, dst: V6_B, l4: { proto: 'icmp', id: 0x4321, seq: 9 }, payload: pay(3, 4) },
  ];
  const frames = specs.map((s, i) => ({ data: buildFrame(s), tsNs: EPOCH_NS + BigInt(i) * 1000n }));
  const fields = ['icmp.type', 'icmp.ident', 'icmp.seq', 'icmp.checksum.status', 'icmpv6.type', 'icmpv6.echo.identifier', 'icmpv6.echo.sequence_number', 'icmpv6.checksum.status', 'data.data'];
  const rows = tsharkFields(frames, fields);
  assert.equal(rows[0], ['8', '4660', '7', '1', '', '', '', '', hex(pay(56))]);
  assert.equal(rows[1], ['', '', '', '', '128', '0x4321', '9', '1', hex(pay(3, 4))]);
  assert.equal(tsharkProblems(frames), []);
});

test('frames shorter than the Ethernet minimum are zero-padded to 60 bytes, and the padding is not payload', () => {
  const f = buildFrame(SPECS[3]);
  assert.is(f.length, 60);
  assert.ok(f.subarray(14 + 20 + 8 + 5).every((x) => x === 0));
  const s = parseSegment(f)!;
  assert.is(s.payloadLen, 5);
  assert.is(s.ipEnd, 14 + 20 + 8 + 5);
});

// ── scapy → parse ───────────────────────────────────────────────────────────────────────────

const DESCRIBE = String.raw`
MAC_A = "02:00:00:00:01:0a"
MAC_B = "02:00:00:00:02:0b"
def describe(p):
    d = {"vlan": p[Dot1Q].vlan if Dot1Q in p else None}
    ip = p[IP] if IP in p else p[IPv6]
    d["family"] = 4 if IP in p else 6
    d["src"] = ip.src
    d["dst"] = ip.dst
    l4 = p[TCP] if TCP in p else p[UDP]
    d["proto"] = 6 if TCP in p else 17
    d["sport"] = l4.sport
    d["dport"] = l4.dport
    d["seq"] = l4.seq if TCP in p else 0
    d["ack"] = l4.ack if TCP in p else 0
    d["flags"] = int(l4.flags) if TCP in p else 0
    d["window"] = l4.window if TCP in p else 0
    d["payload"] = bytes(p[Raw].load).hex() if Raw in p else ""
    return d
`;

const SCAPY_GOOD = [
  'Ether(src=MAC_A,dst=MAC_B)/IP(src="10.0.0.1",dst="10.1.2.3",id=77)/TCP(sport=40000,dport=80,seq=123456789,ack=0,flags="S",options=[("MSS",1460),("SAckOK",b""),("Timestamp",(1,0)),("NOP",None),("WScale",7)])',
  'Ether(src=MAC_B,dst=MAC_A)/IP(src="10.1.2.3",dst="10.0.0.1",options=[IPOption_RR(routers=["1.2.3.4"])])/TCP(sport=80,dport=40000,seq=4294967295,ack=123456790,flags="PA",window=512)/Raw(b"hello, world")',
  'Ether(src=MAC_A,dst=MAC_B)/Dot1Q(vlan=42)/IP(src="10.0.0.1",dst="10.1.2.3")/UDP(sport=5353,dport=9001)/Raw(b"abcdefg")',
  'Ether(src=MAC_A,dst=MAC_B)/IPv6(src="2001:db8::1",dst="2001:db8:1::abcd")/TCP(sport=1,dport=65535,seq=1,ack=2,flags="FA")',
  'Ether(src=MAC_A,dst=MAC_B)/Dot1Q(vlan=4094)/IPv6(src="fe80::1",dst="ff02::1:2")/UDP(sport=546,dport=547)/Raw(bytes(range(255)))',
  'Ether(src=MAC_A,dst=MAC_B)/IP(src="10.0.0.1",dst="10.1.2.3")/UDP(sport=1,dport=2,chksum=0)/Raw(b"no checksum over IPv4 is fine")',
  'Ether(src=MAC_A,dst=MAC_B)/IP(src="10.0.0.1",dst="10.1.2.3")/UDP(sport=1,dport=2)/Raw(b"ab")/Padding(b"\\x00"*12)',
  'Ether(src=MAC_A,dst=MAC_B)/IP(src="10.0.0.1",dst="10.1.2.3")/TCP(sport=3,dport=4,flags="R")',
];

test('packets scapy builds parse to the fields scapy reports, with good checksums', () => {
  const built = scapyEval(DESCRIBE, SCAPY_GOOD);
  built.forEach(({ bytes, info }, i) => {
    const d = info as Record<string, unknown>;
    const s = parseSegment(bytes);
    assert.ok(s, `${SCAPY_GOOD[i]}: parsed`);
    const seg = s as SegmentView;
    const addr = (at: number): string => (seg.family === 4 ? Array.from(bytes.subarray(at, at + 4)).join('.') : formatIpv6(bytes.subarray(at, at + 16)));
    const norm = (a: unknown): string => (seg.family === 4 ? String(a) : formatIpv6(parseIpv6(String(a))!));
    assert.equal({
      vlan: seg.vlan, family: seg.family, src: addr(seg.srcAt), dst: addr(seg.dstAt), proto: seg.proto, sport: seg.srcPort, dport: seg.dstPort,
      seq: seg.seq, ack: seg.ack, flags: seg.flags, window: seg.window, payload: hex(bytes.subarray(seg.payload, seg.payload + seg.payloadLen)),
    }, { ...d, src: norm(d.src), dst: norm(d.dst) }, SCAPY_GOOD[i]);
    assert.ok(seg.checksumOk, `${SCAPY_GOOD[i]}: checksum`);
  });
});

test('bad checksums scapy writes are seen; a zero UDP checksum is refused over IPv6 only', () => {
  const exprs = [
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3",chksum=0x1234)/TCP(sport=1,dport=2)',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3")/TCP(sport=1,dport=2,chksum=0x1234)/Raw(b"x")',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3")/UDP(sport=1,dport=2,chksum=0x1234)/Raw(b"x")',
    'Ether()/IPv6(src="2001:db8::1",dst="2001:db8::2")/UDP(sport=1,dport=2,chksum=0)/Raw(b"x")',
    'Ether()/IPv6(src="2001:db8::1",dst="2001:db8::2")/TCP(sport=1,dport=2,chksum=1)',
  ];
  for (const [i, { bytes }] of scapyEval('', exprs).entries()) {
    const s = parseSegment(bytes);
    assert.ok(s, exprs[i]);
    assert.is(s!.checksumOk, false, exprs[i]);
  }
});

test('what is not a whole TCP/UDP packet parses to null', () => {
  const exprs = [
    'Ether()/ARP()',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3")/ICMP()',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3",flags="MF",proto=6)/Raw(b"x"*24)',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3",frag=10,proto=17)/Raw(b"x"*24)',
    'Ether()/IPv6(src="2001:db8::1",dst="2001:db8::2")/IPv6ExtHdrHopByHop()/UDP(sport=1,dport=2)',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3",len=200)/UDP(sport=1,dport=2)',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3",ihl=4)/UDP(sport=1,dport=2)',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3")/UDP(sport=1,dport=2,len=30)/Raw(b"x"*4)',
    'Ether()/IP(src="10.0.0.1",dst="10.1.2.3")/TCP(sport=1,dport=2,dataofs=15)',
    'Ether()/Dot1AD(vlan=5)/Dot1Q(vlan=6)/IP(src="10.0.0.1",dst="10.1.2.3")/UDP()',
  ];
  for (const [i, { bytes }] of scapyEval('from scapy.layers.l2 import Dot1AD', exprs).entries()) {
    assert.is(parseSegment(bytes), null, exprs[i]);
  }
  assert.is(parseIp(scapyEval('', ['Ether()/ARP()'])[0].bytes), null);
});

test('every cut of a frame is null, never a throw or a wrong read', () => {
  for (const s of SPECS) {
    const f = buildFrame(s);
    const end = parseSegment(f)!.ipEnd;
    for (let n = 0; n < end; n++) assert.is(parseSegment(f.subarray(0, n)), null, `${n} of ${end} bytes`);
  }
});

test('build → parse round trip over random specs', () => {
  const rng = new XorShift32(2024);
  for (let i = 0; i < 500; i++) {
    const v6 = rng.chance(0.5);
    const tcp = rng.chance(0.5);
    const vlan = rng.chance(0.5) ? rng.between(1, 4094) : undefined;
    const payload = pay(rng.below(1441), i);
    const l4 = tcp
      ? { proto: 'tcp' as const, srcPort: rng.between(1, 65535), dstPort: rng.between(1, 65535), seq: rng.next(), ack: rng.next(), flags: rng.below(32), mss: rng.chance(0.3) ? 1400 : undefined }
      : { proto: 'udp' as const, srcPort: rng.between(1, 65535), dstPort: rng.between(1, 65535) };
    const spec: FrameSpec = {
      srcMac: MAC_A, dstMac: MAC_B, vlan, src: v6 ? V6_A : V4_A, dst: v6 ? V6_B : V4_B, ipId: rng.below(65536), l4, payload,
    };
    const f = buildFrame(spec);
    const s = parseSegment(f)!;
    assert.ok(s && s.checksumOk, `spec ${i}`);
    assert.is(s.vlan, vlan ?? null);
    assert.is(s.family, v6 ? 6 : 4);
    assert.is(s.srcPort, l4.srcPort);
    assert.is(s.dstPort, l4.dstPort);
    if (l4.proto === 'tcp') {
      assert.is(s.seq, l4.seq);
      assert.is(s.ack, l4.ack);
      assert.is(s.flags, l4.flags);
    }
    assert.is(text(f.subarray(s.payload, s.payload + s.payloadLen)), text(payload));
    // One flipped bit in what a checksum covers is caught (or breaks the parse). IPv6 has no header
    // checksum: its traffic class, flow label and hop limit are covered by nothing.
    const from = v6 ? s.l3 + IPV6_UNCOVERED : s.l3;
    let at: number;
    do at = from + rng.below(s.ipEnd - from); while (v6 && at === s.l3 + IPV6_HOP_LIMIT);
    const g = f.slice();
    g[at] ^= 1 << rng.below(8);
    const t = parseSegment(g);
    assert.ok(t === null || !t.checksumOk, `spec ${i}: flipped bit at ${at} went unnoticed`);
  }
});

test.run();
