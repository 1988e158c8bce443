// The simulated client and server groups (hal/drivers/sim/clients.ts, servers.ts):
// - through the real data plane (the sim router in wire mode) they complete every flow, and what
//   each side sent and received agrees, packet for packet and byte for byte, with the router's
//   port and driver counters;
// - a capture of the clients' wire reads in Wireshark as sane conversations (sequence analysis
//   on, checksums checked: no warning, no error);
// - same seed, same run; retransmission, abandonment, bounded queues, rate and limits behave as
//   documented; configuration errors name the field.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  buildFrame, ClientGroup, DEFAULT_RETRANSMIT_TIMEOUT_MS, EPHEMERAL_FIRST, MAX_RETRANSMITS, parseIpv4, parseMac, parseSegment,
  ServerGroup, SimConfigError, TcpFlag, XorShift32, type ClientGroupConfig,
} from '../../hal/drivers/sim/index.ts';
import { ipv4Bytes } from '../../hal/net/address.ts';
import { CLIENTS, runBoard, runDirect, SERVERS, STEP_NS, Tap, tsharkFields, tsharkProblems } from './sim-helpers.ts';

const MS = 1_000_000n;

test('through the router: every flow completes and both sides agree with the port counters', async () => {
  const r = await runBoard();
  const c = r.clients.counters();
  const s = r.servers.counters();
  assert.is(c.flowsStarted, CLIENTS.maxFlows);
  assert.is(c.flowsCompleted, c.flowsStarted);
  assert.is(c.flowsAbandoned, 0);
  assert.is(c.flowsSkipped, 0);
  assert.is(c.retransmits, 0);
  assert.is(c.duplicates + c.unexpected + c.badChecksum, 0);
  assert.is(s.notForUs + s.badChecksum + s.queueDrops, 0);
  const [p0, p1] = r.ports;
  const d0 = r.card.driverCounters(0);
  const d1 = r.card.driverCounters(1);
  assert.is(d0.rxMissed + d1.rxMissed + d0.rxErrors + d1.rxErrors, 0);
  // clients → router p0 → servers
  assert.is(p0.rx_packets, c.packetsSent);
  assert.is(p0.rx_bytes, c.bytesSent);
  assert.is(p0.forwarded, c.packetsSent);
  assert.is(d1.txPackets, s.packetsReceived);
  assert.is(d1.txBytes, s.bytesReceived);
  assert.is(s.packetsReceived, c.packetsSent);
  // servers → router p1 → clients
  assert.is(p1.rx_packets, s.packetsSent);
  assert.is(p1.rx_bytes, s.bytesSent);
  assert.is(p1.forwarded, s.packetsSent);
  assert.is(d0.txPackets, c.packetsReceived);
  assert.is(d0.txBytes, c.bytesReceived);
  assert.is(c.packetsReceived, s.packetsSent);
  // Every server frame answered a client frame; the clients' pure ACKs got no answer.
  assert.is(s.packetsSent + s.ignored, s.packetsReceived);
  // The originals crossed the router unchanged.
  const sent = r.clientTap.frames.filter((f) => f.dir === 'out').map((f) => f.data);
  const got = r.serverTap.frames.filter((f) => f.dir === 'in').map((f) => f.data);
  assert.equal(got, sent);
});

test('a capture of the clients\' wire reads as sane TCP and UDP conversations in Wireshark', async () => {
  const r = await runBoard({ clients: { vlan: 100, maxFlows: 120 }, servers: { vlan: 100 } });
  const frames = r.clientTap.frames;
  assert.equal(tsharkProblems(frames), []);
  const rows = tsharkFields(frames, ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'tcp.stream', 'tcp.flags.syn', 'tcp.flags.ack', 'vlan.id']);
  const streams = new Set<string>();
  let syns = 0;
  rows.forEach(([ip, tcp, udp, stream, syn, ack, vlan], i) => {
    assert.ok(ip === '' || ip === '1', `frame ${i + 1}: IPv4 checksum`);
    assert.is(tcp || udp, '1', `frame ${i + 1}: transport checksum`);
    assert.is(vlan, '100', `frame ${i + 1}: VLAN`);
    if (stream) streams.add(stream);
    if (syn === '1' && ack === '0') syns++;
  });
  assert.ok(syns > 0);
  assert.is(streams.size, syns, 'one TCP stream per SYN');
  assert.is(r.clients.counters().flowsCompleted, 120);
});

