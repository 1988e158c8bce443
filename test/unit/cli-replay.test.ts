// `twinflow` as a user runs it (bin/twinflow.mjs in a child process): the help lists the
// commands, `replay` runs a scapy-built capture, exits 0, prints its counters (and, with --json,
// a document whose counters satisfy the conservation invariants), writes the originals and the
// replicas, and the numbers it prints are the ones the capture implies.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { scapyBuild } from '../fixtures/scapy.ts';
import { decodePcapFile, editcap, encodePcapFile, makeTempDir, removeTempDir, twinflow } from '../fixtures/capture.ts';

// 10 packets: 4 TCP port 80 (one of them in a VLAN), 2 UDP, 1 ICMP, 1 ARP, 1 WCCP (ineligible),
// 1 malformed IPv4 (total length beyond the frame).
const PACKETS = scapyBuild([
  `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/pay(100)`,
  `E(src=MAC_B,dst=MAC_A)/IP(src=B,dst=A)/TCP(sport=80,dport=40000)/pay(200,2)`,
  `E()/IP(src=A,dst=C)/UDP(sport=5353,dport=53)/pay(30,3)`,
  `E()/Dot1Q(vlan=7)/IP(src=A,dst=B)/TCP(sport=40001,dport=80)/pay(50,4)`,
  `E()/IP(src=A,dst=B)/ICMP()/pay(56,5)`,
  `E(dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,psrc=A,pdst=B,hwsrc=MAC_A)`,
  `E()/IP(src=A,dst=B)/UDP(sport=2048,dport=2048)/pay(40,6)`,
  `E()/IPv6(src=A6,dst=B6)/TCP(sport=40002,dport=80)/pay(700,7)`,
  `E()/IP(src=A,dst=B,len=900)/TCP(dport=80)/pay(20,8)`,
  `E()/IPv6(src=A6,dst=B6)/UDP(sport=1025,dport=53)/pay(30,9)`,
]);
const T0 = 1_700_000_000_000_000_000n;

let dir = '';
let input = '';
test.before(() => {
  dir = makeTempDir('cli');
  input = path.join(dir, 'in.pcap');
  fs.writeFileSync(input, encodePcapFile(PACKETS.map((data, i) => ({ data, tsNs: T0 + BigInt(i) * 1_000_000n }))));
});
test.after(() => removeTempDir(dir));

test('--help lists replay, classify and boot', () => {
  const r = twinflow(['--help']);
  assert.is(r.status, 0, r.stderr);
  for (const cmd of ['replay', 'classify', 'boot']) assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), cmd);
  const sub = twinflow(['replay', '--help']);
  assert.is(sub.status, 0);
  for (const opt of ['--match', '--replicas', '--originals', '--encap', '--snaplen', '--json']) assert.ok(sub.stdout.includes(opt), opt);
});

test('replay prints its counters and exits 0; the files hold the originals and the replicas', () => {
  const replicas = path.join(dir, 'r.pcapng');
  const originals = path.join(dir, 'o.pcap');
  const r = twinflow(['replay', input, '--match', 'tcp port 80', '--replicas', replicas, '--originals', originals]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  // Packets 0, 1, 3 and 7 carry TCP port 80 (the VLAN tag is looked through); 8 is malformed
  // IPv4 (not parsed as IP, so "not ip" counts it beside the ARP frame).
  assert.match(r.stdout, /^10 packets in /m);
  assert.match(r.stdout, /originals\s+rx 10\s+forwarded 10\s+dropped 0\s+\(not ip 2, truncated 0, malformed 1, ineligible 1\)/);
  assert.match(r.stdout, /replicas\s+matched 4\s+replicated 4\s+sampled_out 0\s+rate_limited 0\s+ring_full 0\s+no_frame 0\s+mtu 0\s+not_carried 0\s+\(truncated 0\)/);
  const out = decodePcapFile(fs.readFileSync(originals)).records;
  assert.equal(out.map((x) => Buffer.from(x.data).toString('hex')), PACKETS.map((p) => Buffer.from(p).toString('hex')));
  const ng = fs.readFileSync(replicas);
  assert.is(ng.readUInt32LE(0), 0x0a0d0d0a, 'a pcapng section header block');
});

test('replay --json: a document whose counters satisfy conservation and match the capture', () => {
  const replicas = path.join(dir, 'rj.pcapng');
  const originals = path.join(dir, 'oj.pcap');
  const r = twinflow(['replay', input, '--match', 'udp or icmp', '--replicas', replicas, '--originals', originals,
    '--encap', 'erspan2', '--sample', '1', '--snaplen', '80', '--json']);
  assert.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    packets: number;
    ports: Record<string, Record<string, number>>;
    session: Record<string, number>;
    global: Record<string, number>;
    drivers: Record<string, Record<string, number>>;
  };
  assert.is(doc.packets, 10);
  for (const [name, c] of Object.entries(doc.ports)) {
    assert.is(c.rx_packets, c.forwarded + c.redirected + c.dropped_policy + c.dropped_tx_full, `port ${name} conservation`);
  }
  const s = doc.session;
  assert.is(s.matched, s.replicated + s.sampled_out + s.rate_limited + s.ring_full + s.no_frame + s.mtu + s.not_carried + s.hold_full, 'session conservation');
  // UDP 53 (IPv4 and IPv6) and ICMP; the WCCP packet is ineligible even though it is UDP.
  assert.is(s.matched, 3);
  assert.is(s.replicated, 3);
  assert.is(s.truncated, 2, 'frames of 72 (UDP), 92 (IPv6 UDP) and 98 (ICMP) bytes: two cut to 80');
  assert.is(s.bytes_replicated, 72 + 80 + 80);
  assert.is(doc.ports.in.rx_packets, 10);
  assert.is(doc.ports.in.ineligible, 1);
  assert.is(doc.ports.in.rx_bytes, PACKETS.reduce((n, p) => n + p.length, 0));
  assert.is(doc.global.packets, 10);
  // What the files received: every original on "out", every replica on "mirror", nothing lost.
  assert.is(doc.drivers.out.txPackets, doc.ports.in.forwarded);
  assert.is(doc.drivers.mirror.txPackets, s.replicated);
  for (const d of Object.values(doc.drivers)) assert.is(d.txDropped + d.rxMissed + d.rxErrors, 0);
});

