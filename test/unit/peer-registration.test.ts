// The registration every `twinflow peer` mode shares (firmware/peer/registration.ts), against a
// real WCCPv2 router (WccpRouter behind WccpServer) over UDP on loopback: the device peerDevice
// builds from a peer's options joins with the routers, port, service, password and request those
// options give, and its state changes reach the mode's `say`; registrationAddress refuses a
// router's own address on the routers' port with the mode's advice, and takes it on another port.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

import { WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import { WccpServer } from '../../firmware/shell/wccp/server.ts';
import { peerDevice, registrationAddress, serviceById } from '../../firmware/peer/registration.ts';
import type { PeerOptions } from '../../firmware/peer/command.ts';
import { PeerOptionError } from '../../firmware/peer/errors.ts';
import { SNIFF_REQUEST } from './wccp-fixtures.ts';
import { recordingHooks } from './wccp-net.ts';

const NET = `127.${200 + (process.pid % 50)}.${(process.pid >> 7) % 250}`;
const ROUTER = `${NET}.2`;
const PEER = `${NET}.1`;
/** Not 2048: another suite's router may hold that port on its own loopback address. */
const ROUTER_PORT = 2000 + (process.pid % 40);
const PEER_PORT = ROUTER_PORT + 1;
const PASSWORD = 'secret';
const WAIT_MS = 5000;

const options = (o: Partial<PeerOptions>): PeerOptions => ({
  router: [ROUTER], match: SNIFF_REQUEST.filter, service: 0, mode: 'sniff', encap: 'erspan3', snaplen: 128,
  sample: 1, ratePps: 0, rateBps: 0, lifetime: 0, ...o,
});

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('serviceById: 0..50 are well-known (standard), 51 and up dynamic', () => {
  assert.equal(serviceById(0), { id: 0, type: 'standard' });
  assert.equal(serviceById(50), { id: 50, type: 'standard' });
  assert.equal(serviceById(51), { id: 51, type: 'dynamic' });
});

test('peerDevice joins a real router with the peer\'s routers, ports, service, password and request', async () => {
  const rec = recordingHooks();
  const router = new WccpRouter({ address: ROUTER, services: [{ id: 0, type: 'standard', allow: [PEER], password: PASSWORD }], hooks: rec.hooks });
  const server = new WccpServer({ router, address: ROUTER, port: ROUTER_PORT });
  const said: string[] = [];
  const o = options({ address: PEER, routerPort: ROUTER_PORT, port: PEER_PORT, password: PASSWORD });
  const device = peerDevice(o, { address: PEER, service: serviceById(0), request: SNIFF_REQUEST, say: (l) => said.push(l) });
  await server.start();
  try {
    await device.start();
    await waitFor('usable', () => device.states()[ROUTER] === 'usable');
    assert.ok(said.includes(`router ${ROUTER}: usable`), said.join('\n'));
    assert.equal(rec.requests.map((r) => [r.device, r.service, r.mode, r.filter, r.encap, r.snaplen]), [[PEER, 0, 'sniff', SNIFF_REQUEST.filter, 'erspan3', 128]]);
    assert.is(router.counters().unauthentic, 0);
  } finally {
    await device.stop();
    await server.close();
  }
});

test('registrationAddress: a router\'s own address on the routers\' port is refused with the mode\'s advice', async () => {
  const own = options({ address: ROUTER });
  try {
    await registrationAddress(own, 'give the cache another one');
    assert.unreachable('accepted the router\'s own address');
  } catch (e) {
    assert.instance(e, PeerOptionError);
    assert.is((e as Error).message, `--address: the router ${ROUTER} is this machine's own address; give the cache another one`);
  }
  assert.is(await registrationAddress(options({ address: ROUTER, port: PEER_PORT }), 'unused'), ROUTER, 'another port of the same address is no collision');
  assert.is(await registrationAddress(options({ address: PEER }), 'unused'), PEER);
  // Without --address: the source the kernel picks towards the first router (as `ip route get` says)…
  const src = /\bsrc (\S+)/.exec(spawnSync('ip', ['-o', 'route', 'get', ROUTER], { encoding: 'utf8' }).stdout)![1];
  assert.is(await registrationAddress(options({}), 'unused'), src);
  // … which, towards 127.0.0.1 itself, is that router's own address.
  await registrationAddress(options({ router: ['127.0.0.1'] }), 'advice').then(
    () => assert.unreachable('the kernel\'s source towards 127.0.0.1 is 127.0.0.1'),
    (e: Error) => assert.is(e.message, '--address: the router 127.0.0.1 is this machine\'s own address; advice'),
  );
});

test.run();
