// Runs a LineCard whose ports are real interfaces, event-driven: each linux driver's socket is
// watched (libuv poll), a readable socket schedules one run of card.step() on the next
// macrotask, and a slow tick (TICK_MS) covers work that no socket announces (frames injected
// into a memory port, the kernel's drop counters). No busy loop: an idle card costs nothing but
// the tick. A step that throws stops the loop and is rethrown by stop().

import { LineCard } from '../../firmware/runtime/linecard.ts';
import type { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';

/** The fallback tick. */
export const TICK_MS = 5;
/** Steps one wake-up runs at most before yielding to the event loop (bounds the turn). */
const STEPS_PER_WAKE = 64;

export class CardLoop {
  private readonly stops: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private running = false;
  private failure: unknown = null;
  private readonly t0 = process.hrtime.bigint();
  /** Packets the data plane processed. */
  processed = 0;

  constructor(readonly card: LineCard, private readonly linux: readonly LinuxPortDriver[]) {}

  /** Nanoseconds since the loop was made (the runtime's clock). */
  now(): bigint {
    return process.hrtime.bigint() - this.t0;
  }

  start(): this {
    this.running = true;
    for (const d of this.linux) this.stops.push(d.onReadable(() => this.kick()));
    this.timer = setInterval(() => this.kick(), TICK_MS);
    return this;
  }

  kick(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running) return;
      try {
        for (let i = 0; i < STEPS_PER_WAKE; i++) {
          const n = this.card.step(this.now());
          this.processed += n;
          if (n === 0) break;
        }
      } catch (e) {
        this.failure = e;
        this.halt();
      }
    });
  }

  /** Stops watching and ticking (the card stays open); rethrows a step's failure. */
  stop(): void {
    this.halt();
    if (this.failure) throw this.failure;
  }

  private halt(): void {
    this.running = false;
    clearInterval(this.timer);
    for (const s of this.stops.splice(0)) s();
  }
}

/** Polls `predicate` every few ms until true; rejects after timeoutMs with `what`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
