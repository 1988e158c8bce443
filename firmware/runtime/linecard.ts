// A line card: one data-plane instance, its ports' drivers, and the poll loop that runs them.
//
// One iteration (step): every driver receives, the data plane processes one batch, every driver
// transmits. Batches are bounded by the free space of every originals ring, so an original is
// never dropped for lack of a tx slot: back-pressure stays in the rx rings, where a live driver
// counts what it cannot deliver (rxMissed) and a file driver simply waits.

import { DataPlane, type DataPlaneSpec } from './dataplane.ts';
import type { PortDriver } from '../../hal/driver.ts';
import { DriverCapability } from '../../hal/driver.ts';
import { newDriverCounters, type CaptureDma, type DriverCounters, type PortHandle } from '../../hal/port.ts';

export interface LineCardPort {
  readonly name: string;
  readonly driver: PortDriver;
}

export class LineCard {
  readonly ports: PortHandle[] = [];
  readonly drivers: PortDriver[] = [];

  constructor(readonly dp: DataPlane, ports: readonly LineCardPort[]) {
    const w = dp.wasm;
    const control = dp.map.control;
    const dma: CaptureDma = {
      pcapIngest: (port, buf, len, swapped, nanos) => {
        const consumed = w.pcapIngest(control, port, buf, len, swapped ? 1 : 0, nanos ? 1 : 0);
        const error = (w.ingestError.value as number) !== 0;
        return { consumed, capLenError: error, errorAt: w.ingestErrorAt.value as number };
      },
      pcapEmit: (ring, out, cap, nanos) => w.pcapEmit(control, ring, out, cap, nanos ? 1 : 0),
      pcapngEmit: (ring, out, cap, iface) => w.pcapngEmit(control, ring, out, cap, iface),
    };
    const frames = {
      takeRx: (): number => dp.rxFree.popIndex(),
      data: (index: number): number => dp.frameData(index),
      room: dp.spec.frameSize,
      release: (desc: number): void => dp.releaseFrame(desc),
    };
    ports.forEach((p, index) => {
      const handle: PortHandle = {
        index,
        name: p.name,
        mem: dp.mem,
        u32: dp.u32,
        dv: dp.dv,
        rx: dp.rx[index],
        txOriginals: dp.txOriginals[index],
        txReplicas: dp.txReplicas[index],
        frames,
        dma,
        counters: newDriverCounters(),
        allocIo: (bytes) => dp.allocIo(bytes),
        allocRing: (capacity) => dp.allocRing(capacity),
      };
      p.driver.attach(handle);
      this.ports.push(handle);
      this.drivers.push(p.driver);
    });
  }

  static create(spec: DataPlaneSpec, ports: readonly LineCardPort[]): LineCard {
    if (spec.ports.length !== ports.length) throw new RangeError('one driver per data-plane port');
    return new LineCard(DataPlane.create(spec), ports);
  }

  /** One poll iteration; returns the packets the data plane processed. */
  step(now: bigint): number {
    for (const d of this.drivers) d.receive(now);
    let total = 0;
    for (;;) {
      const n = this.dp.process(now);
      total += n;
      if (n === 0 || n < this.dp.spec.batchMax) break;
      for (const d of this.drivers) d.transmit(now);
    }
    for (const d of this.drivers) d.transmit(now);
    return total;
  }

  /** True when every finite source is exhausted and no ring holds a frame. */
  drained(): boolean {
    for (const d of this.drivers) {
      if ((d.capabilities & DriverCapability.Finite) !== 0 && !d.exhausted) return false;
    }
    for (let p = 0; p < this.ports.length; p++) {
      if (this.dp.rx[p].used() || this.dp.txOriginals[p].used() || this.dp.txReplicas[p].used()) return false;
    }
    return true;
  }

  driverCounters(port: number): DriverCounters {
    return this.ports[port].counters;
  }

  async close(): Promise<void> {
    for (const d of this.drivers) await d.close();
  }
}
