// The symmetric flow hash that spreads flows over line cards (firmware/runtime/workers/flow-hash.ts):
// both directions of a flow, built by scapy (an independent packet builder), land on the same
// card, through VLAN tags, QinQ and IPv6 extension headers, fragments and non-IP frames; different
// flows spread evenly over 2 and 4 cards.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cardOfHash, flowHash } from '../../firmware/runtime/workers/flow-hash.ts';
import { scapyBuild } from '../fixtures/scapy.ts';

const hash = (b: Uint8Array): number => flowHash(b, 0, b.length);

/** Each row: a flow's forward packet and the reverse direction's packet (scapy expressions). */
const PAIRS: ReadonlyArray<readonly [string, string, string]> = [
  ['TCP over IPv4', 'E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80,flags="S")', 'E(src=MAC_B,dst=MAC_A)/IP(src=B,dst=A)/TCP(sport=80,dport=40000,flags="SA")'],
  ['UDP over IPv4', 'E()/IP(src=C,dst=D)/UDP(sport=5353,dport=53)/pay(30)', 'E(src=MAC_B,dst=MAC_A)/IP(src=D,dst=C)/UDP(sport=53,dport=5353)/pay(80)'],
  ['TCP over IPv6', 'E()/IPv6(src=A6,dst=B6)/TCP(sport=50000,dport=443)', 'E(src=MAC_B,dst=MAC_A)/IPv6(src=B6,dst=A6)/TCP(sport=443,dport=50000)'],
  ['UDP over IPv6', 'E()/IPv6(src=A6,dst=C6)/UDP(sport=1234,dport=4321)/pay(10)', 'E(src=MAC_B,dst=MAC_A)/IPv6(src=C6,dst=A6)/UDP(sport=4321,dport=1234)/pay(20)'],
  ['TCP over IPv4 in 802.1Q', 'E()/Dot1Q(vlan=10)/IP(src=A,dst=D)/TCP(sport=1025,dport=22)', 'E(src=MAC_B,dst=MAC_A)/Dot1Q(vlan=10)/IP(src=D,dst=A)/TCP(sport=22,dport=1025)'],
  ['UDP over IPv6 in QinQ', 'E()/Dot1AD(vlan=100)/Dot1Q(vlan=20)/IPv6(src=A6,dst=B6)/UDP(sport=7,dport=9)', 'E(src=MAC_B,dst=MAC_A)/Dot1AD(vlan=100)/Dot1Q(vlan=20)/IPv6(src=B6,dst=A6)/UDP(sport=9,dport=7)'],
  ['tagged one way, untagged the other (a router between VLANs)', 'E()/Dot1Q(vlan=5)/IP(src=A,dst=B)/UDP(sport=1111,dport=2222)', 'E(src=MAC_B,dst=MAC_A)/IP(src=B,dst=A)/UDP(sport=2222,dport=1111)'],
  ['TCP over IPv6 behind hop-by-hop and destination options', 'E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/TCP(sport=33000,dport=80)', 'E(src=MAC_B,dst=MAC_A)/IPv6(src=B6,dst=A6)/TCP(sport=80,dport=33000)'],
  ['ICMP echo and reply', 'E()/IP(src=A,dst=C)/ICMP(type=8,id=7)', 'E(src=MAC_B,dst=MAC_A)/IP(src=C,dst=A)/ICMP(type=0,id=7)'],
  ['ARP request and reply (not IP: MAC addresses)', 'E(dst=MAC_B)/ARP(op=1,hwsrc=MAC_A,psrc=A,pdst=B)', 'E(src=MAC_B,dst=MAC_A)/ARP(op=2,hwsrc=MAC_B,psrc=B,hwdst=MAC_A,pdst=A)'],
];

const pairBytes = scapyBuild(PAIRS.flatMap(([, a, b]) => [a, b]));

test('both directions of a flow hash alike (IPv4, IPv6, VLAN, QinQ, extension headers, ICMP, ARP)', () => {
  PAIRS.forEach(([what], i) => {
    const forward = hash(pairBytes[2 * i]);
    const reverse = hash(pairBytes[2 * i + 1]);
    assert.is(reverse, forward, what);
    for (const cards of [2, 3, 4]) assert.is(cardOfHash(reverse, cards), cardOfHash(forward, cards), `${what}, ${cards} cards`);
  });
});

