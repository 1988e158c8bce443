// Authentication of the management port: only a peer that completes the TLS 1.2 PSK handshake
// with a known identity and its key gets a request read. Every other peer (wrong key, unknown
// identity, plain TCP, a TLS client without PSK, one too slow, one too many) is refused, counted
// under its reason, and never reaches the control. OpenSSL's own s_client, an independent
// implementation, completes the handshake and gets an answer: the PSK TLS is the standard one.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import tls from 'node:tls';
import fs from 'node:fs';
import path from 'node:path';
import { ManagementClient, ManagementConnectionError } from '../../firmware/shell/mgmt/client.ts';
import { generateKeyFile, readKeyFile } from '../../firmware/shell/mgmt/keyfile.ts';
import { decodeValue } from '../../firmware/shell/msgpack.ts';
import { makeKey, plainTcp, RawConnection, run, startRouter, until, type Router } from './mgmt-helpers.ts';

let router: Router;

test.before(async () => {
  router = await startRouter({ limits: { handshakeTimeoutMs: 400, maxConnections: 3 } });
});

test.after(async () => {
  await router.close();
});

async function refusedConnect(key: ReturnType<typeof makeKey>): Promise<string> {
  try {
    const c = await ManagementClient.connect('127.0.0.1', router.port, key, { connectTimeoutMs: 3000 });
    await c.close();
  } catch (e) {
    assert.instance(e, ManagementConnectionError);
    return (e as Error).message;
  }
  throw new Error('connected');
}

const counter = (name: string): number => router.server.counters()[name];

test('the right identity and key: connected and served', async () => {
  const c = await ManagementClient.connect('127.0.0.1', router.port, router.key);
  assert.is(((await c.call('status')) as { board: string }).board, 'sim');
  await c.close();
  assert.is(counter('connections_authenticated'), 1);
});

test('wrong key: refused in the handshake, counted auth_failed, control never called', async () => {
  const calls = router.control.calls.length;
  const before = counter('refused_auth_failed');
  const message = await refusedConnect({ identity: router.key.identity, key: makeKey().key });
  assert.match(message, /authentication failed .* wrong key for identity "ops"/);
  await until(() => counter('refused_auth_failed') === before + 1, 2000, 'auth_failed');
  assert.is(router.control.calls.length, calls);
});

test('unknown identity: refused, counted auth_failed', async () => {
  const before = counter('refused_auth_failed');
  const message = await refusedConnect({ identity: 'mallory', key: router.key.key });
  assert.match(message, /does not know identity "mallory"/);
  await until(() => counter('refused_auth_failed') === before + 1, 2000, 'auth_failed');
});

test('plain TCP carrying a valid request in clear: closed without an answer, counted handshake_failed', async () => {
  const calls = router.control.calls.length;
  const before = counter('refused_handshake_failed');
  const req = Buffer.from('0000001b83a2696401a66d6574686f64a6737461747573a6706172616d7380', 'hex');
  const r = await plainTcp(router.port, req);
  assert.ok(r.closed, 'server closed the connection');
  // Whatever came back is a TLS alert record (content type 21), never a frame of ours.
  assert.ok(r.received.length === 0 || r.received[0] === 21, r.received.toString('hex'));
  await until(() => counter('refused_handshake_failed') === before + 1, 2000, 'handshake_failed');
  assert.is(router.control.calls.length, calls);
});

test('a TLS client without PSK (certificate suites only): no shared cipher, counted handshake_failed', async () => {
  const before = counter('refused_handshake_failed');
  const err = await new Promise<Error>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: router.port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    s.on('secureConnect', () => { s.destroy(); resolve(new Error('handshake completed')); });
    s.on('error', (e) => resolve(e));
  });
  assert.match(err.message, /handshake failure|alert/i);
  await until(() => counter('refused_handshake_failed') === before + 1, 2000, 'handshake_failed');
});

test('a peer that never finishes the handshake is cut at the handshake timeout', async () => {
  const before = counter('refused_handshake_timeout');
  const r = await plainTcp(router.port, null, 3000);
  assert.ok(r.closed, 'closed by the server before the test gave up');
  await until(() => counter('refused_handshake_timeout') === before + 1, 2000, 'handshake_timeout');
});

