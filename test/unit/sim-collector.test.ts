// The simulated replica collector (hal/drivers/sim/collector.ts, decap.ts):
// - VPP test_span's oracle through the real data plane: a session sniffs one client host to the
//   collector on port 2, and every inner packet the collector decapsulates is byte-identical to
//   the original the other side received (IP packet for GRE, whole frame for ERSPAN), in order,
//   both directions, with consecutive sequence numbers and counters equal to the session's;
// - truncated replicas are prefixes of their originals and are counted as truncated;
// - replicas scapy builds (an independent encoder, including GRE checksum/key, ERSPAN III with
//   the platform sub-header) decapsulate to what scapy put inside; malformed ones are counted,
//   never thrown; sequence gaps are counted per stream.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Collector, parseIp, parseIpv6, parseLink, parseSegment, type ReceivedReplica } from '../../hal/drivers/sim/index.ts';
import { ipv4Bytes, parseIpv4 } from '../../hal/net/address.ts';
import type { EncapName } from '../../firmware/shell/sessions/template.ts';
import { COLLECTOR, ROUTER, runBoard, scapyEval, sniffSession, type BoardRun } from './sim-helpers.ts';

const HOST_V4 = ipv4Bytes(parseIpv4('10.0.0.11')!);
const HOST_V6 = parseIpv6('2001:db8::11')!;
const FILTER = 'host 10.0.0.11 or host 2001:db8::11';
const KEEP = 100_000;

const sameBytes = (a: Uint8Array, at: number, b: Uint8Array): boolean => b.every((x, i) => a[at + i] === x);

/** True when the packet (an IP packet, or an Ethernet frame when `frame`) comes from the sniffed host. */
function fromHost(p: Uint8Array, frame: boolean): boolean {
  let l3 = 0;
  if (frame) {
    const link = parseLink(p);
    if (link === null) throw new Error('inner frame is not Ethernet');
    l3 = link.l3;
  }
  return p[l3] >> 4 === 4 ? sameBytes(p, l3 + 12, HOST_V4) : sameBytes(p, l3 + 8, HOST_V6);
}

function toHost(f: Uint8Array): boolean {
  const ip = parseIp(f)!;
  return sameBytes(f, ip.dstAt, ip.family === 4 ? HOST_V4 : HOST_V6);
}

function ipPacket(f: Uint8Array): Uint8Array {
  const ip = parseIp(f)!;
  return f.subarray(ip.l3, ip.ipEnd);
}

/** Originals of the sniffed host as the far side received them: (client → server, server → client). */
function originals(r: BoardRun): { up: Uint8Array[]; down: Uint8Array[] } {
  const up = r.serverTap.frames.filter((f) => f.dir === 'in' && fromHost(f.data, true)).map((f) => f.data);
  const down = r.clientTap.frames.filter((f) => f.dir === 'in' && toHost(f.data)).map((f) => f.data);
  return { up, down };
}

const CASES: ReadonlyArray<{ encap: EncapName; mode?: 'sniff' | 'dup'; vlan?: number; counter: string }> = [
  { encap: 'gre', counter: 'greWccp' },
  { encap: 'erspan2', vlan: 100, counter: 'erspan2' },
  { encap: 'erspan3', counter: 'erspan3' },
  { encap: 'gre-seq', mode: 'dup', counter: 'greSeq' },
];

