// tshark as the oracle for every kind of replica: `twinflow replay` over a scapy-built capture,
// then Wireshark's dissectors (with IP/TCP/UDP checksum validation on) must decode the replicas
// without expert warnings or errors, show the GRE-WCCP / ERSPAN fields the session implies, and
// show inner packets whose bytes equal the original's IP packet (GRE) or frame (ERSPAN), or its
// prefix when snaplen cut it. The originals pcap must hold the input records unchanged.
//
// The one class of expert item tolerated: on a replica that is deliberately truncated (snaplen,
// or an input captured short), the inner IP/UDP header still states the original length, so
// Wireshark reports "length exceeds packet length"-style items for the inner headers, and the
// inner TCP/UDP checksum cannot add up over the bytes that are left. That is what truncation
// means (the ERSPAN T bit and the record's original length say so); any other item, or any item
// on a whole replica, fails the test. IP header checksums (outer and inner) must be good always.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { scapyBuild } from '../fixtures/scapy.ts';
import { decodePcapFile, encodePcapFile, makeTempDir, removeTempDir, tshark, twinflow, type PcapRecord } from '../fixtures/capture.ts';
import { viewOriginal, wccpBucket } from '../fixtures/decap.ts';

const PACKETS = scapyBuild([
  `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=9,flags="S",seq=1000)/pay(64)`,
  `E(src=MAC_B,dst=MAC_A)/IP(src=B,dst=A)/UDP(sport=9,dport=40001)/pay(100,2)`,
  `E()/IP(src=A,dst=C,options=[IPOption_NOP()]*3+[IPOption_EOL()])/UDP(sport=40002,dport=9)/pay(30,3)`,
  `E()/IP(src=A,dst=B)/ICMP(type=8,id=7,seq=1)/pay(56,4)`,
  `E()/IPv6(src=A6,dst=B6)/TCP(sport=40003,dport=9,flags="S",seq=5)/pay(200,5)`,
  `E()/IPv6(src=A6,dst=C6)/UDP(sport=40004,dport=9)/pay(300,6)`,
  `E()/IPv6(src=A6,dst=B6)/ICMPv6EchoRequest(id=7,seq=2)/pay(48,7)`,
  `E()/IPv6(src=A6,dst=B6)/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/UDP(sport=40005,dport=9)/pay(40,8)`,
  `E()/Dot1Q(vlan=100)/IP(src=A,dst=D)/UDP(sport=40006,dport=9)/pay(80,9)`,
  `E()/Dot1AD(vlan=200)/Dot1Q(vlan=300)/IP(src=C,dst=D)/TCP(sport=40007,dport=9,flags="S")/pay(40,10)`,
  `E(dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,psrc=A,pdst=B,hwsrc=MAC_A)`,
  `E()/IP(src=A,dst=B)/UDP(sport=40008,dport=9)/pay(1200,11)`,
  `E()/IP(src=A,dst=B)/UDP(sport=40009,dport=9)/pay(1200,12)`, // captured short below
]);
const T0 = 1_700_000_000_000_000_000n;
const RECORDS: PcapRecord[] = PACKETS.map((data, i) => (i === PACKETS.length - 1
  ? { data: data.slice(0, 300), origLen: data.length, tsNs: T0 + BigInt(i) * 1_000_000n }
  : { data, tsNs: T0 + BigInt(i) * 1_000_000n + 123_000n }));
const IS_IP = (i: number): boolean => viewOriginal(PACKETS[i]).l3 !== null;

const SEVERITY_WARN = 0x600000;
/** Inner-header length complaints Wireshark makes about any deliberately cut packet. */
const TRUNCATION_ITEMS = [
  /^IPv4 total length exceeds packet length/,
  /^IPv6 payload length exceeds framing length/,
  /^Bad length value \d+ > IP payload length/,
  /^Bad checksum \[should be 0x[0-9a-f]+\]$/, // the inner TCP/UDP checksum over a cut segment
];

interface Frame {
  readonly fields: Record<string, string>;
  readonly raw: Uint8Array;
  readonly innerOffset: number;
  readonly protocols: string;
}

