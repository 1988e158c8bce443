// Race through the real data plane (simulate(), the release wasm): a client, the router and a
// group of three equivalent servers on their own ports. Packets are built by scapy; the resets
// the router sends losers are judged by tshark (Wireshark's TCP dissector with its conversation
// analysis and checksum validation), not by the product's own code.
//
// Covered: the opener replicated to every member by L2 rewrite (one frame each, the member's MACs,
// otherwise the client's bytes); the first acceptance wins and reaches the client; later ones are
// dropped and their members reset; the rest of the flow goes to the winner alone; refusals while
// others may accept; retransmitted openers; FIN and idle expiry with explicit timestamps; IPv6;
// a non-member's reply-shaped packet; counters and conservation in every run.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { simulate } from '../../firmware/runtime/simulate.ts';
import { scapyBuild } from '../fixtures/scapy.ts';
import { encodePcapFile, makeTempDir, removeTempDir, tshark } from '../fixtures/capture.ts';
import {
  checkRace, client, CLIENT, CLIENT6, CLIENT_PORT, forMember, MEMBER_MACS, MEMBER_PORTS, member, raceSession, raceSpec,
  ROUTER_MACS, sentOn, STEERED, UPLINK, VIP, VIP6, type Flow,
} from '../fixtures/race.ts';

const spec = raceSpec();
const SECOND = 1_000_000_000n;

/** Builds a conversation (scapy) and runs it in order; packet i at `ts[i]` (default (i + 1) µs). */
async function converse(steps: ReadonlyArray<{ port: number; scapy: string; ts?: bigint }>, s = raceSession(), dp = spec) {
  const frames = scapyBuild(steps.map((x) => x.scapy));
  const r = await simulate([s], steps.map((x, i) => ({ port: x.port, frame: frames[i], ts: x.ts })), dp, [], { inOrder: true });
  checkRace(r);
  return { r, frames };
}

const F: Flow = { sport: 40000 };
const M = MEMBER_PORTS;

test('the opener reaches every member once: the original to member 0, a copy to each other, each with its member\'s MACs and otherwise the SYN\'s bytes', async () => {
  const { r, frames } = await converse([{ port: CLIENT_PORT, scapy: client.syn(F) }]);
  const syn = frames[0];
  assert.equal(sentOn(r, UPLINK), [], 'nothing leaves by the normal path');
  M.forEach((port, k) => {
    const got = r.sent[port];
    assert.is(got.length, 1, `member ${k}: one frame`);
    assert.equal(got[0].bytes, forMember(syn, k), `member ${k}: its MACs, the SYN's bytes`);
    assert.is(got[0].queue, k === 0 ? 'originals' : 'replicas', `member ${k}: ${k === 0 ? 'the original' : 'a copy'}`);
    assert.is((got[0].desc.flags & STEERED) !== 0, k === 0, `member ${k}: steered flag`);
    assert.is(got[0].desc.outPort, port);
  });
  const c = r.sessions.web;
  assert.is(c.matched, 1);
  assert.is(c.race_started, 1);
  assert.is(c.race_copies, 2);
  assert.is(r.ports[CLIENT_PORT].forwarded, 1);
  assert.is(r.global.conntrack_inserted, 1);
  assert.is(r.conntrackInUse, 1);
});


// ── tshark judges the resets ─────────────────────────────────────────────────────────────────

let dir = '';
test.before(() => { dir = makeTempDir('race'); });
test.after(() => removeTempDir(dir));

const TSHARK_FIELDS = [
  'eth.src', 'eth.dst', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ip.checksum.status', 'tcp.stream', 'tcp.srcport', 'tcp.dstport',
  'tcp.seq', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.len', 'tcp.checksum.status', '_ws.expert.message',
] as const;
const GOOD = '1'; // Wireshark's checksum status: 0 bad, 1 good, 2 unverified

/**
 * What loser k saw of the connection, as tshark decodes it: the opener it received, its own
 * SYN-ACK, and the reset the router sent it. The reset must be a valid RST of that connection.
 */
