// Every management method, round trip through a real TLS-PSK connection to a ManagementServer
// over the FakeControl: the control receives exactly the arguments sent, the client receives
// exactly what the control answered (64-bit counters exact), and every kind of bad parameter is
// refused with invalid_params naming the field, before the control is called.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { ManagementClient } from '../../firmware/shell/mgmt/client.ts';
import { ManagementError } from '../../firmware/shell/mgmt/protocol.ts';
import { METHODS } from '../../firmware/shell/mgmt/methods.ts';
import { ControlError } from '../../firmware/shell/control.ts';
import { loadState } from '../../firmware/shell/config/state.ts';
import { BIG_COUNTER } from '../fixtures/fake-control.ts';
import { startRouter, type Router } from './mgmt-helpers.ts';

let router: Router;
let client: ManagementClient;

test.before(async () => {
  router = await startRouter({ limits: { requestBurst: 1000, requestsPerSecond: 1000 } });
  client = await ManagementClient.connect('127.0.0.1', router.port, router.key);
});

test.after(async () => {
  await client.close();
  await router.close();
});

const lastCall = (): { method: string; args: unknown[] } => router.control.calls[router.control.calls.length - 1];

async function refusal(method: string, params: Record<string, unknown>): Promise<ManagementError> {
  try {
    await client.call(method, params);
  } catch (e) {
    assert.instance(e, ManagementError);
    return e as ManagementError;
  }
  throw new Error(`${method} was accepted`);
}

const SPEC = { name: 'web', mode: 'sniff', filter: 'tcp port 80', device: '192.0.2.2', port: 'monitor', encap: 'erspan3', snaplen: 128, sample: 4, ratePps: 1000, rateBps: 50_000_000_000, lifetime: 3600, requireRegistration: true };

test('status and counters: the control\'s answer, 64-bit counters exact', async () => {
  assert.equal(await client.call('status'), { board: 'sim', version: '0.1.0', uptimeSeconds: 12.5, tableVersion: 3 });
  const c = (await client.call('counters')) as { ports: Record<string, Record<string, number>>; management: Record<string, number> };
  assert.is(c.ports.lan.rx_bytes, BIG_COUNTER);
  assert.is(c.management.connections_authenticated, 1);
  assert.is(lastCall().method, 'counters');
});

test('sessions.add passes the whole spec (rateBps beyond 32 bits) and answers the session', async () => {
  const s = (await client.call('sessions.add', { spec: SPEC })) as { name: string; counters: Record<string, number>; state: string };
  assert.equal(lastCall(), { method: 'addSession', args: [SPEC] });
  assert.is(s.name, 'web');
  assert.is(s.state, 'holding');
  assert.is(s.counters.matched, BIG_COUNTER);
  const list = (await client.call('sessions.list')) as Array<{ name: string }>;
  assert.equal(list.map((x) => x.name), ['web']);
});

test('sessions.add of an existing name: the ControlError comes back with its field', async () => {
  const e = await refusal('sessions.add', { spec: SPEC });
  assert.is(e.code, 'refused');
  assert.is(e.field, 'spec.name');
  assert.match(e.message, /a session named "web" exists/);
});

test('sessions.delete answers deleted true, then false for an absent name', async () => {
  assert.equal(await client.call('sessions.delete', { name: 'web' }), { deleted: true });
  assert.equal(lastCall(), { method: 'deleteSession', args: ['web'] });
  assert.equal(await client.call('sessions.delete', { name: 'web' }), { deleted: false });
});

test('allowlist get and set', async () => {
  assert.equal(await client.call('allowlist.get', { service: 0 }), { service: 0, prefixes: ['127.0.0.1'] });
  assert.is(await client.call('allowlist.set', { list: { service: 0, prefixes: ['10.0.0.0/8', '192.0.2.7'] } }), null);
  assert.equal(lastCall(), { method: 'setAllowlist', args: [{ service: 0, prefixes: ['10.0.0.0/8', '192.0.2.7'] }] });
  assert.equal(await client.call('allowlist.get', { service: 0 }), { service: 0, prefixes: ['10.0.0.0/8', '192.0.2.7'] });
  const e = await refusal('allowlist.get', { service: 9 });
  assert.is(e.code, 'refused');
  assert.is(e.field, 'service');
});

test('policy get and set', async () => {
  assert.equal(await client.call('policy.get'), [{ action: 'deny', filter: 'tcp port 23' }]);
  const rules = [{ action: 'permit', filter: 'host 10.0.0.1' }, { action: 'deny', filter: 'udp' }];
  assert.is(await client.call('policy.set', { rules }), null);
  assert.equal(lastCall(), { method: 'setPolicy', args: [rules] });
  assert.equal(await client.call('policy.get'), rules);
});

