// The WCCP server: runs a WccpRouter on a UDP socket (udp4, `address:port`, 2048 in
// production) with a clock, sends its answers and runs its timers once a second.
//
// Contract: any datagram may arrive; the router never throws, and the server catches anything
// else (socket errors, send failures) and counts it — the process never crashes because of the
// network. Timers are unref'd (a running server does not keep Node alive by itself); close()
// stops them and closes the socket. Clock and transport are injectable so tests run the real
// server on an in-memory network and a manual clock.

import type { WccpClock } from './clock.ts';
import { systemClock } from './clock.ts';
import type { WccpRouter } from './router/router.ts';
import type { Endpoint, TransportFactory, WccpOutput, WccpTransport } from './transport.ts';
import { udpTransport } from './transport.ts';

/** How often the router's timers run: removal queries and removals need 1-second resolution. */
export const SERVER_TICK_MS = 1000;

export const SERVER_COUNTERS = {
  datagrams_sent: 'datagrams the router sent',
  send_failed: 'datagrams the socket refused to send',
  socket_errors: 'errors reported by the socket',
} as const;
export type ServerCounterName = keyof typeof SERVER_COUNTERS;

export interface WccpServerOptions {
  readonly router: WccpRouter;
  /** Where to listen: WccpConfig.address and .port. */
  readonly address: string;
  readonly port: number;
  readonly clock?: WccpClock;
  /** Default: a udp4 socket bound to address:port. */
  readonly transport?: TransportFactory;
  readonly log?: (line: string) => void;
}

export class WccpServer {
  readonly router: WccpRouter;
  private readonly clock: WccpClock;
  private readonly stats: Record<ServerCounterName, number> = { datagrams_sent: 0, send_failed: 0, socket_errors: 0 };
  private transport: WccpTransport | null = null;
  private stopTimer: (() => void) | null = null;

  constructor(private readonly o: WccpServerOptions) {
    this.router = o.router;
    this.clock = o.clock ?? systemClock;
  }

  /** Binds the socket and starts the timers; rejects if the address cannot be bound. */
  async start(): Promise<void> {
    if (this.transport !== null) return;
    const open = this.o.transport ?? udpTransport({ address: this.o.address, port: this.o.port });
    this.transport = await open(
      (datagram, from) => this.onDatagram(datagram, from),
      (e, during) => {
        this.stats[during === 'send' ? 'send_failed' : 'socket_errors']++;
        this.o.log?.(`wccp ${during}: ${e.message}`);
      },
    );
    this.stopTimer = this.clock.every(SERVER_TICK_MS, () => this.send(this.router.tick(this.clock.now())));
  }

  /** Stops the timers and closes the socket; safe to call twice. */
  async close(): Promise<void> {
    this.stopTimer?.();
    this.stopTimer = null;
    const t = this.transport;
    this.transport = null;
    await t?.close();
  }

  /** The router's counters and the socket's. */
  counters(): Record<string, number> {
    return { ...this.router.counters(), ...this.stats };
  }

  private onDatagram(datagram: Uint8Array, from: Endpoint): void {
    this.send(this.router.receive(datagram, from, this.clock.now()));
  }

  private send(out: readonly WccpOutput[]): void {
    for (const o of out) {
      try {
        this.transport?.send(o.datagram, o.to);
        this.stats.datagrams_sent++;
      } catch (e) {
        this.stats.send_failed++;
        this.o.log?.(`wccp send to ${o.to.address}:${o.to.port}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
