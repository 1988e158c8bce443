// A line card in its own worker thread (started by worker-cards.ts through entry.mjs): its own
// wasm instance on its own shared memory, every port of the board in its data plane, the real
// drivers of the ports it owns (wrapped by steer.ts on a multi-card board) and a hand-off driver
// (remote-port.ts) for each port it does not own; one poll loop.
//
// Start-up, with the control plane (worker-cards.ts):
//   1. lay out the data plane and the hand-off rings it keeps (layout.ts), lend their frames, and
//      post {laid-out: memory, map, links};
//   2. receive {peers}: every card's memory, map and links; make the drivers, the line card;
//      post {ready} and store State = Running;
//   3. loop until Stop: serve the mailbox, step, acknowledge the table version, mirror counters,
//      wake peers it gave work, sleep a bounded while when idle, yield to the event loop now and
//      then (report requests arrive as messages);
//   4. close the drivers, post {closed} with the drivers' last reports, store State = Stopped.
// Any exception (a driver's included) fails the card: the message goes into the status block and
// State = Failed before anything else, so a control plane blocked in Atomics.wait sees it without
// its event loop; then {failed} is posted and the thread ends. Nothing is retried.
//
// Timing: the card's clock is process.hrtime.bigint() − origin, the control plane's origin, so all
// cards share one timeline (hrtime is process-wide).

import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { Control } from '../../../wasm/abi.ts';
import type { PortDriver } from '../../../hal/driver.ts';
import { BoardError, workerCardSpec, type Board } from '../board.ts';
import { DataPlane, type MemoryMap } from '../dataplane.ts';
import { LineCard } from '../linecard.ts';
import { CardView } from './card-view.ts';
import { HandoffContext } from './handoff.ts';
import { layOutLinks, portOwners, type CardLinks } from './layout.ts';
import { boardPortDriver, driverReport, type PortDriverFactory } from './port-drivers.ts';
import { RemotePort } from './remote-port.ts';
import { SharedRing } from './shared-ring.ts';
import { CardState, Command, DRIVER_COUNTER_NAMES, StatusBlock, Word } from './status.ts';
import { SteeringPort } from './steer.ts';

/** How long an idle card sleeps before polling its media again (a live medium has no doorbell). */
export const IDLE_WAIT_MS = 1;
/** Longest a busy card runs without yielding to its event loop (report requests, driver I/O). */
export const YIELD_INTERVAL_NS = 2_000_000n;

/** A driver factory by module: the module's `export` (default "createPortDriver") is a PortDriverFactory. */
export interface DriverModule {
  readonly module: string;
  readonly export?: string;
  readonly arg?: unknown;
}

export interface CardWorkerData {
  readonly kind: 'twinflow-card';
  readonly board: Board;
  readonly card: number;
  readonly origin: bigint;
  /** Every card's status block, by card index. */
  readonly statuses: readonly SharedArrayBuffer[];
  readonly drivers?: DriverModule;
}

/** What a card tells the control plane. */
export type CardMessage =
  | { readonly kind: 'laid-out'; readonly memory: WebAssembly.Memory; readonly map: MemoryMap; readonly links: CardLinks }
  | { readonly kind: 'ready' }
  | { readonly kind: 'reports'; readonly id: number; readonly reports: Record<string, unknown> }
  | { readonly kind: 'closed'; readonly reports: Record<string, unknown> }
  | { readonly kind: 'failed'; readonly message: string; readonly board?: BoardFault };

/** A BoardError the card hit (a port the board cannot drive here), rebuilt by the control plane. */
export interface BoardFault {
  readonly file: string;
  readonly field: string;
  readonly detail: string;
}

/** What the control plane tells a card. */
export type ControlMessage =
  | { readonly kind: 'peers'; readonly cards: ReadonlyArray<{ readonly memory: WebAssembly.Memory; readonly map: MemoryMap; readonly links: CardLinks }> }
  | { readonly kind: 'report'; readonly id: number };