test('replay reads microsecond, nanosecond and big-endian pcap and pcapng alike', () => {
  // Timestamps with nanoseconds: the originals pcap (microseconds) keeps them to the microsecond.
  const records = PACKETS.map((data, i) => ({ data, tsNs: T0 + BigInt(i) * 1_000_123n }));
  const variants: Record<string, string> = {
    'usec.pcap': '', 'nsec.pcap': '', 'be.pcap': '', 'in.pcapng': '',
  };
  fs.writeFileSync(path.join(dir, 'usec.pcap'), encodePcapFile(records.map((r) => ({ ...r, tsNs: r.tsNs - (r.tsNs % 1000n) }))));
  fs.writeFileSync(path.join(dir, 'nsec.pcap'), encodePcapFile(records, true));
  fs.writeFileSync(path.join(dir, 'be.pcap'), encodePcapFile(records, true, true));
  const conv = editcap(['-F', 'pcapng', path.join(dir, 'nsec.pcap'), path.join(dir, 'in.pcapng')]);
  assert.is(conv.status, 0, conv.stderr);
  for (const name of Object.keys(variants)) {
    const originals = path.join(dir, `o-${name}.pcap`);
    const r = twinflow(['replay', path.join(dir, name), '--match', 'ip or ip6', '--replicas', path.join(dir, `r-${name}.pcapng`), '--originals', originals, '--json']);
    assert.is(r.status, 0, `${name}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as { session: Record<string, number> };
    assert.is(doc.session.replicated, 7, `${name}: 7 eligible IP packets (not the ARP, WCCP or malformed ones)`);
    const out = decodePcapFile(fs.readFileSync(originals)).records;
    assert.is(out.length, PACKETS.length, name);
    out.forEach((rec, i) => {
      assert.ok(Buffer.from(rec.data).equals(Buffer.from(PACKETS[i])), `${name}: original ${i}`);
      assert.is(rec.tsNs, records[i].tsNs - (records[i].tsNs % 1000n), `${name}: original ${i} time`);
    });
  }
});

test('replay of full-size (9216-byte) frames with --mtu 65535 forwards every original unchanged', () => {
  // The replay board's frames hold 9216 bytes; an ERSPAN replica of such a frame is 54 bytes
  // longer. Whatever happens to the replicas, the originals must all come out, byte for byte.
  const n = 2400;
  const frame = (i: number): Uint8Array => {
    const f = new Uint8Array(9216);
    const dv = new DataView(f.buffer);
    f.set([2, 0, 0, 0, 0, 0x0b, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x00]);
    f[14] = 0x45;
    dv.setUint16(16, 9216 - 14);
    f[22] = 64;
    f[23] = 17;
    dv.setUint32(26, 0x0a000001);
    dv.setUint32(30, 0x0a000002);
    let sum = 0;
    for (let k = 14; k < 34; k += 2) sum += dv.getUint16(k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    dv.setUint16(24, ~sum & 0xffff);
    dv.setUint16(34, 1000 + (i % 50));
    dv.setUint16(36, 9);
    dv.setUint16(38, 9216 - 34);
    for (let k = 42; k < f.length; k++) f[k] = (k * 7 + i) & 0xff;
    return f;
  };
  const records = Array.from({ length: n }, (_, i) => ({ data: frame(i), tsNs: T0 + BigInt(i) * 1000n }));
  const big = path.join(dir, 'jumbo.pcap');
  const bytes = encodePcapFile(records);
  fs.writeFileSync(big, bytes);
  const originals = path.join(dir, 'jumbo-o.pcap');
  const r = twinflow(['replay', big, '--match', 'udp', '--replicas', path.join(dir, 'jumbo-r.pcapng'), '--originals', originals, '--encap', 'erspan3', '--mtu', '65535']);
  assert.is(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`originals\\s+rx ${n}\\s+forwarded ${n}\\s`));
  assert.ok(Buffer.from(fs.readFileSync(originals)).equals(Buffer.from(bytes)), 'the originals pcap is the input, byte for byte');
});

test.run();
