// The control-plane side of race: what the compiler refuses (every error names the session and
// the field), what it writes into the bank (the group table, the reply category), and the publish
// check that keeps member ports within the card's port table.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileTables, SessionError, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import { simulate, simulateTables } from '../../firmware/runtime/simulate.ts';
import { TablePublishError } from '../../firmware/runtime/dataplane.ts';
import { isUserError } from '../../firmware/errors.ts';
import { Bank, Mode, RaceGroup, RaceMember, SessionConfig } from '../../wasm/abi.ts';
import { group, raceSession, raceSpec } from '../fixtures/race.ts';
import { session } from '../fixtures/oracle.ts';
import { scapyBuild } from '../fixtures/scapy.ts';

const PORTS = raceSpec().ports.length;
const compile = (s: SessionSpec, portCount = PORTS) => compileTables([s], [], { portCount });
const members = group().members;

function refuses(s: SessionSpec, message: RegExp, portCount = PORTS): void {
  try {
    compile(s, portCount);
  } catch (e) {
    assert.instance(e, SessionError);
    assert.ok(isUserError(e), 'a user error: the CLI prints it in one line');
    assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`compiled: ${message}`);
}

const mac = (...b: number[]): Uint8Array => Uint8Array.from(b);

test('a race without a group, and a group on another mode', () => {
  refuses(raceSession({}, { race: undefined }), /^session "web": race: a race session needs its group \(race\.members\)$/);
  refuses(session('tap', 0, { filter: 'tcp', race: group() }), /^session "tap": race: only a race session has a group$/);
  refuses(raceSession({ members: [] }), /race\.members: must list 1\.\.8 members/);
});

test('too many members', () => {
  const nine = Array.from({ length: 9 }, (_, i) => ({ port: 2, mac: mac(2, 0, 0, 0, 9, i), address: `192.0.2.${60 + i}` }));
  refuses(raceSession({ members: nine }), /race\.members: at most 8 members, got 9/);
  assert.not.throws(() => compile(raceSession({ members: nine.slice(0, 8) })));
});

test('bad MACs: wrong length, multicast, all zero, a twin on the same port; a bad router MAC', () => {
  const withMac = (m: Uint8Array, k = 1) => raceSession({ members: members.map((x, i) => (i === k ? { ...x, mac: m } : x)) });
  refuses(withMac(mac(2, 0, 0, 0, 5)), /race\.members\.1\.mac: must be 6 bytes of a unicast MAC address/);
  refuses(withMac(mac(1, 0, 0x5e, 0, 0, 1)), /race\.members\.1\.mac: must be 6 bytes of a unicast/);
  refuses(withMac(mac(0, 0, 0, 0, 0, 0), 2), /race\.members\.2\.mac: .*not all zero/);
  refuses(raceSession({ members: [members[0], { ...members[1], port: members[0].port, mac: members[0].mac }] }), /race\.members\.1\.mac: member 0 has the same port and MAC/);
  refuses(raceSession({ members: members.map((x, i) => (i === 2 ? { ...x, routerMac: mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff) } : x)) }), /race\.members\.2\.routerMac: must be 6 bytes of a unicast/);
  // Members on different ports may share a MAC (they are told apart by port).
  assert.not.throws(() => compile(raceSession({ members: [members[0], { ...members[1], mac: members[0].mac }] })));
});

test('member port out of range, bad or repeated address', () => {
  refuses(raceSession({ members: [members[0], { ...members[1], port: PORTS }] }), new RegExp(`race\\.members\\.1\\.port: must be a port index 0\\.\\.${PORTS - 1}, got ${PORTS}`));
  refuses(raceSession({ members: [{ ...members[0], port: -1 }] }), /race\.members\.0\.port: must be a port index/);
  refuses(raceSession({ members: [{ ...members[0], port: 1.5 }] }), /race\.members\.0\.port: must be a port index/);
  refuses(raceSession({ members: [members[0], { ...members[1], address: '192.0.2.300' }] }), /race\.members\.1\.address: "192\.0\.2\.300" is not an IPv4 address/);
  refuses(raceSession({ members: [members[0], { ...members[1], address: members[0].address }] }), /race\.members\.1\.address: member 0 has the same address/);
});

test('the budget\'s bounds, and the replica knobs that do not apply to a race', () => {
  refuses(raceSession({ flowsPerSecond: -1 }), /race\.flowsPerSecond: must be 0 \(no time cap\) or up to 1000000/);
  refuses(raceSession({ flowsPerSecond: 2.5 }), /race\.flowsPerSecond/);
  refuses(raceSession({ burst: 0 }), /race\.burst: must be 1\.\.1000000 flows/);
  refuses(raceSession({ sharePercent: 101 }), /race\.sharePercent: must be 0\.\.100/);
  refuses(raceSession({ sharePercent: Number.NaN }), /race\.sharePercent/);
  refuses(raceSession({}, { snaplen: 128 }), /snaplen: must be 0: a race copies whole openers/);
  refuses(raceSession({}, { sample: 4 }), /sample: must be 1/);
  refuses(raceSession({}, { ratePps: 10 }), /ratePps: must be 0: a race is budgeted by race\.flowsPerSecond/);
  refuses(raceSession({}, { rateBps: 10 }), /rateBps: must be 0/);
  refuses(raceSession({}, { filter: 'tcp dst port' }), /session "web": filter: /);
});

