// The line cards of a running router as the control plane sees them: one surface whatever runs
// them (here, in this thread; firmware/runtime/workers/ runs one worker thread per card). The
// control plane publishes tables to all cards, reads counters summed over them, and manages the
// per-session state every card keeps (its slot state, the replicas it holds for a device that
// has not registered).
//
// Contract
// - Port indices in tables are the index of the port in `portNames` (the data plane's port table).
// - publish() returns once every card runs the new tables (the epoch barrier: no packet is ever
//   classified by a mix of two versions, and the old bank is free to be written again), or throws
//   TablePublishError and changes nothing.
// - Counters are sums over the cards; reads are snapshots (a card may be mid-batch).

import type { DataPlane } from './dataplane.ts';
import type { LineCard } from './linecard.ts';
import type { DriverCounters } from '../../hal/port.ts';
import { globalCounters, portCounters, sessionCounters, type CounterSet } from './counters.ts';

export interface CardSet {
  /** Ports in table order. */
  readonly portNames: readonly string[];
  /** Session slots every card has (the tables' slot numbers). */
  readonly sessionSlots: number;
  readonly cardCount: number;
  /** The table version every card runs (the lowest, during a switch). */
  readonly tableVersion: number;
  publish(image: Uint8Array): void;
  portCounters(): Record<string, CounterSet>;
  driverCounters(): Record<string, DriverCounters>;
  sessionCounters(slot: number): CounterSet;
  globalCounters(): CounterSet;
  /** Zeroes a slot's counters and state on every card (a slot about to be reused). */
  resetSessionSlot(slot: number): void;
  /** Moves held replicas of `slot` to port `port`'s replica queue on every card; returns how many are still held. */
  releaseHeld(slot: number, port: number): number;
  /** Gives back every replica held for `slot`. */
  discardHeld(slot: number): void;
}

/** Sums counter sets name by name. */
export function sumCounters(sets: readonly CounterSet[]): CounterSet {
  const out: CounterSet = {};
  for (const s of sets) for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Line cards run by the caller's own poll loop, in this thread. */
export class LocalCards implements CardSet {
  readonly portNames: readonly string[];
  readonly sessionSlots: number;

  constructor(readonly cards: readonly LineCard[]) {
    if (cards.length === 0) throw new RangeError('at least one line card');
    this.portNames = cards[0].ports.map((p) => p.name);
    this.sessionSlots = cards[0].dp.spec.sessionSlots;
    for (const c of cards) {
      if (c.ports.map((p) => p.name).join() !== this.portNames.join() || c.dp.spec.sessionSlots !== this.sessionSlots) {
        throw new RangeError('every line card must have the same ports and session slots');
      }
    }
  }

  get cardCount(): number {
    return this.cards.length;
  }

  private get planes(): DataPlane[] {
    return this.cards.map((c) => c.dp);
  }

  get tableVersion(): number {
    return Math.min(...this.planes.map((dp) => dp.tableVersion));
  }

  /** In one thread no batch runs during publish, so every card switches before the next one. */
  publish(image: Uint8Array): void {
    for (const dp of this.planes) dp.checkFits(image);
    for (const dp of this.planes) dp.publish(image);
  }

  portCounters(): Record<string, CounterSet> {
    const out: Record<string, CounterSet> = {};
    this.portNames.forEach((name, i) => { out[name] = sumCounters(this.planes.map((dp) => portCounters(dp, i))); });
    return out;
  }

  driverCounters(): Record<string, DriverCounters> {
    const out: Record<string, DriverCounters> = {};
    this.portNames.forEach((name, i) => {
      out[name] = sumCounters(this.cards.map((c) => ({ ...c.ports[i].counters }))) as unknown as DriverCounters;
    });
    return out;
  }

  sessionCounters(slot: number): CounterSet {
    return sumCounters(this.planes.map((dp) => sessionCounters(dp, slot)));
  }

  globalCounters(): CounterSet {
    return sumCounters(this.planes.map((dp) => globalCounters(dp)));
  }

  resetSessionSlot(slot: number): void {
    for (const dp of this.planes) dp.resetSessionSlot(slot);
  }

  releaseHeld(slot: number, port: number): number {
    let left = 0;
    for (const dp of this.planes) {
      dp.releaseHeld(slot, port);
      left += dp.hold[slot].used();
    }
    return left;
  }

  discardHeld(slot: number): void {
    for (const dp of this.planes) dp.discardHeld(slot);
  }
}
