// The transparent cache's packets and decisions against independent oracles:
//   - its GRE packet return (redirect-wire.ts) is byte for byte what scapy builds, and tshark
//     decodes it as WCCP GRE (protocol 0x883E, the redirect header's service and buckets as they
//     were received) carrying the original packet, unchanged;
//   - --bypass (bypass.ts) selects exactly the packets tcpdump's own filter engine selects, for
//     expressions in the syntax both share, over a table of packets (TCP, UDP, ICMP, fragments, a
//     truncated header); terms a cache cannot know are refused, pointing at the term.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { returnPacket, RETURN_OVERHEAD, wholeIpv4 } from '../../firmware/peer/redirect-wire.ts';
import { bypassFilter } from '../../firmware/peer/bypass.ts';
import { FilterError } from '../../firmware/shell/filter/index.ts';
import { encodePcap, LINKTYPE } from '../../hal/drivers/pcap/format/index.ts';
import { parseIpv4 } from '../../hal/net/address.ts';
import { scapyTable } from '../fixtures/scapy.ts';

const CACHE = '10.0.0.3';
const ROUTER = '10.0.0.254';
/** A redirect header as a router writes it: dynamic flag, service 91, alternate byte, primary bucket 0xa7. */
const REDIRECT_HEADER = Uint8Array.of(0x01, 91, 0x05, 0xa7);

const P = scapyTable({
  syn: 'IP(src=A, dst=B, id=4321, ttl=63, flags="DF")/TCP(sport=40000, dport=8080, flags="S", seq=1000, options=[("MSS", 1460)])',
  data: 'IP(src=A, dst=B, id=4322, ttl=63)/TCP(sport=40000, dport=8080, flags="PA", seq=1001, ack=7)/pay(1400)',
  returnedSyn: `IP(src="${CACHE}", dst="${ROUTER}", flags="DF", ttl=64, id=0)/GRE(proto=0x883e)/Raw(bytes([1, 91, 5, 0xa7]))/IP(src=A, dst=B, id=4321, ttl=63, flags="DF")/TCP(sport=40000, dport=8080, flags="S", seq=1000, options=[("MSS", 1460)])`,
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const HEADER = { cache: parseIpv4(CACHE)!, router: parseIpv4(ROUTER)!, redirectHeader: REDIRECT_HEADER };

function tempFile(name: string, bytes: Uint8Array): { file: string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-redirect-wire-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return { file, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const rawPcap = (packets: readonly Uint8Array[]): Uint8Array =>
  encodePcap(packets.map((data, i) => ({ data, tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n })), { linkType: LINKTYPE.RAW });

test('GRE return: outer IPv4 cache → router, GRE 0x883E without flags, the redirect header as received, the packet unchanged (scapy)', () => {
  const out = new Uint8Array(8192);
  const n = returnPacket(out, 64, HEADER, P.syn);
  assert.is(n, P.returnedSyn.length);
  assert.is(hex(out.subarray(64, 64 + (n as number))), hex(P.returnedSyn));
  assert.is(RETURN_OVERHEAD, 28, '20 bytes of IPv4, 4 of GRE, 4 of redirect header');
});

test('tshark decodes the returned packets as WCCP GRE carrying the client\'s packets', () => {
  const out = new Uint8Array(8192);
  const packets = [P.syn, P.data].map((inner) => out.slice(0, returnPacket(out, 0, HEADER, inner) as number));
  const f = tempFile('returned.pcap', rawPcap(packets));
  try {
    const fields = ['ip.src', 'ip.dst', 'ip.proto', 'gre.flags_and_version', 'gre.proto', 'gre.wccp.dynamic_service', 'gre.wccp.service_id', 'gre.wccp.alternative_bucket', 'gre.wccp.primary_bucket', 'ip.id', 'tcp.srcport', 'tcp.dstport', 'tcp.len', 'ip.checksum.status'];
    const r = spawnSync('tshark', ['-r', f.file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((x) => ['-e', x])], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i], v])));
    assert.is(rows.length, 2);
    for (const [row, inner] of rows.map((x, i) => [x, i === 0 ? { id: 4321, len: 0 } : { id: 4322, len: 1400 }] as const)) {
      assert.is(row['ip.src'], `${CACHE},10.0.0.1`, 'outer source the cache, inner the client');
      assert.is(row['ip.dst'], `${ROUTER},10.0.0.2`, 'outer destination the router, inner the origin');
      assert.is(row['ip.proto'], '47,6');
      assert.is(row['gre.flags_and_version'], '0x0000');
      assert.is(row['gre.proto'], '0x883e');
      assert.is(row['gre.wccp.dynamic_service'], '1');
      assert.is(row['gre.wccp.service_id'], '91');
      assert.is(row['gre.wccp.alternative_bucket'], '5');
      assert.is(row['gre.wccp.primary_bucket'], '167');
      assert.is(row['ip.id'], `0x0000,0x${inner.id.toString(16).padStart(4, '0')}`, 'the inner IP ID kept; the kernel picks the outer one');
      assert.is(row['tcp.srcport'], '40000');
      assert.is(row['tcp.dstport'], '8080');
      assert.is(row['tcp.len'], String(inner.len));
      assert.is(row['ip.checksum.status'], '1,1', 'both IPv4 header checksums verify (1: good)');
    }
  } finally {
    f.done();
  }
});

