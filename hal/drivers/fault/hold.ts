// The fault wrapper's hold queue: descriptors of delayed frames, in JavaScript, until their time.
//
// Contract: bounded (capacity fixed at construction; push() refuses beyond it and the caller
// drops the frame). Entries are kept sorted by release time; entries with equal release times
// keep their arrival order (stable), so with a fixed delay and no jitter the queue is FIFO and
// order is preserved. Each entry owns a Desc.Size copy of its descriptor; the frame it names
// stays pinned (out of the pool) until the entry is released into a ring or discarded.

import { Desc } from '../../../wasm/abi.ts';
import type { RingView } from '../../ring.ts';

interface Held {
  readonly at: bigint;
  readonly desc: Uint8Array;
}

/** Compact the backing array once this many released entries sit before the head. */
const COMPACT_AFTER = 64;

export class HoldQueue {
  private entries: Held[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  /** Frames held now. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Holds a descriptor copy until `at` (ns); false when the queue is full (nothing was kept). */
  push(desc: Uint8Array, at: bigint): boolean {
    if (this.size >= this.capacity) return false;
    // Upper bound: after every entry due at or before `at`, so equal times stay in arrival order.
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.at <= at) lo = mid + 1;
      else hi = mid;
    }
    this.entries.splice(lo, 0, { at, desc });
    return true;
  }

  /** True when the earliest entry is due at `now`. */
  hasDue(now: bigint): boolean {
    return this.size > 0 && this.entries[this.head]!.at <= now;
  }

  /**
   * Writes due entries, earliest first, into `ring` as its free space allows (burst); returns
   * how many. What does not fit stays, ahead of everything held later.
   */
  releaseDue(now: bigint, ring: RingView, mem: Uint8Array): number {
    const room = ring.reserve(this.size);
    let n = 0;
    while (n < room && this.hasDue(now)) {
      mem.set(this.entries[this.head]!.desc, ring.prodSlot(n));
      this.head++;
      n++;
    }
    ring.submit(n);
    this.compact();
    return n;
  }

  /** Removes every entry, handing each descriptor copy to `visit` (for releasing its frame). */
  drain(visit: (desc: Uint8Array) => void): number {
    const n = this.size;
    for (let i = this.head; i < this.entries.length; i++) visit(this.entries[i]!.desc);
    this.entries = [];
    this.head = 0;
    return n;
  }

  private compact(): void {
    if (this.head >= COMPACT_AFTER || this.head === this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** A copy of the Desc.Size bytes of the descriptor at `slot`. */
export function copyDescriptor(mem: Uint8Array, slot: number): Uint8Array {
  return mem.slice(slot, slot + Desc.Size);
}
