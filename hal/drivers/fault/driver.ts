// `fault` driver: a middleware device (smoltcp's FaultInjector) that wraps any PortDriver and
// drops, corrupts, duplicates and delays frames, seeded and deterministic, in either direction.
//
// Plumbing. On attach the inner driver gets a staged handle (./staging.ts): its rx, originals
// and replicas rings are staging rings of the real rings' capacities; everything else is shared.
//   receive(now):  inner.receive(now) fills the staging rx ring; the wrapper moves its frames into
//                  the real rx ring, dealing each a fate (rx faults).
//   transmit(now): the wrapper moves the real originals, then replicas, into the staging tx rings,
//                  dealing fates (tx faults); then inner.transmit(now). Originals stay first.
// Descriptors are copied whole (Desc.Size bytes), so every field the inner driver or the data
// plane wrote (timestamps included: a delayed frame keeps its receive timestamp) is kept.
//
// Fates (./fate.ts), in this order per frame:
//   drop       the frame is released to the pool and counted; nothing else happens to it.
//   corrupt    one uniformly chosen bit at or after byte 14 flips, in place. The Ethernet header
//              is never touched, so a corrupted frame still reaches its host (its IP/L4 checksum
//              or payload is what breaks). Frames of ≤ 14 bytes are never corrupted.
//   duplicate  an identical copy (after any corruption) follows the frame, in a new frame taken
//              with frames.takeRx() (the copy always belongs to the receive pool, even on the
//              replicas queue). No free frame, or a frame longer than a frame's room: the copy is
//              skipped and counted as duplicateFailed.
//   delay      with delayNs or jitterNs set, every surviving frame (and its copy) is held in a
//              bounded JS queue, sorted by release time now + delayNs + uniform(0..jitterNs), and
//              released once a later now reaches it, earliest first, as ring space allows. With
//              no jitter the order is preserved; with jitter frames may be reordered (never lost).
//              A frame arriving at a full hold queue is released and counted as holdOverflow.
//
// Back-pressure is passed on, never turned into loss: frames are taken from a source ring only
// while the destination ring has room (and no due held frame is waiting for room), so a full
// real rx ring fills the staging ring and the inner driver sees a full ring, as it would
// unwrapped. With every probability 0 and no delay the wrapper is transparent.
//
// Counters per direction (counters()): the invariant, checked by the tests, is
//   seen + duplicated = passed + dropped + holdOverflow + held
// (`held` is the current occupancy of the direction's hold queues; corrupted and delayed count
// frames that were affected but still pass). Fault losses are the wire's, not the NIC's: they are
// not added to the port's DriverCounters. close() releases frames still held, as dropped.
//
// exhausted: the inner driver is exhausted and the wrapper holds nothing (no held or staged
// frame), so LineCard.drained() waits for held frames of a finite source. capabilities are the
// inner driver's.