for (const c of CASES) {
  test(`${c.encap}${c.vlan ? ` (VLAN ${c.vlan})` : ''}: every inner packet equals the original the far side received`, async () => {
    const session = sniffSession(FILTER, c.encap, { mode: c.mode ?? 'sniff' });
    const r = await runBoard({
      clients: { vlan: c.vlan }, servers: { vlan: c.vlan }, collector: { keep: KEEP }, sessions: [session],
    });
    assert.is(r.clients.counters().flowsAbandoned, 0);
    const frame = c.encap === 'erspan2' || c.encap === 'erspan3';
    const want = originals(r);
    const got = r.collector.received;
    assert.ok(want.up.length > 20 && want.down.length > 20, 'the host had traffic both ways');
    const inner = (rs: readonly ReceivedReplica[]) => rs.map((x) => x.inner);
    assert.equal(inner(got.filter((x) => fromHost(x.inner, frame))), want.up.map((f) => (frame ? f : ipPacket(f))), 'client → server');
    assert.equal(inner(got.filter((x) => !fromHost(x.inner, frame))), want.down.map((f) => (frame ? f : ipPacket(f))), 'server → client');

    const s = r.sessions[0];
    const k = r.collector.counters();
    assert.is(s.matched, want.up.length + want.down.length);
    assert.is(s.replicated, s.matched);
    assert.is(k.replicas, s.replicated);
    assert.is(k[c.counter], k.replicas);
    assert.is(k.bytes, s.bytes_replicated);
    assert.equal({ gaps: k.sequenceGaps, truncated: k.truncated, notForUs: k.notForUs, malformed: k.malformed },
      { gaps: 0, truncated: 0, notForUs: 0, malformed: 0 });
    assert.is(r.card.driverCounters(2).txPackets, k.replicas);
    if (c.encap === 'gre') {
      assert.ok(got.every((x) => x.sequence === undefined));
    } else {
      assert.equal(got.map((x) => x.sequence), got.map((_, i) => i), 'sequence numbers 0, 1, 2, …');
    }
    if (frame) {
      assert.ok(got.every((x) => x.sessionId === session.erspanSession), 'ERSPAN session id');
      assert.ok(got.every((x) => x.vlan === (c.vlan ?? 0)), 'ERSPAN VLAN');
    }
  });
}

test('truncated replicas (path MTU) are prefixes of their originals and are counted', async () => {
  for (const encap of ['gre', 'erspan3'] as const) {
    const r = await runBoard({
      clients: { payloadBytes: [1300, 1440], maxFlows: 60 }, servers: { responseBytes: [1300, 1440] },
      collector: { keep: KEEP }, sessions: [sniffSession(FILTER, encap)],
    });
    const frame = encap === 'erspan3';
    const want = originals(r);
    const k = r.collector.counters();
    const s = r.sessions[0];
    assert.ok(s.truncated > 0, `${encap}: some replicas were truncated`);
    assert.is(k.truncated, s.truncated, `${encap}: truncated`);
    assert.is(k.replicas, s.replicated);
    assert.is(k.malformed + k.sequenceGaps, 0);
    const up = r.collector.received.filter((x) => fromHost(x.inner, frame));
    assert.is(up.length, want.up.length);
    up.forEach((x, i) => {
      const orig = frame ? want.up[i] : ipPacket(want.up[i]);
      assert.ok(x.inner.length <= orig.length && sameBytes(orig, 0, x.inner), `${encap}: replica ${i} is a prefix`);
      assert.is(x.truncated, x.inner.length < orig.length, `${encap}: replica ${i} truncated flag`);
    });
  }
});

// ── replicas built by scapy ─────────────────────────────────────────────────────────────────

const SCAPY_PRELUDE = String.raw`
COLL_MAC = "${COLLECTOR.mac}"
COLL = "${COLLECTOR.address}"
ROUTER = "${ROUTER.ip}"
def O():
    return Ether(src="02:74:66:00:00:01", dst=COLL_MAC)/IP(src=ROUTER, dst=COLL)
def inner_ip():
    return IP(src="10.0.0.11", dst="10.1.0.20", id=5)/TCP(sport=50000, dport=9000, flags="PA")/Raw(b"abcdefghij")
def inner_ip6():
    return IPv6(src="2001:db8::11", dst="2001:db8:1::20")/UDP(sport=50000, dport=9001)/Raw(b"klmnopqrstuvwxyz")
def inner_eth():
    return Ether(src="02:00:00:00:01:01", dst="02:00:00:00:02:00")/Dot1Q(vlan=100)/inner_ip()
`;