test('the conversation is the documented one: SYN, SYN-ACK, ACK + data, ACK + response, …, FIN, FIN-ACK, ACK', () => {
  const clients = new Tap(new ClientGroup({ ...CLIENTS, tcpShare: 1, ipv6: undefined, segmentsPerFlow: [3, 3], maxFlows: 1 }));
  const servers = new ServerGroup(SERVERS);
  runDirect(clients, servers, { untilNs: 10n * MS });
  const script = clients.frames.map((f) => {
    const s = parseSegment(f.data)!;
    const names = [['S', TcpFlag.Syn], ['F', TcpFlag.Fin], ['P', TcpFlag.Psh], ['A', TcpFlag.Ack]] as const;
    return `${f.dir === 'out' ? '>' : '<'}${names.filter(([, b]) => s.flags & b).map(([n]) => n).join('')}${s.payloadLen ? '+' : ''}`;
  });
  assert.equal(script, ['>S', '<SA', '>A', '>PA+', '<PA+', '>PA+', '<PA+', '>PA+', '<PA+', '>FA', '<FA', '>A']);
  const c = clients.counters();
  assert.is(c.flowsCompleted, 1);
  assert.is(c.packetsSent, 7);
  assert.is(c.packetsReceived, 5);
});

test('a UDP flow is request → response, segmentsPerFlow times, each response echoing its request id', () => {
  const clients = new Tap(new ClientGroup({ ...CLIENTS, tcpShare: 0, ipv6: undefined, segmentsPerFlow: [4, 4], maxFlows: 1 }));
  runDirect(clients, new ServerGroup(SERVERS), { untilNs: 10n * MS });
  const f = clients.frames;
  assert.equal(f.map((x) => x.dir), ['out', 'in', 'out', 'in', 'out', 'in', 'out', 'in']);
  for (let i = 0; i < f.length; i += 2) {
    const q = parseSegment(f[i].data)!;
    const a = parseSegment(f[i + 1].data)!;
    assert.is(q.proto, 17);
    assert.equal(f[i + 1].data.subarray(a.payload, a.payload + 4), f[i].data.subarray(q.payload, q.payload + 4));
    assert.is(a.srcPort, q.dstPort);
    assert.is(a.dstPort, q.srcPort);
    assert.ok(q.srcPort >= EPHEMERAL_FIRST);
  }
  assert.is(clients.counters().flowsCompleted, 1);
});

test('same seed, same run; another seed, another run', async () => {
  const snapshot = async (seed: number) => {
    const r = await runBoard({ clients: { seed, maxFlows: 150 }, servers: { seed: seed + 1 } });
    return { clients: r.clients.counters(), servers: r.servers.counters(), ports: r.ports, end: r.endNs, wire: r.clientTap.frames.map((f) => Buffer.from(f.data).toString('hex')) };
  };
  const a = await snapshot(11);
  const b = await snapshot(11);
  assert.equal(a, b);
  const c = await snapshot(12);
  assert.not.equal(c.wire, a.wire);
});

test('lost frames are retransmitted after the timeout and every flow still completes', () => {
  const clients = new ClientGroup({ ...CLIENTS, maxFlows: 60, flowsPerSecond: 1000 });
  const servers = new ServerGroup(SERVERS);
  // Lose 5% of the frames each way, at random (seeded: the same frames on every run). A periodic
  // pattern would not do: retransmissions replay the traffic's timing, so they would meet it again.
  const loss = new XorShift32(99);
  runDirect(clients, servers, { untilNs: 3000n * MS, lose: () => loss.chance(0.05) });
  const c = clients.counters();
  assert.is(c.flowsCompleted, 60);
  assert.is(c.flowsAbandoned, 0);
  assert.ok(c.retransmits > 0);
  // A lost answer makes the server answer twice; the client took the first and counted none as unexpected.
  assert.is(c.unexpected, 0);
  assert.is(clients.activeFlows, 0);
});

