// twinflow's WCCP server against the real Squid 5.7 that Debian ships (`squid` must be
// installed; scripts/setup.sh does it). Each scenario runs its own Squid (`squid -N -f`, config
// in a temporary directory owned by `proxy`) against its own router on a private loopback pair
// 127.a.b.1 (Squid) ↔ 127.a.b.2 (router), all scenarios at once, and kills and cleans up after.
//
// What stock Squid 5.7 achieves against twinflow (reference/wccp2.md 3.5, docs/wccp.md):
// - its HERE_I_AM is accepted: hash and mask services, without and with MD5 (a wrong password is
//   refused and counted, and Squid then never hears from the router);
// - our standard I_SEE_YOU is dropped by Squid's parser (bug 1): cache.log says
//   "duplicate security definition" (standard service; "truncated record" for a dynamic one)
//   and Squid keeps echoing Receive ID 0, so it stays joining;
// - with squid57Compat on, Squid takes the I_SEE_YOU as far as the Receive ID ("Received ID
//   old=0 new=1"), echoes it — so our router lists it as usable — and then fails on bug 2
//   ("huge IP address count"), so it never sends REDIRECT_ASSIGN.
//
// Squid's timers are real (first HERE_I_AM 1 s after start, then every 10 s), so a scenario
// takes about 12 s; they run in parallel and every wait is bounded.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { WccpServiceConfig } from '../../firmware/shell/config/types.ts';
import { WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import type { WccpCounters } from '../../firmware/shell/wccp/router/index.ts';
import { WccpServer } from '../../firmware/shell/wccp/server.ts';
import type { ServiceInfo } from '../../firmware/shell/control.ts';

const PROXY_UID = 13;
const PROXY_GID = 13;
const NET = 200 + (process.pid % 50);
/** Squid's second HERE_I_AM goes out about 11 s after start; give it some slack. */
const SCENARIO_DEADLINE_MS = 25_000;
const STOP_GRACE_MS = 8_000;

interface Scenario {
  readonly name: string;
  readonly squid: { readonly assignment: 'hash' | 'mask'; readonly forwarding: 'gre' | 'l2'; readonly service: string; readonly serviceInfo?: string };
  readonly router: { readonly services: readonly WccpServiceConfig[]; readonly squid57Compat: boolean };
  /** Done when this holds (checked every 100 ms). */
  readonly until: (r: Result) => boolean;
}

interface Result {
  readonly squidAddress: string;
  readonly log: string;
  readonly counters: WccpCounters;
  readonly services: ServiceInfo[];
  readonly routerLog: readonly string[];
  readonly elapsedMs: number;
}

const SERVICE_70 = 'wccp2_service_info 70 protocol=tcp flags=src_ip_hash,ports_source priority=240 ports=80,8080';
const count = (log: string, re: RegExp) => (log.match(new RegExp(re, 'g')) ?? []).length;
const usable = (r: Result) => r.services.some((s) => s.caches.some((c) => c.usable));

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'hash, no security, standard I_SEE_YOU',
    squid: { assignment: 'hash', forwarding: 'gre', service: 'standard 0' },
    router: { services: [{ id: 0, type: 'standard', allow: [] }], squid57Compat: false },
    until: (r) => r.counters.here_i_am >= 2 && count(r.log, /duplicate security definition/) >= 2,
  },
  {
    name: 'hash, MD5, standard I_SEE_YOU',
    squid: { assignment: 'hash', forwarding: 'gre', service: 'standard 0 password=abc' },
    router: { services: [{ id: 0, type: 'standard', allow: [], password: 'abc' }], squid57Compat: false },
    until: (r) => r.counters.here_i_am >= 1 && count(r.log, /duplicate security definition/) >= 1,
  },
  {
    name: 'hash, MD5 with the wrong password',
    squid: { assignment: 'hash', forwarding: 'gre', service: 'standard 0 password=abc' },
    router: { services: [{ id: 0, type: 'standard', allow: [], password: 'xyz' }], squid57Compat: false },
    until: (r) => r.counters.unauthentic >= 2,
  },
  {
    name: 'mask, dynamic 70, L2, no security, standard I_SEE_YOU',
    squid: { assignment: 'mask', forwarding: 'l2', service: 'dynamic 70', serviceInfo: SERVICE_70 },
    router: { services: [{ id: 70, type: 'dynamic', allow: [] }], squid57Compat: false },
    until: (r) => r.counters.here_i_am >= 1 && count(r.log, /Ignoring WCCPv2 message: truncated record/) >= 1,
  },
  {
    name: 'mask, dynamic 70, L2, MD5, squid57Compat',
    squid: { assignment: 'mask', forwarding: 'l2', service: 'dynamic 70 password=abc', serviceInfo: SERVICE_70 },
    router: { services: [{ id: 70, type: 'dynamic', allow: [], password: 'abc' }], squid57Compat: true },
    until: (r) => usable(r) && count(r.log, /huge IP address count/) >= 2,
  },
  {
    name: 'hash, no security, squid57Compat',
    squid: { assignment: 'hash', forwarding: 'gre', service: 'standard 0' },
    router: { services: [{ id: 0, type: 'standard', allow: [] }], squid57Compat: true },
    until: (r) => usable(r) && count(r.log, /huge IP address count/) >= 2,
  },
];