function judgeReset(k: number, f: Flow, received: Uint8Array, synAck: Uint8Array, reset: Uint8Array): void {
  const file = path.join(dir, `loser-${k}-${f.v6 ? 6 : 4}-${f.sport}.pcap`);
  fs.writeFileSync(file, encodePcapFile([received, synAck, reset].map((data, i) => ({ data, tsNs: BigInt(i + 1) * 1_000_000n }))));
  const t = tshark(['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields',
    '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|', ...TSHARK_FIELDS.flatMap((x) => ['-e', x])]);
  assert.is(t.status, 0, t.stderr);
  const rows = t.stdout.split('\n').filter((l) => l.length > 0).map((l) => {
    const cols = l.split('\t');
    return Object.fromEntries(TSHARK_FIELDS.map((name, i) => [name, cols[i] ?? ''])) as Record<(typeof TSHARK_FIELDS)[number], string>;
  });
  assert.is(rows.length, 3);
  const [, answer, rst] = rows;
  const where = `loser ${k}'s reset`;
  assert.is(rst['tcp.stream'], rows[0]['tcp.stream'], `${where}: the same TCP conversation as the opener`);
  assert.is(answer['tcp.stream'], rows[0]['tcp.stream']);
  assert.is(rst['tcp.flags'], '0x0004', `${where}: RST alone`);
  assert.is(rst['tcp.seq_raw'], answer['tcp.ack_raw'], `${where}: its sequence number is the SYN-ACK's acknowledgment (RFC 9293 §3.5.2)`);
  assert.is(rst['tcp.seq'], '1', `${where}: relative sequence 1, the next the loser expects`);
  assert.is(rst['tcp.len'], '0');
  assert.is(rst['tcp.srcport'], String(f.sport), `${where}: from the client's port`);
  assert.is(rst['tcp.dstport'], '80');
  if (f.v6) {
    assert.is(rst['ipv6.src'], CLIENT6);
    assert.is(rst['ipv6.dst'], VIP6);
  } else {
    assert.is(rst['ip.src'], CLIENT);
    assert.is(rst['ip.dst'], VIP);
    assert.is(rst['ip.checksum.status'], GOOD, `${where}: IPv4 header checksum`);
  }
  assert.is(rst['tcp.checksum.status'], GOOD, `${where}: TCP checksum`);
  assert.is(rst['eth.dst'], MEMBER_MACS[k], `${where}: to the loser's MAC`);
  assert.is(rst['eth.src'], ROUTER_MACS[k], `${where}: from the router's MAC on the loser's port`);
  assert.is(rst['_ws.expert.message'], 'Connection reset (RST)', `${where}: no expert item but the reset itself`);
}