import { Desc, DescFlag } from '../../../wasm/abi.ts';
import type { PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import type { RingView } from '../../ring.ts';
import { validateFaultConfig, type FaultConfig, type ResolvedDirection, type ResolvedFaultConfig } from './config.ts';
import { FateDealer } from './fate.ts';
import { copyDescriptor, HoldQueue } from './hold.ts';
import { stagePort } from './staging.ts';

/** What one direction did to its frames. */
export interface FaultCounters {
  /** Frames taken from the direction's source ring (the inner driver's rx, the router's tx). */
  seen: number;
  /** Frames (and copies) handed on to the destination ring. */
  passed: number;
  dropped: number;
  corrupted: number;
  /** Frames (and copies) put in a hold queue. */
  delayed: number;
  /** Copies made. */
  duplicated: number;
  /** Copies not made: no free frame, or the frame is longer than a frame's room. */
  duplicateFailed: number;
  /** Frames dropped because their hold queue was full. */
  holdOverflow: number;
  /** Frames in the hold queues now. */
  held: number;
}

function newFaultCounters(): FaultCounters {
  return { seen: 0, passed: 0, dropped: 0, corrupted: 0, delayed: 0, duplicated: 0, duplicateFailed: 0, holdOverflow: 0, held: 0 };
}

/** One source ring → destination ring path with its hold queue. */
interface Path {
  readonly from: RingView;
  readonly to: RingView;
  readonly hold: HoldQueue;
}

/** One direction: its dice, counters and paths (rx: one; tx: originals then replicas). */
interface Direction {
  readonly config: ResolvedDirection;
  readonly fates: FateDealer;
  readonly counters: FaultCounters;
  readonly paths: Path[];
}

/**
 * Wraps `inner` and applies `config` (validated here: throws FaultConfigError naming the field).
 * Frames it drops go back to the pool at once; see the module comment for every rule.
 */
export class FaultDriver implements PortDriver {
  readonly kind = 'fault';
  readonly config: ResolvedFaultConfig;
  private port!: PortHandle;
  private rx!: Direction;
  private tx!: Direction;
  /** A descriptor slot in linear memory, for releasing the frames of JS-held descriptor copies. */
  private scratch = 0;
  private attached = false;
  private readonly tally = { rx: newFaultCounters(), tx: newFaultCounters() };

  constructor(readonly inner: PortDriver, config: FaultConfig) {
    this.config = validateFaultConfig(config);
  }

  get capabilities(): number {
    return this.inner.capabilities;
  }

  get exhausted(): boolean {
    if (!this.inner.exhausted || !this.attached) return this.inner.exhausted;
    for (const d of [this.rx, this.tx]) {
      for (const p of d.paths) {
        if (p.hold.size > 0) return false;
      }
    }
    return this.rx.paths[0]!.from.used() === 0 && this.tx.paths.every((p) => p.to.used() === 0);
  }

  attach(port: PortHandle): void {
    this.port = port;
    this.scratch = port.allocIo(Desc.Size);
    const staged = stagePort(port);
    const direction = (config: ResolvedDirection, counters: FaultCounters, pairs: Array<[RingView, RingView]>): Direction => ({
      config,
      fates: new FateDealer(config),
      counters,
      paths: pairs.map(([from, to]) => ({ from, to, hold: new HoldQueue(config.holdCapacity) })),
    });
    this.rx = direction(this.config.rx, this.tally.rx, [[staged.rx, port.rx]]);
    this.tx = direction(this.config.tx, this.tally.tx, [[port.txOriginals, staged.txOriginals], [port.txReplicas, staged.txReplicas]]);
    this.attached = true;
    this.inner.attach(staged.handle);
  }

  /** Returns the frames put in the port's rx ring (released held frames included). */
  receive(now: bigint): number {
    this.inner.receive(now);
    return this.pump(this.rx, this.rx.paths[0]!, now);
  }

  /** Returns the frames taken from the port's tx rings (what the router handed over). */
  transmit(now: bigint): number {
    const before = this.tx.counters.seen;
    for (const p of this.tx.paths) this.pump(this.tx, p, now);
    this.inner.transmit(now);
    return this.tx.counters.seen - before;
  }

  /** Per-direction counters (a snapshot). */
  counters(): { rx: FaultCounters; tx: FaultCounters } {
    return { rx: { ...this.tally.rx }, tx: { ...this.tally.tx } };
  }

  async close(): Promise<void> {
    if (this.attached) {
      for (const d of [this.rx, this.tx]) {
        for (const p of d.paths) {
          const n = p.hold.drain((desc) => this.releaseCopy(desc));
          d.counters.dropped += n;
          d.counters.held -= n;
        }
      }
    }
    await this.inner.close();
  }

  /**
   * Moves frames of one path: due held frames first, then new frames while the destination has
   * room, then (delaying directions) whatever became due. Returns the frames put in `to`.
   */
  private pump(d: Direction, p: Path, now: bigint): number {
    const c = d.counters;
    const mem = this.port.mem;
    let out = this.release(d, p, now);
    if (p.hold.hasDue(now)) return out;
    const available = p.from.peek(p.from.capacity);
    let k = 0;
    while (k < available && p.to.free() > 0) {
      const slot = p.from.consSlot(k++);
      c.seen++;
      const len = this.port.dv.getUint16(slot + Desc.Len, true);
      const fate = d.fates.deal(len);
      if (fate.drop) {
        this.port.frames.release(slot);
        c.dropped++;
        continue;
      }
      if (fate.corruptByte >= 0) {
        mem[this.port.dv.getUint32(slot + Desc.Addr, true) + fate.corruptByte] ^= 1 << fate.corruptBit;
        c.corrupted++;
      }
      const copy = fate.duplicate ? this.duplicate(slot, c) : null;
      if (fate.holdNs >= 0) {
        const at = now + BigInt(fate.holdNs);
        this.hold(d, p, copyDescriptor(mem, slot), at);
        if (copy) this.hold(d, p, copy, at);
        continue;
      }
      mem.copyWithin(p.to.prodSlot(0), slot, slot + Desc.Size);
      p.to.submit(1);
      c.passed++;
      out++;
      if (copy) {
        if (p.to.free() > 0) {
          mem.set(copy, p.to.prodSlot(0));
          p.to.submit(1);
          c.passed++;
          out++;
        } else {
          // Due at once: released first next time, so it still follows its original.
          this.hold(d, p, copy, now);
        }
      }
    }
    p.from.release(k);
    if (d.config.delays) out += this.release(d, p, now);
    return out;
  }

  private release(d: Direction, p: Path, now: bigint): number {
    const n = p.hold.releaseDue(now, p.to, this.port.mem);
    d.counters.passed += n;
    d.counters.held -= n;
    return n;
  }

  private hold(d: Direction, p: Path, desc: Uint8Array, at: bigint): void {
    if (p.hold.push(desc, at)) {
      d.counters.delayed++;
      d.counters.held++;
    } else {
      this.releaseCopy(desc);
      d.counters.holdOverflow++;
    }
  }

  /** A descriptor for an identical copy of the frame at `slot`, in a new receive frame; or null. */
  private duplicate(slot: number, c: FaultCounters): Uint8Array | null {
    const port = this.port;
    const dv = port.dv;
    const addr = dv.getUint32(slot + Desc.Addr, true);
    const len = dv.getUint16(slot + Desc.Len, true);
    const index = len <= port.frames.room ? port.frames.takeRx() : -1;
    if (index < 0) {
      c.duplicateFailed++;
      return null;
    }
    const data = port.frames.data(index);
    port.mem.copyWithin(data, addr, addr + len);
    const copy = copyDescriptor(port.mem, slot);
    const view = new DataView(copy.buffer);
    view.setUint32(Desc.Addr, data, true);
    view.setUint32(Desc.Frame, index, true);
    view.setUint16(Desc.Flags, view.getUint16(Desc.Flags, true) & ~DescFlag.ReplicaPool, true);
    c.duplicated++;
    return copy;
  }

  /** Gives the frame of a JS-held descriptor copy back to its pool. */
  private releaseCopy(desc: Uint8Array): void {
    this.port.mem.set(desc, this.scratch);
    this.port.frames.release(this.scratch);
  }
}