test('the hash depends on the flow: swapping one port or one address moves it', () => {
  const [a, b, c, d] = scapyBuild([
    'E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)',
    'E()/IP(src=A,dst=B)/TCP(sport=40001,dport=80)',
    'E()/IP(src=A,dst=C)/TCP(sport=40000,dport=80)',
    'E()/IP(src=A,dst=B)/UDP(sport=40000,dport=80)',
  ]);
  assert.is.not(hash(b), hash(a), 'source port');
  assert.is.not(hash(c), hash(a), 'destination address');
  assert.is.not(hash(d), hash(a), 'protocol');
});

test('every fragment of a datagram goes with the others, whichever direction (addresses only)', () => {
  const frags = scapyBuild([
    'fragment(E()/IP(src=A,dst=B,id=77)/UDP(sport=1000,dport=2000)/pay(3000), fragsize=1000)[0]',
    'fragment(E()/IP(src=A,dst=B,id=77)/UDP(sport=1000,dport=2000)/pay(3000), fragsize=1000)[1]',
    'fragment(E()/IP(src=A,dst=B,id=77)/UDP(sport=1000,dport=2000)/pay(3000), fragsize=1000)[2]',
    'fragment(E(src=MAC_B,dst=MAC_A)/IP(src=B,dst=A,id=78)/UDP(sport=2000,dport=1000)/pay(3000), fragsize=1000)[1]',
    'E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrFragment(id=5,offset=0,m=1)/UDP(sport=1,dport=2)/pay(16)',
    'E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrFragment(id=5,offset=2,m=0)/pay(16)',
    'E(src=MAC_B,dst=MAC_A)/IPv6(src=B6,dst=A6)/IPv6ExtHdrFragment(id=9,offset=4,m=0)/pay(16)',
  ]);
  const v4 = frags.slice(0, 4).map(hash);
  assert.equal(new Set(v4).size, 1, `IPv4 fragments: ${v4.join(', ')}`);
  const v6 = frags.slice(4).map(hash);
  assert.equal(new Set(v6).size, 1, `IPv6 fragments: ${v6.join(', ')}`);
});

test('short and malformed frames hash without throwing', () => {
  const [tcp] = scapyBuild(['E()/Dot1Q(vlan=3)/IP(src=A,dst=B)/TCP(sport=1,dport=2)']);
  for (let len = 0; len <= tcp.length; len++) assert.type(flowHash(tcp, 0, len), 'number');
  const garbage = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 255);
  for (let len = 0; len <= garbage.length; len += 7) assert.type(flowHash(garbage, 0, len), 'number');
});

/** Many distinct flows (TCP and UDP, IPv4 and IPv6, some tagged), built in one scapy run. */
const FLOWS = 2000;
const flowBytes = scapyBuild(Array.from({ length: FLOWS }, (_, i) => {
  const sport = 1024 + ((i * 7919) % 60000);
  const dport = [80, 443, 53, 8080][i % 4];
  const l4 = i % 3 === 0 ? `UDP(sport=${sport},dport=${dport})` : `TCP(sport=${sport},dport=${dport})`;
  const tag = i % 5 === 0 ? `/Dot1Q(vlan=${1 + (i % 100)})` : '';
  const ip = i % 4 === 3
    ? `IPv6(src="2001:db8:${(i >> 8).toString(16)}::${(i & 255).toString(16)}",dst="2001:db8:ffff::${(i % 7) + 1}")`
    : `IP(src="10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}",dst="198.51.100.${(i % 7) + 1}")`;
  return `E()${tag}/${ip}/${l4}`;
}));

for (const cards of [2, 4]) {
  test(`${FLOWS} flows spread evenly over ${cards} cards (each within 15 % of its share)`, () => {
    const count = new Array<number>(cards).fill(0);
    for (const f of flowBytes) count[cardOfHash(hash(f), cards)]++;
    const share = FLOWS / cards;
    for (let c = 0; c < cards; c++) {
      assert.ok(Math.abs(count[c] - share) < 0.15 * share, `card ${c} got ${count[c]} of ${FLOWS} flows (share ${share}): ${count.join(', ')}`);
    }
  });
}

test('cardOfHash covers 0 .. cards − 1 and nothing else', () => {
  assert.is(cardOfHash(0, 4), 0);
  assert.is(cardOfHash(0xffffffff, 4), 3);
  assert.is(cardOfHash(0x80000000, 2), 1);
  assert.is(cardOfHash(0x7fffffff, 2), 0);
  assert.is(cardOfHash(0xffffffff, 1), 0);
});

test.run();