test('a retransmitted request gets the same answer (stateless servers)', () => {
  const servers = new ServerGroup(SERVERS);
  const req = buildFrame({
    srcMac: parseMac(CLIENTS.mac)!, dstMac: parseMac('02:00:00:00:02:01')!, src: ipv4Bytes(parseIpv4('10.0.0.10')!), dst: ipv4Bytes(parseIpv4('10.1.0.21')!),
    l4: { proto: 'tcp', srcPort: 50000, dstPort: 9000, seq: 1000, ack: 2000, flags: TcpFlag.Psh | TcpFlag.Ack }, payload: new Uint8Array(100).fill(0x61),
  });
  const answers: Uint8Array[] = [];
  servers.deliver(req, 0n);
  servers.deliver(req, 1n);
  servers.poll(2n, (f) => { answers.push(f.slice()); return true; });
  assert.is(answers.length, 2);
  const [a, b] = answers.map((f) => parseSegment(f)!);
  assert.is(a.seq, 2000);
  assert.is(a.ack, 1100);
  assert.equal(answers[0].subarray(a.l4), answers[1].subarray(b.l4));
  assert.ok(a.payloadLen >= SERVERS.responseBytes[0] && a.payloadLen <= SERVERS.responseBytes[1]);
});

test('with no server, each flow retransmits MAX_RETRANSMITS times and is abandoned after the last timeout', () => {
  const clients = new ClientGroup({ ...CLIENTS, maxFlows: 5, flowsPerSecond: 1000 });
  const rto = BigInt(DEFAULT_RETRANSMIT_TIMEOUT_MS) * MS;
  const sink = { name: 'void', poll: () => {}, deliver: () => {}, counters: () => ({}) };
  // Flow k starts at k ms; its timeouts fall at k ms + 1, 2, 3 RTO (retransmissions) and + 4 RTO (abandoned).
  runDirect(clients, sink, { untilNs: 4n * MS + BigInt(MAX_RETRANSMITS + 1) * rto });
  assert.is(clients.counters().flowsAbandoned, 4, 'the last flow has one timeout to go');
  clients.poll(4n * MS + BigInt(MAX_RETRANSMITS + 1) * rto, () => true);
  const c = clients.counters();
  assert.is(c.flowsStarted, 5);
  assert.is(c.flowsAbandoned, 5);
  assert.is(c.activeFlows, 0);
  assert.is(c.retransmits, MAX_RETRANSMITS * 5);
  assert.is(c.packetsSent, (MAX_RETRANSMITS + 1) * 5);
  assert.ok(clients.idle);
});

test('flows start at flowsPerSecond in simulated time; maxActiveFlows skips the excess', () => {
  const quiet = { name: 'void', poll: () => {}, deliver: () => {}, counters: () => ({}) };
  const a = new ClientGroup({ ...CLIENTS, flowsPerSecond: 1000, maxFlows: undefined, maxActiveFlows: 100000 });
  runDirect(a, quiet, { untilNs: 100n * MS + STEP_NS });
  assert.is(a.counters().flowsStarted, 101, 'flows at 0, 1, …, 100 ms');
  const b = new ClientGroup({ ...CLIENTS, flowsPerSecond: 1000, maxFlows: undefined, maxActiveFlows: 10 });
  runDirect(b, quiet, { untilNs: 100n * MS + STEP_NS });
  assert.is(b.counters().flowsStarted, 10);
  assert.is(b.counters().flowsSkipped, 91);
  // A jump of the clock by an hour costs no more than maxActiveFlows attempts.
  b.poll(3_600_000n * MS, () => true);
  assert.is(b.counters().flowsSkipped, 3_600_000 + 1 - 10);
});

