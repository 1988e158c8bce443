// One authenticated management connection: bytes → frames → requests → responses, in order.
//
// Contract (untrusted peer, already authenticated by TLS-PSK):
// - frames are capped by their length prefix (FrameReader); an oversize frame is answered with
//   `oversize` after the responses already due, and the connection is closed (the byte stream
//   cannot be resynchronised);
// - every request is answered, in the order received, whatever it contains; rate-limited ones
//   are answered `rate_limited` without running (token bucket per connection);
// - memory is bounded: at most maxQueuedRequests requests wait, and while they do, or while more
//   than maxPendingOutputBytes of answers are unsent, the socket is not read (TCP backpressure);
// - a connection idle for idleTimeoutMs is closed; every refusal is counted under its reason.

import type { TLSSocket } from 'node:tls';
import type { Dispatcher, Handled } from './dispatch.ts';
import type { ManagementCounters } from './counters.ts';
import { encodeFrame, FrameReader, type FrameTooLarge } from './framing.ts';
import type { ManagementLimits } from './limits.ts';
import { MAX_RESPONSE_BYTES } from './limits.ts';
import type { ConnectionContext } from './methods.ts';
import { encodeValue } from '../msgpack.ts';
import { TokenBucket } from './rate-limit.ts';

/** After an oversize answer, the peer gets this long to read it before the socket is destroyed. */
const CLOSE_GRACE_MS = 1_000;

type Item = { readonly kind: 'request'; readonly payload: Buffer; readonly limited: boolean } | { readonly kind: 'oversize'; readonly error: FrameTooLarge };

export class ManagementConnection {
  private readonly reader: FrameReader;
  private readonly bucket: TokenBucket;
  private readonly queue: Item[] = [];
  private running = false;
  private stopped = false;
  private readonly releases: Array<() => void> = [];
  readonly context: ConnectionContext;

  constructor(
    private readonly socket: TLSSocket,
    id: number,
    identity: string,
    private readonly dispatcher: Dispatcher,
    private readonly limits: ManagementLimits,
    private readonly counters: ManagementCounters,
    private readonly now: () => number,
  ) {
    this.reader = new FrameReader(limits.maxRequestBytes);
    this.bucket = new TokenBucket(limits.requestsPerSecond, limits.requestBurst, now());
    this.context = {
      id, identity, state: new Map(),
      onClose: (release) => { this.releases.push(release); },
    };
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs);
    socket.on('timeout', () => {
      this.counters.refuse('idle_timeout');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.flowControl());
    socket.on('error', () => { /* 'close' follows; resets and aborts need no answer */ });
    socket.on('close', () => this.closed());
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    const { frames, tooLarge } = this.reader.push(chunk);
    for (const payload of frames) this.queue.push({ kind: 'request', payload, limited: !this.bucket.take(this.now()) });
    if (tooLarge) {
      this.counters.refuse('oversize');
      this.stopped = true;
      this.socket.pause();
      this.queue.push({ kind: 'oversize', error: tooLarge });
    }
    this.flowControl();
    void this.run();
  }

  /** Reads only while little is waiting: requests to run, answers to send. */
  private flowControl(): void {
    if (this.stopped || this.socket.destroyed) return;
    const busy = this.queue.length >= this.limits.maxQueuedRequests || this.socket.writableLength > this.limits.maxPendingOutputBytes;
    if (busy) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.socket.destroyed) {
        const item = this.queue.shift()!;
        if (item.kind === 'oversize') {
          this.send(encodeValue({ id: null, error: { code: 'oversize', message: `${item.error.message}; closing the connection` } }));
          this.socket.end();
          setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
          return;
        }
        let handled: Handled;
        try {
          handled = await this.dispatcher.handle(item.payload, this.context, item.limited);
        } catch {
          // handle() answers every failure itself; reaching here is a bug: drop the connection, not the server.
          this.counters.refuse('internal_error');
          this.socket.destroy();
          return;
        }
        this.count(handled);
        this.send(this.bounded(handled));
        this.flowControl();
      }
    } finally {
      this.running = false;
    }
  }

  private count(handled: Handled): void {
    const o = handled.outcome;
    if (o.kind === 'result') this.counters.bump('requests');
    else if (o.kind === 'control_error') this.counters.bump('control_errors');
    else this.counters.refuse(o.reason);
  }

  /** A response larger than any client accepts is replaced by an error saying so. */
  private bounded(handled: Handled): Uint8Array {
    if (handled.payload.length <= MAX_RESPONSE_BYTES) return handled.payload;
    this.counters.refuse('internal_error');
    return encodeValue({ id: handled.response.id, error: { code: 'internal', message: `the answer is ${handled.payload.length} bytes, more than a client accepts (${MAX_RESPONSE_BYTES})` } });
  }

  private send(payload: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeFrame(payload));
  }

  private closed(): void {
    this.stopped = true;
    this.queue.length = 0;
    for (const release of this.releases.splice(0)) {
      try { release(); } catch { /* a release must not keep others from running */ }
    }
  }
}