// scapy's ERSPAN_II defaults `ver` to 0; type II is version 1 (draft-foschiano-erspan §4.1), so
// every type II header below sets it.
const GOOD: ReadonlyArray<{ outer: string; inner: string; want: Partial<ReceivedReplica>; counter: string }> = [
  { outer: 'O()/GRE(proto=0x883e)/Raw(b"\\x01\\x3d\\x00\\x7f")/inner_ip()', inner: 'inner_ip()', want: { encap: 'gre', truncated: false }, counter: 'greWccp' },
  { outer: 'O()/GRE(proto=0x883e)/Raw(b"\\x03\\x3d\\x11\\x7f")/inner_ip6()', inner: 'inner_ip6()', want: { encap: 'gre', truncated: false }, counter: 'greWccp' },
  { outer: 'O()/GRE(seqnum_present=1,sequence_number=5)/ERSPAN_II(ver=1,session_id=33,vlan=100,t=1,en=3,index=12345)/inner_eth()', inner: 'inner_eth()', want: { encap: 'erspan2', sequence: 5, sessionId: 33, vlan: 100, truncated: true }, counter: 'erspan2' },
  { outer: 'O()/GRE(seqnum_present=1,sequence_number=4294967295)/ERSPAN_III(session_id=1023,timestamp=123456,hw=5,gra=1)/inner_eth()', inner: 'inner_eth()', want: { encap: 'erspan3', sequence: 4294967295, sessionId: 1023, vlan: 0, truncated: false }, counter: 'erspan3' },
  { outer: 'O()/GRE(seqnum_present=1,sequence_number=7)/ERSPAN_III(session_id=9,o=1,t=1)/ERSPAN_PlatformSpecific(platf_id=3,info1=1,info2=2)/inner_eth()', inner: 'inner_eth()', want: { encap: 'erspan3', sequence: 7, sessionId: 9, vlan: 0, truncated: true }, counter: 'erspan3' },
  { outer: 'O()/GRE(chksum_present=1,key_present=1,key=77,seqnum_present=1,sequence_number=9,proto=0x86dd)/inner_ip6()', inner: 'inner_ip6()', want: { encap: 'gre-seq', sequence: 9, truncated: false }, counter: 'greSeq' },
  { outer: 'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/Dot1Q(vlan=7)/IP(src=ROUTER,dst=COLL)/GRE(seqnum_present=1,sequence_number=0,proto=0x800)/inner_ip()', inner: 'inner_ip()', want: { encap: 'gre-seq', sequence: 0, truncated: false }, counter: 'greSeq' },
  { outer: 'O()/GRE(proto=0x883e)/Raw(b"\\x00\\x00\\x00\\x00")/Raw(bytes(inner_ip())[:30])', inner: 'Raw(bytes(inner_ip())[:30])', want: { encap: 'gre', truncated: true }, counter: 'greWccp' },
];

test('replicas scapy builds decapsulate to what scapy put inside', () => {
  const built = scapyEval(SCAPY_PRELUDE, GOOD.flatMap((g) => [g.outer, g.inner]));
  GOOD.forEach((g, i) => {
    const col = new Collector({ ...COLLECTOR, keep: 1 });
    col.deliver(built[2 * i].bytes, 0n);
    const k = col.counters();
    assert.is(k.replicas, 1, g.outer);
    assert.is(k[g.counter], 1, g.outer);
    const [got] = col.received;
    assert.equal(got.inner, built[2 * i + 1].bytes, `${g.outer}: inner`);
    assert.equal({ ...got, inner: undefined }, { inner: undefined, truncated: false, ...g.want }, `${g.outer}: fields`);
  });
});

const MALFORMED: readonly string[] = [
  'O()/GRE(version=1,proto=0x800)/inner_ip()', // PPTP's enhanced GRE
  'O()/GRE(routing_present=1,proto=0x800)/inner_ip()', // RFC 1701 routing
  'O()/GRE(chksum_present=1,chksum=0x1234,proto=0x800)/inner_ip()', // wrong GRE checksum
  'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/IP(src=ROUTER,dst=COLL,chksum=0x1111)/GRE(proto=0x883e)/Raw(b"\\x00"*4)/inner_ip()',
  'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/IP(src=ROUTER,dst=COLL,flags="MF")/GRE(proto=0x883e)/Raw(b"\\x00"*4)/inner_ip()',
  'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/IP(src=ROUTER,dst=COLL,len=400)/GRE(proto=0x883e)/Raw(b"\\x00"*4)/inner_ip()',
  'O()/GRE(proto=0x88be)/inner_eth()', // ERSPAN type I: not supported
  'O()/GRE(seqnum_present=1,proto=0x22eb)/ERSPAN_II()/inner_eth()', // version 1 header in a type III packet
  'O()/GRE(seqnum_present=1)/ERSPAN_III(ft=2)/inner_ip()', // ERSPAN III carrying IP: not supported
  'O()/GRE(seqnum_present=1,proto=0x88be)/Raw(b"\\x10\\x00\\x00")', // ERSPAN II header cut short
  'O()/GRE(proto=0x6558)/inner_eth()', // transparent Ethernet bridging: not a replica encapsulation
  'O()/GRE(proto=0x883e)/Raw(b"\\x00\\x00\\x00\\x00")', // WCCP header, nothing inside
  'O()/GRE(proto=0x800)/inner_ip6()', // IPv6 packet labelled IPv4
];

