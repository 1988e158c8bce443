// A ring between two threads: the ring ABI of wasm/abi.ts `Ring` (free-running u32 indices,
// `index & mask` on access, verbs in pairs), in a line card's shared memory, with its producer in
// one thread and its consumer in another. hal/ring.ts RingView is the single-thread twin; the
// layout is the same, so RingView.format() lays these out too.
//
// Memory ordering (the only reason this class exists):
//   producer   writes slots (plain stores), then submit() stores Prod with Atomics.store: a
//              release, so a consumer that loads the new Prod sees the slots' bytes (and the
//              bytes of any frame the slots point at, copied before).
//   consumer   used() loads Prod with Atomics.load (acquire), reads the slots, then release()
//              stores Cons with Atomics.store: the producer that loads it may reuse those slots.
//   producer   free() loads Cons with Atomics.load (acquire).
// Each side writes only its own index, so it reads its own index with a plain load.
// Burst verbs only (what is there, possibly 0); nothing blocks.

import { Ring } from '../../../wasm/abi.ts';

export class SharedRing {
  readonly capacity: number;
  private readonly prodWord: number;
  private readonly consWord: number;
  private readonly mask: number;
  private readonly slots: number;
  private readonly slotBytes: number;

  /** `u32` is a view of the memory the ring lives in (any thread's view of that shared memory). */
  constructor(readonly u32: Uint32Array, readonly address: number) {
    this.prodWord = (address + Ring.Prod) >>> 2;
    this.consWord = (address + Ring.Cons) >>> 2;
    this.mask = u32[(address + Ring.Mask) >>> 2];
    this.capacity = this.mask + 1;
    this.slotBytes = u32[(address + Ring.SlotBytes) >>> 2];
    this.slots = address + Ring.Header;
  }

  // ── producer ────────────────────────────────────────────────────────────────────────────────

  /** Slots the producer may fill now. */
  free(): number {
    return this.capacity - ((this.u32[this.prodWord] - Atomics.load(this.u32, this.consWord)) >>> 0);
  }

  /** Byte address of the k-th slot after the last submitted one. */
  prodSlot(k: number): number {
    return this.slots + (((this.u32[this.prodWord] + k) & this.mask) * this.slotBytes);
  }

  /** Publishes n filled slots (release). */
  submit(n: number): void {
    if (n > 0) Atomics.store(this.u32, this.prodWord, (this.u32[this.prodWord] + n) >>> 0);
  }

  // ── consumer ────────────────────────────────────────────────────────────────────────────────

  /** Entries the consumer may read now (acquire). */
  used(): number {
    return (Atomics.load(this.u32, this.prodWord) - this.u32[this.consWord]) >>> 0;
  }

  /** Byte address of the k-th unread entry. */
  consSlot(k: number): number {
    return this.slots + (((this.u32[this.consWord] + k) & this.mask) * this.slotBytes);
  }

  /** Gives n read slots back to the producer (release). */
  release(n: number): void {
    if (n > 0) Atomics.store(this.u32, this.consWord, (this.u32[this.consWord] + n) >>> 0);
  }

  // ── either side, or a third thread watching ─────────────────────────────────────────────────

  /** Entries in flight, from both indices loaded atomically (a snapshot). */
  pending(): number {
    return (Atomics.load(this.u32, this.prodWord) - Atomics.load(this.u32, this.consWord)) >>> 0;
  }
}
