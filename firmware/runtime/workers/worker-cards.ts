// The line cards of a board, one worker thread each: the CardSet (firmware/runtime/cards.ts) the
// control plane drives when cards are coprocessors. `twinflow boot` calls WorkerCards.start().
//
// Every card runs a data plane with every port of the board (board order: the table port
// indices). The card that owns a port (board.lineCards) runs its driver and spreads what it
// receives over the cards by a symmetric flow hash (flow-hash.ts, steer.ts), so both directions
// of a flow are processed by one card; a card's transmissions on a port it does not own go to the
// owner (remote-port.ts). Frames cross in one copy, into frames the receiving card lent
// (layout.ts); the control plane's thread holds every card's memory (shared) and reads counters
// and publishes tables in it directly.
//
// Contract (the CardSet's, and):
// - publish(image) is synchronous and bounded (publishTimeoutMs, default PUBLISH_TIMEOUT_MS).
//   The epoch barrier: (1) wait until every card has observed its current version, so no batch
//   reads an inactive bank; (2) write the image into every card's inactive bank; (3) switch every
//   card (one atomic store each: the version, whose parity names the bank); (4) wait until every
//   card has observed the new version. A batch reads the version once, so no packet is classified
//   by a mix of versions; originals are never dropped by a switch (nothing is paused or flushed).
//   Timeouts throw TablePublishError: at (1) nothing was written; at (4) every card is switched
//   back to the previous tables (a further version of the old bank's parity, whose bytes were not
//   touched), so what runs afterwards is what ran before; packets a card classified with the new
//   tables meanwhile were each classified wholly by them.
// - resetSessionSlot, releaseHeld and discardHeld run on every card, in its thread between two
//   steps (a mailbox in its status block), bounded by commandTimeoutMs; a card that does not answer
//   in time is failed.
// - A card that fails (an exception in its loop or a driver, or its thread exits) is reported
//   once, as CardFailedError naming the card, to onFailure; from then on every call throws it.
//   Waits notice a failure at once when the card could record it, else at their bound.
// - Counters are sums over the cards, read from their memories; a read while cards run is a
//   snapshot (a card may be mid-batch). After close() they stay readable (the final counters).

import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { Control } from '../../../wasm/abi.ts';
import type { DriverCounters } from '../../../hal/port.ts';
import { BoardError, type Board } from '../board.ts';
import { nextTableVersion, switchVersion, TablePublishError, writeInactiveBank } from '../dataplane.ts';
import type { CardSet } from '../cards.ts';
import { sumCounters } from '../cards.ts';
import { conservationViolations, globalCounters, portCounters, sessionCounters, type CounterSet } from '../counters.ts';
import { CardView } from './card-view.ts';
import type { CardMessage, CardWorkerData, ControlMessage, DriverModule } from './card-worker.ts';
import type { CardLinks } from './layout.ts';
import { SharedRing } from './shared-ring.ts';
import { CardState, Command, DRIVER_COUNTER_NAMES, HANDOFF_COUNTER_NAMES, StatusBlock, Word } from './status.ts';

/** publish()'s bound: a busy card answers within one step (milliseconds); this allows a long GC pause. */
export const PUBLISH_TIMEOUT_MS = 1000;
/** Bound of a mailbox command on every card (as publish). */
export const COMMAND_TIMEOUT_MS = 1000;
/** Bound of start(): workers load the sources (tsx transpiles them) and lay out their memory. */
export const START_TIMEOUT_MS = 60_000;
/** Bound of close() per card before its thread is terminated. */
export const CLOSE_TIMEOUT_MS = 5000;
/** Bound of a report request (snapshot()). */
export const REPORT_TIMEOUT_MS = 5000;
/** Longest single Atomics.wait: a missed notification costs at most this. */
const WAIT_SLICE_MS = 20;
/** settle(): consecutive quiet looks, this far apart, that count as settled. */
const SETTLE_LOOKS = 3;
const SETTLE_INTERVAL_MS = 10;

const ENTRY = new URL('./entry.mjs', import.meta.url);

export class CardFailedError extends Error {
  override readonly name = 'CardFailedError';
  constructor(readonly card: string, readonly detail: string) {
    super(`line card "${card}" failed: ${detail}`);
  }
}

