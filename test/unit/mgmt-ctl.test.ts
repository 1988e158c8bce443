// `twinflow ctl` end to end: the real CLI (node bin/twinflow.mjs ctl ...) against a
// ManagementServer over the FakeControl in this process, with a key file made by `ctl keygen`.
// Each command reaches the control with the right arguments and prints a table or, with --json,
// the exact result; every user error (bad argument, refused request, wrong key, no router)
// exits 2 with one line naming what is wrong.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { ManagementServer } from '../../firmware/shell/mgmt/server.ts';
import { readKeyFile } from '../../firmware/shell/mgmt/keyfile.ts';
import { FakeControl, BIG_COUNTER } from '../fixtures/fake-control.ts';
import { TWINFLOW } from '../fixtures/capture.ts';
import { makeTempDir, removeTempDir } from '../fixtures/capture.ts';
import { run } from './mgmt-helpers.ts';

const dir = makeTempDir('mgmt-ctl');
const KEY = path.join(dir, 'ops.key');
const control = new FakeControl(path.join(dir, 'router.state'));
let server: ManagementServer;
let port = 0;

const ctl = (...args: string[]) => run(process.execPath, [TWINFLOW, 'ctl', '--connect', `127.0.0.1:${port}`, '--key', KEY, ...args], { ms: 30_000 });
const lastCall = (): { method: string; args: unknown[] } => control.calls[control.calls.length - 1];

