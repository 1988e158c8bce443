// The management port's client (used by `twinflow ctl`, tests and automation written in
// TypeScript): one TLS-PSK connection, requests pipelined, answers matched by id.
//
// Contract: call() resolves with the result or rejects with ManagementError (the router's error
// response: code, field, message) or ManagementConnectionError (could not connect, could not
// authenticate, connection lost, no answer in time). The router is trusted no more than any
// peer: response frames are capped (MAX_RESPONSE_BYTES) and must be well-formed, or the
// connection is dropped and every pending call rejected.

import tls, { type TLSSocket } from 'node:tls';
import { decodeValue, encodeValue, MsgpackError } from '../msgpack.ts';
import { encodeFrame, FrameReader } from './framing.ts';
import { readKeyFile, type ManagementKey } from './keyfile.ts';
import { CALL_TIMEOUT_MS, CONNECT_TIMEOUT_MS, MAX_RESPONSE_BYTES } from './limits.ts';
import { ManagementConnectionError, ManagementError, MAX_REQUEST_ID } from './protocol.ts';
import { TLS_COMMON } from './tls.ts';

export { ManagementConnectionError };

export interface ClientOptions {
  readonly connectTimeoutMs?: number;
  readonly callTimeoutMs?: number;
  readonly maxResponseBytes?: number;
}

interface Pending {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** What an OpenSSL or socket error means to an operator. */
function explain(e: Error & { code?: string }, where: string, identity: string): string {
  switch (e.code) {
    case 'ECONNREFUSED': return `cannot reach the router at ${where}: connection refused (is the management port enabled?)`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `cannot reach the router at ${where}: no route`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `cannot reach the router at ${where}: unknown host`;
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_PSK_IDENTITY': return `authentication failed at ${where}: the router does not know identity "${identity}"`;
    case 'ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC': case 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR': case 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC':
      return `authentication failed at ${where}: wrong key for identity "${identity}"`;
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE': case 'ERR_SSL_NO_CIPHERS_AVAILABLE': case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS handshake with ${where} failed: not a twinflow management port (TLS 1.2 PSK)?`;
    case 'ECONNRESET': return `the router at ${where} closed the connection (connection limit reached, or not a management port)`;
    default: return `connection to ${where} failed: ${e.message.split('\n')[0]}`;
  }
}

export class ManagementClient {
  private readonly reader: FrameReader;
  private readonly pending = new Map<number, Pending>();
  private readonly order: number[] = [];
  private nextId = 1;
  private failure: ManagementConnectionError | null = null;

  private constructor(private readonly socket: TLSSocket, private readonly where: string, private readonly options: ClientOptions) {
    this.reader = new FrameReader(options.maxResponseBytes ?? MAX_RESPONSE_BYTES);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (e: Error & { code?: string }) => this.fail(new ManagementConnectionError(explain(e, where, ''))));
    socket.on('close', () => this.fail(new ManagementConnectionError(`the router at ${where} closed the connection`)));
  }

  /** Connects and authenticates; `key` is a key file path or a key already read. */
  static connect(address: string, port: number, key: string | ManagementKey, options: ClientOptions = {}): Promise<ManagementClient> {
    const k = typeof key === 'string' ? readKeyFile(key) : key;
    const where = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const socket = tls.connect({
        ...TLS_COMMON,
        host: address,
        port,
        // PSK authenticates the server; there is no certificate to check.
        checkServerIdentity: () => undefined,
        pskCallback: () => ({ psk: k.key, identity: k.identity }),
      });
      const timer = setTimeout(() => {
        done(new ManagementConnectionError(`no answer from ${where} within ${(options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS) / 1000} s`));
      }, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      const done = (e: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (e) {
          socket.destroy();
          reject(e);
        } else {
          resolve(new ManagementClient(socket, where, options));
        }
      };
      const onError = (e: Error & { code?: string }): void => done(new ManagementConnectionError(explain(e, where, k.identity)));
      const onClose = (): void => done(new ManagementConnectionError(`the router at ${where} closed the connection during the handshake`));
      socket.once('secureConnect', () => done(null));
      socket.on('error', onError);
      socket.on('close', onClose);
    });
  }

  /** One request; resolves with its result. */
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId;
    this.nextId = this.nextId === MAX_REQUEST_ID ? 1 : this.nextId + 1;
    const frame = encodeFrame(encodeValue({ id, method, params }));
    return new Promise((resolve, reject) => {
      const ms = this.options.callTimeoutMs ?? CALL_TIMEOUT_MS;
      const timer = setTimeout(() => {
        this.fail(new ManagementConnectionError(`no answer to ${method} from ${this.where} within ${ms / 1000} s`));
      }, ms);
      this.pending.set(id, { resolve, reject, timer });
      this.order.push(id);
      this.socket.write(frame);
    });
  }

  /** Ends the connection; pending calls are rejected. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.fail(new ManagementConnectionError('the client closed the connection'), false);
      if (this.socket.closed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  private receive(chunk: Buffer): void {
    const { frames, tooLarge } = this.reader.push(chunk);
    for (const f of frames) this.answer(f);
    if (tooLarge) this.fail(new ManagementConnectionError(`the router sent a ${tooLarge.length}-byte answer, more than the ${tooLarge.max} accepted`));
  }

  private answer(payload: Buffer): void {
    let msg: unknown;
    try {
      msg = decodeValue(payload);
    } catch (e) {
      if (e instanceof MsgpackError) return this.fail(new ManagementConnectionError(`the router sent an unreadable answer: ${e.message}`));
      throw e;
    }
    const m = msg as { id?: unknown; result?: unknown; error?: { code?: unknown; field?: unknown; message?: unknown } };
    const wellFormed = typeof m === 'object' && m !== null && !Array.isArray(m) && ('result' in m) !== ('error' in m)
      && (m.id === null || typeof m.id === 'number');
    if (!wellFormed) return this.fail(new ManagementConnectionError('the router sent an answer that is not {id, result} or {id, error}'));
    // Answers come in request order; one the router could not attribute (id nil) is the oldest's.
    const id = m.id === null ? this.order[0] : (m.id as number);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p) return this.fail(new ManagementConnectionError(`the router answered request ${String(m.id)}, which is not pending`));
    this.pending.delete(id);
    this.order.splice(this.order.indexOf(id), 1);
    clearTimeout(p.timer);
    if ('result' in m) return p.resolve(m.result);
    const err = m.error;
    const isStr = (v: unknown): v is string => typeof v === 'string';
    if (!err || !isStr(err.code) || !isStr(err.message)) return p.reject(new ManagementConnectionError('the router sent a malformed error'));
    p.reject(new ManagementError(err.code, isStr(err.field) ? err.field : undefined, err.message));
  }

  /** Rejects every pending call with the connection's first failure; destroys the socket unless told not to. */
  private fail(e: ManagementConnectionError, destroy = true): void {
    if (!this.failure) this.failure = e;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(this.failure);
      this.pending.delete(id);
    }
    this.order.length = 0;
    if (destroy && !this.socket.destroyed) this.socket.destroy();
  }
}
