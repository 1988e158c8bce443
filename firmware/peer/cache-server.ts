// The transparent cache's HTTP side: Node's http server on listening sockets the caller made
// (the addon's openTransparentListener: IP_TRANSPARENT, so it accepts connections addressed to
// the origin servers and answers from their addresses). It serves
//
//   --serve DIR   static files under DIR (GET and HEAD; the request path names the file)
//   otherwise     a short fixed answer naming the cache, for every path
//
// and marks every answer with a Via header naming the cache, as an HTTP intermediary does.
//
// Contract: requests are untrusted. A path never leaves DIR (it is decoded, normalised and
// resolved, and what lands outside DIR, or on anything but a regular file, is 404); methods other
// than GET and HEAD get 405. Every request is counted under exactly one outcome (CACHE_HTTP_COUNTERS).
// close() stops accepting and destroys open connections, so it always returns within a bound.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export const CACHE_HTTP_COUNTERS = {
  connections: 'TCP connections accepted',
  requests: 'HTTP requests received',
  ok: 'answered 200 (a file, or the fixed answer)',
  not_found: 'answered 404: no such file under --serve, or a path outside it',
  bad_method: 'answered 405: neither GET nor HEAD',
  failed: 'the answer broke off (file read error, the client went away)',
  body_bytes: 'bytes of answer bodies sent',
} as const;
export type CacheHttpCounter = keyof typeof CACHE_HTTP_COUNTERS;

/** Connections get this long to finish when the cache stops, then they are cut. */
export const CLOSE_GRACE_MS = 1000;

export interface CacheServerOptions {
  /** The cache's address (named in the Via header and the fixed answer). */
  readonly address: string;
  /** Serve files under this directory; absent: the fixed answer. */
  readonly root?: string;
}

export class CacheServer {
  readonly counters = Object.fromEntries(Object.keys(CACHE_HTTP_COUNTERS).map((k) => [k, 0])) as Record<CacheHttpCounter, number>;
  private readonly servers: http.Server[] = [];
  private readonly root: string | null;

  constructor(private readonly o: CacheServerOptions) {
    this.root = o.root === undefined ? null : fs.realpathSync(o.root);
  }

  /** Serves HTTP on a listening socket's fd (the server owns and closes it from now on). */
  async listen(fd: number): Promise<AddressInfo> {
    const server = http.createServer((req, res) => this.answer(req, res));
    server.on('connection', () => { this.counters.connections++; });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => {
      const cut = setTimeout(() => s.closeAllConnections(), CLOSE_GRACE_MS);
      s.close(() => { clearTimeout(cut); resolve(); });
      s.closeIdleConnections();
    })));
    this.servers.length = 0;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const c = this.counters;
    c.requests++;
    res.setHeader('Via', `1.1 ${this.o.address} (twinflow redirect cache)`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      c.bad_method++;
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('only GET and HEAD\n');
      return;
    }
    if (this.root === null) {
      const body = `twinflow redirect cache ${this.o.address}: ${req.method} http://${req.headers.host ?? '?'}${req.url ?? '/'}\n`;
      c.ok++;
      c.body_bytes += req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const file = this.resolve(req.url ?? '/');
    let stat: fs.Stats | null = null;
    try {
      stat = file === null ? null : fs.statSync(file);
    } catch {
      stat = null;
    }
    if (file === null || stat === null || !stat.isFile()) {
      c.not_found++;
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': stat.size });
    if (req.method === 'HEAD') {
      c.ok++;
      res.end();
      return;
    }
    const stream = fs.createReadStream(file);
    let sent = 0;
    stream.on('data', (chunk) => {
      sent += chunk.length;
      c.body_bytes += chunk.length;
    });
    stream.on('error', () => res.destroy());
    // Whole when every byte was handed on: a client may close as soon as it has them all, before
    // the read stream's end (and so res.end()) has run here.
    res.on('close', () => {
      if (sent === stat!.size) c.ok++;
      else {
        c.failed++;
        stream.destroy();
      }
    });
    stream.pipe(res);
  }

  /** The file a request path names under the root, or null when it leaves the root. */
  private resolve(url: string): string | null {
    let p: string;
    try {
      p = decodeURIComponent(url.split('?')[0]!.split('#')[0]!);
    } catch {
      return null;
    }
    if (p.includes('\0')) return null;
    const file = path.resolve(this.root!, `.${path.posix.normalize(`/${p}`)}`);
    if (file !== this.root && !file.startsWith(`${this.root}${path.sep}`)) return null;
    try {
      const real = fs.realpathSync(file);
      return real === this.root || real.startsWith(`${this.root}${path.sep}`) ? real : null;
    } catch {
      return file;
    }
  }
}
