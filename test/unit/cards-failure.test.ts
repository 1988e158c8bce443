// Line cards that fail (firmware/runtime/workers/worker-cards.ts): a card whose driver throws, a
// card whose thread exits, a card that cannot start and a card stuck in its driver are reported
// with the card's name, within a bound, never as a hang; a publish that a stuck card does not
// take is undone on every card (they run the previous tables afterwards).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { CardFailedError, WorkerCards } from '../../firmware/runtime/workers/worker-cards.ts';
import { TablePublishError } from '../../firmware/runtime/dataplane.ts';
import { BoardError, validateBoard } from '../../firmware/runtime/board.ts';
import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { session } from '../fixtures/oracle.ts';
import { cardsBoard, INJECTED_FAULT, trafficDrivers, type TrafficArg } from '../fixtures/cards-drivers.ts';

const BOARD = cardsBoard({ lc0: ['a', 'm'], lc1: ['b'] });
const TRAFFIC: TrafficArg = { frames: 2000, flows: 50, perMs: 20 };

/** Starts the cards with a fault; resolves the first failure reported to onFailure. */
async function withFault(fault: TrafficArg['fault'], options: { publishTimeoutMs?: number } = {}) {
  let reported: (e: CardFailedError) => void = () => {};
  const failure = new Promise<CardFailedError>((resolve) => { reported = resolve; });
  const cards = await WorkerCards.start(BOARD, { drivers: trafficDrivers({ ...TRAFFIC, fault }), onFailure: (e) => reported(e), ...options });
  return { cards, failure };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

test('a driver that throws fails its card: reported once with the card\'s name, then every call throws it', async () => {
  const { cards, failure } = await withFault({ port: 'b', kind: 'throw', afterPolls: 50 });
  try {
    const e = await within(failure, 10_000, 'failure report');
    assert.instance(e, CardFailedError);
    assert.is(e.card, 'lc1');
    assert.match(e.message, /^line card "lc1" failed: /);
    assert.match(e.message, INJECTED_FAULT);
    assert.is(cards.failure, e);
    assert.throws(() => cards.publish(compileTables([]).bank.image), (x: unknown) => x === e);
    assert.throws(() => cards.resetSessionSlot(0), (x: unknown) => x === e);
    assert.throws(() => cards.releaseHeld(0, 2), (x: unknown) => x === e);
  } finally {
    await within(cards.close(), 15_000, 'close');
  }
});

test('a card whose thread exits is reported with its name and the exit code', async () => {
  const { cards, failure } = await withFault({ port: 'a', kind: 'exit', afterPolls: 50 });
  try {
    const e = await within(failure, 10_000, 'failure report');
    assert.is(e.card, 'lc0');
    assert.match(e.message, /exited \(code 3\)/);
    assert.throws(() => cards.discardHeld(0), (x: unknown) => x instanceof CardFailedError);
  } finally {
    await within(cards.close(), 15_000, 'close');
  }
});

test('a card that cannot make its drivers fails start() with its name; the other cards are stopped', async () => {
  const started = performance.now();
  try {
    await WorkerCards.start(BOARD, { drivers: trafficDrivers({ ...TRAFFIC, refuse: 'b' }) });
    assert.unreachable('start() resolved');
  } catch (e) {
    assert.instance(e, CardFailedError);
    assert.is((e as CardFailedError).card, 'lc1');
    assert.match((e as Error).message, /port b has no driver/);
  }
  assert.ok(performance.now() - started < 60_000);
});

test('a board port a card cannot drive fails start() with BoardError naming the field', async () => {
  // The test board's ports say "pcap" (the tests give the workers their own drivers); without them
  // the board's own drivers are used, and a line card cannot run a pcap port.
  const { file: _file, ...data } = BOARD;
  const board = validateBoard(data, 'pcap-board');
  try {
    await WorkerCards.start(board);
    assert.unreachable('start() resolved');
  } catch (e) {
    assert.instance(e, BoardError);
    assert.match((e as Error).message, /^pcap-board: ports\.\d\.driver: "pcap" ports cannot be booted \(a capture file is run with twinflow replay\)$/);
  }
});

test('a card stuck in its driver: publish() throws TablePublishError within its bound, and every card goes back to the previous tables', async () => {
  const X = session('x', 0, { filter: 'udp', egressPort: 2 });
  const Y = session('y', 1, { filter: 'udp', egressPort: 2 });
  const traffic: TrafficArg = { frames: 6000, flows: 50, perMs: 6, fault: { port: 'b', kind: 'stall', afterPolls: 200, stallMs: 1500 } };
  let failed: CardFailedError | undefined;
  const cards = await WorkerCards.start(BOARD, { drivers: trafficDrivers(traffic), publishTimeoutMs: 300, paused: true, onFailure: (e) => { failed = e; } });
  try {
    cards.publish(compileTables([X]).bank.image);
    cards.resume();
    // Poll 200 of b's driver comes within a few hundred ms (a card polls at least every ms); the
    // traffic lasts a second.
    await sleep(600);
    const t0 = performance.now();
    assert.throws(() => cards.publish(compileTables([Y]).bank.image), (e: unknown) => e instanceof TablePublishError && /line card "lc1" did not take/.test((e as Error).message));
    const waited = performance.now() - t0;
    assert.ok(waited < 1200, `publish() waited ${waited.toFixed(0)} ms (bound 300 ms)`);
    // lc0 may have classified packets with Y until the undo (each wholly by Y); none after it.
    const byY = cards.sessionCounters(Y.slot).matched;
    await cards.settle(30_000);
    assert.is(cards.sessionCounters(Y.slot).matched, byY, 'no packet was classified by the undone tables after publish() threw');
    assert.is(cards.sessionCounters(X.slot).matched + byY, 2 * traffic.frames, 'every packet was handled by exactly one version');
    assert.ok(cards.sessionCounters(X.slot).matched > byY, 'the previous tables ran on');
    for (const v of cards.versions()) assert.is(v.observed, v.table, 'every card runs the current version again');
    cards.publish(compileTables([Y]).bank.image);
    assert.is(failed, undefined, 'a stall is not a failure');
  } finally {
    await within(cards.close(), 15_000, 'close');
  }
});

test.run();
