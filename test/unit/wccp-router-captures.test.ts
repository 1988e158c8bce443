// The router against real Squid 5.7 traffic (shared/data/wccp): every HERE_I_AM Squid sent is
// accepted (hash, mask, MD5 with password `abc`), and replaying the full-handshake capture
// (Squid at 127.0.0.1, router 127.0.0.2) through a router with Router ID 127.0.0.2 reproduces
// the captured router's I_SEE_YOUs byte for byte: Receive ID 1 first, the cache usable with
// member change number 1, Squid's REDIRECT_ASSIGN (receive ID 3, change 1) accepted with all
// 256 buckets for 127.0.0.1, and its key echoed afterwards. Replaying the stock-Squid capture
// gives the very I_SEE_YOUs that Squid's parser rejected there.

import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodeMessage, MessageType } from '../../firmware/shell/wccp/index.ts';
import { WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import type { WccpCounters } from '../../firmware/shell/wccp/router/index.ts';
import { CAPTURE_DIR, hex } from './wccp-fixtures.ts';
import { captureMessages, recordingHooks } from './wccp-net.ts';

const SQUID = '127.0.0.1';
const ROUTER = '127.0.0.2';

const DROPS: ReadonlyArray<keyof WccpCounters> = [
  'malformed', 'unexpected_message', 'address_table', 'unknown_service', 'not_allowed', 'unauthentic', 'address_mismatch',
  'bad_capability', 'service_mismatch', 'extension_changed', 'group_full', 'not_designated', 'stale_assignment',
  'assignment_mismatch', 'unsupported_assignment', 'not_listed', 'internal_error',
];

function squidRouter() {
  const rec = recordingHooks();
  const r = new WccpRouter({
    address: ROUTER,
    services: [
      { id: 0, type: 'standard', allow: [SQUID] },
      { id: 70, type: 'dynamic', allow: [SQUID], password: 'abc' },
    ],
    hooks: rec.hooks,
  });
  return { r, ...rec };
}

/** Replay the cache's side of a capture at its times; returns the router's answers in order. */
function replay(r: WccpRouter, file: string) {
  const answers: Uint8Array[] = [];
  const captured: Uint8Array[] = [];
  for (const m of captureMessages(path.join(CAPTURE_DIR, file))) {
    if (m.src !== SQUID) {
      captured.push(m.payload);
      continue;
    }
    r.tick(m.atMs);
    for (const o of r.receive(m.payload, { address: SQUID, port: 2048 }, m.atMs)) {
      assert.equal(o.to, { address: SQUID, port: 2048 });
      answers.push(o.datagram);
    }
  }
  return { answers, captured };
}

function noDrops(r: WccpRouter): void {
  const c = r.counters();
  for (const d of DROPS) assert.is(c[d], 0, `${d}: ${r.recentLog().join('\n')}`);
}

test('squid_here_i_am.pcap: three hash HERE_I_AMs accepted and answered', () => {
  const { r } = squidRouter();
  const { answers } = replay(r, 'squid_here_i_am.pcap');
  noDrops(r);
  assert.is(r.counters().here_i_am, 3);
  assert.equal(answers.map((a) => decodeMessage(a).type), [11, 11, 11]);
  // Squid never echoed a Receive ID (no router answered it then), so it is still joining.
  assert.equal(r.group(0)!.caches.map((c) => c.state), ['joining']);
});

test('squid_here_i_am_mask_dynamic.pcap: mask HERE_I_AMs for dynamic 70 (MD5 "abc", L2) and standard 0', () => {
  const { r } = squidRouter();
  const { answers } = replay(r, 'squid_here_i_am_mask_dynamic.pcap');
  noDrops(r);
  assert.is(r.counters().here_i_am, 2);
  const md5 = decodeMessage(answers[0]!, { password: 'abc' });
  if (md5.type !== MessageType.ISeeYou) throw new Error('not an I_SEE_YOU');
  assert.equal(md5.service, { serviceType: 'dynamic', serviceId: 70, priority: 240, protocol: 6, flags: 0x31, ports: [80, 8080, 0, 0, 0, 0, 0, 0] });
  assert.equal(r.services().map((s) => [s.service, s.security, s.caches.length]), [[0, 'none', 1], [70, 'md5', 1]]);
  // The same frames with a wrong password are refused.
  const wrong = new WccpRouter({ address: ROUTER, services: [{ id: 70, type: 'dynamic', allow: [SQUID], password: 'abd' }, { id: 0, type: 'standard', allow: [SQUID] }] });
  replay(wrong, 'squid_here_i_am_mask_dynamic.pcap');
  assert.is(wrong.counters().unauthentic, 1);
  assert.is(wrong.counters().here_i_am, 1);
});

test('stock_squid_vs_standard_isy.pcap: Squid never echoes (its parser drops every I_SEE_YOU), so it never becomes usable', () => {
  const { r, events } = squidRouter();
  const { answers, captured } = replay(r, 'stock_squid_vs_standard_isy.pcap');
  noDrops(r);
  assert.is(r.counters().here_i_am, 5);
  // Our standard I_SEE_YOUs are exactly the ones Squid rejected in that capture.
  assert.equal(answers.map(hex), captured.map(hex));
  assert.equal(r.group(0)!.caches.map((c) => c.state), ['joining']);
  assert.equal(events, []);
});

test('squid_full_handshake_hash_gre.pcap replayed: the captured router behaviour, byte for byte', () => {
  const { r, events, redirects } = squidRouter();
  const { answers, captured } = replay(r, 'squid_full_handshake_hash_gre.pcap');
  noDrops(r);
  assert.is(answers.length, 4);
  assert.equal(answers.map(hex), captured.map(hex));
  const isys = answers.map((a) => decodeMessage(a));
  const ids = isys.map((m) => (m.type === MessageType.ISeeYou ? [m.routerIdentity.receiveId, m.routerView.memberChangeNumber, m.routerView.webCaches.length] : []));
  assert.equal(ids, [[1, 0, 0], [2, 1, 1], [3, 1, 1], [4, 1, 1]]);
  assert.is(r.counters().redirect_assign, 1);
  assert.equal(events, [`usable ${SQUID} 0`, `redirect ${SQUID} 0`]);
  assert.equal(redirects, [
    { device: SQUID, service: 0, serviceFilter: 'tcp dst port 80', priority: 0, dynamic: false, hashFlags: 0, buckets: Array.from({ length: 256 }, (_, b) => b), caches: [SQUID] },
  ]);
  const g = r.group(0)!;
  assert.equal(g.assignmentKey, { address: 0x7f000001, changeNumber: 1 });
  assert.is(g.designated, SQUID);
  const last = isys[3]!;
  if (last.type !== MessageType.ISeeYou) throw new Error('not an I_SEE_YOU');
  assert.equal(last.routerView.assignmentKey, { address: 0x7f000001, changeNumber: 1 });
});

test.run();