test('GRE return refuses a header that is not 4 bytes and what would not fit', () => {
  const out = new Uint8Array(2048);
  assert.is(returnPacket(out, 0, { ...HEADER, redirectHeader: Uint8Array.of(1, 2, 3) }, P.syn), 'bad_header');
  assert.is(returnPacket(out, 2048 - RETURN_OVERHEAD - P.syn.length + 1, HEADER, P.syn), 'too_large');
  assert.is(returnPacket(new Uint8Array(1 << 17), 0, HEADER, new Uint8Array(0xffff - RETURN_OVERHEAD + 1)), 'too_large', 'beyond the largest IPv4 packet');
  assert.ok(wholeIpv4(P.data));
  assert.not.ok(wholeIpv4(P.data.subarray(0, P.data.length - 1)), 'a packet shorter than its total length');
  assert.not.ok(wholeIpv4(Uint8Array.of(0x60, 0, 0, 0)), 'IPv6');
});

/** Packets for the --bypass oracle: what a cache may be diverted, and odd cases. */
const BYPASS_PACKETS = scapyTable({
  http: 'IP(src=A, dst=B)/TCP(sport=40000, dport=80, flags="S")',
  alt: 'IP(src=A, dst=B)/TCP(sport=40001, dport=8080, flags="S")',
  altOther: 'IP(src=C, dst=D)/TCP(sport=40002, dport=8080, flags="PA")/pay(20)',
  udp: 'IP(src=A, dst=B)/UDP(sport=5000, dport=8080)/pay(10)',
  icmp: 'IP(src=A, dst=B)/ICMP()',
  firstFragment: 'IP(src=A, dst=B, flags="MF", frag=0, id=9)/TCP(sport=40003, dport=8080)/pay(40)',
  laterFragment: 'IP(src=A, dst=B, frag=3, id=9, proto=6)/pay(40)',
  cutTcp: 'IP(src=A, dst=B, proto=6)/Raw(bytes([0x9c, 0x43, 0x1f, 0x90]))',
  options: 'IP(src=C, dst=B, options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP()])/TCP(sport=1234, dport=8080)',
  sctp: 'IP(src=A, dst=D)/SCTP(sport=1, dport=8080)',
});

/**
 * Expressions whose meaning twinflow and tcpdump share on plain IPv4 packets, with what twinflow
 * says of the cut TCP header where it differs on purpose (README, Filters: a port term never
 * matches a transport header cut short; tcpdump reads the ports that are there).
 */
const BYPASS_EXPRESSIONS: ReadonlyArray<readonly [string, boolean?]> = [
  ['tcp dst port 8080', false],
  ['dst port 8080', false],
  ['tcp port 80 or tcp port 8080', false],
  ['src host 10.0.0.1 and tcp dst port 8080', false],
  ['not tcp dst port 80', true],
  ['net 10.1.0.0/16'],
  ['dst net 192.168.0.0/16 and not udp'],
  ['icmp or udp'],
  ['tcp and not (src port 40001 or src port 40002)', true],
  ['portrange 8000-8100 and not src host 10.1.2.3', false],
];

test('--bypass selects exactly what tcpdump selects (TCP, UDP, SCTP, ICMP, fragments, IP options), but for a cut header\'s ports', () => {
  const names = Object.keys(BYPASS_PACKETS) as Array<keyof typeof BYPASS_PACKETS>;
  const f = tempFile('bypass.pcap', rawPcap(names.map((n) => BYPASS_PACKETS[n])));
  try {
    for (const [expr, cutTcp] of BYPASS_EXPRESSIONS) {
      // Packet i is stamped i µs after a whole second: tcpdump -tt prints which ones matched.
      const r = spawnSync('tcpdump', ['-r', f.file, '-nn', '-tt', ...expr.split(' ')], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      const theirs = r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => names[Number(/^\d+\.(\d{6})/.exec(l)![1])]);
      const bypass = bypassFilter(expr);
      const ours = names.filter((n) => bypass(BYPASS_PACKETS[n]));
      if (cutTcp === undefined) assert.equal(ours, theirs, expr);
      else {
        assert.equal(ours.filter((n) => n !== 'cutTcp'), theirs.filter((n) => n !== 'cutTcp'), expr);
        assert.is(ours.includes('cutTcp'), cutTcp, `${expr}: a cut TCP header has no ports`);
      }
    }
    assert.ok(bypassFilter('tcp dst port 8080')(BYPASS_PACKETS.firstFragment), 'a first fragment has its ports');
    assert.not.ok(bypassFilter('tcp dst port 8080')(BYPASS_PACKETS.laterFragment), 'a later fragment has none');
  } finally {
    f.done();
  }
});

test('--bypass refuses what a cache cannot know, pointing at the term', () => {
  for (const [expr, token] of [
    ['tcp port 80 and inbound', 'inbound'],
    ['outbound', 'outbound'],
    ['not inport 1', 'inport'],
    ['vlan 10 and tcp', 'vlan'],
    ['tcp and (host 10.0.0.1 or wccp-bucket 3)', 'wccp-bucket'],
  ] as const) {
    try {
      bypassFilter(expr);
      assert.unreachable(expr);
    } catch (e) {
      assert.instance(e, FilterError, expr);
      assert.is((e as FilterError).token, token, expr);
      assert.is((e as FilterError).position, expr.indexOf(token), expr);
      assert.match((e as FilterError).message, /not at a cache/);
    }
  }
  assert.throws(() => bypassFilter('tcp prt 80'), (e: Error) => e instanceof FilterError && e.token === 'prt');
  assert.throws(() => bypassFilter(''), (e: Error) => e instanceof FilterError);
});

test.run();
