// `memory` driver: a port whose wire is two JavaScript queues. Frames pushed with inject() are
// received in order (each with its timestamp); frames the router sends are copied out, with
// their descriptor metadata, into `sent`. Used by the packet simulator (explain, fixtures) and
// by tests; like a capture file it waits for ring space instead of losing frames.

import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import { readDescriptor, writeRxDescriptor, type DescriptorFields } from '../../descriptor.ts';
import type { RingView } from '../../ring.ts';

export interface SentFrame {
  readonly queue: 'originals' | 'replicas';
  readonly bytes: Uint8Array;
  readonly desc: DescriptorFields;
}

export class MemoryPortDriver implements PortDriver {
  readonly kind = 'memory';
  readonly capabilities = DriverCapability.Receive | DriverCapability.Transmit | DriverCapability.Finite | DriverCapability.MediumTimestamps;
  readonly sent: SentFrame[] = [];
  private port!: PortHandle;
  private readonly queue: Array<{ frame: Uint8Array; origLen: number; ts: bigint }> = [];
  private head = 0;

  get exhausted(): boolean {
    return this.head === this.queue.length;
  }

  /** Queues a frame to be received (origLen > frame.length models a truncated capture). */
  inject(frame: Uint8Array, ts: bigint = 0n, origLen = frame.length): void {
    this.queue.push({ frame: frame.slice(), origLen, ts });
  }

  attach(port: PortHandle): void {
    this.port = port;
  }

  receive(_now: bigint): number {
    const port = this.port;
    let n = 0;
    while (this.head < this.queue.length && port.rx.free() > 0) {
      const { frame, origLen, ts } = this.queue[this.head];
      if (frame.length > port.frames.room) throw new RangeError(`a ${frame.length}-byte frame exceeds the ${port.frames.room}-byte frame size`);
      const index = port.frames.takeRx();
      if (index < 0) break;
      const data = port.frames.data(index);
      port.mem.set(frame, data);
      writeRxDescriptor(port.dv, port.rx.prodSlot(0), index, data, frame.length, origLen, port.index, ts);
      port.rx.submit(1);
      this.head++;
      n++;
    }
    return n;
  }

  transmit(_now: bigint): number {
    return this.drain(this.port.txOriginals, 'originals') + this.drain(this.port.txReplicas, 'replicas');
  }

  private drain(ring: RingView, queue: SentFrame['queue']): number {
    const port = this.port;
    const k = ring.peek(ring.capacity);
    for (let i = 0; i < k; i++) {
      const slot = ring.consSlot(i);
      const desc = readDescriptor(port.dv, slot);
      this.sent.push({ queue, bytes: port.mem.slice(desc.addr, desc.addr + desc.len), desc });
      port.counters.txPackets++;
      port.counters.txBytes += desc.len;
      port.frames.release(slot);
    }
    ring.release(k);
    return k;
  }

  close(): void {}
}
