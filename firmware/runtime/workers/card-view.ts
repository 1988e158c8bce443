// A line card's memory seen from any thread: views of its shared WebAssembly.Memory and its memory
// map (firmware/runtime/dataplane.ts), plus the one operation every crossing needs, copying a
// frame from one card's memory into a frame another card lent.
//
// Contract: the map is the one the card laid itself out with; views are taken after the card
// grew its memory (it never grows afterwards). Counter reads are atomic per counter (Atomics.load
// on the u64), so a read never sees a torn value; a set of counters read while the card runs is a
// snapshot that may straddle a batch.

import { Desc, DescFlag } from '../../../wasm/abi.ts';
import { GlobalCounter, PortCounter, SessionCounter } from '../../../wasm/counters.ts';
import type { BankAccess, MemoryMap } from '../dataplane.ts';
import type { CounterSource } from '../counters.ts';

const DESC_WORDS = Desc.Size / 4;
/**
 * Frames shorter than this are copied by a word loop, longer ones by TypedArray.set: measured here,
 * set() over SharedArrayBuffer views costs about 150 ns before it copies a byte (it allocates a
 * subarray), a word loop about 0.25 ns per byte; they cross near 1 KiB.
 */
const WORD_LOOP_BELOW = 1024;

export class CardView implements BankAccess, CounterSource {
  readonly mem: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly u64: BigUint64Array;
  readonly dv: DataView;

  constructor(readonly memory: WebAssembly.Memory, readonly map: MemoryMap) {
    const buffer = memory.buffer;
    this.mem = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
    this.dv = new DataView(buffer);
  }

  /** Address of the first byte of frame `index`'s slot (its headroom starts there). */
  frameSlot(index: number): number {
    return this.map.framePool + index * this.map.frameStride;
  }

  portCounter(port: number, which: PortCounter): bigint {
    return Atomics.load(this.u64, (this.map.portCounters >>> 3) + port * PortCounter.Count + which);
  }

  sessionCounter(slot: number, which: SessionCounter): bigint {
    return Atomics.load(this.u64, (this.map.sessionCounters >>> 3) + slot * SessionCounter.Count + which);
  }

  globalCounter(which: GlobalCounter): bigint {
    return Atomics.load(this.u64, (this.map.globalCounters >>> 3) + which);
  }
}

/**
 * Copies the frame of descriptor `desc` (in `from`'s memory) into frame `index` of `to` and writes
 * its descriptor at `slot` (in `to`'s memory): the same bytes at the same offset in the frame slot
 * (so headroom an in-place encapsulation used is kept), every descriptor field kept but the
 * address, the frame index and the pool flag (`replicaPool`: which of `to`'s pools `index` is in).
 * The frame of `desc` is not released (the caller owns it).
 */
export function copyFrame(from: CardView, desc: number, to: CardView, index: number, slot: number, replicaPool: boolean): void {
  const addr = from.u32[(desc + Desc.Addr) >>> 2];
  const len = from.dv.getUint16(desc + Desc.Len, true);
  const offset = addr - from.frameSlot(from.u32[(desc + Desc.Frame) >>> 2]);
  if (offset < 0 || offset + len > to.map.frameStride) throw new RangeError(`descriptor at ${desc} points outside its frame (offset ${offset}, ${len} bytes)`);
  const target = to.frameSlot(index) + offset;
  copyBytes(from, addr, to, target, len);
  const s = desc >>> 2;
  const d = slot >>> 2;
  for (let w = 0; w < DESC_WORDS; w++) to.u32[d + w] = from.u32[s + w];
  to.u32[(slot + Desc.Addr) >>> 2] = target;
  to.u32[(slot + Desc.Frame) >>> 2] = index;
  const flags = from.dv.getUint16(desc + Desc.Flags, true);
  to.dv.setUint16(slot + Desc.Flags, replicaPool ? flags | DescFlag.ReplicaPool : flags & ~DescFlag.ReplicaPool, true);
}

/**
 * Copies len bytes between two memories. `from` and `to` must be congruent modulo 4 (frame slots are
 * 64-byte aligned and copyFrame keeps the offset in the slot), so one word loop serves both.
 */
function copyBytes(from: CardView, at: number, to: CardView, target: number, len: number): void {
  if (len >= WORD_LOOP_BELOW) {
    to.mem.set(from.mem.subarray(at, at + len), target);
    return;
  }
  const src = from.mem;
  const dst = to.mem;
  let i = 0;
  for (; i < len && ((at + i) & 3) !== 0; i++) dst[target + i] = src[at + i];
  const words = (len - i) >>> 2;
  const s = (at + i) >>> 2;
  const d = (target + i) >>> 2;
  const s32 = from.u32;
  const d32 = to.u32;
  for (let w = 0; w < words; w++) d32[d + w] = s32[s + w];
  for (i += words << 2; i < len; i++) dst[target + i] = src[at + i];
}

/** Copies a descriptor within one memory (the frame stays where it is). */
export function moveDescriptor(u32: Uint32Array, from: number, to: number): void {
  const s = from >>> 2;
  const d = to >>> 2;
  for (let w = 0; w < DESC_WORDS; w++) u32[d + w] = u32[s + w];
}