function squidConf(dir: string, squid: string, router: string, s: Scenario['squid']): string {
  return [
    `http_port ${squid}:3128`,
    'http_access deny all',
    'cache deny all',
    'cache_mem 8 MB',
    `pid_filename ${dir}/squid.pid`,
    `cache_log ${dir}/cache.log`,
    `access_log ${dir}/access.log`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'cache_effective_user proxy',
    'shutdown_lifetime 1 seconds',
    'pinger_enable off',
    'debug_options ALL,1 80,5',
    `wccp2_router ${router}`,
    // Required on loopback: both ends use UDP 2048 (reference 4.2).
    `wccp2_address ${squid}`,
    `wccp2_forwarding_method ${s.forwarding}`,
    `wccp2_return_method ${s.forwarding}`,
    `wccp2_assignment_method ${s.assignment}`,
    `wccp2_service ${s.service}`,
    ...(s.serviceInfo === undefined ? [] : [s.serviceInfo]),
    'wccp2_rebuild_wait off',
    '',
  ].join('\n');
}

async function stopSquid(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), STOP_GRACE_MS).unref())]);
  if (!graceful) {
    proc.kill('SIGKILL');
    await exited;
  }
}

async function runScenario(s: Scenario, index: number): Promise<Result> {
  const squidAddress = `127.${NET}.${index + 1}.1`;
  const routerAddress = `127.${NET}.${index + 1}.2`;
  const services = s.router.services.map((x) => ({ ...x, allow: [squidAddress] }));
  const routerLog: string[] = [];
  const router = new WccpRouter({ address: routerAddress, squid57Compat: s.router.squid57Compat, services, hooks: { log: (l) => routerLog.push(l) } });
  const server = new WccpServer({ router, address: routerAddress, port: 2048 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-squid-'));
  const logFile = path.join(dir, 'cache.log');
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const started = Date.now();
  const snapshot = (): Result => ({
    squidAddress,
    log: readLog(),
    counters: router.counters(),
    services: router.services(),
    routerLog: [...routerLog],
    elapsedMs: Date.now() - started,
  });
  let proc: ChildProcess | null = null;
  const killOnExit = () => proc?.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    fs.writeFileSync(path.join(dir, 'squid.conf'), squidConf(dir, squidAddress, routerAddress, s.squid));
    fs.chownSync(dir, PROXY_UID, PROXY_GID);
    await server.start();
    proc = spawn('squid', ['-N', '-f', path.join(dir, 'squid.conf')], { stdio: 'ignore' });
    const spawnError = new Promise<never>((_, reject) => proc!.once('error', reject));
    const deadline = started + SCENARIO_DEADLINE_MS;
    for (;;) {
      const r = snapshot();
      if (s.until(r)) break;
      if (proc.exitCode !== null) throw new Error(`${s.name}: squid exited ${proc.exitCode}:\n${r.log}`);
      if (Date.now() > deadline) throw new Error(`${s.name}: not done after ${SCENARIO_DEADLINE_MS} ms\n${r.log}\n${r.routerLog.join('\n')}`);
      await Promise.race([spawnError, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    return snapshot();
  } finally {
    if (proc !== null) await stopSquid(proc);
    process.removeListener('exit', killOnExit);
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const results = new Map<string, Result>();
const byName = (name: string) => {
  const r = results.get(name);
  if (r === undefined) throw new Error(`scenario "${name}" did not run`);
  return r;
};

test('every scenario, each with its own Squid and router, all at once', async () => {
  const settled = await Promise.allSettled(SCENARIOS.map((s, i) => runScenario(s, i)));
  const failures: string[] = [];
  settled.forEach((x, i) => {
    if (x.status === 'fulfilled') results.set(SCENARIOS[i]!.name, x.value);
    else failures.push(String(x.reason instanceof Error ? x.reason.message : x.reason));
  });
  assert.equal(failures, []);
});

test("stock Squid's hash HERE_I_AM is accepted; it drops our standard I_SEE_YOU (duplicate security definition) and stays joining", () => {
  const r = byName('hash, no security, standard I_SEE_YOU');
  assert.ok(r.counters.here_i_am >= 2);
  assert.is(r.counters.i_see_you, r.counters.here_i_am);
  assert.is(r.counters.malformed, 0);
  assert.equal(r.services[0]!.caches.map((c) => [c.address, c.usable, c.mode]), [[r.squidAddress, false, 'redirect']]);
  assert.match(r.log, /Sending HereIam packet size 144/);
  assert.match(r.log, /ERROR: Ignoring WCCPv2 message: check failed: duplicate security definition/);
  assert.not.match(r.log, /Received ID old=/);
});

test("stock Squid's hash HERE_I_AM with MD5 is accepted under the right password", () => {
  const r = byName('hash, MD5, standard I_SEE_YOU');
  assert.ok(r.counters.here_i_am >= 1);
  assert.is(r.counters.unauthentic, 0);
  assert.match(r.log, /Sending HereIam packet size 160/);
  assert.equal(r.services[0]!.security, 'md5');
  assert.is(r.services[0]!.caches.length, 1);
  assert.match(r.log, /duplicate security definition/);
});

test('a wrong MD5 password: refused, counted, no state, and Squid never hears an I_SEE_YOU', () => {
  const r = byName('hash, MD5 with the wrong password');
  assert.ok(r.counters.unauthentic >= 2);
  assert.is(r.counters.here_i_am, 0);
  assert.is(r.counters.i_see_you, 0);
  assert.equal(r.services[0]!.caches, []);
  assert.match(r.routerLog.join('\n'), /bad-digest/);
  assert.not.match(r.log, /Incoming WCCPv2 I_SEE_YOU/);
});

test("stock Squid's mask HERE_I_AM (dynamic 70, L2) is accepted; its parser drops our I_SEE_YOU as a truncated record", () => {
  const r = byName('mask, dynamic 70, L2, no security, standard I_SEE_YOU');
  assert.ok(r.counters.here_i_am >= 1);
  assert.is(r.counters.bad_capability, 0);
  assert.match(r.log, /Sending HereIam packet size 132/);
  assert.equal(r.services[0]!.caches.map((c) => [c.address, c.usable]), [[r.squidAddress, false]]);
  // The same bug 1 as with a standard service, but Squid's 8-byte stride now lands inside a
  // non-zero dynamic Service Info (type 0x0146, length 0xf006) instead of on zeros.
  assert.match(r.log, /ERROR: Ignoring WCCPv2 message: truncated record/);
  assert.not.match(r.log, /Received ID old=/);
});

test('squid57Compat, mask with MD5: Squid takes the Receive ID (MD5 checked both ways), then fails on bug 2; our router lists it usable', () => {
  const r = byName('mask, dynamic 70, L2, MD5, squid57Compat');
  assert.match(r.log, /Sending HereIam packet size 148/);
  const received = r.log.indexOf('Received ID old=0 new=1');
  assert.ok(received >= 0, r.log);
  assert.ok(r.log.indexOf('huge IP address count', received) > received);
  assert.not.match(r.log, /failed authentication|Invalid security option|duplicate security definition/);
  assert.is(r.counters.unauthentic, 0);
  assert.is(r.counters.joins, 1);
  assert.equal(r.services[0]!.caches.map((c) => [c.address, c.usable]), [[r.squidAddress, true]]);
  assert.not.match(r.log, /wccp2AssignBuckets/);
  assert.is(r.counters.redirect_assign, 0);
});

test('squid57Compat, hash: Received ID old=0 new=1, then huge IP address count; usable, no REDIRECT_ASSIGN', () => {
  const r = byName('hash, no security, squid57Compat');
  const received = r.log.indexOf('Received ID old=0 new=1');
  assert.ok(received >= 0, r.log);
  assert.ok(r.log.indexOf('huge IP address count', received) > received);
  assert.match(r.log, /Received ID old=1 new=2/);
  assert.equal(r.services[0]!.caches.map((c) => [c.address, c.usable]), [[r.squidAddress, true]]);
  assert.is(r.counters.redirect_assign, 0);
  assert.is(r.counters.stale_receive_id, 0);
});

test.run();
