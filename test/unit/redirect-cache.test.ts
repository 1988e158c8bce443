// The transparent cache's HTTP side (cache-server.ts) and its plan (checkRedirectOptions), with
// curl as the client: files under --serve byte for byte, HEAD, 404 for what is missing and for
// every way out of the directory (.., encoded .., a symlink that points outside), 405 for other
// methods, the fixed answer without --serve, the Via header on every answer, and each request
// counted under exactly one outcome. The plan: which WCCP service a cache registers and which
// ports it listens on. Needs root (the listeners come from the addon, IP_TRANSPARENT).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { CacheServer, CACHE_HTTP_COUNTERS } from '../../firmware/peer/cache-server.ts';
import { checkRedirectOptions } from '../../firmware/peer/redirect.ts';
import type { PeerOptions } from '../../firmware/peer/command.ts';
import { addon } from '../../hal/drivers/linux/native.ts';
import { requireRoot } from '../net/netns.ts';

const CACHE = '10.0.0.3';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** curl against the server (asynchronously: the server runs in this process): status, headers, body. */
function curl(port: number, urlPath: string, ...extra: string[]): Promise<{ status: number; headers: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--max-time', '5', '--path-as-is', '-D', '-', ...extra, `http://127.0.0.1:${port}${urlPath}`]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl ${urlPath}: exit ${code}: ${Buffer.concat(err).toString()}`));
      const all = Buffer.concat(out);
      const split = all.indexOf('\r\n\r\n');
      const headers = all.subarray(0, split).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)![1]), headers, body: all.subarray(split + 4) });
    });
  });
}

async function serving(root: string | undefined, fn: (port: number, server: CacheServer) => Promise<void> | void): Promise<void> {
  const server = new CacheServer({ address: CACHE, ...(root !== undefined ? { root } : {}) });
  try {
    const { port } = await server.listen(addon().openTransparentListener('127.0.0.1', 0));
    await fn(port, server);
  } finally {
    await server.close();
  }
}

const total = (c: Record<string, number>): number => c.ok + c.not_found + c.bad_method + c.failed;

/** Until every request has its outcome (a response is counted when its connection closes here). */
async function settled(server: CacheServer): Promise<void> {
  const deadline = Date.now() + 5000;
  while (total(server.counters) < server.counters.requests && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

test('--serve: files byte for byte, HEAD, 404 for missing files and for every way out of the directory, 405 for other methods', async () => {
  requireRoot('redirect-cache.test.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-cache-'));
  try {
    const root = path.join(dir, 'www');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const big = randomBytes(3 << 20);
    fs.writeFileSync(path.join(root, 'file'), big);
    fs.writeFileSync(path.join(root, 'sub', 'a b.txt'), 'spaced\n');
    fs.writeFileSync(path.join(dir, 'secret'), 'outside the root\n');
    fs.symlinkSync(path.join(dir, 'secret'), path.join(root, 'escape'));
    await serving(root, async (port, server) => {
      const got = await curl(port, '/file');
      assert.is(got.status, 200);
      assert.is(sha(got.body), sha(big), 'the file, byte for byte');
      assert.match(got.headers, new RegExp(`^Via: 1\\.1 ${CACHE} \\(twinflow redirect cache\\)`, 'mi'));
      assert.match(got.headers, new RegExp(`^Content-Length: ${big.length}`, 'mi'));
      assert.is((await curl(port, '/sub/a%20b.txt')).body.toString(), 'spaced\n', 'a percent-encoded path');
      const head = await curl(port, '/file', '-I');
      assert.is(head.status, 200);
      assert.ok(head.body.length < 1024, `HEAD: headers only (${head.body.length} bytes after the first header block, curl -I repeats it)`);
      for (const p of ['/missing', '/sub', '/../secret', '/sub/../../secret', '/%2e%2e/secret', '/escape', '/%00', '/%zz']) {
        const r = await curl(port, p);
        assert.is(r.status, 404, p);
        assert.not.match(r.body.toString(), /outside the root/, p);
      }
      assert.is((await curl(port, '/file', '-X', 'POST', '--data', 'x')).status, 405);
      await settled(server);
      const c = server.counters;
      assert.equal(Object.keys(c).sort(), Object.keys(CACHE_HTTP_COUNTERS).sort());
      assert.equal([c.requests, c.ok, c.not_found, c.bad_method, c.failed], [12, 3, 8, 1, 0]);
      assert.is(total(c), c.requests, 'every request under exactly one outcome');
      assert.is(c.body_bytes, big.length + 'spaced\n'.length);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without --serve: a fixed answer naming the cache and what was asked for', async () => {
  requireRoot('redirect-cache.test.ts');
  await serving(undefined, async (port, server) => {
    const got = await curl(port, '/any/path?q=1', '-H', 'Host: origin.example');
    assert.is(got.status, 200);
    assert.is(got.body.toString(), `twinflow redirect cache ${CACHE}: GET http://origin.example/any/path?q=1\n`);
    assert.match(got.headers, /^Via: 1\.1 10\.0\.0\.3 /mi);
    await settled(server);
    assert.equal([server.counters.requests, server.counters.ok, server.counters.connections], [1, 1, 1]);
  });
});

test('a client that goes away in the middle of a file is counted failed, and the server goes on', async () => {
  requireRoot('redirect-cache.test.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-cache-'));
  try {
    fs.writeFileSync(path.join(dir, 'huge'), randomBytes(64 << 20));
    await serving(dir, async (port, server) => {
      // The client reads 1 s at 100 KB/s of 64 MiB, then gives up.
      await curl(port, '/huge', '--limit-rate', '100K', '-m', '1').then(() => assert.unreachable('the transfer cannot finish in 1 s'), () => {});
      const deadline = Date.now() + 5000;
      while (server.counters.failed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.is(server.counters.failed, 1);
      assert.is((await curl(port, '/nothing')).status, 404);
      await settled(server);
      assert.is(total(server.counters), server.counters.requests);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const options = (o: Partial<PeerOptions>): PeerOptions => ({
  router: ['10.0.0.254'], match: 'tcp', mode: 'redirect', encap: 'gre', service: 0, snaplen: 0, sample: 1, ratePps: 0, rateBps: 0, lifetime: 0, ...o,
});

test('the plan: service 0 is web-cache on port 80; a dynamic service registers its ports and listens on them', () => {
  const web = checkRedirectOptions(options({}));
  assert.equal(web.service, { id: 0, type: 'standard' });
  assert.equal(web.ports, [80]);
  assert.is(web.bypass, null);
  const dyn = checkRedirectOptions(options({ service: 91, ports: '80, 8080', bypass: 'tcp dst port 8080', table: 7, tun: 'cache0' }));
  assert.equal(dyn.service, { id: 91, type: 'dynamic', protocol: 6, ports: [80, 8080] });
  assert.equal(dyn.ports, [80, 8080]);
  assert.equal([dyn.table, dyn.tun], [7, 'cache0']);
  assert.ok(dyn.bypass !== null);
});

test.run();