export interface WorkerCardsOptions {
  readonly publishTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  readonly startTimeoutMs?: number;
  /** Drivers for the board's ports (default: the board's own: workers/port-drivers.ts). */
  readonly drivers?: { readonly module: string | URL; readonly export?: string; readonly arg?: unknown };
  /** Called once, when the first card fails. */
  readonly onFailure?: (error: CardFailedError) => void;
  /** The worker entry module (default ./entry.mjs; a bundled runtime passes its own). */
  readonly workerEntry?: URL;
  /** The cards' clock origin (process.hrtime.bigint() units; default: now). */
  readonly origin?: bigint;
  /** Start with the cards paused: no driver is polled until resume() (publish the first tables meanwhile). */
  readonly paused?: boolean;
}

/** One card's counters (per-card reads; the CardSet methods are their sums). */
export interface CardCounters {
  readonly name: string;
  readonly ports: Record<string, CounterSet>;
  readonly drivers: Record<string, DriverCounters>;
  readonly handoff: Record<string, CounterSet>;
  readonly global: CounterSet;
  sessionCounters(slot: number): CounterSet;
}

/** Everything the live display shows. */
export interface CardsSnapshot {
  readonly ports: Record<string, CounterSet>;
  readonly drivers: Record<string, DriverCounters>;
  /** Session slots with any non-zero counter. */
  readonly sessions: Record<number, CounterSet>;
  /** What each port's driver reports (a sim endpoint's counters), by port name. */
  readonly endpoints: Record<string, unknown>;
  /** Global counters per card, by card name. */
  readonly global: Record<string, CounterSet>;
  /** Hand-off counters per card, by card name, then port. */
  readonly handoff: Record<string, Record<string, CounterSet>>;
  /** Conservation violations of the summed counters (meaningful when the cards are quiet). */
  readonly violations: string[];
}

interface Card {
  readonly name: string;
  readonly worker: Worker;
  readonly status: StatusBlock;
  readonly view: CardView;
  readonly links: CardLinks;
  /** Resolves when the card's thread has ended. */
  readonly exited: Promise<void>;
}