test('limits get and set (a 64-bit maxRateBps exact)', async () => {
  const before = (await client.call('limits.get')) as Record<string, number>;
  assert.is(before.sessions, 64);
  const after = (await client.call('limits.set', { limits: { sessions: 10, maxRateBps: 90_000_000_000 } })) as Record<string, number>;
  assert.equal(lastCall(), { method: 'setLimits', args: [{ sessions: 10, maxRateBps: 90_000_000_000 }] });
  assert.is(after.sessions, 10);
  assert.is(after.maxRateBps, 90_000_000_000);
});

test('services.list and explain', async () => {
  const services = (await client.call('services.list')) as Array<{ service: number; caches: unknown[] }>;
  assert.equal(services.map((s) => s.service), [0, 70]);
  const packet = { port: 'lan', proto: 'tcp', src: '10.1.0.10', dst: '198.51.100.10', sport: 40000, dport: 80, vlan: 7, length: 1500 };
  const r = (await client.call('explain', { packet })) as { verdict: string; egress: string };
  assert.equal(lastCall(), { method: 'explain', args: [packet] });
  assert.is(r.verdict, 'forwarded');
  assert.is(r.egress, 'wan');
  const v6 = await client.call('explain', { packet: { port: 'lan', proto: 'udp', src: '2001:db8::1', dst: '2001:db8::2', dport: 53 } });
  assert.ok(v6);
  const e = await refusal('explain', { packet: { port: 'dmz', proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2' } });
  assert.is(e.field, 'packet.port');
});

test('config.save writes a state file loadState reads; config.load applies it', async () => {
  await client.call('sessions.add', { spec: { name: 'keep', mode: 'dup', filter: 'udp', device: '192.0.2.9' } });
  const saved = (await client.call('config.save')) as { path: string; bytes: number };
  assert.is(saved.path, router.control.stateFile);
  assert.is(fs.statSync(saved.path).size, saved.bytes);
  assert.equal(loadState(saved.path).sessions.map((s) => s.name), ['keep']);
  await client.call('sessions.delete', { name: 'keep' });
  assert.equal(await client.call('config.load'), { path: saved.path, bytes: saved.bytes });
  assert.equal(((await client.call('sessions.list')) as Array<{ name: string }>).map((s) => s.name), ['keep']);
});

test('a method the control fails unexpectedly answers internal; the connection lives on', async () => {
  router.control.failNext = { method: 'status', error: new TypeError('boom') };
  const e = await refusal('status', {});
  assert.is(e.code, 'internal');
  assert.match(e.message, /internal error in status: boom/);
  assert.ok(await client.call('status'));
  router.control.failNext = { method: 'getPolicy', error: new ControlError('rules', 'not now') };
  const c = await refusal('policy.get', {});
  assert.is(c.code, 'refused');
  assert.is(c.field, 'rules');
});

// ── bad params: [method, params, field, message] ──────────────────────────────────────────────
const BAD: Array<[string, Record<string, unknown>, string, RegExp]> = [
  ['status', { verbose: true }, 'params.verbose', /unknown field/],
  ['sessions.add', {}, 'params.spec', /is required/],
  ['sessions.add', { spec: { ...SPEC, snaplen: 70000 } }, 'params.spec.snaplen', /must be <= 65535/],
  ['sessions.add', { spec: { ...SPEC, snaplen: 20 } }, 'params.spec.snaplen', /must be 0 \(whole packets\) or at least 64/],
  ['sessions.add', { spec: { ...SPEC, snaplen: '128' } }, 'params.spec.snaplen', /must be integer/],
  ['sessions.add', { spec: { ...SPEC, snaplen: 1.5 } }, 'params.spec.snaplen', /must be integer/],
  ['sessions.add', { spec: { ...SPEC, mode: 'redirect' } }, 'params.spec.mode', /must be one of: sniff, dup, race/],
  ['sessions.add', { spec: { ...SPEC, device: '192.0.2.300' } }, 'params.spec.device', /must be an IPv4 address/],
  ['sessions.add', { spec: { ...SPEC, colour: 'red' } }, 'params.spec.colour', /unknown field/],
  ['sessions.add', { spec: { ...SPEC, name: 'no spaces' } }, 'params.spec.name', /letters, digits/],
  ['sessions.add', { spec: { ...SPEC, filter: 'tcp port' } }, 'params.spec.filter', /port/],
  ['sessions.add', { spec: { ...SPEC, filter: 'x'.repeat(16385) } }, 'params.spec.filter', /must NOT have more than 16384 characters/],
  ['sessions.add', { spec: { ...SPEC, sample: 0 } }, 'params.spec.sample', /must be >= 1/],
  ['sessions.add', { spec: { ...SPEC, requireRegistration: 'yes' } }, 'params.spec.requireRegistration', /must be boolean/],
  ['sessions.add', { spec: { ...SPEC, lifetime: 2 ** 32 } }, 'params.spec.lifetime', /must be <= 4294967295/],
  ['sessions.add', { spec: null }, 'params.spec', /must be object/],
  ['sessions.delete', { name: 7 }, 'params.name', /must be string/],
  ['allowlist.get', { service: 256 }, 'params.service', /must be <= 255/],
  ['allowlist.set', { list: { service: 0, prefixes: ['10.0.0.1/8'] } }, 'params.list.prefixes.0', /bits set past \/8/],
  ['allowlist.set', { list: { service: 0, prefixes: ['10.0.0.0/33'] } }, 'params.list.prefixes.0', /len 0\.\.32/],
  ['allowlist.set', { list: { service: 0, prefixes: ['10.0.0.0', '10.0.0.0'] } }, 'params.list.prefixes.1', /listed twice/],
  ['allowlist.set', { list: { service: 0 } }, 'params.list.prefixes', /is required/],
  ['policy.set', { rules: [{ action: 'allow', filter: 'tcp' }] }, 'params.rules.0.action', /must be one of: permit, deny/],
  ['policy.set', { rules: [{ action: 'deny', filter: 'tcp and (' }] }, 'params.rules.0.filter', /parenthes|operand|expected/],
  ['policy.set', { rules: {} }, 'params.rules', /must be array/],
  ['limits.set', { limits: { sessions: 65 } }, 'params.limits.sessions', /must be <= 64/],
  ['limits.set', { limits: { snaplenMin: 200, snaplenMax: 100 } }, 'params.limits.snaplenMin', /is larger than limits.snaplenMax/],
  ['limits.set', { limits: { flows: 1 } }, 'params.limits.flows', /unknown field/],
  ['explain', { packet: { port: 'lan', proto: 'sctp', src: '10.0.0.1', dst: '10.0.0.2' } }, 'params.packet.proto', /must be one of: tcp, udp, icmp/],
  ['explain', { packet: { port: 'lan', proto: 'tcp', src: 'ten', dst: '10.0.0.2' } }, 'params.packet.src', /not an IPv4 or IPv6 address/],
  ['explain', { packet: { port: 'lan', proto: 'tcp', src: '10.0.0.1', dst: '2001:db8::1' } }, 'params.packet.dst', /same family/],
  ['explain', { packet: { port: 'lan', proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2', dport: 80 } }, 'params.packet.dport', /icmp has no ports/],
  ['explain', { packet: { port: 'lan', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 65536 } }, 'params.packet.dport', /must be <= 65535/],
  ['explain', { packet: { port: 'lan', proto: 'tcp', src: '10.0.0.1' } }, 'params.packet.dst', /is required/],
];

for (const [method, params, field, message] of BAD) {
  test(`invalid_params: ${method} ${field} (${message.source.slice(0, 40)})`, async () => {
    const calls = router.control.calls.length;
    const e = await refusal(method, params);
    assert.is(e.code, 'invalid_params');
    assert.is(e.field, field);
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    assert.match(e.message, message);
    assert.is(router.control.calls.length, calls, 'the control was not called');
  });
}

test('every method is covered by a round trip above', () => {
  // The image.* methods are the upload's: mgmt-image.test.ts runs them against the real router.
  const covered = ['status', 'counters', 'sessions.list', 'sessions.add', 'sessions.delete', 'allowlist.get', 'allowlist.set', 'policy.get', 'policy.set', 'limits.get', 'limits.set', 'services.list', 'explain', 'config.save', 'config.load',
    'image.begin', 'image.chunk', 'image.flash', 'image.abort'];
  assert.equal(Object.keys(METHODS).sort(), covered.sort());
});

test('the refusals were counted by reason', () => {
  const c = router.server.counters();
  assert.is(c.refused_invalid_params, BAD.length);
  assert.ok(c.control_errors >= 4, String(c.control_errors));
  assert.is(c.refused_internal_error, 1);
});

test.run();
