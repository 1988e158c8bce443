// `twinflow boot` on the sim board with the demo session, as `npm start` runs it: traffic flows
// both ways through the router, the session replicates the sniffed client's packets to the
// collector, the counters are conserved, and SIGINT stops it cleanly with final counters.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('boot --demo --duration: flows complete, the collector gets every replica, counters conserve', () => {
  const r = spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', 'sim', '--demo', '--duration', '2', '--json'], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as any;
  assert.equal(s.violations, []);
  const lan = s.ports.lan;
  const wan = s.ports.wan;
  assert.ok(lan.rx_packets > 500, `lan rx ${lan.rx_packets}`);
  assert.is(lan.forwarded, lan.rx_packets);
  assert.is(wan.forwarded, wan.rx_packets);
  // What the router forwarded from lan is what the servers received, and vice versa.
  assert.is(s.endpoints.wan.packetsReceived, lan.forwarded);
  assert.is(s.endpoints.lan.packetsReceived, wan.forwarded);
  assert.ok(s.endpoints.lan.flowsCompleted > 100, `flows ${s.endpoints.lan.flowsCompleted}`);
  assert.is(s.endpoints.lan.flowsAbandoned, 0);
  const sess = s.sessions['sniff-client'];
  assert.ok(sess.matched > 0 && sess.matched < lan.rx_packets + wan.rx_packets, `matched ${sess.matched}`);
  assert.is(sess.replicated, sess.matched);
  assert.is(s.endpoints.monitor.replicas, sess.replicated);
  assert.is(s.endpoints.monitor.greWccp, sess.replicated);
  assert.is(s.endpoints.monitor.malformed, 0);
});

test('SIGINT stops the router cleanly and prints the final counters', async () => {
  const child = spawn(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', 'sim', '--demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  // Once the live counters show, the loop runs and SIGINT is handled.
  const deadline = Date.now() + 30_000;
  while (!/twinflow on board "sim"/.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 0, out);
  assert.match(out, /stopped\s*$/);
  assert.match(out, /sniff-client\s+\d+\s+\d+/);
});

test('a board with four line cards boots them as worker threads, configured or with its demo sessions', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-boot-'));
  try {
    fs.writeFileSync(path.join(dir, 'router.json'), JSON.stringify({
      wccp: { address: '127.0.0.1', port: 21000 + (process.pid % 20000) },
      sessions: [{ name: 'dns', mode: 'sniff', filter: 'udp port 53', device: '192.0.2.2' }],
    }));
    for (const args of [['--demo'], ['--config', path.join(dir, 'router.json')]]) {
      const r = spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', 'chassis', ...args, '--duration', '3', '--json'], { encoding: 'utf8', timeout: 60_000 });
      assert.is(r.status, 0, r.stderr);
      const s = JSON.parse(r.stdout) as any;
      assert.is(s.cards, 4);
      assert.equal(s.violations, []);
      const rx = Object.values(s.ports as Record<string, { rx_packets: number }>).reduce((n, p) => n + p.rx_packets, 0);
      assert.ok(rx > 1000, `${rx} packets through the chassis`);
      const sessions = Object.values(s.sessions as Record<string, { matched: number; replicated: number }>);
      assert.ok(sessions.length > 0 && sessions.every((c) => c.matched > 0 && c.replicated === c.matched), JSON.stringify(s.sessions));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('boot refuses what it cannot honour with one line naming the field', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-boot-'));
  try {
    const board = JSON.parse(fs.readFileSync('boards/sim.json', 'utf8'));
    board.ports[0].fault = { rx: { drop: 2 } };
    fs.writeFileSync(path.join(dir, 'faulty.json'), JSON.stringify(board));
    fs.writeFileSync(path.join(dir, 'router.json'), JSON.stringify({ wccp: { address: '127.0.0.1' }, services: [{ id: 0, type: 'standard', allow: ['10.0.0.0/33'] }] }));
    const run = (...args: string[]) => spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', ...args, '--duration', '1'], { encoding: 'utf8', timeout: 30_000 });
    const cases: Array<[string[], RegExp]> = [
      [['--board', path.join(dir, 'faulty.json')], /faulty\.json: ports\.0\.fault\.rx\.drop: must be a probability/],
      [['--config', path.join(dir, 'router.json')], /router\.json: services\.0\.allow\.0: .*not an IPv4 address or prefix/],
      [['--config', path.join(dir, 'router.json'), '--demo'], /--demo and --config|services\.0\.allow/],
      [['--trace', 'dmz=x.pcapng'], /--trace dmz=…: board "sim" has no port "dmz"/],
    ];
    for (const [args, want] of cases) {
      const r = run(...args);
      assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the small-router board refuses a configuration that does not fit it, before any table is touched', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-boot-'));
  try {
    const hosts = (base: number) => Array.from({ length: 700 }, (_, i) => `host 10.${base}.${(2 * i) >> 8}.${(2 * i) & 255}`).join(' or ');
    const session = (i: number) => ({ name: `s${i}`, mode: 'sniff', filter: hosts(i), device: '192.0.2.2' });
    const write = (name: string, extra: object) => fs.writeFileSync(path.join(dir, name), JSON.stringify({ wccp: { address: '127.0.0.1', port: 20000 + (process.pid % 20000) }, ...extra }));
    write('rules.json', { sessions: [0, 1, 2, 3, 4, 5].map(session) });
    write('sessions.json', { limits: { sessions: 32 } });
    const run = (file: string) => spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', 'small-router', '--config', path.join(dir, file), '--duration', '1'], { encoding: 'utf8', timeout: 60_000 });
    const rules = run('rules.json');
    assert.is(rules.status, 2, rules.stderr);
    assert.match(rules.stderr, /rules: the sessions and policy need 8400 classifier rules; this board allows 4096 \(limits\.rules\)/);
    const sessions = run('sessions.json');
    assert.is(sessions.status, 2, sessions.stderr);
    assert.match(sessions.stderr, /limits\.sessions: must be 1\.\.16 on this board/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a fault on a port impairs it, seeded and counted: rx drops never reach the data plane', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-boot-'));
  try {
    const board = JSON.parse(fs.readFileSync('boards/sim.json', 'utf8'));
    board.ports[1].fault = { rx: { drop: 0.25, seed: 7 } };
    fs.writeFileSync(path.join(dir, 'lossy.json'), JSON.stringify(board));
    const r = spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', path.join(dir, 'lossy.json'), '--duration', '2', '--json'], { encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as any;
    const sent = s.endpoints.wan.packetsSent;
    const arrived = s.ports.wan.rx_packets;
    assert.ok(arrived < sent * 0.85 && arrived > sent * 0.6, `${arrived} of ${sent} arrived through 25 % loss`);
    assert.equal(s.violations, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