/** Resolves with the first message of `kind` from `worker`; rejects if it fails, exits or takes too long. */
function expect<K extends CardMessage['kind']>(worker: Worker, name: string, kind: K, timeoutMs: number): Promise<Extract<CardMessage, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: CardMessage): void => {
      if (m.kind === kind) {
        done();
        resolve(m as Extract<CardMessage, { kind: K }>);
      } else if (m.kind === 'failed') {
        done();
        reject(m.board ? new BoardError(m.board.file, m.board.field, m.board.detail) : new CardFailedError(name, m.message));
      }
    };
    const onError = (e: Error): void => {
      done();
      reject(new CardFailedError(name, e.stack ?? e.message));
    };
    const onExit = (code: number): void => {
      done();
      reject(new CardFailedError(name, `its thread exited (code ${code}) before "${kind}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new CardFailedError(name, `no "${kind}" within ${timeoutMs} ms`));
    }, timeoutMs);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

export class WorkerCards implements CardSet {
  readonly portNames: readonly string[];
  readonly sessionSlots: number;
  readonly cardNames: readonly string[];
  private readonly cards: Card[];
  private failed: CardFailedError | undefined;
  private closing = false;
  private seq = 0;
  private reportId = 0;
  private finalReports: Record<string, unknown> = {};
  private readonly publishTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly bankBytes: number;

  private constructor(readonly board: Board, cards: Card[], private readonly options: WorkerCardsOptions, sessionSlots: number, bankBytes: number) {
    this.cards = cards;
    this.portNames = board.ports.map((p) => p.name);
    this.cardNames = cards.map((c) => c.name);
    this.sessionSlots = sessionSlots;
    this.bankBytes = bankBytes;
    this.publishTimeoutMs = options.publishTimeoutMs ?? PUBLISH_TIMEOUT_MS;
    this.commandTimeoutMs = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    cards.forEach((c) => {
      c.worker.on('message', (m: CardMessage) => {
        if (m.kind === 'failed') this.fail(c, m.message);
        if (m.kind === 'closed') Object.assign(this.finalReports, m.reports);
      });
      c.worker.on('error', (e) => this.fail(c, e.stack ?? e.message));
      c.worker.on('exit', (code) => {
        if (!this.closing) this.fail(c, `its thread exited (code ${code})`);
      });
    });
  }

  /**
   * Starts one worker per line card of `board` (a validated board) and resolves when every card
   * runs. Rejects with BoardError when a card cannot drive one of its ports as the board says
   * (the field is named), else CardFailedError naming the first card that could not start; the
   * other cards are stopped either way.
   */
  static async start(board: Board, options: WorkerCardsOptions = {}): Promise<WorkerCards> {
    const origin = options.origin ?? process.hrtime.bigint();
    const statuses = board.lineCards.map(() => StatusBlock.create(board.ports.length));
    if (options.paused) for (const s of statuses) s.store(Word.Paused, 1);
    const drivers: DriverModule | undefined = options.drivers
      ? { module: String(options.drivers.module), export: options.drivers.export, arg: options.drivers.arg }
      : undefined;
    const workers = board.lineCards.map((_, c) => {
      const data: CardWorkerData = { kind: 'twinflow-card', board, card: c, origin, statuses: statuses.map((s) => s.buffer), drivers };
      return new Worker(options.workerEntry ?? ENTRY, { workerData: data });
    });
    const exits = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    const names = board.lineCards.map((lc) => lc.name);
    const timeout = options.startTimeoutMs ?? START_TIMEOUT_MS;
    try {
      const laidOut = await Promise.all(workers.map((w, c) => expect(w, names[c], 'laid-out', timeout)));
      const ready = Promise.all(workers.map((w, c) => expect(w, names[c], 'ready', timeout)));
      const peers: ControlMessage = { kind: 'peers', cards: laidOut.map((m) => ({ memory: m.memory, map: m.map, links: m.links })) };
      for (const w of workers) w.postMessage(peers);
      await ready;
      const cards: Card[] = workers.map((worker, c) => ({
        name: names[c], worker, status: statuses[c], view: new CardView(laidOut[c].memory, laidOut[c].map), links: laidOut[c].links, exited: exits[c],
      }));
      const slots = new Uint32Array(laidOut[0].memory.buffer)[(laidOut[0].map.control + Control.SessionSlots) >>> 2];
      const bank = new Uint32Array(laidOut[0].memory.buffer)[(laidOut[0].map.control + Control.BankBytes) >>> 2];
      return new WorkerCards(board, cards, options, slots, bank);
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
  }

  get cardCount(): number {
    return this.cards.length;
  }

  /** The first card failure, if any. */
  get failure(): CardFailedError | undefined {
    return this.failed;
  }

  get tableVersion(): number {
    return Math.min(...this.cards.map((c) => this.version(c, Control.TableVersion)));
  }

  /** Each card's TableVersion and ObservedVersion, by card index. */
  versions(): Array<{ readonly table: number; readonly observed: number }> {
    return this.cards.map((c) => ({ table: this.version(c, Control.TableVersion), observed: this.version(c, Control.ObservedVersion) }));
  }

  private version(c: Card, word: Control.TableVersion | Control.ObservedVersion): number {
    return Atomics.load(c.view.u32, (c.view.map.control + word) >>> 2);
  }

  private fail(c: Card, detail: string): void {
    if (this.failed) return;
    this.failed = new CardFailedError(c.name, detail);
    this.options.onFailure?.(this.failed);
  }

  /** Throws the failure, or that the cards are closed. */
  private usable(): void {
    if (this.failed) throw this.failed;
    if (this.closing) throw new Error('the line cards are closed');
  }

  /** Throws if card `c` has recorded a failure in its status block (read without the event loop). */
  private check(c: Card): void {
    if (c.status.load(Word.State) === CardState.Failed) {
      this.fail(c, c.status.readMessage());
      throw this.failed!;
    }
  }

  /** Waits (blocking) until card `c` has observed `version`; false at the deadline. */
  private awaitObserved(c: Card, version: number, deadline: number): boolean {
    const word = (c.view.map.control + Control.ObservedVersion) >>> 2;
    for (;;) {
      const seen = Atomics.load(c.view.i32, word);
      if (seen >>> 0 === version) return true;
      this.check(c);
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(c.view.i32, word, seen, Math.min(left, WAIT_SLICE_MS));
    }
  }

  publish(image: Uint8Array): void {
    this.usable();
    if (image.length > this.bankBytes) {
      throw new TablePublishError(`tables need ${image.length} bytes but a bank holds ${this.bankBytes}: raise the board's table budget or reduce rules`);
    }
    const deadline = performance.now() + this.publishTimeoutMs;
    for (const c of this.cards) {
      c.status.wake();
      const current = this.version(c, Control.TableVersion);
      if (!this.awaitObserved(c, current, deadline)) {
        throw new TablePublishError(`line card "${c.name}" has not finished with table version ${current} within ${this.publishTimeoutMs} ms: nothing was published`);
      }
    }
    const versions = this.cards.map((c) => writeInactiveBank(c.view, image));
    this.cards.forEach((c, k) => {
      switchVersion(c.view, versions[k]);
      c.status.wake();
    });
    for (let k = 0; k < this.cards.length; k++) {
      const c = this.cards[k];
      if (this.awaitObserved(c, versions[k], deadline)) continue;
      this.cards.forEach((card, j) => {
        switchVersion(card.view, nextTableVersion(versions[j]));
        card.status.wake();
      });
      throw new TablePublishError(`line card "${c.name}" did not take table version ${versions[k]} within ${this.publishTimeoutMs} ms: every card goes back to the previous tables (as version ${nextTableVersion(versions[k])})`);
    }
  }

  /** Lets paused cards (WorkerCardsOptions.paused) poll their drivers. */
  resume(): void {
    this.usable();
    for (const c of this.cards) {
      c.status.store(Word.Paused, 0);
      c.status.wake();
    }
  }

  /** Runs a mailbox command on every card; returns each card's result. */
  private command(op: Command, what: string, a0 = 0, a1 = 0): number[] {
    this.usable();
    const seq = ++this.seq;
    for (const c of this.cards) {
      c.status.store(Word.CmdOp, op);
      c.status.store(Word.CmdArg0, a0);
      c.status.store(Word.CmdArg1, a1);
      c.status.store(Word.CmdSeq, seq);
      c.status.wake();
    }
    const deadline = performance.now() + this.commandTimeoutMs;
    return this.cards.map((c) => {
      for (;;) {
        const done = c.status.load(Word.CmdDone);
        if (done === seq) return c.status.load(Word.CmdResult);
        this.check(c);
        const left = deadline - performance.now();
        if (left <= 0) {
          this.fail(c, `did not ${what} within ${this.commandTimeoutMs} ms`);
          throw this.failed!;
        }
        Atomics.wait(c.status.words, Word.CmdDone, done, Math.min(left, WAIT_SLICE_MS));
      }
    });
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.sessionSlots) throw new RangeError(`session slot ${slot} is not 0..${this.sessionSlots - 1}`);
  }

  resetSessionSlot(slot: number): void {
    this.checkSlot(slot);
    this.command(Command.ResetSessionSlot, `reset session slot ${slot}`, slot);
  }

  releaseHeld(slot: number, port: number): number {
    this.checkSlot(slot);
    if (!Number.isInteger(port) || port < 0 || port >= this.portNames.length) throw new RangeError(`port ${port} is not 0..${this.portNames.length - 1}`);
    return this.command(Command.ReleaseHeld, `release the replicas held for slot ${slot}`, slot, port).reduce((a, b) => a + b, 0);
  }

  discardHeld(slot: number): void {
    this.checkSlot(slot);
    this.command(Command.DiscardHeld, `discard the replicas held for slot ${slot}`, slot);
  }

  // ── counters ────────────────────────────────────────────────────────────────────────────────

  /** One card's counters, by card index or name. */
  card(which: number | string): CardCounters {
    const c = typeof which === 'number' ? this.cards[which] : this.cards.find((k) => k.name === which);
    if (!c) throw new RangeError(`no line card ${JSON.stringify(which)} (cards: ${this.cardNames.join(', ')})`);
    const ports: Record<string, CounterSet> = {};
    const drivers: Record<string, DriverCounters> = {};
    const handoff: Record<string, CounterSet> = {};
    this.portNames.forEach((name, i) => {
      ports[name] = portCounters(c.view, i);
      const d = StatusBlock.driverBase(i);
      drivers[name] = Object.fromEntries(DRIVER_COUNTER_NAMES.map((k, j) => [k, c.status.counters[d + j]])) as unknown as DriverCounters;
      const h = StatusBlock.handoffBase(i);
      handoff[name] = Object.fromEntries(HANDOFF_COUNTER_NAMES.map((k, j) => [k, c.status.counters[h + j]]));
    });
    return { name: c.name, ports, drivers, handoff, global: globalCounters(c.view), sessionCounters: (slot) => sessionCounters(c.view, slot) };
  }

  portCounters(): Record<string, CounterSet> {
    const out: Record<string, CounterSet> = {};
    this.portNames.forEach((name, i) => { out[name] = sumCounters(this.cards.map((c) => portCounters(c.view, i))); });
    return out;
  }

  driverCounters(): Record<string, DriverCounters> {
    const per = this.cards.map((_, k) => this.card(k).drivers);
    const out: Record<string, DriverCounters> = {};
    for (const name of this.portNames) out[name] = sumCounters(per.map((d) => ({ ...d[name] }))) as unknown as DriverCounters;
    return out;
  }

  sessionCounters(slot: number): CounterSet {
    this.checkSlot(slot);
    return sumCounters(this.cards.map((c) => sessionCounters(c.view, slot)));
  }

  globalCounters(): CounterSet {
    return sumCounters(this.cards.map((c) => globalCounters(c.view)));
  }

  /** Every driver's report (a sim endpoint's counters), by port name; after close(), the last ones. */
  async reports(): Promise<Record<string, unknown>> {
    if (this.closing) return { ...this.finalReports };
    this.usable();
    const id = ++this.reportId;
    const replies = await Promise.all(this.cards.map((c) => new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.worker.off('message', onMessage);
        reject(new CardFailedError(c.name, `no report within ${REPORT_TIMEOUT_MS} ms`));
      }, REPORT_TIMEOUT_MS);
      const onMessage = (m: CardMessage): void => {
        if (m.kind !== 'reports' || m.id !== id) return;
        clearTimeout(timer);
        c.worker.off('message', onMessage);
        resolve(m.reports);
      };
      c.worker.on('message', onMessage);
      c.worker.postMessage({ kind: 'report', id } satisfies ControlMessage);
    })));
    return Object.assign({}, ...replies) as Record<string, unknown>;
  }

  /** Counters of everything, for the live display. */
  async snapshot(): Promise<CardsSnapshot> {
    const endpoints = await this.reports();
    const ports = this.portCounters();
    const sessions: Record<number, CounterSet> = {};
    for (let slot = 0; slot < this.sessionSlots; slot++) {
      const s = this.sessionCounters(slot);
      if (Object.values(s).some((v) => v !== 0)) sessions[slot] = s;
    }
    const global: Record<string, CounterSet> = {};
    const handoff: Record<string, Record<string, CounterSet>> = {};
    this.cards.forEach((c, k) => {
      const one = this.card(k);
      global[c.name] = one.global;
      handoff[c.name] = one.handoff;
    });
    const named = Object.fromEntries(Object.entries(sessions).map(([slot, s]) => [`slot ${slot}`, s]));
    return { ports, drivers: this.driverCounters(), sessions, endpoints, global, handoff, violations: conservationViolations(ports, named) };
  }

  /**
   * Resolves when nothing moves any more: every card idle with empty rings (its finite sources
   * exhausted) and every hand-off ring empty, in SETTLE_LOOKS looks in a row with no card doing
   * any work between them. For tests and benchmarks with finite or stopped sources.
   */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const rings = this.cards.flatMap((c) => [
      ...c.links.rx.flatMap((l) => (l ? [l.desc] : [])),
      ...c.links.tx.flatMap((byPort) => (byPort ?? []).flatMap((l) => (l ? [l.origDesc, l.repDesc] : []))),
    ].map((address) => new SharedRing(c.view.u32, address)));
    let quiet = 0;
    let work = '';
    while (quiet < SETTLE_LOOKS) {
      this.usable();
      if (performance.now() > deadline) throw new Error(`the line cards did not settle within ${timeoutMs} ms`);
      await sleep(SETTLE_INTERVAL_MS);
      const now = this.cards.map((c) => c.status.load(Word.Work)).join();
      const idle = this.cards.every((c) => c.status.load(Word.Drained) === 1) && rings.every((r) => r.pending() === 0);
      quiet = idle && now === work ? quiet + 1 : 0;
      work = now;
    }
  }

  /** Stops every card (each finishes its step and closes its drivers), then ends the threads. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all(this.cards.map(async (c) => {
      c.status.store(Word.Stop, 1);
      Atomics.add(c.status.words, Word.Doorbell, 1);
      Atomics.notify(c.status.words, Word.Doorbell);
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        c.exited.then(() => true),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
      if (!inTime) await c.worker.terminate();
    }));
  }
}