test('first answer wins: member 1\'s SYN-ACK reaches the client, the later ones are dropped and their members reset, the rest of the flow goes to member 1 alone', async () => {
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) }, // 0
    { port: M[1], scapy: member.synAck(F, 1) }, // 1: first
    { port: M[2], scapy: member.synAck(F, 2) }, // 2: late
    { port: CLIENT_PORT, scapy: client.ack(F, 1) }, // 3
    { port: M[0], scapy: member.synAck(F, 0) }, // 4: late, after the handshake completed
    { port: CLIENT_PORT, scapy: client.data(F, 1, 300) }, // 5
    { port: M[1], scapy: member.data(F, 1, 900) }, // 6
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1], frames[6]], 'the client gets the winner\'s answers, unchanged, and nothing else');
  assert.equal(sentOn(r, M[1]), [forMember(frames[0], 1), forMember(frames[3], 1), forMember(frames[5], 1)], 'the winner: the opener, then the rest of the flow');
  assert.ok(r.sent[M[1]].slice(1).every((s) => s.queue === 'originals' && (s.desc.flags & STEERED) !== 0), 'the rest of the flow is the originals, steered');
  assert.equal(sentOn(r, M[0], 'originals'), [forMember(frames[0], 0)]);
  assert.is(sentOn(r, M[0], 'replicas').length, 1, 'member 0: one reset');
  assert.equal(sentOn(r, M[2], 'replicas').slice(0, 1), [forMember(frames[0], 2)]);
  assert.is(sentOn(r, M[2], 'replicas').length, 2, 'member 2: the copy, then one reset');
  assert.equal(sentOn(r, UPLINK), []);
  judgeReset(2, F, sentOn(r, M[2])[0], frames[2], sentOn(r, M[2])[1]);
  judgeReset(0, F, sentOn(r, M[0])[0], frames[4], sentOn(r, M[0], 'replicas')[0]);

  const c = r.sessions.web;
  assert.equal(
    [c.matched, c.race_started, c.race_won, c.race_won_m1, c.race_late, c.race_resets, c.race_pinned, c.race_passed, c.race_copies],
    [7, 1, 1, 1, 2, 2, 2, 1, 2]);
  assert.is(r.ports[M[2]].dropped_race, 1);
  assert.is(r.ports[M[0]].dropped_race, 1);
  assert.is(r.ports[M[1]].forwarded, 2);
  assert.is(r.ports[CLIENT_PORT].forwarded, 3);
  assert.is(r.conntrackInUse, 1);
});

test('IPv6: the same race, member 2 first; both losers reset with valid IPv6 RSTs', async () => {
  const f6: Flow = { v6: true, sport: 41000, isn: 5_000_000 };
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(f6) },
    { port: M[2], scapy: member.synAck(f6, 2) },
    { port: M[0], scapy: member.synAck(f6, 0) },
    { port: M[1], scapy: member.synAck(f6, 1) },
    { port: CLIENT_PORT, scapy: client.data(f6, 2, 100) },
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1]]);
  M.forEach((port, k) => assert.equal(sentOn(r, port)[0], forMember(frames[0], k), `member ${k} got the opener`));
  assert.equal(sentOn(r, M[2]), [forMember(frames[0], 2), forMember(frames[4], 2)]);
  judgeReset(0, f6, sentOn(r, M[0], 'originals')[0], frames[2], sentOn(r, M[0], 'replicas')[0]);
  judgeReset(1, f6, sentOn(r, M[1])[0], frames[3], sentOn(r, M[1])[1]);
  assert.equal([r.sessions.web.race_won_m2, r.sessions.web.race_late, r.sessions.web.race_resets, r.sessions.web.race_pinned], [1, 2, 2, 1]);
});

test('a refusal while others may accept is held back: a stopped server cannot fail a connection another member takes', async () => {
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) },
    { port: M[0], scapy: member.refuse(F, 0) }, // the server process on member 0 is gone: its kernel refuses
    { port: M[2], scapy: member.synAck(F, 2) },
    { port: M[1], scapy: member.refuse(F, 1) }, // a refusal after the win
    { port: CLIENT_PORT, scapy: client.ack(F, 2) },
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[2]], 'the client sees only the acceptance');
  assert.equal(sentOn(r, M[2]), [forMember(frames[0], 2), forMember(frames[4], 2)]);
  const c = r.sessions.web;
  assert.equal([c.race_refused, c.race_won_m2, c.race_resets, c.race_late], [2, 1, 0, 0], 'refusers hold no connection: no reset for them');
  assert.is(r.ports[M[0]].dropped_race, 1);
  assert.is(r.ports[M[1]].dropped_race, 1);
});

test('when every member refuses, the last refusal reaches the client and the flow ends; the retry races anew', async () => {
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) },
    { port: M[2], scapy: member.refuse(F, 2) },
    { port: M[0], scapy: member.refuse(F, 0) },
    { port: M[1], scapy: member.refuse(F, 1) },
    { port: CLIENT_PORT, scapy: client.syn(F) },
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[3]]);
  M.forEach((port, k) => assert.equal(sentOn(r, port), [forMember(frames[0], k), forMember(frames[4], k)], `member ${k}: both openers`));
  const c = r.sessions.web;
  assert.equal([c.race_refused, c.race_all_refused, c.race_closed, c.race_started], [2, 1, 1, 2]);
  assert.is(r.global.conntrack_closed, 1);
  assert.is(r.conntrackInUse, 1, 'the retry\'s entry');
});

