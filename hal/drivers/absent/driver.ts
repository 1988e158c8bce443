// A port whose medium may be missing: wraps a driver and, when that driver cannot attach (no
// permission for a raw socket, no such interface, no addon), keeps the router running with the
// port down instead. A down port receives nothing and releases everything the data plane gives
// it to send, counting it as txDropped, so the originals and replicas it would have carried are
// visible in the counters, never silently gone. Boards mark such ports `"optional": true`.

import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';

export class OptionalPortDriver implements PortDriver {
  readonly kind: string;
  readonly capabilities: number;
  /** Why the port is down (undefined while it works). */
  downReason: string | undefined;
  private port!: PortHandle;

  constructor(private readonly inner: () => PortDriver, private readonly onDown?: (reason: string) => void) {
    this.kind = 'optional';
    this.capabilities = DriverCapability.Receive | DriverCapability.Transmit;
  }

  private driver: PortDriver | undefined;

  get exhausted(): boolean {
    return this.driver?.exhausted ?? true;
  }

  attach(port: PortHandle): void {
    this.port = port;
    try {
      const d = this.inner();
      d.attach(port);
      this.driver = d;
    } catch (e) {
      this.downReason = (e as Error).message;
      this.onDown?.(this.downReason);
    }
  }

  receive(now: bigint): number {
    return this.driver ? this.driver.receive(now) : 0;
  }

  transmit(now: bigint): number {
    if (this.driver) return this.driver.transmit(now);
    let n = 0;
    for (const ring of [this.port.txOriginals, this.port.txReplicas]) {
      const k = ring.peek(ring.capacity);
      for (let i = 0; i < k; i++) this.port.frames.release(ring.consSlot(i));
      ring.release(k);
      this.port.counters.txDropped += k;
      n += k;
    }
    return n;
  }

  close(): void | Promise<void> {
    return this.driver?.close();
  }
}
