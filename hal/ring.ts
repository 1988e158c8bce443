// The ring ABI, driver side (the hot path's side is wasm/ring/ring.ts; the layout is wasm/abi.ts
// `Ring`). Rings live in the data plane's linear memory; a RingView reads and writes them through
// a Uint32Array of that memory.
//
// Single producer, single consumer. Prod and Cons are free-running u32 indices: they only move
// forward and wrap at 2^32; (index & mask) is the slot; used = (prod − cons) mod 2^32.
// Verbs come in pairs:
//   producer   reserve(n) → count,  slot(k) … write …,  submit(count)
//   consumer   peek(n)    → count,  slot(k) … read …,   release(count)
// Burst semantics (best effort): reserve/peek return how many they can do, 0 included.
// Bulk semantics (all or nothing): reserveBulk/peekBulk return n or 0.
// A reservation (or peek) is valid until the matching submit (release); slot(k) addresses its
// k-th entry. Nothing else may touch the ring meanwhile.

import { Ring } from '../wasm/abi.ts';

export class RingView {
  readonly capacity: number;
  readonly slotBytes: number;
  private readonly prodWord: number;
  private readonly consWord: number;
  private readonly slots: number;

  constructor(private readonly mem: Uint32Array, readonly address: number) {
    this.prodWord = (address + Ring.Prod) >>> 2;
    this.consWord = (address + Ring.Cons) >>> 2;
    this.capacity = mem[(address + Ring.Mask) >>> 2] + 1;
    this.slotBytes = mem[(address + Ring.SlotBytes) >>> 2];
    this.slots = address + Ring.Header;
  }

  /** Writes an empty ring header of `capacity` (a power of two) slots of `slotBytes`. */
  static format(mem: Uint32Array, address: number, capacity: number, slotBytes: number): RingView {
    if (capacity < 1 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity ${capacity} is not a power of two`);
    mem[(address + Ring.Prod) >>> 2] = 0;
    mem[(address + Ring.Cons) >>> 2] = 0;
    mem[(address + Ring.Mask) >>> 2] = capacity - 1;
    mem[(address + Ring.SlotBytes) >>> 2] = slotBytes;
    return new RingView(mem, address);
  }

  /** Bytes a ring of this shape occupies. */
  static bytes(capacity: number, slotBytes: number): number {
    return Ring.Header + capacity * slotBytes;
  }

  used(): number {
    return (this.mem[this.prodWord] - this.mem[this.consWord]) >>> 0;
  }

  free(): number {
    return this.capacity - this.used();
  }

  /** Burst: up to n slots for the producer. */
  reserve(n: number): number {
    const f = this.free();
    return n < f ? n : f;
  }

  /** Bulk: n slots or none. */
  reserveBulk(n: number): number {
    return this.free() >= n ? n : 0;
  }

  /** Byte address of the k-th reserved slot. */
  prodSlot(k: number): number {
    return this.slots + (((this.mem[this.prodWord] + k) & (this.capacity - 1)) * this.slotBytes);
  }

  submit(n: number): void {
    this.mem[this.prodWord] = (this.mem[this.prodWord] + n) >>> 0;
  }

  /** Burst: up to n entries for the consumer. */
  peek(n: number): number {
    const u = this.used();
    return n < u ? n : u;
  }

  /** Bulk: n entries or none. */
  peekBulk(n: number): number {
    return this.used() >= n ? n : 0;
  }

  /** Byte address of the k-th peeked entry. */
  consSlot(k: number): number {
    return this.slots + (((this.mem[this.consWord] + k) & (this.capacity - 1)) * this.slotBytes);
  }

  release(n: number): void {
    this.mem[this.consWord] = (this.mem[this.consWord] + n) >>> 0;
  }

  /** Frame-index rings: one index, or −1 when empty. */
  popIndex(): number {
    if (this.used() === 0) return -1;
    const v = this.mem[this.consSlot(0) >>> 2];
    this.release(1);
    return v;
  }

  /** Frame-index rings: give an index back (they are sized for every frame, so never full). */
  pushIndex(index: number): void {
    if (this.free() === 0) throw new Error('frame-index ring overflow: a frame was released twice');
    this.mem[this.prodSlot(0) >>> 2] = index;
    this.submit(1);
  }
}