interface Running {
  readonly d: CardWorkerData;
  readonly dp: DataPlane;
  readonly card: LineCard;
  readonly status: StatusBlock;
  readonly ctx: HandoffContext;
  /** The real drivers of the ports this card owns, by port name. */
  readonly owned: Map<string, PortDriver>;
  /** Every ring something can arrive on from another card. */
  readonly inbound: SharedRing[];
}

function post(message: CardMessage): void {
  parentPort!.postMessage(message);
}

function reports(r: Pick<Running, 'owned'>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, driver] of r.owned) out[name] = driverReport(driver);
  return out;
}

async function loadFactory(d: CardWorkerData): Promise<PortDriverFactory> {
  if (!d.drivers) return boardPortDriver;
  const mod = (await import(d.drivers.module)) as Record<string, unknown>;
  const factory = mod[d.drivers.export ?? 'createPortDriver'];
  if (typeof factory !== 'function') throw new TypeError(`${d.drivers.module} exports no driver factory "${d.drivers.export ?? 'createPortDriver'}"`);
  return factory as PortDriverFactory;
}

async function setUp(d: CardWorkerData, status: StatusBlock, statuses: StatusBlock[]): Promise<Running> {
  const board = d.board;
  const dp = DataPlane.create(workerCardSpec(board, d.card));
  const links = layOutLinks(dp, board, d.card);
  const peers = new Promise<Extract<ControlMessage, { kind: 'peers' }>>((resolve) => {
    const onMessage = (m: ControlMessage): void => {
      if (m.kind !== 'peers') return;
      parentPort!.off('message', onMessage);
      resolve(m);
    };
    parentPort!.on('message', onMessage);
  });
  post({ kind: 'laid-out', memory: dp.wasm.memory, map: dp.map, links });
  const all = (await peers).cards;
  const views = all.map((c, k) => (k === d.card ? new CardView(dp.wasm.memory, dp.map) : new CardView(c.memory, c.map)));
  const ctx = new HandoffContext(d.card, views, statuses, all.map((c) => c.links));
  const owners = portOwners(board);
  const factory = await loadFactory(d);
  const owned = new Map<string, PortDriver>();
  const drivers: PortDriver[] = [];
  const inbound: SharedRing[] = [];
  for (let p = 0; p < board.ports.length; p++) {
    const port = board.ports[p];
    if (owners[p] === d.card) {
      const driver = await factory(board, port, d.drivers?.arg);
      owned.set(port.name, driver);
      drivers.push(board.lineCards.length === 1 ? driver : new SteeringPort(driver, p, ctx, dp.replicaFree));
      for (let s = 0; s < all.length; s++) {
        if (s === d.card) continue;
        const link = ctx.txLink(p, d.card, s);
        inbound.push(link.origDesc, link.repDesc);
      }
    } else {
      drivers.push(new RemotePort(p, owners[p], ctx, dp.rxFree));
      inbound.push(ctx.rxLink(p, d.card).desc);
    }
  }
  const card = new LineCard(dp, board.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
  return { d, dp, card, status, ctx, owned, inbound };
}

/** Runs a mailbox command if one is waiting (between steps: the hot path is not running). */
function serveCommand(r: Running, served: number): number {
  const seq = r.status.load(Word.CmdSeq);
  if (seq === served) return served;
  const a0 = r.status.load(Word.CmdArg0);
  const a1 = r.status.load(Word.CmdArg1);
  let result = 0;
  switch (r.status.load(Word.CmdOp) as Command) {
    case Command.ResetSessionSlot:
      r.dp.resetSessionSlot(a0);
      break;
    case Command.ReleaseHeld:
      r.dp.releaseHeld(a0, a1);
      result = r.dp.hold[a0].used();
      break;
    case Command.DiscardHeld:
      r.dp.discardHeld(a0);
      break;
  }
  r.status.store(Word.CmdResult, result);
  r.status.store(Word.CmdDone, seq);
  Atomics.notify(r.status.words, Word.CmdDone);
  return seq;
}

function mirrorDriverCounters(r: Running): void {
  const c = r.status.counters;
  r.card.ports.forEach((p, i) => {
    const base = StatusBlock.driverBase(i);
    DRIVER_COUNTER_NAMES.forEach((name, k) => { c[base + k] = p.counters[name]; });
  });
}

function inboundPending(r: Running): boolean {
  for (const ring of r.inbound) if (ring.used() !== 0) return true;
  return false;
}

async function loop(r: Running): Promise<void> {
  const { dp, card, status, ctx } = r;
  const origin = r.d.origin;
  const observedWord = (dp.map.control + Control.ObservedVersion) >>> 2;
  const i32 = new Int32Array(dp.wasm.memory.buffer);
  let observed = dp.observedVersion;
  let served = status.load(Word.CmdDone);
  let lastYield = process.hrtime.bigint();
  let drained = -1;
  while (status.load(Word.Stop) === 0) {
    served = serveCommand(r, served);
    const now = process.hrtime.bigint() - origin;
    const processed = status.load(Word.Paused) === 0 ? card.step(now) : 0;
    dp.acknowledgeVersion(now);
    const version = dp.observedVersion;
    if (version !== observed) {
      observed = version;
      Atomics.notify(i32, observedWord);
    }
    mirrorDriverCounters(r);
    const moved = ctx.takeMoved();
    ctx.wakePeers();
    if (processed + moved > 0) {
      Atomics.add(status.words, Word.Work, 1);
      if (drained !== 0) status.store(Word.Drained, drained = 0);
      const t = process.hrtime.bigint();
      if (t - lastYield >= YIELD_INTERVAL_NS) {
        await yieldToEvents();
        lastYield = process.hrtime.bigint();
      }
      continue;
    }
    const empty = card.drained() && !inboundPending(r) ? 1 : 0;
    if (empty !== drained) status.store(Word.Drained, drained = empty);
    // Sleep: announce it, then re-check everything a waker could have made visible (status.ts).
    status.store(Word.Sleeping, 1);
    const bell = status.load(Word.Doorbell);
    let slept = false;
    if (!inboundPending(r) && status.load(Word.CmdSeq) === served && status.load(Word.Stop) === 0) {
      slept = Atomics.wait(status.words, Word.Doorbell, bell, IDLE_WAIT_MS) === 'timed-out';
    }
    status.store(Word.Sleeping, 0);
    // Woken for work: straight back to it; idle a whole wait, or long without yielding: let the
    // event loop run (a peer's work does not wait for it, a report request does).
    if (slept || process.hrtime.bigint() - lastYield >= YIELD_INTERVAL_NS) {
      await yieldToEvents();
      lastYield = process.hrtime.bigint();
    }
  }
}

/** Wakes whatever the control plane may be blocked on for this card. */
function wakeWaiters(status: StatusBlock, dp: DataPlane | undefined): void {
  Atomics.notify(status.words, Word.CmdDone);
  if (dp) Atomics.notify(new Int32Array(dp.wasm.memory.buffer), (dp.map.control + Control.ObservedVersion) >>> 2);
}

/** The worker's main: runs the card until Stop, or fails it. */
export async function runCard(d: CardWorkerData = workerData as CardWorkerData): Promise<void> {
  const statuses = d.statuses.map((b) => new StatusBlock(b, d.board.ports.length));
  const status = statuses[d.card];
  let running: Running | undefined;
  try {
    running = await setUp(d, status, statuses);
    const r = running;
    parentPort!.on('message', (m: ControlMessage) => {
      if (m.kind === 'report') post({ kind: 'reports', id: m.id, reports: reports(r) });
    });
    status.store(Word.State, CardState.Running);
    post({ kind: 'ready' });
    await loop(r);
    await r.card.close();
    post({ kind: 'closed', reports: reports(r) });
    status.store(Word.State, CardState.Stopped);
  } catch (e) {
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    status.writeMessage(message);
    status.store(Word.State, CardState.Failed);
    wakeWaiters(status, running?.dp);
    const board = e instanceof BoardError
      ? { file: e.file, field: e.field, detail: e.message.slice(`${e.file}: ${e.field || '(top level)'}: `.length) }
      : undefined;
    post({ kind: 'failed', message, board });
    try {
      await running?.card.close();
    } catch {
      // The card has already failed; the first error is the one reported.
    }
  } finally {
    parentPort!.close();
  }
}
