// Shared by the mgmt-*.test.ts suites: a ManagementServer on loopback over the FakeControl, a
// raw TLS-PSK socket that sends arbitrary bytes and reads frames with its own minimal framing
// (independent of firmware/shell/mgmt/framing.ts), and a runner for Debian's Python 3 (which has
// python3-msgpack and python3-prometheus-client). No tests live here.

import tls from 'node:tls';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManagementServer, type ManagementServerOptions } from '../../firmware/shell/mgmt/server.ts';
import type { ManagementKey } from '../../firmware/shell/mgmt/keyfile.ts';
import { FakeControl } from '../fixtures/fake-control.ts';

export const PYTHON = '/usr/bin/python3';
export const TLS_OPTS = { ciphers: 'ECDHE-PSK-CHACHA20-POLY1305', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

export function makeKey(identity = 'ops'): ManagementKey {
  return { identity, key: randomBytes(32) };
}

export interface Router {
  readonly server: ManagementServer;
  readonly control: FakeControl;
  readonly key: ManagementKey;
  readonly port: number;
  readonly dir: string;
  close(): Promise<void>;
}

/** A server over a FakeControl whose state file lives in a fresh temp directory. */
export async function startRouter(options: Partial<ManagementServerOptions> = {}): Promise<Router> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-mgmt-'));
  const control = new FakeControl(path.join(dir, 'router.state'));
  const key = makeKey();
  const server = new ManagementServer({ control, keys: key, ...options });
  control.management = () => server.counters();
  const port = await server.listen('127.0.0.1', 0);
  return {
    server, control, key, port, dir,
    close: async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when `check()` holds, polling; rejects after `ms`. */
export async function until(check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TLS-PSK connection that sends raw bytes and reads length-prefixed frames. */
export class RawConnection {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) => socket.on('close', () => { this.closed = true; this.wake(); resolve(); }));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static open(port: number, key: ManagementKey): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ ...TLS_OPTS, host: '127.0.0.1', port, checkServerIdentity: () => undefined, pskCallback: () => ({ psk: key.key, identity: key.identity }) });
      s.once('secureConnect', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends `payload` with its 4-byte length. */
  send(payload: Uint8Array): void {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(payload.length);
    this.socket.write(Buffer.concat([h, payload]));
  }

  /** The next frame's payload; rejects after `ms` or if the connection closes first. */
  async frame(ms = 3000): Promise<Buffer> {
    const end = Date.now() + ms;
    for (;;) {
      if (this.buf.length >= 4) {
        const n = this.buf.readUInt32BE(0);
        if (this.buf.length >= 4 + n) {
          const out = this.buf.subarray(4, 4 + n);
          this.buf = this.buf.subarray(4 + n);
          return Buffer.from(out);
        }
      }
      if (this.closed) throw new Error('connection closed before a whole frame arrived');
      const left = end - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Resolves true when the peer closes within `ms`. */
  async waitClosed(ms = 3000): Promise<boolean> {
    if (this.closed) return true;
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, ms))]);
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A plain TCP connection; resolves with whatever the server sent and whether it closed within `ms`. */
export function plainTcp(port: number, bytes: Uint8Array | null, ms = 3000): Promise<{ closed: boolean; received: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => { if (bytes) s.write(bytes); });
    const t = setTimeout(() => { s.destroy(); resolve({ closed: false, received: Buffer.concat(chunks) }); }, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve({ closed: true, received: Buffer.concat(chunks) }); });
  });
}

/** Runs a Python 3 script (Debian's interpreter) with `input` on stdin; returns stdout, throws on failure. */
export function python(script: string, input: string | Buffer = ''): string {
  const r = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs a command asynchronously (the server in this process must keep serving); bounded by `ms`. */
export function run(cmd: string, args: readonly string[], opts: { input?: string | Buffer; ms?: number; cwd?: string } = {}): Promise<{ status: number | null; stdout: string; stderr: string; stdoutBytes: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.ms ?? 20_000);
    child.on('close', (status) => {
      clearTimeout(t);
      const stdoutBytes = Buffer.concat(out);
      resolve({ status, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
