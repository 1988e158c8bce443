// The filter compiler against tcpdump (libpcap's compiler and BPF): for a scapy-built capture and
// ~45 expressions, the frames `tcpdump -r in.pcap -w sel.pcap EXPR` selects are exactly the
// frames the data plane matches (the replicas of the session carrying EXPR). The capture avoids
// what we deliberately treat differently (VLAN tags, IPv6 extension headers, ARP for host terms:
// firmware/shell/filter/README.md); those differences get their own test below, which asserts
// both tcpdump's selection and our documented one.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { simulate, simSpec } from '../../firmware/runtime/simulate.ts';
import { session } from '../fixtures/oracle.ts';
import { decapsulate } from '../fixtures/decap.ts';
import { scapyBuild } from '../fixtures/scapy.ts';
import { decodePcapFile, encodePcapFile, makeTempDir, removeTempDir, tcpdump } from '../fixtures/capture.ts';

// ── The capture: every packet carries a unique tag so that selections map back to indices ─────

const V4 = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.168.7.9', '172.16.5.4', '8.8.8.8'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:1::3', 'fe80::1', '2001:4860::8888'];
const PORTS = [80, 443, 53, 22, 8080, 1024, 6000, 6005, 6010, 65535, 9899, 1];

function mixExpressions(): string[] {
  const out: string[] = [];
  let n = 0;
  const tag = (): string => `Raw(b"#${String(n++).padStart(4, '0')}")`;
  let x = 7;
  const pick = <T>(a: readonly T[]): T => { x = (x * 1103515245 + 12345) & 0x7fffffff; return a[x % a.length]; };
  for (let i = 0; i < 48; i++) {
    const v6 = i % 3 === 2;
    const [src, dst] = v6 ? [pick(V6), pick(V6)] : [pick(V4), pick(V4)];
    const ip = v6 ? `IPv6(src="${src}",dst="${dst}")` : `IP(src="${src}",dst="${dst}")`;
    const sport = pick(PORTS);
    const dport = pick(PORTS);
    const l4 = [
      `TCP(sport=${sport},dport=${dport},flags="S")`,
      `UDP(sport=${sport},dport=${dport})`,
      v6 ? `ICMPv6EchoRequest(id=${i})` : `ICMP(type=8,id=${i})`,
      `SCTP(sport=${sport},dport=${dport})`,
    ][i % 4 === 3 ? 3 : pick([0, 0, 1, 1, 2])];
    out.push(`E()/${ip}/${l4}/${tag()}`);
  }
  // Fixed cases the filters below aim at.
  out.push(
    `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/${tag()}`,
    `E()/IP(src=B,dst=A)/TCP(sport=80,dport=40000)/${tag()}`,
    `E()/IP(src=A,dst=C)/UDP(sport=5353,dport=53)/${tag()}`,
    `E()/IPv6(src=A6,dst=B6)/UDP(sport=5353,dport=53)/${tag()}`,
    `E()/IPv6(src=B6,dst=C6)/TCP(sport=22,dport=443)/${tag()}`,
    `E()/IP(src=A,dst=B,options=[IPOption_NOP()]*3+[IPOption_EOL()])/TCP(sport=1025,dport=80)/${tag()}`,
    `E()/IP(src=A,dst=B,id=9,flags="MF",frag=0,proto=17)/UDP(sport=1025,dport=53)/${tag()}`,
    `E()/IP(src=A,dst=B,id=9,frag=3,proto=17)/${tag()}`,
    `E()/IP(src=C,dst=D,id=10,frag=2,proto=6)/${tag()}`,
    `E()/IP(src=A,dst=D)/GRE(proto=0x0800)/IP(src=C,dst=B)/TCP(dport=80)/${tag()}`,
    `E()/IP(src="172.16.5.4",dst=D,proto=50)/${tag()}`,
    `E()/IPv6(src=A6,dst=C6,nh=50)/${tag()}`,
    `E()/IPv6(src="fe80::1",dst="ff02::1")/ICMPv6ND_RA()/${tag()}`,
    `E(dst="01:80:c2:00:00:0e",type=0x88cc)/${tag()}`,
    `E()/IP(src=D,dst=A)/UDP(sport=6003,dport=33000)/${tag()}`,
    `E()/IP(src="10.1.200.1",dst="10.0.0.2")/TCP(sport=1023,dport=1)/${tag()}`,
    `E()/IP(src=C,dst=A)/UDP(sport=53,dport=5353)/${tag()}`,
    `E()/IPv6(src=C6,dst=A6)/SCTP(sport=9899,dport=5000)/${tag()}`,
  );
  return out;
}