test('a retransmitted opener goes to every member again; the client\'s RST while racing too, and ends the entry', async () => {
  const g: Flow = { sport: 40001 };
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) },
    { port: CLIENT_PORT, scapy: client.syn(F), ts: SECOND },
    { port: M[0], scapy: member.synAck(F, 0) },
    { port: CLIENT_PORT, scapy: client.syn(g), ts: 2n * SECOND },
    { port: CLIENT_PORT, scapy: client.rst(g), ts: 3n * SECOND },
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[2]]);
  M.forEach((port, k) => assert.equal(sentOn(r, port), [frames[0], frames[1], frames[3], frames[4]].map((x) => forMember(x, k))));
  const c = r.sessions.web;
  assert.equal([c.race_started, c.race_resent, c.race_won_m0, c.race_copies, c.race_closed], [2, 2, 1, 8, 1]);
  assert.is(r.conntrackInUse, 1);
});

test('a RST after the win before every member answered: the entry stays, so the late acceptances are still dropped and their members reset; then it goes', async () => {
  // The client aborts (or the winner resets) while slower members have not answered yet. Were the
  // entry freed, their SYN-ACKs would reach the client, whose RST goes by hash, often to another
  // member, and the loser would keep its half-open connection (the e2e race test found this).
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) }, // 0
    { port: M[1], scapy: member.synAck(F, 1) }, // 1: wins
    { port: CLIENT_PORT, scapy: client.ack(F, 1) }, // 2
    { port: CLIENT_PORT, scapy: client.rst(F) }, // 3: the client gives up
    { port: CLIENT_PORT, scapy: client.rst(F) }, // 4: and again (as a client answers each segment in flight)
    { port: M[2], scapy: member.synAck(F, 2) }, // 5: late
    { port: M[0], scapy: member.synAck(F, 0) }, // 6: late, the last member: the entry goes
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1]], 'the client sees only the winner\'s acceptance');
  assert.equal(sentOn(r, M[1]), [0, 2, 3, 4].map((i) => forMember(frames[i], 1)), 'the client\'s RSTs reach the winner');
  assert.is(sentOn(r, M[2], 'replicas').length, 2, 'member 2: the copy, then a reset');
  judgeReset(2, F, sentOn(r, M[2])[0], frames[5], sentOn(r, M[2])[1]);
  judgeReset(0, F, sentOn(r, M[0], 'originals')[0], frames[6], sentOn(r, M[0], 'replicas')[0]);
  const c = r.sessions.web;
  assert.equal([c.race_won_m1, c.race_pinned, c.race_late, c.race_resets, c.race_closed], [1, 3, 2, 2, 1]);
  assert.is(r.conntrackInUse, 0, 'freed once every member answered');
});