test('connections beyond the limit are dropped before TLS and counted', async () => {
  const open = await Promise.all([0, 1, 2].map(() => RawConnection.open(router.port, router.key)));
  const before = counter('refused_too_many_connections');
  const r = await plainTcp(router.port, null, 2000);
  assert.ok(r.closed);
  assert.is(counter('refused_too_many_connections'), before + 1);
  open[0].close();
  await until(() => counter('connections_open') === 2, 2000, 'a slot to free');
  const c = await ManagementClient.connect('127.0.0.1', router.port, router.key);
  assert.ok(await c.call('status'));
  await c.close();
  for (const o of open) o.close();
  await until(() => counter('connections_open') === 0, 2000, 'all closed');
});

test('key files: the server and the client read the same file; a second key is refused', async () => {
  const file = path.join(router.dir, 'ops.key');
  generateKeyFile(file, 'automation');
  const r2 = await startRouter({ keys: readKeyFile(file) });
  try {
    const c = await ManagementClient.connect('127.0.0.1', r2.port, file);
    assert.ok(await c.call('status'));
    await c.close();
    const other = path.join(router.dir, 'other.key');
    generateKeyFile(other, 'automation');
    try {
      await ManagementClient.connect('127.0.0.1', r2.port, other);
      assert.unreachable('a different key connected');
    } catch (e) {
      assert.match((e as Error).message, /wrong key/);
    }
  } finally {
    await r2.close();
  }
});

// ── OpenSSL s_client: an independent TLS-PSK implementation ───────────────────────────────────

const opensslArgs = (psk: Buffer, identity: string, extra: string[] = []): string[] => [
  's_client', '-connect', `127.0.0.1:${router.port}`, '-tls1_2', '-psk_identity', identity, '-psk', psk.toString('hex'),
  '-cipher', 'ECDHE-PSK-CHACHA20-POLY1305', ...extra,
];

test('openssl s_client completes the TLS 1.2 ECDHE-PSK handshake with the server', async () => {
  const before = counter('connections_authenticated');
  const r = await run('openssl', opensslArgs(router.key.key, 'ops'), { input: '' });
  assert.match(r.stdout, /Cipher is ECDHE-PSK-CHACHA20-POLY1305/, r.stdout + r.stderr);
  assert.match(r.stdout, /Protocol\s*:\s*TLSv1\.2/);
  assert.not.match(r.stderr, /alert|error/i, r.stderr);
  await until(() => counter('connections_authenticated') === before + 1, 2000, 'authenticated');
});

test('openssl s_client sends a status request (our documented bytes) and gets the answer frame', async () => {
  const request = Buffer.from('0000001b83a2696401a66d6574686f64a6737461747573a6706172616d7380', 'hex');
  const child = await import('node:child_process');
  const p = child.spawn('openssl', opensslArgs(router.key.key, 'ops', ['-quiet']), { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = Buffer.alloc(0);
  p.stdout.on('data', (d: Buffer) => { out = Buffer.concat([out, d]); });
  p.stdin.write(request);
  try {
    await until(() => out.length >= 4 && out.length >= 4 + out.readUInt32BE(0), 5000, 'the answer');
  } finally {
    p.kill('SIGKILL');
    p.stdin.destroy();
    await new Promise((r) => p.once('close', r));
  }
  const answer = decodeValue(out.subarray(4, 4 + out.readUInt32BE(0)));
  assert.equal(answer, { id: 1, result: { board: 'sim', version: '0.1.0', uptimeSeconds: 12.5, tableVersion: 3 } });
});

test('openssl s_client with the wrong PSK fails and is counted auth_failed', async () => {
  const before = counter('refused_auth_failed');
  const r = await run('openssl', opensslArgs(makeKey().key, 'ops'), { input: '' });
  // s_client prints the suite it negotiated even when the Finished check then fails.
  assert.match(r.stderr, /alert bad record mac/, r.stderr);
  await until(() => counter('refused_auth_failed') === before + 1, 2000, 'auth_failed');
});

test('openssl s_client offering only TLS 1.3 is refused (PSK management is TLS 1.2 only)', async () => {
  const before = counter('refused_handshake_failed');
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${router.port}`, '-tls1_3', '-psk_identity', 'ops', '-psk', router.key.key.toString('hex')], { input: '' });
  assert.not.match(r.stdout, /Cipher is (TLS|ECDHE)/, r.stdout);
  assert.match(r.stderr, /alert|error/i);
  await until(() => counter('refused_handshake_failed') === before + 1, 2000, 'handshake_failed');
  assert.ok(fs.existsSync(router.dir));
});

test.run();
