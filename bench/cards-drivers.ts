// Port drivers for the line-card benchmark (bench/cards-worker.ts), made inside the card workers:
// `a` and `b` flood the router with the two directions of the same flows, as fast as their rx
// rings take frames, `packets` frames each; every port counts what the router sends on it (in its
// DriverCounters, which the control plane reads without a message). 60-byte frames (a 64-byte
// frame without its FCS), UDP, `flows` flows from 10.0.0.0/16 to four servers.

import { DriverCapability, type PortDriver } from '../hal/driver.ts';
import type { PortHandle } from '../hal/port.ts';
import type { RingView } from '../hal/ring.ts';
import { writeRxDescriptor } from '../hal/descriptor.ts';
import { Desc } from '../wasm/abi.ts';
import { buildFrame } from '../hal/drivers/sim/packets.ts';
import type { PortDriverFactory } from '../firmware/runtime/workers/port-drivers.ts';

export interface FloodArg {
  readonly packets: number;
  readonly flows: number;
}

const PAYLOAD_BYTES = 18; // 14 + 20 + 8 + 18 = 60 bytes

function frame(forward: boolean, f: number): Uint8Array {
  const client = new Uint8Array([10, 0, (f >> 8) & 255, f & 255]);
  const server = new Uint8Array([198, 51, 100, 1 + (f % 4)]);
  const clientPort = 1024 + f;
  return buildFrame({
    srcMac: new Uint8Array([2, 0, 0, 0, forward ? 1 : 2, 0]),
    dstMac: new Uint8Array([2, 0, 0, 0, forward ? 2 : 1, 0]),
    src: forward ? client : server,
    dst: forward ? server : client,
    l4: { proto: 'udp', srcPort: forward ? clientPort : 53, dstPort: forward ? 53 : clientPort },
    payload: new Uint8Array(PAYLOAD_BYTES),
  });
}

class FloodPort implements PortDriver {
  readonly kind = 'bench-flood';
  readonly capabilities = DriverCapability.Receive | DriverCapability.Transmit | DriverCapability.Finite;
  private port!: PortHandle;
  private emitted = 0;

  constructor(private readonly templates: readonly Uint8Array[], private readonly total: number) {}

  get exhausted(): boolean {
    return this.emitted === this.total;
  }

  attach(port: PortHandle): void {
    this.port = port;
  }

  receive(now: bigint): number {
    const port = this.port;
    const n = Math.min(this.total - this.emitted, port.rx.free());
    let k = 0;
    for (; k < n; k++) {
      const index = port.frames.takeRx();
      if (index < 0) break;
      const f = this.templates[(this.emitted + k) % this.templates.length];
      const data = port.frames.data(index);
      port.mem.set(f, data);
      writeRxDescriptor(port.dv, port.rx.prodSlot(k), index, data, f.length, f.length, port.index, now);
    }
    port.rx.submit(k);
    this.emitted += k;
    return k;
  }

  transmit(_now: bigint): number {
    return this.drain(this.port.txOriginals) + this.drain(this.port.txReplicas);
  }

  private drain(ring: RingView): number {
    const port = this.port;
    const k = ring.peek(ring.capacity);
    for (let i = 0; i < k; i++) {
      const slot = ring.consSlot(i);
      port.counters.txPackets++;
      port.counters.txBytes += port.dv.getUint16(slot + Desc.Len, true);
      port.frames.release(slot);
    }
    ring.release(k);
    return k;
  }

  close(): void {}
}

export const createPortDriver: PortDriverFactory = (_board, port, arg) => {
  const o = arg as FloodArg;
  if (port.name !== 'a' && port.name !== 'b') return new FloodPort([], 0);
  const templates = Array.from({ length: o.flows }, (_, f) => frame(port.name === 'a', f));
  return new FloodPort(templates, o.packets);
};