test('a reset flow whose members had all answered goes at once; one waiting for a member goes after the reset time, and a new SYN on its ports races anew', async () => {
  const g: Flow = { sport: 40002 };
  const h: Flow = { sport: 40003 };
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) },
    { port: M[0], scapy: member.synAck(F, 0) },
    { port: M[1], scapy: member.synAck(F, 1) },
    { port: M[2], scapy: member.refuse(F, 2) },
    { port: M[0], scapy: member.data(F, 0, 10) },
    { port: M[0], scapy: `Ether(src="${MEMBER_MACS[0]}",dst="${ROUTER_MACS[0]}")/IP(src="${VIP}",dst="${CLIENT}")/TCP(sport=80,dport=${F.sport},flags="R",seq=1)` }, // 5: the winner resets: all answered, freed
    { port: CLIENT_PORT, scapy: client.syn(g), ts: SECOND },
    { port: M[2], scapy: member.synAck(g, 2), ts: SECOND },
    { port: CLIENT_PORT, scapy: client.rst(g), ts: SECOND }, // 8: members 0 and 1 have not answered: kept
    { port: CLIENT_PORT, scapy: client.syn(g), ts: 2n * SECOND }, // 9: a new connection on the same ports: a new race
    { port: CLIENT_PORT, scapy: client.syn(h), ts: 3n * SECOND },
    { port: M[1], scapy: member.synAck(h, 1), ts: 3n * SECOND },
    { port: CLIENT_PORT, scapy: client.rst(h), ts: 3n * SECOND }, // 12: kept, waiting for members 0 and 2
    { port: CLIENT_PORT, scapy: client.syn({ sport: 40004 }), ts: 11n * SECOND + 1n }, // 8 s and 1 ns later
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1], frames[4], frames[5], frames[7], frames[11]]);
  M.forEach((port, k) => assert.ok(sentOn(r, port).some((x) => x.length === frames[9].length && x.every((v, i) => v === forMember(frames[9], k)[i])), `member ${k} got the new opener`));
  const c = r.sessions.web;
  assert.equal([c.race_started, c.race_won, c.race_late, c.race_refused, c.race_closed, c.race_expired], [5, 3, 1, 1, 3, 0]);
  // Freed: F at its RST, g's first connection at the new SYN, h after the reset time.
  assert.is(r.conntrackInUse, 2, 'the second connection on g\'s ports and the last flow');
});

test('FIN: the last segments still reach the winner; after the closing time the entry is freed as closed', async () => {
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) },
    { port: M[1], scapy: member.synAck(F, 1) },
    { port: CLIENT_PORT, scapy: client.ack(F, 1) },
    { port: CLIENT_PORT, scapy: client.fin(F, 1), ts: SECOND },
    { port: M[1], scapy: member.fin(F, 1), ts: SECOND },
    { port: CLIENT_PORT, scapy: client.ack(F, 1), ts: 2n * SECOND }, // the last ACK
    { port: CLIENT_PORT, scapy: client.fin(F, 1), ts: 32n * SECOND }, // 30 s after the last packet: still the winner's
    { port: CLIENT_PORT, scapy: client.fin(F, 1), ts: 62n * SECOND + 1n }, // 30 s and 1 ns after that: too late
  ]);
  const inTime = r.sent[M[1]].filter((x) => x.desc.timestamp <= 32n * SECOND).map((x) => x.bytes);
  assert.equal(inTime, [0, 2, 3, 5, 6].map((i) => forMember(frames[i], 1)), 'the winner gets the flow to its end');
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1], frames[4]]);
  const late = M.flatMap((port) => r.sent[port].filter((s) => s.desc.timestamp === 62n * SECOND + 1n));
  assert.is(late.length, 1, 'the straggler goes to one member (its hash), as for any untracked packet');
  const c = r.sessions.web;
  assert.equal([c.race_pinned, c.race_closed, c.race_expired, c.race_untracked], [4, 1, 0, 1]);
  assert.is(r.global.conntrack_closed, 1);
  assert.is(r.conntrackInUse, 0);
});