function userError(r: { status: number | null; stdout: string; stderr: string }, message: RegExp): void {
  assert.is(r.status, 2, `exit status; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], /^twinflow: /);
  assert.match(lines[0], message);
  assert.is(r.stdout, '');
}

test.before(async () => {
  const r = await run(process.execPath, [TWINFLOW, 'ctl', 'keygen', KEY, '--identity', 'noc']);
  assert.is(r.status, 0, r.stderr);
  server = new ManagementServer({ control, keys: readKeyFile(KEY), limits: { requestsPerSecond: 1000, requestBurst: 1000 } });
  control.management = () => server.counters();
  port = await server.listen('127.0.0.1', 0);
});

test.after(async () => {
  await server.close();
  removeTempDir(dir);
});

test('keygen wrote a 0600 key file; a second keygen to the same file is refused', async () => {
  assert.is(fs.statSync(KEY).mode & 0o777, 0o600);
  assert.is(readKeyFile(KEY).identity, 'noc');
  const r = await run(process.execPath, [TWINFLOW, 'ctl', 'keygen', KEY]);
  userError(r, /ops\.key: exists; keygen never overwrites a key/);
});

test('status: a table, and --json for scripts', async () => {
  const [t, j] = await Promise.all([ctl('status'), ctl('status', '--json')]);
  assert.is(t.status, 0, t.stderr);
  assert.match(t.stdout, /^board\s+sim$/m);
  assert.match(t.stdout, /^table version\s+3$/m);
  assert.is(j.status, 0, j.stderr);
  assert.equal(JSON.parse(j.stdout), { board: 'sim', version: '0.1.0', uptimeSeconds: 12.5, tableVersion: 3 });
});

test('session add with every option reaches the control as one spec', async () => {
  const r = await ctl('session', 'add', 'web', '--mode', 'sniff', '--filter', 'tcp port 80', '--device', '192.0.2.2', '--port', 'monitor',
    '--encap', 'erspan2', '--snaplen', '128', '--sample', '4', '--rate-pps', '1000', '--rate-bps', '90000000000', '--lifetime', '600', '--require-registration');
  assert.is(r.status, 0, r.stderr);
  assert.equal(lastCall(), {
    method: 'addSession',
    args: [{ name: 'web', mode: 'sniff', filter: 'tcp port 80', device: '192.0.2.2', port: 'monitor', encap: 'erspan2', snaplen: 128, sample: 4, ratePps: 1000, rateBps: 90_000_000_000, lifetime: 600, requireRegistration: true }],
  });
  assert.match(r.stdout, /^session web added$/m);
  assert.match(r.stdout, /^web\s+static\s+sniff\s+holding\s+192\.0\.2\.2\s+monitor\s+erspan2\s+128\s+4\s+1099511627783\s/m);
});

test('refusals name the option: a schema bound, a filter, a duplicate name', async () => {
  const calls = control.calls.length;
  const [bound, filter, dup] = await Promise.all([
    ctl('session', 'add', 'x', '--mode', 'sniff', '--filter', 'tcp', '--device', '192.0.2.2', '--snaplen', '70000'),
    ctl('session', 'add', 'x', '--mode', 'sniff', '--filter', 'tcp port', '--device', '192.0.2.2'),
    ctl('session', 'add', 'web', '--mode', 'dup', '--filter', 'udp', '--device', '192.0.2.3'),
  ]);
  userError(bound, /sessions\.add: --snaplen: must be <= 65535/);
  assert.is(filter.status, 2);
  assert.match(filter.stderr.split('\n')[0], /sessions\.add: --filter: /);
  userError(dup, /sessions\.add: NAME: a session named "web" exists/);
  assert.is(control.calls.length, calls + 1, 'only the duplicate reached the control');
});

test('a bad number and a bad --mode are refused by the command line itself', async () => {
  const [num, mode] = await Promise.all([
    ctl('session', 'add', 'x', '--mode', 'sniff', '--filter', 'tcp', '--device', '192.0.2.2', '--snaplen', 'lots'),
    ctl('session', 'add', 'x', '--mode', 'copy', '--filter', 'tcp', '--device', '192.0.2.2'),
  ]);
  assert.is(num.status, 2);
  assert.match(num.stderr, /--snaplen <bytes>' argument 'lots' is invalid\. expected a whole number/);
  assert.is(mode.status, 2);
  assert.match(mode.stderr, /--mode <mode>' argument 'copy' is invalid\. Allowed choices are sniff, dup, race/);
});

test('sessions and counters: --json keeps 64-bit counters exact', async () => {
  const [list, counters, table] = await Promise.all([ctl('sessions', '--json'), ctl('counters', '--json'), ctl('counters')]);
  assert.is(list.status, 0, list.stderr);
  const sessions = JSON.parse(list.stdout) as Array<{ name: string; counters: { matched: number } }>;
  assert.equal(sessions.map((s) => s.name), ['web']);
  assert.is(sessions[0].counters.matched, BIG_COUNTER);
  assert.match(counters.stdout, new RegExp(`"rx_bytes": ${BIG_COUNTER}`));
  assert.match(table.stdout, /^rx_bytes\s+1099511627783\s+4000$/m);
  assert.match(table.stdout, /^refused_auth_failed\s+0$/m);
});

test('allowlist: show, set, and a bad prefix named by its entry', async () => {
  const show = await ctl('allowlist', '0');
  assert.is(show.status, 0, show.stderr);
  assert.match(show.stdout, /service 0 allows:\n {2}127\.0\.0\.1/);
  const set = await ctl('allowlist', '0', '--set', '10.0.0.0/8, 192.0.2.7');
  assert.is(set.status, 0, set.stderr);
  assert.equal(lastCall(), { method: 'setAllowlist', args: [{ service: 0, prefixes: ['10.0.0.0/8', '192.0.2.7'] }] });
  const [bad, unknown] = await Promise.all([ctl('allowlist', '0', '--set', '10.0.0.0/8,10.1.2.3/16'), ctl('allowlist', '9')]);
  userError(bad, /allowlist\.set: --set \(10\.1\.2\.3\/16\): "10\.1\.2\.3\/16" has bits set past \/16/);
  userError(unknown, /allowlist\.get: SERVICE: no service group 9 is configured/);
});

test('policy --set FILE: rules from the file; a refused rule is named by its line', async () => {
  const file = path.join(dir, 'policy.txt');
  fs.writeFileSync(file, '# edge policy\npermit host 10.0.0.1\n\ndeny tcp port 23\n');
  const r = await ctl('policy', '--set', file);
  assert.is(r.status, 0, r.stderr);
  assert.equal(lastCall(), { method: 'setPolicy', args: [[{ action: 'permit', filter: 'host 10.0.0.1' }, { action: 'deny', filter: 'tcp port 23' }]] });
  fs.writeFileSync(file, 'permit host 10.0.0.1\n\ndeny tcp port\n');
  const bad = await ctl('policy', '--set', file);
  assert.is(bad.status, 2);
  assert.match(bad.stderr.split('\n')[0], /policy\.set: .*policy\.txt:3: /);
  fs.writeFileSync(file, 'allow everything\n');
  userError(await ctl('policy', '--set', file), /policy\.txt:1: expected "permit FILTER" or "deny FILTER"/);
  const show = await ctl('policy');
  assert.match(show.stdout, /^1\s+permit\s+host 10\.0\.0\.1$/m);
});

test('limits: show, set, and a bad key or value', async () => {
  const set = await ctl('limits', '--set', 'sessions=10', 'peers=5');
  assert.is(set.status, 0, set.stderr);
  assert.equal(lastCall(), { method: 'setLimits', args: [{ sessions: 10, peers: 5 }] });
  assert.match(set.stdout, /^sessions\s+10$/m);
  const [key, value, range] = await Promise.all([ctl('limits', '--set', 'flows=3'), ctl('limits', '--set', 'sessions=ten'), ctl('limits', '--set', 'sessions=65')]);
  userError(key, /limits\.set: --set flows: unknown field/);
  userError(value, /--set "sessions=ten": expected key=value with a whole number/);
  userError(range, /limits\.set: --set sessions: must be <= 64/);
});

test('services, explain, save, load, session del', async () => {
  const [services, explain] = await Promise.all([
    ctl('services'),
    ctl('explain', '--port', 'lan', '--proto', 'tcp', '--src', '10.1.0.10', '--dst', '198.51.100.10', '--sport', '40000', '--dport', '80'),
  ]);
  assert.match(services.stdout, /^\s*0\s+standard\s+none\s+hash\s+127\.0\.0\.1\s+yes/m);
  assert.is(explain.status, 0, explain.stderr);
  assert.match(explain.stdout, /^verdict: forwarded \(egress wan\)$/m);
  assert.equal(control.calls.find((c) => c.method === 'explain')!.args, [{ port: 'lan', proto: 'tcp', src: '10.1.0.10', dst: '198.51.100.10', sport: 40000, dport: 80 }]);
  const save = await ctl('save');
  assert.match(save.stdout, new RegExp(`^saved \\d+ bytes to ${control.stateFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  const load = await ctl('load');
  assert.is(load.status, 0, load.stderr);
  const [del, again] = [await ctl('session', 'del', 'web'), await ctl('session', 'del', 'web')];
  assert.match(del.stdout, /^session web deleted$/m);
  assert.is(again.status, 0);
  assert.match(again.stdout, /^no session named web: nothing deleted$/m);
  userError(await ctl('explain', '--port', 'dmz', '--proto', 'icmp', '--src', '10.0.0.1', '--dst', '10.0.0.2'), /explain: --port: no port named "dmz"/);
});

test('wrong key, unknown identity, no router, no --connect, an open key file: one line, exit 2', async () => {
  const other = path.join(dir, 'other.key');
  const stranger = path.join(dir, 'stranger.key');
  await run(process.execPath, [TWINFLOW, 'ctl', 'keygen', other, '--identity', 'noc']);
  await run(process.execPath, [TWINFLOW, 'ctl', 'keygen', stranger, '--identity', 'stranger']);
  const open = path.join(dir, 'open.key');
  fs.copyFileSync(KEY, open);
  fs.chmodSync(open, 0o644);
  const refused = server.counters().refused_auth_failed;
  const [wrong, unknown, nobody, noConnect, loose] = await Promise.all([
    run(process.execPath, [TWINFLOW, 'ctl', '--connect', `127.0.0.1:${port}`, '--key', other, 'status']),
    run(process.execPath, [TWINFLOW, 'ctl', '--connect', `127.0.0.1:${port}`, '--key', stranger, 'status']),
    run(process.execPath, [TWINFLOW, 'ctl', '--connect', '127.0.0.1:1', '--key', KEY, 'status']),
    run(process.execPath, [TWINFLOW, 'ctl', '--key', KEY, 'status']),
    run(process.execPath, [TWINFLOW, 'ctl', '--connect', `127.0.0.1:${port}`, '--key', open, 'status']),
  ]);
  userError(wrong, /authentication failed at 127\.0\.0\.1:\d+: wrong key for identity "noc"/);
  userError(unknown, /authentication failed at 127\.0\.0\.1:\d+: the router does not know identity "stranger"/);
  userError(nobody, /cannot reach the router at 127\.0\.0\.1:1: connection refused/);
  userError(noConnect, /--connect ADDR\[:PORT\] is required/);
  userError(loose, /open\.key: mode 0644 lets group or others read or write the key/);
  assert.is(server.counters().refused_auth_failed, refused + 2);
});

test.run();
