// The management port's server: TLS 1.2 with a pre-shared key (tls.ts), then length-prefixed
// MessagePack requests (connection.ts) answered by the control surface (dispatch.ts, methods.ts).
//
// Contract
// - Every connection authenticates in the TLS handshake; nothing it sends is read as a request
//   before the handshake has proved the key. Unknown identity or wrong key: auth_failed; not TLS
//   1.2 or no PSK suite in common: handshake_failed; too slow: handshake_timeout. Each closes
//   the connection and is counted.
// - At most maxConnections at once (TCP, before TLS): more are dropped on accept and counted.
// - The server never crashes on input: socket errors are contained per connection, and
//   dispatch answers every request (see dispatch.ts).
// - counters() is a snapshot: the flat form that CountersReport.management carries.

import tls, { type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { RouterControl } from '../control.ts';
import { ManagementConnection } from './connection.ts';
import { ManagementCounters, type RefusalReason } from './counters.ts';
import { Dispatcher } from './dispatch.ts';
import type { ManagementKey } from './keyfile.ts';
import { DEFAULT_LIMITS, type ManagementLimits } from './limits.ts';
import { METHODS, type MethodDefinition } from './methods.ts';
import { keyForIdentity, TLS_COMMON } from './tls.ts';

export interface ManagementServerOptions {
  readonly control: RouterControl;
  /** Keys accepted (by identity); usually the one of the configuration's key file. */
  readonly keys: ManagementKey | readonly ManagementKey[];
  /** Lower (or, in tests, shorter) bounds than limits.ts. */
  readonly limits?: Partial<ManagementLimits>;
  /** Methods beyond METHODS (or replacing one of the same name). */
  readonly methods?: Readonly<Record<string, MethodDefinition>>;
  /** Monotonic milliseconds, for the rate limit (default performance.now). */
  readonly now?: () => number;
  /** Where unexpected failures are reported (default: nowhere). */
  readonly log?: (line: string) => void;
}

/** OpenSSL's verdicts that mean the peer spoke TLS-PSK with the wrong identity or key. */
const AUTH_ERRORS = new Set(['ERR_SSL_PSK_IDENTITY_NOT_FOUND', 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC', 'ERR_SSL_BAD_RECORD_MAC', 'ERR_SSL_DECRYPT_ERROR']);

function handshakeReason(code: string | undefined): RefusalReason {
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'handshake_timeout';
  if (code !== undefined && AUTH_ERRORS.has(code)) return 'auth_failed';
  return 'handshake_failed';
}

export class ManagementServer {
  private readonly counters_ = new ManagementCounters();
  private readonly limits: ManagementLimits;
  private readonly keys: readonly ManagementKey[];
  private readonly dispatcher: Dispatcher;
  private readonly server: tls.Server;
  private readonly sockets = new Set<Socket>();
  private readonly identities = new WeakMap<TLSSocket, string>();
  private nextId = 1;
  private listening = false;

  constructor(private readonly options: ManagementServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.keys = Array.isArray(options.keys) ? options.keys : [options.keys as ManagementKey];
    if (this.keys.length === 0) throw new RangeError('a management server needs at least one key');
    this.dispatcher = new Dispatcher({ ...METHODS, ...options.methods }, options.control, options.log);
    const now = options.now ?? (() => performance.now());

    this.server = tls.createServer({
      ...TLS_COMMON,
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      pskCallback: (socket: TLSSocket, identity: string) => {
        const key = keyForIdentity(this.keys, identity);
        if (key) this.identities.set(socket, identity);
        return key;
      },
    });
    this.server.maxConnections = this.limits.maxConnections;
    this.server.on('drop', () => this.counters_.refuse('too_many_connections'));
    this.server.on('connection', (socket: Socket) => {
      this.counters_.bump('connections_accepted');
      this.sockets.add(socket);
      socket.on('error', () => { /* contained: 'close' follows */ });
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.counters_.bump('connections_closed');
      });
    });
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      this.counters_.refuse(handshakeReason(err.code));
      socket.destroy();
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      const identity = this.identities.get(socket);
      if (identity === undefined) {
        // Cannot happen with PSK-only suites; refuse rather than serve an unauthenticated peer.
        this.counters_.refuse('auth_failed');
        socket.destroy();
        return;
      }
      this.counters_.bump('connections_authenticated');
      new ManagementConnection(socket, this.nextId++, identity, this.dispatcher, this.limits, this.counters_, now);
    });
    this.server.on('error', (e) => options.log?.(`management server: ${e.message}`));
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const failed = (e: Error): void => reject(e);
      this.server.once('error', failed);
      this.server.listen(port, address, () => {
        this.server.off('error', failed);
        this.listening = true;
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting, closes every connection; resolves when all are gone. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  counters(): Record<string, number> {
    return this.counters_.snapshot({ connections_open: this.sockets.size });
  }
}