test('each race session takes a second category (its members\' answers): 32 race sessions fit, 33 do not', () => {
  const many = (n: number): SessionSpec[] => Array.from({ length: n }, (_, i) => raceSession({}, { name: `r${i}`, slot: i, filter: `tcp dst port ${1000 + i}` }));
  assert.not.throws(() => compileTables(many(32), [], { portCount: PORTS }));
  assert.throws(() => compileTables(many(33), [], { portCount: PORTS }), /sessions: at most 64 categories per line card: one per session, and one more for each race session/);
});

test('the bank holds the group as the data plane reads it, and a reply category that answers for the session', () => {
  const t = compile(raceSession({ sharePercent: 12.5, flowsPerSecond: 40, burst: 9 }));
  const dv = new DataView(t.bank.image.buffer);
  const at = (i: number): number => dv.getUint32(Bank.Sessions, true) + i * SessionConfig.Size;
  assert.is(dv.getUint32(Bank.SessionCount, true), 2);
  assert.is(dv.getBigUint64(Bank.RaceMask, true), 1n);
  assert.is(dv.getBigUint64(Bank.RaceReplyMask, true), 2n);
  assert.is(dv.getBigUint64(Bank.ReplicateMask, true), 0n, 'a race session sends no encapsulated replicas');
  assert.is(dv.getUint32(at(0) + SessionConfig.Mode, true), Mode.Race);
  assert.is(dv.getUint32(at(0) + SessionConfig.RatePps, true), 40);
  assert.is(dv.getUint32(at(0) + SessionConfig.BurstPkts, true), 9);
  assert.is(dv.getUint32(at(1) + SessionConfig.Mode, true), Mode.RaceReply);
  assert.is(dv.getUint32(at(1) + SessionConfig.RaceReplyOf, true), 0);
  assert.is(dv.getUint32(at(1) + SessionConfig.Slot, true), dv.getUint32(at(0) + SessionConfig.Slot, true), 'one slot: one set of counters');
  const g = dv.getUint32(at(0) + SessionConfig.RaceGroup, true);
  assert.is(dv.getUint32(g + RaceGroup.MemberCount, true), 3);
  assert.is(dv.getUint32(g + RaceGroup.SharePpm, true), 125_000);
  members.forEach((m, k) => {
    const e = g + RaceGroup.Members + k * RaceMember.Size;
    assert.is(dv.getUint32(e + RaceMember.Port, true), m.port);
    assert.equal(t.bank.image.slice(e + RaceMember.Mac, e + RaceMember.Mac + 6), m.mac);
    assert.equal(t.bank.image.slice(e + RaceMember.RouterMac, e + RaceMember.RouterMac + 6), m.routerMac);
  });
  // The reply rules: the filter mirrored, one box per member port.
  const replies = t.rules.filter((r) => r.category === 1);
  assert.is(replies.length, 2 * 3, 'two filter boxes (IPv4, IPv6 service address) × three member ports');
});

test('publishing refuses a bank whose member sits on a port the card lacks (compiled without the card\'s port count)', async () => {
  const t = compileTables([raceSession({ members: [members[0], { ...members[1], port: 9 }] })]);
  try {
    await simulateTables(t, [], raceSpec());
    assert.unreachable();
  } catch (e) {
    assert.instance(e, TablePublishError);
    assert.ok(isUserError(e));
    assert.match((e as Error).message, /race session #0: member 1 is on port 9, but this line card has 5 ports/);
  }
});

test('a sniff session on the same traffic still gets its replica of the untouched opener', async () => {
  const [syn] = scapyBuild([`E()/IP(src=A,dst="198.51.100.80")/TCP(sport=40000,dport=80,flags="S")`]);
  const tap = session('tap', 1, { filter: 'tcp', egressPort: 1 });
  const r = await simulate([raceSession(), tap], [{ port: 0, frame: syn }], raceSpec());
  assert.equal(r.violations, []);
  assert.is(r.sessions.tap.replicated, 1);
  const replica = r.sent[1].find((s) => s.queue === 'replicas')!;
  assert.equal(replica.bytes.subarray(replica.bytes.length - (syn.length - 14)), syn.subarray(14), 'the replica carries the SYN as the client sent it');
  assert.is(r.sessions.web.race_started, 1);
});

test.run();