const EXPRESSIONS = [
  'host 10.0.0.1',
  'src host 10.0.0.1',
  'dst host 10.0.0.2',
  'host 10.0.0.1 or 10.0.0.2',
  'host 2001:db8::1',
  'dst host 2001:db8:1::3',
  'net 10.0.0.0/8',
  'net 10.1',
  'src net 192.168.0.0/16',
  'net 172.16.0.0 mask 255.240.0.0',
  'net 2001:db8::/32',
  'dst net 2001:db8:1::/48',
  'src or dst host 10.1.2.3',
  'src and dst net 10.0.0.0/8',
  'port 80',
  'src port 53',
  'dst port 443',
  'tcp port 80',
  'udp port 53',
  'udp dst port 53 or 443',
  'portrange 6000-6010',
  'tcp dst portrange 1-1023',
  'udp src portrange 1024-65535',
  'sctp port 9899',
  'tcp',
  'udp',
  'sctp',
  'icmp',
  'icmp6',
  'ip',
  'ip6',
  'proto 47',
  'ip proto 50',
  'ip6 proto 17',
  'proto 50',
  'tcp and (port 80 or port 443)',
  'not tcp',
  'not (udp or icmp)',
  '(host 10.0.0.1 and port 80) or (host 2001:db8::2 and udp)',
  'src host 10.0.0.1 and not dst port 22',
  'ip and not net 10.0.0.0/8',
  '(tcp or udp) and not port 80',
  'not port 80',
  'ip6 and (tcp or icmp6)',
  'dst port 80 and src net 10.1.0.0/16',
  'icmp or icmp6 or proto 47',
  '!(port 53 || port 80) && ip',
];

const MIX = scapyBuild(mixExpressions());
const T0 = 1_700_000_000_000_000_000n;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Frame indices tcpdump selects from `frames` for each expression. */
function tcpdumpSelects(dir: string, frames: readonly Uint8Array[], exprs: readonly string[]): number[][] {
  const input = path.join(dir, `in-${frames.length}.pcap`);
  fs.writeFileSync(input, encodePcapFile(frames.map((data, i) => ({ data, tsNs: T0 + BigInt(i) * 1000n }))));
  const index = new Map(frames.map((f, i) => [hex(f), i]));
  return exprs.map((expr, k) => {
    const sel = path.join(dir, `sel-${k}.pcap`);
    const r = tcpdump(['-r', input, '-w', sel, expr]);
    assert.is(r.status, 0, `tcpdump '${expr}': ${r.stderr}`);
    return decodePcapFile(fs.readFileSync(sel)).records.map((rec) => {
      const i = index.get(hex(rec.data));
      assert.ok(i !== undefined, 'tcpdump wrote a frame that is not in the input');
      return i!;
    });
  });
}

/** Frame indices the data plane matches for each expression (one ERSPAN session each). */
async function oursSelects(frames: readonly Uint8Array[], exprs: readonly string[]): Promise<number[][]> {
  const sessions = exprs.map((filter, i) => session(`e${i}`, i, { filter, encap: 'erspan2' }));
  // Small batches: up to 64 sessions × 4 packets of replicas fit the replica ring between sends.
  const r = await simulate(sessions, frames.map((frame) => ({ port: 0, frame })), simSpec({ batchMax: 4 }));
  assert.equal(r.violations, []);
  const index = new Map(frames.map((f, i) => [hex(f), i]));
  const out: number[][] = exprs.map(() => []);
  for (const f of r.sent[2]) {
    const d = decapsulate(f.bytes);
    const s = Number(d.outer.dst.split('.')[3]) - 10;
    const i = index.get(hex(d.inner));
    assert.ok(i !== undefined && s >= 0 && s < exprs.length, 'a replica that is not an input frame');
    out[s].push(i!);
  }
  exprs.forEach((e, s) => assert.is(r.sessions[`e${s}`].matched, out[s].length, `${e}: every match replicated`));
  return out;
}

let dir = '';
test.before(() => { dir = makeTempDir('tcpdump'); });
test.after(() => removeTempDir(dir));

