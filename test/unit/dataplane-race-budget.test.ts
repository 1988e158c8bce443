// What racing costs and what happens when it cannot: the budget (raced flows per second, and a
// share of flows), a full connection table, traffic that is not TCP, members that share a port,
// replica frames and queues running out, and a group republished under a running flow. Through
// the real data plane (simulate(), and a line card published twice); packets built by scapy.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulate, type SimResult } from '../../firmware/runtime/simulate.ts';
import { compileTables, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { sessionCounters } from '../../firmware/runtime/counters.ts';
import { scapyBuild } from '../fixtures/scapy.ts';
import {
  checkRace, client, CLIENT_PORT, forMember, group, member, MEMBER_MACS, MEMBER_PORTS, raceSession, raceSpec, ROUTER_MACS, sentOn, STEERED, type Flow,
} from '../fixtures/race.ts';

const SECOND = 1_000_000_000n;
const M = MEMBER_PORTS;
const flows = (n: number, from = 45000): Flow[] => Array.from({ length: n }, (_, i) => ({ sport: from + i }));

async function run(steps: ReadonlyArray<{ port: number; scapy: string; ts?: bigint }>, s: SessionSpec, spec = raceSpec()): Promise<{ r: SimResult; frames: Uint8Array[] }> {
  const frames = scapyBuild(steps.map((x) => x.scapy));
  const r = await simulate([s], steps.map((x, i) => ({ port: x.port, frame: frames[i], ts: x.ts })), spec, [], { inOrder: true });
  checkRace(r);
  return { r, frames };
}

/** Which members received frame `frame` (by its bytes under each member's MACs). */
function receivers(r: SimResult, frame: Uint8Array): number[] {
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
  return M.flatMap((port, k) => (r.sent[port].some((s) => same(s.bytes, forMember(frame, k))) ? [k] : []));
}

test('over the budget a new flow is not raced: it goes to one member, by its hash, and so does the rest of it; the budget refills with time', async () => {
  const fs = flows(40);
  const late = flows(4, 46000);
  const { r, frames } = await run([
    ...fs.map((f, i) => ({ port: CLIENT_PORT, scapy: client.syn(f), ts: BigInt(i + 1) })),
    ...fs.map((f, i) => ({ port: CLIENT_PORT, scapy: client.ack(f, 0), ts: BigInt(100 + i) })),
    ...late.map((f) => ({ port: CLIENT_PORT, scapy: client.syn(f), ts: SECOND })),
  ], raceSession({ flowsPerSecond: 10, burst: 3 }));
  const syn = (i: number): Uint8Array => frames[i];
  const ack = (i: number): Uint8Array => frames[40 + i];
  for (let i = 0; i < 3; i++) assert.equal(receivers(r, syn(i)), [0, 1, 2], `flow ${i}: within the burst, raced`);
  const chosen = new Map<number, number>();
  for (let i = 3; i < 40; i++) {
    const got = receivers(r, syn(i));
    assert.is(got.length, 1, `flow ${i}: one member`);
    assert.equal(receivers(r, ack(i)), got, `flow ${i}: its next packet goes to the same member`);
    chosen.set(i, got[0]);
  }
  assert.equal(new Set(chosen.values()).size, 3, 'the hash spreads flows over every member');
  // One second later the bucket is full again (10 a second, 3 deep): three raced, the fourth not.
  assert.equal(late.map((_, i) => receivers(r, frames[80 + i]).length), [3, 3, 3, 1]);
  const c = r.sessions.web;
  assert.equal([c.race_started, c.race_budget, c.race_untracked, c.race_resent], [6, 38, 37, 3]);
  // Not raced means an original and no copy.
  assert.is(c.race_copies, 2 * (c.race_started + c.race_resent));
  assert.ok(M.every((port) => r.sent[port].filter((s) => s.queue === 'originals').every((s) => (s.desc.flags & STEERED) !== 0)));
});

test('the hash is the same in every publish of the same group (a changed budget included)', async () => {
  const fs = flows(30, 47000);
  const steps = fs.map((f) => ({ port: CLIENT_PORT, scapy: client.ack(f, 0) }));
  const a = await run(steps, raceSession());
  const b = await run(steps, raceSession({ flowsPerSecond: 5, sharePercent: 10 }, { generation: 7 }));
  const pick = (x: { r: SimResult; frames: Uint8Array[] }): number[][] => x.frames.map((f) => receivers(x.r, f));
  assert.equal(pick(a), pick(b));
  assert.ok(pick(a).every((g) => g.length === 1));
  assert.is(a.r.sessions.web.race_untracked, 30);
});

test('a share: at most that share of new flows is raced (25 %: the first, then one in four)', async () => {
  const fs = flows(40, 48000);
  const { r, frames } = await run(fs.map((f) => ({ port: CLIENT_PORT, scapy: client.syn(f) })), raceSession({ flowsPerSecond: 0, sharePercent: 25, burst: 1 }));
  const raced = frames.flatMap((f, i) => (receivers(r, f).length === 3 ? [i] : []));
  assert.equal(raced, Array.from({ length: 10 }, (_, i) => 4 * i));
  assert.equal([r.sessions.web.race_started, r.sessions.web.race_budget], [10, 30]);
});

test('a full connection table: a new flow finds no room, is not raced but served by its hash member; room again once a flow ends', async () => {
  const fs = flows(10, 49000);
  const { r, frames } = await run([
    ...fs.slice(0, 9).map((f) => ({ port: CLIENT_PORT, scapy: client.syn(f) })), // 8 fit
    { port: CLIENT_PORT, scapy: client.rst(fs[0]) }, // flow 0 gives up: its entry is free
    { port: CLIENT_PORT, scapy: client.syn(fs[9]) },
  ], raceSession(), raceSpec({ conntrackEntries: 8 }));
  assert.equal(frames.slice(0, 9).map((f) => receivers(r, f).length), [3, 3, 3, 3, 3, 3, 3, 3, 1]);
  assert.equal(receivers(r, frames[10]), [0, 1, 2]);
  const c = r.sessions.web;
  assert.equal([c.race_started, c.race_table_full, c.race_closed], [9, 1, 1]);
  assert.is(r.conntrackInUse, 8);
});

test('no connection table (0 entries): nothing is raced, every flow is served by its hash member', async () => {
  const fs = flows(6, 49500);
  const { r, frames } = await run(fs.map((f) => ({ port: CLIENT_PORT, scapy: client.syn(f) })), raceSession(), raceSpec({ conntrackEntries: 0 }));
  assert.ok(frames.every((f) => receivers(r, f).length === 1));
  assert.is(r.sessions.web.race_table_full, 6);
});

test('not TCP: a UDP flow to the service goes to one member by its addresses (its fragments with it), never raced', async () => {
  const fs = flows(5, 50000);
  const { r, frames } = await run(fs.map((f) => ({ port: CLIENT_PORT, scapy: client.udp(f) })),
    raceSession({}, { filter: `dst host ${'198.51.100.80'}` }));
  const got = frames.map((f) => receivers(r, f));
  assert.ok(got.every((g) => g.length === 1 && g[0] === got[0][0]), 'one client, one service: one member whatever the ports');
  assert.equal([r.sessions.web.race_not_tcp, r.sessions.web.race_started, r.global.conntrack_inserted], [5, 0, 0]);
});

test('members behind one port are told apart by their MACs; an overflowing replica queue is counted, the originals are not touched', async () => {
  const port = M[0];
  const shared = group({ members: group().members.map((m) => ({ ...m, port })) });
  const fs = flows(64, 51000);
  const spec = raceSpec({ txRing: 64, conntrackEntries: 1024 });
  const frames = scapyBuild([
    ...fs.map((f) => client.syn(f)),
    member.synAck(fs[0], 2).replace(ROUTER_MACS[2], ROUTER_MACS[0]),
    member.synAck(fs[0], 1).replace(ROUTER_MACS[1], ROUTER_MACS[0]),
  ]);
  // The 64 openers in one batch: two copies each on the one port, whose replica queue holds 64.
  const r = await simulate([raceSession(shared)], frames.map((frame, i) => ({ port: i < 64 ? CLIENT_PORT : port, frame })), spec);
  checkRace(r);
  const c = r.sessions.web;
  assert.is(c.race_started, 64);
  assert.is(c.race_copies + c.race_copy_ring_full, 128);
  assert.is(c.race_copies, 64);
  assert.is(sentOn(r, port, 'originals').length, 64 + 0, 'every original went to member 0');
  assert.equal([c.race_won_m2, c.race_late, c.race_resets], [1, 1, 1], 'member 2 (by MAC) won; member 1 (same port) is late and reset');
  const reset = sentOn(r, port, 'replicas').at(-1)!;
  assert.equal(Array.from(reset.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':'), MEMBER_MACS[1], 'the reset goes to member 1\'s MAC');
});

test('no replica frames: copies and resets are counted as not sent; the originals and the race go on', async () => {
  const f: Flow = { sport: 52000 };
  const { r, frames } = await run([
    { port: CLIENT_PORT, scapy: client.syn(f) },
    { port: M[0], scapy: member.synAck(f, 0) },
    { port: M[1], scapy: member.synAck(f, 1) },
  ], raceSession(), raceSpec({ replicaFrames: 0 }));
  assert.equal(sentOn(r, M[0]), [forMember(frames[0], 0)]);
  assert.equal(sentOn(r, CLIENT_PORT), [frames[1]]);
  const c = r.sessions.web;
  assert.equal([c.race_copies, c.race_copy_no_frame, c.race_late, c.race_resets, c.race_reset_no_frame], [0, 2, 1, 0, 1]);
});

test('a pinned flow survives a republish of its group while its winner stays (at another index); when the winner leaves, the flow goes by hash', async () => {
  const spec = raceSpec();
  const drivers = spec.ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
  try {
    const all = group().members;
    const publish = (members: typeof all, generation: number): void => {
      card.dp.publish(compileTables([raceSession({ members }, { generation })], [], { portCount: spec.ports.length }).bank.image);
    };
    const f: Flow = { sport: 53000 };
    const frames = scapyBuild([client.syn(f), member.synAck(f, 2), client.data(f, 2, 10), client.data(f, 2, 20), client.data(f, 2, 30)]);
    let ts = 0n;
    const send = (port: number, frame: Uint8Array): void => {
      drivers[port].inject(frame, ts += 1000n);
      while (!card.drained()) card.step(0n);
    };
    publish(all, 1);
    send(CLIENT_PORT, frames[0]);
    send(M[2], frames[1]);
    send(CLIENT_PORT, frames[2]);
    publish([all[0], all[2]], 2); // member 1 leaves: the winner is now member 1 of two
    send(CLIENT_PORT, frames[3]);
    publish([all[0], all[1]], 3); // the winner leaves
    send(CLIENT_PORT, frames[4]);
    const at = (port: number): Uint8Array[] => drivers[port].sent.map((s) => s.bytes);
    assert.equal(at(M[2]), [forMember(frames[0], 2), forMember(frames[2], 2), forMember(frames[3], 2)]);
    const last = [M[0], M[1]].flatMap((port, k) => (at(port).some((b) => b.length === frames[4].length && b[b.length - 1] === frames[4][frames[4].length - 1] && b.slice(12).every((v, i) => v === frames[4][12 + i])) ? [k] : []));
    assert.is(last.length, 1, 'the flow whose winner left goes to one member of the group');
    const c = sessionCounters(card.dp, 0);
    assert.equal([c.race_pinned, c.race_untracked, c.race_closed], [2, 1, 1]);
    assert.is(card.dp.conntrackInUse(), 0);
  } finally {
    await card.close();
  }
});

test.run();
