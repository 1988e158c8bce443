// A first-in first-out queue for the simulated hosts: their ready lists, retransmission timers and
// pending replies. An array with a moving head, compacted when the dead prefix dominates, so
// push and shift are O(1) amortised.
//
// Contract: bounded when given a capacity (push refuses beyond it and says so); unbounded queues
// are bounded by their users (clients.ts: by maxActiveFlows).

/** Dead entries at the head tolerated before compaction, and at least half of the array. */
const COMPACT_AFTER = 1024;

/** FIFO queue, optionally bounded. */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  /** `capacity`: most entries held at once (Infinity: unbounded). */
  constructor(readonly capacity = Infinity) {}

  /** Entries held. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends; false (nothing stored) when the queue is full. */
  push(item: T): boolean {
    if (this.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  /** The oldest entry without removing it. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