test('servers ignore what is not theirs and bound their reply queue', () => {
  const servers = new ServerGroup({ ...SERVERS, queueCapacity: 2, burst: 1 });
  const base = {
    srcMac: parseMac(CLIENTS.mac)!, dstMac: parseMac(SERVERS.mac)!, src: ipv4Bytes(parseIpv4('10.0.0.10')!), dst: ipv4Bytes(parseIpv4('10.1.0.20')!),
    l4: { proto: 'udp' as const, srcPort: 50000, dstPort: 9000 }, payload: new Uint8Array(8),
  };
  servers.deliver(buildFrame({ ...base, dst: ipv4Bytes(parseIpv4('10.1.0.23')!) }), 0n); // beyond the group
  servers.deliver(buildFrame({ ...base, dstMac: parseMac('02:00:00:00:02:01')! }), 0n); // another host's MAC
  servers.deliver(buildFrame({ ...base, vlan: 5 }), 0n); // tagged, the servers are not
  servers.deliver(new Uint8Array(60), 0n); // not IP
  const bad = buildFrame(base);
  bad[14 + 20 + 8] ^= 1; // first UDP payload byte: checksum now wrong
  servers.deliver(bad, 0n);
  servers.deliver(buildFrame({ ...base, l4: { proto: 'tcp', srcPort: 50000, dstPort: 9000, seq: 1, ack: 1, flags: TcpFlag.Ack }, payload: undefined }), 0n);
  for (let i = 0; i < 3; i++) servers.deliver(buildFrame(base), 0n);
  let c = servers.counters();
  assert.equal({ notForUs: c.notForUs, badChecksum: c.badChecksum, ignored: c.ignored, queueDrops: c.queueDrops, pending: c.pending },
    { notForUs: 4, badChecksum: 1, ignored: 1, queueDrops: 1, pending: 2 });
  const out: Uint8Array[] = [];
  servers.poll(0n, (f) => { out.push(f); return true; });
  assert.is(out.length, 1, 'burst 1');
  c = servers.counters();
  assert.is(c.packetsSent, 1);
  assert.is(c.packetsReceived, 9);
});

test('clients count frames they cannot match as unexpected, stale answers as duplicates', () => {
  const clients = new ClientGroup({ ...CLIENTS, tcpShare: 1, ipv6: undefined, maxFlows: 1 });
  const servers = new ServerGroup(SERVERS);
  const toServer: Uint8Array[] = [];
  clients.poll(0n, (f) => { toServer.push(f.slice()); return true; });
  const syn = parseSegment(toServer[0])!;
  servers.deliver(toServer[0], 0n);
  const answers: Uint8Array[] = [];
  servers.poll(0n, (f) => { answers.push(f.slice()); return true; });
  clients.deliver(answers[0], 1n);
  clients.deliver(answers[0], 1n); // the same SYN-ACK again: a duplicate
  const wrongPort = answers[0].slice();
  wrongPort[syn.l4 + 2] ^= 0x40; // destination port of the SYN-ACK: no such flow (checksum breaks too)
  clients.deliver(wrongPort, 1n);
  clients.deliver(new Uint8Array(20), 1n);
  const c = clients.counters();
  assert.is(c.duplicates, 1);
  assert.is(c.unexpected + c.badChecksum, 2);
  assert.is(c.packetsReceived, 4);
});

test('configuration errors name the endpoint and the field', () => {
  const bad = (patch: Record<string, unknown>, field: string) => {
    try {
      new ClientGroup({ ...CLIENTS, ...patch } as ClientGroupConfig);
      assert.unreachable(`${field} accepted`);
    } catch (e) {
      assert.instance(e, SimConfigError);
      assert.is((e as SimConfigError).field, field);
      assert.match((e as Error).message, `sim endpoint "clients": ${field}:`);
    }
  };
  bad({ count: 0 }, 'count');
  bad({ firstAddress: '10.0.0.256' }, 'firstAddress');
  bad({ firstAddress: '255.255.255.254' }, 'firstAddress');
  bad({ mac: '01:00:5e:00:00:01' }, 'mac');
  bad({ mac: 'aa:bb:cc:dd:ee' }, 'mac');
  bad({ vlan: 4095 }, 'vlan');
  bad({ tcpShare: 1.5 }, 'tcpShare');
  bad({ segmentsPerFlow: [3, 2] }, 'segmentsPerFlow');
  bad({ payloadBytes: [1, 10] }, 'payloadBytes[0]');
  bad({ payloadBytes: [10, 1441] }, 'payloadBytes[1]');
  bad({ servers: { ...CLIENTS.servers, ports: [] } }, 'servers.ports');
  bad({ servers: { ...CLIENTS.servers, ipv6: undefined } }, 'servers.ipv6');
  bad({ ipv6: { firstAddress: '2001:db8::ffff:ffff', share: 0.5 } }, 'ipv6.firstAddress');
  bad({ flowsPerSecond: -1 }, 'flowsPerSecond');
  bad({ seed: 1.5 }, 'seed');
  assert.throws(() => new ServerGroup({ ...SERVERS, responseBytes: [0, 10] }), (e: Error) => e instanceof SimConfigError && /responseBytes\[0\]/.test(e.message));
});

test.run();