test('idle: a won flow idle past the established timeout loses its winner; one just within keeps it; a racing flow past its timeout races anew', async () => {
  const t0 = 100n * SECOND;
  const a: Flow = { sport: 40010 };
  const b: Flow = { sport: 40011 };
  const c: Flow = { sport: 40012 };
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(a), ts: t0 },
    { port: M[2], scapy: member.synAck(a, 2), ts: t0 },
    { port: CLIENT_PORT, scapy: client.syn(b), ts: t0 },
    { port: M[2], scapy: member.synAck(b, 2), ts: t0 },
    { port: CLIENT_PORT, scapy: client.data(a, 2, 10), ts: t0 + 600n * SECOND }, // 4: exactly the timeout: still pinned
    { port: CLIENT_PORT, scapy: client.data(b, 2, 10), ts: t0 + 600n * SECOND + 1n }, // 5: 1 ns more: expired
    { port: CLIENT_PORT, scapy: client.syn(c), ts: t0 + 600n * SECOND + 1n },
    { port: CLIENT_PORT, scapy: client.syn(c), ts: t0 + 608n * SECOND + 2n }, // 7: 8 s and 1 ns later: a new race
  ]);
  assert.equal(sentOn(r, M[2]).filter((x) => x.length === frames[4].length && x.every((v, i) => i < 12 || v === frames[4][i])), [forMember(frames[4], 2)], 'the flow within the timeout reaches its winner');
  const untracked = M.flatMap((port, k) => r.sent[port].filter((s) => s.desc.timestamp === t0 + 600n * SECOND + 1n && s.bytes.length === frames[5].length).map((s) => ({ s, k })));
  assert.is(untracked.length, 1, 'the expired flow\'s packet goes to exactly one member');
  assert.equal(untracked[0].s.bytes, forMember(frames[5], untracked[0].k));
  const s = r.sessions.web;
  assert.equal([s.race_pinned, s.race_untracked, s.race_started, s.race_resent, s.race_expired], [1, 1, 4, 0, 2]);
  assert.is(r.global.conntrack_expired, 2);
});

test('the sweep frees idle entries without traffic to their flows', async () => {
  const flows = Array.from({ length: 8 }, (_, i): Flow => ({ sport: 42000 + i }));
  const { r } = await converse([
    ...flows.map((f) => ({ port: CLIENT_PORT, scapy: client.syn(f), ts: SECOND })),
    { port: CLIENT_PORT, scapy: client.syn({ sport: 43000 }), ts: 10n * SECOND }, // moves the table's clock past their racing time
    // Traffic that is not the race's: each batch still sweeps ConntrackLimits.SweepPerBatch entries.
    ...Array.from({ length: 4 }, (_, i) => ({ port: UPLINK, scapy: `E()/IP(src=B,dst=A)/UDP(sport=53,dport=${1000 + i})/pay(10)`, ts: 10n * SECOND })),
  ]);
  assert.is(r.sessions.web.race_expired, 8);
  assert.is(r.conntrackInUse, 1);
});

test('a reply-shaped packet from a host that is not a member passes untouched and does not end the race', async () => {
  const stranger = `Ether(src="02:00:00:00:09:09",dst="${ROUTER_MACS[0]}")/IP(src="${VIP}",dst="${CLIENT}")/TCP(sport=80,dport=${F.sport},flags="SA",seq=1,ack=1001)`;
  const { r, frames } = await converse([
    { port: CLIENT_PORT, scapy: client.syn(F) },
    { port: M[0], scapy: stranger },
    { port: M[1], scapy: member.synAck(F, 1) },
  ]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1], frames[2]], 'the stranger\'s packet is forwarded as any other; the member\'s acceptance wins');
  assert.equal([r.sessions.web.matched, r.sessions.web.race_won_m1], [2, 1], 'the stranger\'s packet is not the session\'s');
});

test('a copy larger than a member port\'s MTU is dropped and counted; the original and the other copies go', async () => {
  const small = raceSpec({ ports: raceSpec().ports.map((p, i) => (i === M[2] ? { ...p, mtu: 576 } : p)) });
  const big = `E()/IP(src=A,dst="${VIP}")/TCP(sport=40000,dport=80,flags="S",seq=1000)/pay(600)`; // TCP Fast Open style: data on the SYN
  const { r, frames } = await converse([{ port: CLIENT_PORT, scapy: big }], raceSession(), small);
  assert.equal(sentOn(r, M[0]), [forMember(frames[0], 0)]);
  assert.equal(sentOn(r, M[1]), [forMember(frames[0], 1)]);
  assert.equal(sentOn(r, M[2]), []);
  assert.equal([r.sessions.web.race_copies, r.sessions.web.race_copy_mtu], [1, 1]);
});

test.run();