test(`${EXPRESSIONS.length} expressions select the same frames as tcpdump on a ${MIX.length}-packet mix`, async () => {
  assert.ok(EXPRESSIONS.length <= 64, 'one session per expression');
  const theirs = tcpdumpSelects(dir, MIX, EXPRESSIONS);
  const ours = await oursSelects(MIX, EXPRESSIONS);
  const differ = EXPRESSIONS.flatMap((e, k) => {
    const a = [...theirs[k]].sort((x, y) => x - y).join(',');
    const b = [...ours[k]].sort((x, y) => x - y).join(',');
    return a === b ? [] : [`'${e}': tcpdump [${a}] vs twinflow [${b}]`];
  });
  assert.equal(differ, [], differ.join('\n'));
  // The mix is varied enough that no expression is trivial.
  EXPRESSIONS.forEach((e, k) => assert.ok(ours[k].length > 0 && ours[k].length < MIX.length, `'${e}' selects ${ours[k].length} of ${MIX.length}`));
});

// ── Where we differ from tcpdump on purpose (README "Semantics") ─────────────────────────────

const DIFF = scapyBuild([
  `E()/Dot1Q(vlan=100)/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/Raw(b"d0")`, // 0
  `E()/Dot1AD(vlan=200)/Dot1Q(vlan=300)/IP(src=A,dst=C)/UDP(sport=1025,dport=53)/Raw(b"d1")`, // 1
  `E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrHopByHop()/TCP(sport=40000,dport=80)/Raw(b"d2")`, // 2
  `E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(addresses=[C6])/UDP(sport=1025,dport=53)/Raw(b"d3")`, // 3
  `E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrFragment(offset=0,m=1,id=3)/TCP(sport=40000,dport=80)/Raw(b"d4")`, // 4
  `E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrFragment(offset=64,m=0,id=3,nh=6)/Raw(b"d5")`, // 5
  `E()/IP(src=A,dst=B,id=5,frag=4,proto=6)/Raw(b"d6")`, // 6
  `E(dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,psrc=A,pdst=B,hwsrc=MAC_A)`, // 7
  `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/Raw(b"d8")`, // 8
]);

const DIFFERENCES: Array<{ expr: string; tcpdump: number[]; ours: number[]; why: string }> = [
  { expr: 'tcp port 80', tcpdump: [8], ours: [0, 2, 4, 8], why: 'ours looks through VLAN tags, IPv6 extension headers and a first fragment header' },
  { expr: 'udp port 53', tcpdump: [], ours: [1, 3], why: 'QinQ and IPv6 destination-options/routing headers are walked' },
  { expr: 'tcp', tcpdump: [4, 5, 6, 8], ours: [0, 2, 4, 5, 6, 8], why: 'both follow an IPv6 fragment header; ours also tags and hop-by-hop' },
  { expr: 'port 80', tcpdump: [8], ours: [0, 2, 4, 8], why: 'no port on a non-first fragment (both); through tags and headers (ours)' },
  { expr: 'not port 80', tcpdump: [0, 1, 2, 3, 4, 5, 6, 7], ours: [1, 3, 5, 6, 7], why: 'the complement of the above' },
  { expr: 'vlan 100 and tcp port 80', tcpdump: [0], ours: [0], why: 'agreement once vlan is named' },
  { expr: 'vlan 200 and vlan 300', tcpdump: [1], ours: [1], why: 'outer then inner tag: the same in both' },
  { expr: 'vlan 300', tcpdump: [], ours: [], why: 'the first vlan term is the outer tag' },
  { expr: 'host 10.0.0.1', tcpdump: [6, 7, 8], ours: [0, 1, 6, 8], why: 'ours: IPv4 packets only (no ARP), through tags' },
  { expr: 'ip6 and udp', tcpdump: [], ours: [3], why: 'the UDP header behind two extension headers' },
];

test('documented differences from tcpdump: VLAN tags, IPv6 extension headers and fragments, ARP', async () => {
  const exprs = DIFFERENCES.map((d) => d.expr);
  const theirs = tcpdumpSelects(dir, DIFF, exprs);
  const ours = await oursSelects(DIFF, exprs);
  DIFFERENCES.forEach((d, k) => {
    assert.equal([...theirs[k]].sort((a, b) => a - b), d.tcpdump, `tcpdump '${d.expr}'`);
    assert.equal([...ours[k]].sort((a, b) => a - b), d.ours, `twinflow '${d.expr}' (${d.why})`);
  });
});

test.run();
