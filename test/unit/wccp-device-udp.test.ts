// WccpDevice and WccpServer over real UDP sockets on loopback (127.x.y.1 ↔ 127.x.y.2, port 2048
// on both sides, as WCCP runs): join, usable, and the designated device's assignment accepted.
// Both share a manual clock, so the protocol's timers are stepped, not waited for; each wait for
// the sockets is bounded.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { WccpDevice } from '../../firmware/shell/wccp/device.ts';
import { WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import { WccpServer } from '../../firmware/shell/wccp/server.ts';
import { ManualClock, recordingHooks } from './wccp-net.ts';

const NET = `127.${100 + (process.pid % 100)}.${(process.pid >> 7) % 250}`;
const ROUTER = `${NET}.2`;
const CACHE = `${NET}.1`;
const WAIT_MS = 3000;

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('device and server over UDP: join, usable, REDIRECT_ASSIGN accepted', async () => {
  const clock = new ManualClock();
  const rec = recordingHooks();
  const router = new WccpRouter({ address: ROUTER, services: [{ id: 0, type: 'standard', allow: [`${NET}.0/24`] }], hooks: rec.hooks });
  const server = new WccpServer({ router, address: ROUTER, port: 2048, clock });
  const device = new WccpDevice({ address: CACHE, routers: [ROUTER], service: { id: 0, type: 'standard' }, clock });
  await server.start();
  try {
    await device.start();
    await waitFor('the first I_SEE_YOU', () => device.counters().i_see_you === 1);
    assert.equal(router.group(0)!.caches.map((c) => c.state), ['joining']);
    clock.advance(10_000);
    await waitFor('usable', () => device.state(ROUTER) === 'usable');
    assert.equal(rec.events, [`usable ${CACHE} 0`]);
    // Step the clock so each I_SEE_YOU is back before the next timer: the assignment must carry
    // the Receive ID of the latest one (the router refuses older ones).
    clock.advance(10_000);
    await waitFor('the third I_SEE_YOU', () => device.counters().i_see_you === 3);
    clock.advance(5_000);
    await waitFor('the assignment', () => router.counters().redirect_assign === 1);
    assert.equal(rec.redirects.map((m) => [m.device, m.buckets!.length]), [[CACHE, 256]]);
    clock.advance(5_000);
    await waitFor('the key echo', () => device.counters().i_see_you === 4);
    assert.equal(router.group(0)!.assignmentKey.changeNumber, 1);
    const c = server.counters();
    assert.is(c.here_i_am, 4);
    assert.is(c.i_see_you, 4);
    assert.is(c.send_failed, 0);
    assert.is(c.socket_errors, 0);
  } finally {
    await device.stop();
    await server.close();
  }
  assert.is(clock.activeTimers(), 0);
});

test('the server survives garbage on its socket and keeps serving', async () => {
  const clock = new ManualClock();
  const router = new WccpRouter({ address: ROUTER, services: [{ id: 0, type: 'standard', allow: [CACHE] }] });
  const server = new WccpServer({ router, address: ROUTER, port: 2048, clock });
  await server.start();
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, CACHE, () => r()));
    for (let i = 0; i < 100; i++) s.send(Buffer.alloc(i, i), 2048, ROUTER);
    await waitFor('100 datagrams', () => router.counters().datagrams === 100);
    assert.is(router.counters().malformed, 100);
  } finally {
    s.close();
    await server.close();
  }
});

test('binding an address in use fails start() without leaving anything behind', async () => {
  const router = new WccpRouter({ address: ROUTER, services: [] });
  const first = new WccpServer({ router, address: ROUTER, port: 2048 });
  await first.start();
  const second = new WccpServer({ router, address: ROUTER, port: 2048 });
  try {
    await second.start().then(
      () => assert.unreachable('bound twice'),
      (e: NodeJS.ErrnoException) => assert.is(e.code, 'EADDRINUSE'),
    );
  } finally {
    await second.close();
    await first.close();
  }
});

test.run();