const NOT_FOR_US: readonly string[] = [
  'Ether(src="02:74:66:00:00:01",dst="02:00:00:00:03:01")/IP(src=ROUTER,dst=COLL)/GRE(proto=0x883e)/Raw(b"\\x00"*4)/inner_ip()',
  'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/IP(src=ROUTER,dst="192.0.2.51")/GRE(proto=0x883e)/Raw(b"\\x00"*4)/inner_ip()',
  'O()/UDP(sport=1,dport=2048)/Raw(b"wccp")',
  'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/ARP()',
  'Ether(src="02:74:66:00:00:01",dst=COLL_MAC)/IPv6()/UDP()',
];

test('malformed replicas and frames for others are counted, never thrown', () => {
  const built = scapyEval(SCAPY_PRELUDE, [...MALFORMED, ...NOT_FOR_US]);
  built.forEach(({ bytes }, i) => {
    const col = new Collector(COLLECTOR);
    col.deliver(bytes, 0n);
    const k = col.counters();
    const expr = i < MALFORMED.length ? MALFORMED[i] : NOT_FOR_US[i - MALFORMED.length];
    assert.equal({ replicas: k.replicas, malformed: k.malformed, notForUs: k.notForUs },
      i < MALFORMED.length ? { replicas: 0, malformed: 1, notForUs: 0 } : { replicas: 0, malformed: 0, notForUs: 1 }, expr);
  });
});

test('every cut of a replica lands in exactly one counter', () => {
  const built = scapyEval(SCAPY_PRELUDE, GOOD.map((g) => g.outer));
  const col = new Collector(COLLECTOR);
  let n = 0;
  for (const { bytes } of built) {
    for (let len = 0; len <= bytes.length; len++) {
      col.deliver(bytes.subarray(0, len), 0n);
      n++;
    }
  }
  const k = col.counters();
  assert.is(k.replicas + k.malformed + k.notForUs, n);
});

test('sequence gaps are counted per (source, encapsulation, ERSPAN session); IPv4 and IPv6 in GRE-seq share a stream', () => {
  const e2 = (session: number, seq: number) => `O()/GRE(seqnum_present=1,sequence_number=${seq})/ERSPAN_II(ver=1,session_id=${session})/inner_eth()`;
  const seq = (seq: number, v6: boolean) => `O()/GRE(seqnum_present=1,sequence_number=${seq},proto=${v6 ? '0x86dd' : '0x800'})/${v6 ? 'inner_ip6()' : 'inner_ip()'}`;
  const other = (seq: number) => `Ether(dst=COLL_MAC)/IP(src="192.0.2.9",dst=COLL)/GRE(seqnum_present=1,sequence_number=${seq})/ERSPAN_II(ver=1,session_id=1)/inner_eth()`;
  const exprs = [
    e2(1, 0), e2(2, 10), e2(1, 1), e2(2, 11), e2(1, 2), other(500), e2(2, 12), other(501), // no gap: streams interleave
    seq(0, false), seq(1, true), seq(2, false), seq(3, true), // no gap: one stream for both families
    e2(1, 5), // gap: 3 and 4 lost
    e2(1, 6),
    e2(2, 12), // gap: a repeat
    e2(2, 11), // gap: a step back
  ];
  const col = new Collector({ ...COLLECTOR, keep: 3 });
  for (const { bytes } of scapyEval(SCAPY_PRELUDE, exprs)) col.deliver(bytes, 0n);
  const k = col.counters();
  assert.is(k.replicas, exprs.length);
  assert.is(k.sequenceGaps, 3);
  assert.equal(col.received.map((x) => [x.sessionId, x.sequence]), [[1, 6], [2, 12], [2, 11]], 'keep: the last 3, oldest first');
});

test('the inner packets of a run parse as the hosts\' own frames', async () => {
  const r = await runBoard({ clients: { maxFlows: 40 }, collector: { keep: KEEP }, sessions: [sniffSession(FILTER, 'erspan3')] });
  assert.ok(r.collector.received.length > 0);
  for (const x of r.collector.received) {
    const s = parseSegment(x.inner);
    assert.ok(s && s.checksumOk);
  }
});

test.run();
