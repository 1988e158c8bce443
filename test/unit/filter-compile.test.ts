// Filter compiler: expected boxes per expression, and membership of hand-made packet keys.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lane, LaneValue } from '../../wasm/abi.ts';
import { boxMatches, describeBox, type Box } from '../../firmware/shell/tables/box.ts';
import { compileFilter, evaluateFilter, parseFilter } from '../../firmware/shell/filter/index.ts';

/** An IPv4 address as the number describeBox prints. */
const ip = (dotted: string) => dotted.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
const describe = (expr: string) => compileFilter(expr).map(describeBox);

// Expected boxes, in the compiler's (deterministic) order.
const BOX_CASES: Array<[string, string[]]> = [
  ['host 10.0.0.1', [`src0=${ip('10.0.0.1')} family=4`, `dst0=${ip('10.0.0.1')} family=4`]],
  ['src host 10.0.0.1', [`src0=${ip('10.0.0.1')} family=4`]],
  ['src and dst host 10.0.0.1', [`src0=${ip('10.0.0.1')} dst0=${ip('10.0.0.1')} family=4`]],
  ['dst net 10.1', [`dst0=${ip('10.1.0.0')}..${ip('10.1.255.255')} family=4`]],
  ['src net 10.0.0.0 mask 255.0.0.0', [`src0=${ip('10.0.0.0')}..${ip('10.255.255.255')} family=4`]],
  ['ip6 host 2001:db8::1', [
    `src0=${0x20010db8} family=6 src1=0 src2=0 src3=1`,
    `dst0=${0x20010db8} family=6 dst1=0 dst2=0 dst3=1`,
  ]],
  ['dst net 2001:db8:1::/48', [`dst0=${0x20010db8} family=6 dst1=65536..131071`]],
  ['src net 2001:db8::/31', [`src0=${0x20010db8}..${0x20010db9} family=6`]],
  ['net ::/0', ['family=6']],
  ['net 0.0.0.0/0 or ip6', ['family=4', 'family=6']],
  ['port 80', [
    'sport=80 proto=6', 'dport=80 proto=6', 'sport=80 proto=17', 'dport=80 proto=17',
    'sport=80 proto=132', 'dport=80 proto=132',
  ]],
  ['udp dst port domain', ['dport=53 proto=17']],
  ['tcp portrange 1-1024', ['sport=1..1024 proto=6', 'dport=1..1024 proto=6']],
  ['sctp src and dst port 9', ['sport=9 dport=9 proto=132']],
  ['tcp', ['proto=6']],
  ['icmp', ['proto=1 family=4']],
  ['icmp6', ['proto=58 family=6']],
  ['ip proto \\udp', ['proto=17 family=4']],
  ['proto 0', ['proto=0']],
  ['ip', ['family=4']],
  ['vlan', ['vlan=0..4095']],
  ['vlan 7', ['vlan=7']],
  ['vlan and vlan 7', ['vlan=0..4095 vlan-inner=7']],
  ['not vlan', ['vlan=4096']],
  ['vlan 10 and not vlan', ['vlan=10 vlan-inner=4096']],
  ['outbound and outport 2', ['outport=2 direction=1']],
  ['inport 3', ['inport=3']],
  ['not inbound', ['direction=1']],
  ['not ip', ['family=0..3', 'family=5..6']],
  ['ip and not tcp', ['proto=0..5 family=4', 'proto=7..256 family=4']],
  ['not (icmp or icmp6)', [
    'family=0..3', 'family=5', 'proto=0..57 family=6', 'proto=59..256 family=6',
    'proto=0 family=4', 'proto=2..256 family=4',
  ]],
  ['not (src host 10.0.0.1 and dst host 10.0.0.2)', [
    'family=0..3', 'family=5..6',
    `src0=0..${ip('10.0.0.0')} family=4`, `src0=${ip('10.0.0.2')}..4294967295 family=4`,
    `dst0=0..${ip('10.0.0.1')} family=4`, `dst0=${ip('10.0.0.3')}..4294967295 family=4`,
  ]],
  ['tcp and not port 80', [
    'sport=0..79 dport=0..79 proto=6', 'sport=0..79 dport=81..65536 proto=6',
    'sport=81..65536 dport=0..79 proto=6', 'sport=81..65536 dport=81..65536 proto=6',
  ]],
  // Redundant alternatives and contradictions disappear.
  ['tcp or tcp port 80', ['proto=6']],
  ['tcp port 80 or tcp', ['proto=6']],
  ['tcp and udp', []],
  ['ip or not ip', ['any']],
  ['not (ip or not ip)', []],
  ['inport 1 and (inport 2 or outport 3)', ['inport=1 outport=3']],
];