/** Every replica as tshark decodes it: fields (tab-separated output) and layer offsets (JSON). */
function dissect(file: string, fields: readonly string[]): Frame[] {
  const prefs = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
  const f = tshark(['-r', file, ...prefs, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|', ...fields.flatMap((x) => ['-e', x])]);
  assert.is(f.status, 0, f.stderr);
  const rows = f.stdout.split('\n').filter((l) => l.length > 0).map((l) => {
    const cols = l.split('\t');
    return Object.fromEntries(fields.map((name, i) => [name, cols[i] ?? '']));
  });
  const j = tshark(['-r', file, ...prefs, '-T', 'json', '-x', '--no-duplicate-keys']);
  assert.is(j.status, 0, j.stderr);
  const packets = JSON.parse(j.stdout) as Array<{ _source: { layers: Record<string, unknown> } }>;
  assert.is(packets.length, rows.length);
  return packets.map((p, k) => {
    const layers = p._source.layers;
    const raw = Uint8Array.from(Buffer.from((layers.frame_raw as [string])[0], 'hex'));
    const protocols = (layers.frame as Record<string, string>)['frame.protocols'];
    const names = protocols.split(':');
    const tunnel = names.includes('erspan') ? 'erspan' : 'gre';
    // The inner packet starts at the first layer after the tunnel header that tshark placed
    // beyond it (GRE 0x883E hands its payload to "ip", which passes IPv6 on to "ipv6").
    const offsets = (name: string): number[] => {
      const entries = layers[`${name}_raw`] as unknown[] | undefined;
      if (!entries) return [];
      return ((Array.isArray(entries[0]) ? entries : [entries]) as Array<[string, number, number]>).map((e) => e[1]);
    };
    const tunnelEnd = Math.max(...offsets(tunnel)) + 4;
    const innerOffset = Math.min(...names.slice(names.indexOf(tunnel) + 1).flatMap(offsets).filter((o) => o >= tunnelEnd));
    return { fields: rows[k], raw, innerOffset, protocols };
  });
}

const CONFIGS = [
  { encap: 'gre', snaplen: 0 },
  { encap: 'erspan2', snaplen: 0 },
  { encap: 'erspan3', snaplen: 0 },
  { encap: 'gre', snaplen: 96 },
  { encap: 'erspan2', snaplen: 96 },
  { encap: 'erspan3', snaplen: 96 },
] as const;

const FIELDS = [
  'frame.number', 'frame.len', 'frame.cap_len', 'frame.time_epoch', '_ws.expert.severity', '_ws.expert.message',
  'ip.src', 'ip.dst', 'ip.checksum.status', 'gre.proto', 'gre.sequence_number',
  'gre.wccp.dynamic_service', 'gre.wccp.alternative_bucket_used', 'gre.wccp.redirect_header_valid',
  'gre.wccp.service_id', 'gre.wccp.alternative_bucket', 'gre.wccp.primary_bucket',
  'erspan.version', 'erspan.vlan', 'erspan.cos', 'erspan.encap', 'erspan.bso', 'erspan.truncated', 'erspan.spanid',
  'erspan.index', 'erspan.timestamp', 'erspan.sgt', 'erspan.p', 'erspan.ft', 'erspan.hw', 'erspan.direction', 'erspan.gra', 'erspan.o',
];

let dir = '';
test.before(() => {
  dir = makeTempDir('tshark');
  fs.writeFileSync(path.join(dir, 'in.pcap'), encodePcapFile(RECORDS));
});
test.after(() => removeTempDir(dir));

for (const c of CONFIGS) {
  test(`replay --encap ${c.encap}${c.snaplen ? ` --snaplen ${c.snaplen}` : ''}: tshark decodes every replica cleanly and sees the originals inside`, () => {
    const input = path.join(dir, 'in.pcap');
    const replicas = path.join(dir, `r-${c.encap}-${c.snaplen}.pcapng`);
    const originals = path.join(dir, `o-${c.encap}-${c.snaplen}.pcap`);
    const args = ['replay', input, '--match', 'ip or ip6', '--replicas', replicas, '--originals', originals, '--encap', c.encap];
    if (c.snaplen) args.push('--snaplen', String(c.snaplen));
    const r = twinflow(args);
    assert.is(r.status, 0, r.stderr);

    // Originals: the input records, unchanged (bytes, original length, timestamp), in order.
    const out = decodePcapFile(fs.readFileSync(originals));
    assert.is(out.linkType, 1);
    assert.is(out.records.length, RECORDS.length);
    out.records.forEach((rec, i) => {
      assert.equal(Buffer.from(rec.data).toString('hex'), Buffer.from(RECORDS[i].data).toString('hex'), `original ${i}`);
      assert.is(rec.origLen, RECORDS[i].origLen ?? RECORDS[i].data.length, `original ${i} length`);
      assert.is(rec.tsNs, RECORDS[i].tsNs, `original ${i} time`);
    });

    const frames = dissect(replicas, FIELDS);
    const matched = RECORDS.map((_, i) => i).filter(IS_IP);
    assert.is(frames.length, matched.length, 'one replica per IP packet (ARP is not matched)');
    frames.forEach((fr, k) => {
      const i = matched[k];
      const rec = RECORDS[i];
      const f = fr.fields;
      const where = `${c.encap}/${c.snaplen} replica ${k} (input ${i})`;
      const v = viewOriginal(rec.data);
      const gre = c.encap === 'gre';
      const whole = gre ? rec.data.subarray(v.l3!, v.l3! + v.ipLength) : rec.data;
      const wire = gre ? v.ipLength : rec.origLen ?? rec.data.length;
      const keep = c.snaplen ? Math.min(c.snaplen, whole.length) : whole.length;
      const truncated = keep < wire;

      // Expert info: nothing at warning level or above, except inner-length items on cut replicas.
      const severities = f['_ws.expert.severity'] ? f['_ws.expert.severity'].split('|').map(Number) : [];
      const messages = f['_ws.expert.message'] ? f['_ws.expert.message'].split('|') : [];
      severities.forEach((sev, n) => {
        if (sev < SEVERITY_WARN) return;
        const msg = messages[n] ?? '';
        assert.ok(truncated && TRUNCATION_ITEMS.some((re) => re.test(msg)), `${where}: expert item (severity 0x${sev.toString(16)}): ${msg}`);
      });
      assert.ok(!f['ip.checksum.status'].split('|').includes('0'), `${where}: an IP checksum is bad`);
      assert.is(Number(f['frame.len']) > Number(f['frame.cap_len']), truncated, `${where}: the record is marked cut exactly when the replica is`);

      // Inner bytes as tshark lays them out: the original (or its prefix).
      const inner = fr.raw.subarray(fr.innerOffset);
      assert.is(Buffer.from(inner).toString('hex'), Buffer.from(whole.subarray(0, keep)).toString('hex'), `${where}: inner bytes (${fr.protocols})`);

      // A replica carries its original's receive time.
      const [sec, frac = ''] = f['frame.time_epoch'].split('.');
      assert.is(BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9)), rec.tsNs, `${where}: timestamp`);

      // Outer addresses and tunnel fields.
      assert.is(f['ip.src'].split('|')[0], '192.0.2.1');
      assert.is(f['ip.dst'].split('|')[0], '192.0.2.2');
      if (gre) {
        assert.is(f['gre.proto'], '0x883e', where);
        assert.is(f['gre.sequence_number'], '', `${where}: GRE-WCCP carries no sequence number`);
        assert.equal(
          [f['gre.wccp.dynamic_service'], f['gre.wccp.alternative_bucket_used'], f['gre.wccp.redirect_header_valid'], f['gre.wccp.service_id'], f['gre.wccp.alternative_bucket'], f['gre.wccp.primary_bucket']],
          ['0', '0', '0', '0', '0', String(wccpBucket(v.dstWord))],
          `${where}: WCCP redirect header (well-known service 0, header valid, primary bucket of the destination)`,
        );
      } else {
        const tagged = v.vlans.length > 0;
        assert.is(f['gre.proto'], c.encap === 'erspan2' ? '0x88be' : '0x22eb', where);
        assert.is(f['gre.sequence_number'], String(k), `${where}: GRE sequence consecutive`);
        assert.is(f['erspan.version'], c.encap === 'erspan2' ? '1' : '2', where);
        assert.is(f['erspan.vlan'], String(tagged ? v.vlans[0] : 0), `${where}: ERSPAN VLAN`);
        assert.is(f['erspan.cos'], '0');
        assert.is(f['erspan.truncated'], truncated ? '1' : '0', `${where}: ERSPAN T bit`);
        assert.is(f['erspan.spanid'], '0', `${where}: session id`);
        if (c.encap === 'erspan2') {
          assert.is(f['erspan.encap'], tagged ? '3' : '0', `${where}: En (VLAN tag preserved in frame)`);
          assert.is(f['erspan.index'], '0');
        } else {
          assert.is(f['erspan.bso'], '0');
          assert.is(f['erspan.timestamp'], String((rec.tsNs / 100n) & 0xffffffffn), `${where}: ERSPAN III timestamp (100 ns units)`);
          assert.equal([f['erspan.sgt'], f['erspan.p'], f['erspan.ft'], f['erspan.hw'], f['erspan.gra'], f['erspan.o']], ['0', '0', '0', '0', '1', '0'], `${where}: ERSPAN III flags`);
        }
      }
    });
  });
}

test.run();
