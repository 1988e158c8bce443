// The driver contract. A port driver moves frames between a medium (a simulated wire, a capture
// file, a Linux interface) and its port's rings; it never classifies or rewrites packets.
//
// Per poll iteration the runtime calls receive() on every driver, then the data plane, then
// transmit() on every driver. receive() fills the rx ring (reserve → copy into free frames →
// submit) as far as the ring and the frame pool allow; what a live medium offers beyond that is
// counted as rxMissed, never silently lost. transmit() drains both tx rings (originals first,
// then replicas), releasing every frame it takes. Time is an argument (ns, the runtime's clock).

import type { PortHandle } from './port.ts';

export const enum DriverCapability {
  Receive = 1,
  Transmit = 2,
  /** The source ends (a capture file): `exhausted` becomes true when everything was delivered. */
  Finite = 4,
  /** Received frames carry the medium's own timestamps (capture time) rather than `now`. */
  MediumTimestamps = 8,
}

export interface PortDriver {
  readonly kind: string;
  readonly capabilities: number;
  attach(port: PortHandle): void;
  /** Moves what the medium has into the rx ring; returns frames delivered. */
  receive(now: bigint): number;
  /** Drains the tx rings into the medium; returns frames taken. */
  transmit(now: bigint): number;
  /** Finite sources: nothing more will be received. */
  readonly exhausted: boolean;
  /** Flushes and releases the medium. */
  close(): void | Promise<void>;
}