test('expressions compile to the expected boxes', () => {
  for (const [expr, expected] of BOX_CASES) assert.equal(describe(expr), expected, expr);
});

test('compilation is deterministic', () => {
  const expr = '(tcp or udp) and not (port 53 or portrange 1000-2000) and not host 10.0.0.1';
  assert.equal(describe(expr), describe(expr));
});

// ── membership of hand-made keys ─────────────────────────────────────────────────────────────

interface PacketFields {
  family?: number; src?: number[]; dst?: number[]; proto?: number; sport?: number; dport?: number;
  vlanOuter?: number; vlanInner?: number; direction?: number; inPort?: number; outPort?: number;
}

/** A classification key for a packet; the defaults describe an untagged inbound IPv4 packet. */
function packetKey(p: PacketFields): Uint32Array {
  const key = new Uint32Array(Lane.Count);
  const src = p.src ?? [ip('192.0.2.1')];
  const dst = p.dst ?? [ip('198.51.100.1')];
  [Lane.Src0, Lane.Src1, Lane.Src2, Lane.Src3].forEach((lane, i) => (key[lane] = src[i] ?? 0));
  [Lane.Dst0, Lane.Dst1, Lane.Dst2, Lane.Dst3].forEach((lane, i) => (key[lane] = dst[i] ?? 0));
  key[Lane.Family] = p.family ?? LaneValue.FamilyIpv4;
  key[Lane.Proto] = p.proto ?? 6;
  key[Lane.SrcPort] = p.sport ?? 40000;
  key[Lane.DstPort] = p.dport ?? 8443;
  key[Lane.VlanOuter] = p.vlanOuter ?? LaneValue.VlanNone;
  key[Lane.VlanInner] = p.vlanInner ?? LaneValue.VlanNone;
  key[Lane.Direction] = p.direction ?? LaneValue.DirectionInbound;
  key[Lane.InPort] = p.inPort ?? 0;
  key[Lane.OutPort] = p.outPort ?? 1;
  return key;
}

const V6_DOC = [0x20010db8, 0, 0, 1];
const PACKETS: Record<string, Uint32Array> = {
  web: packetKey({ src: [ip('10.0.0.1')], dport: 80 }),
  webReply: packetKey({ dst: [ip('10.0.0.1')], sport: 80, direction: 1, inPort: 1, outPort: 0 }),
  dns: packetKey({ proto: 17, dport: 53 }),
  ping: packetKey({ proto: 1, sport: LaneValue.PortNone, dport: LaneValue.PortNone }),
  fragment: packetKey({ proto: 6, sport: LaneValue.PortNone, dport: LaneValue.PortNone }),
  v6web: packetKey({ family: 6, src: V6_DOC, dst: [0x20010db8, 0, 0, 2], dport: 80 }),
  v6ping: packetKey({ family: 6, src: V6_DOC, proto: 58, sport: LaneValue.PortNone, dport: LaneValue.PortNone }),
  tagged: packetKey({ vlanOuter: 100, dport: 80 }),
  qinq: packetKey({ vlanOuter: 100, vlanInner: 200, dport: 80 }),
  nonIp: packetKey({ family: 0, src: [0], dst: [0], proto: LaneValue.ProtoNone, sport: LaneValue.PortNone, dport: LaneValue.PortNone }),
};

