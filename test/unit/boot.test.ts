// `twinflow boot` on the sim board with the demo session, as `npm start` runs it: traffic flows
// both ways through the router, the session replicates the sniffed client's packets to the
// collector, the counters are conserved, and SIGINT stops it cleanly with final counters.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';

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
  await new Promise((resolve) => setTimeout(resolve, 2500));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 0, out);
  assert.match(out, /stopped\s*$/);
  assert.match(out, /sniff-client\s+\d+\s+\d+/);
});

test.run();
