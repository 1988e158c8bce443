// `sim` driver: a router port wired to a simulated endpoint, all in memory. Receive copies what
// the endpoint emits into free frames (a full rx ring or an empty frame pool loses the frame and
// counts it as rxMissed, as a NIC would); transmit hands every frame of both tx queues to the
// endpoint and releases it.

import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import { writeRxDescriptor } from '../../descriptor.ts';
import { Desc } from '../../../wasm/abi.ts';
import type { SimEndpoint } from './endpoint.ts';

export class SimPortDriver implements PortDriver {
  readonly kind = 'sim';
  readonly capabilities = DriverCapability.Receive | DriverCapability.Transmit;
  readonly exhausted = true;
  private port!: PortHandle;

  constructor(readonly endpoint: SimEndpoint) {}

  attach(port: PortHandle): void {
    this.port = port;
  }

  receive(now: bigint): number {
    const port = this.port;
    let delivered = 0;
    this.endpoint.poll(now, (frame) => {
      if (frame.length > port.frames.room) {
        port.counters.rxErrors++;
        return false;
      }
      if (port.rx.free() === 0) {
        port.counters.rxMissed++;
        return false;
      }
      const index = port.frames.takeRx();
      if (index < 0) {
        port.counters.rxMissed++;
        return false;
      }
      const data = port.frames.data(index);
      port.mem.set(frame, data);
      writeRxDescriptor(port.dv, port.rx.prodSlot(0), index, data, frame.length, frame.length, port.index, now);
      port.rx.submit(1);
      delivered++;
      return true;
    });
    return delivered;
  }

  transmit(now: bigint): number {
    const port = this.port;
    let n = 0;
    for (const ring of [port.txOriginals, port.txReplicas]) {
      const k = ring.peek(ring.capacity);
      for (let i = 0; i < k; i++) {
        const slot = ring.consSlot(i);
        const addr = port.dv.getUint32(slot + Desc.Addr, true);
        const len = port.dv.getUint16(slot + Desc.Len, true);
        this.endpoint.deliver(port.mem.subarray(addr, addr + len), now);
        port.counters.txPackets++;
        port.counters.txBytes += len;
        port.frames.release(slot);
      }
      ring.release(k);
      n += k;
    }
    return n;
  }

  close(): void {}
}