// Expression → the packets it must match; every other packet of PACKETS must not match.
const MEMBERSHIP: Array<[string, string[]]> = [
  ['port 80', ['web', 'webReply', 'v6web', 'tagged', 'qinq']],
  ['not port 80', ['dns', 'ping', 'fragment', 'v6ping', 'nonIp']],
  ['tcp', ['web', 'webReply', 'fragment', 'v6web', 'tagged', 'qinq']],
  ['tcp and not port 80', ['fragment']],
  ['host 10.0.0.1', ['web', 'webReply']],
  ['src host 10.0.0.1', ['web']],
  ['host 2001:db8::1', ['v6web', 'v6ping']],
  ['net 2001:db8::/64 and tcp', ['v6web']],
  ['icmp or icmp6', ['ping', 'v6ping']],
  ['vlan', ['tagged', 'qinq']],
  ['vlan 100 and vlan 200', ['qinq']],
  ['vlan 100 and not vlan', ['tagged']],
  ['not vlan', ['web', 'webReply', 'dns', 'ping', 'fragment', 'v6web', 'v6ping', 'nonIp']],
  ['outbound', ['webReply']],
  ['inport 1 or outport 0', ['webReply']],
  ['not (ip or ip6)', ['nonIp']],
  ['udp port domain', ['dns']],
  ['dst port 80 and not vlan 100', ['web', 'v6web']],
];

test('hand-made packets match exactly the filters meant for them', () => {
  for (const [expr, expected] of MEMBERSHIP) {
    const boxes: Box[] = compileFilter(expr);
    const ast = parseFilter(expr);
    for (const [name, key] of Object.entries(PACKETS)) {
      const want = expected.includes(name);
      assert.is(boxes.some((b) => boxMatches(b, key)), want, `${expr} on ${name} (boxes)`);
      assert.is(evaluateFilter(ast, key), want, `${expr} on ${name} (evaluate)`);
    }
  }
});

test('a key outside the lane domains matches nothing', () => {
  const ast = parseFilter('not tcp');
  const boxes = compileFilter('not tcp');
  for (const [lane, value] of [[Lane.Family, 7], [Lane.Proto, 257], [Lane.SrcPort, 65537], [Lane.Direction, 2], [Lane.InPort, 256]]) {
    const key = packetKey({ proto: 17 });
    assert.ok(evaluateFilter(ast, key));
    key[lane] = value;
    assert.not.ok(evaluateFilter(ast, key), `lane ${lane}`);
    assert.not.ok(boxes.some((b) => boxMatches(b, key)), `lane ${lane}`);
  }
  assert.not.ok(evaluateFilter(ast, [6, 17]));
});

test('maxBoxes caps the expansion', () => {
  assert.is(compileFilter('port 80', { maxBoxes: 6 }).length, 6);
  assert.throws(() => compileFilter('port 80', { maxBoxes: 5 }), /expands to more than 5 rules/);
  assert.throws(() => compileFilter('tcp', { maxBoxes: 0 }), (e: unknown) => e instanceof RangeError);
});

test('100-clause host-and-port filter compiles quickly (generous bound)', () => {
  const clauses = Array.from({ length: 100 }, (_, i) => `(host 10.0.${i >> 8}.${(i & 255) + 1} and port ${i % 2 ? 443 : 80})`);
  const expr = clauses.join(' or ');
  const started = performance.now();
  const boxes = compileFilter(expr);
  const elapsed = performance.now() - started;
  assert.is(boxes.length, 1200); // 100 × (src|dst) × 3 protocols × (sport|dport)
  assert.ok(elapsed < 5000, `took ${elapsed.toFixed(0)} ms`);
  const key = packetKey({ src: [ip('10.0.0.42')], dport: 443 });
  assert.ok(boxes.some((b) => boxMatches(b, key)));
  key[Lane.DstPort] = 80;
  assert.not.ok(boxes.some((b) => boxMatches(b, key)));
});

test.run();
