// The WCCPv2 router's state machine under an injected clock, against a hand-written cache
// (wccp-net.ts builders, independent of WccpDevice): the Receive-ID handshake, usability only
// after the echo, member change numbers, designated-cache assignment (hash and mask; stale and
// misdirected assignments refused), the dead-cache timers, MD5, allowlists, capabilities, the
// replication request, reconfiguration, and the counters behind every refusal.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { bucketBitmap, buildHashTable, decodeMessage, digestMatches, encodeMessage, MessageType } from '../../firmware/shell/wccp/index.ts';
import type { RedirectAssign } from '../../firmware/shell/wccp/index.ts';
import { WccpConfigError, WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import type { WccpRouterOptions } from '../../firmware/shell/wccp/router/index.ts';
import { parseFilter } from '../../firmware/shell/filter/index.ts';
import { isUserError } from '../../firmware/errors.ts';
import { DUP_FAR_END_REQUEST, DUP_REQUEST, ip, SNIFF_REQUEST, SQUID_DYNAMIC_SERVICE, STANDARD_SERVICE, squidMaskSet } from './wccp-fixtures.ts';
import { hashIdentity, hereIAm, iSeeYouOf, maskIdentity, recordingHooks } from './wccp-net.ts';
import type { HereOptions } from './wccp-net.ts';

const R = '10.0.0.1';
const A = '10.0.0.11';
const B = '10.0.0.12';
const from = (a: string) => ({ address: a, port: 2048 });
const T0 = 5_000_000;

function router(extra: Partial<WccpRouterOptions> = {}, refuse?: Parameters<typeof recordingHooks>[0]) {
  const rec = recordingHooks(refuse);
  const r = new WccpRouter({
    address: R,
    services: [
      { id: 0, type: 'standard', allow: ['10.0.0.0/24'] },
      { id: 70, type: 'dynamic', allow: ['10.0.0.0/24'], password: 'abc' },
    ],
    hooks: rec.hooks,
    ...extra,
  });
  return { r, ...rec };
}

/** HERE_I_AM → I_SEE_YOU → echoing HERE_I_AM: returns the last I_SEE_YOU. */
function join(r: WccpRouter, cache: string, now: number, o: HereOptions = {}) {
  const first = iSeeYouOf(r.receive(hereIAm(cache, R, 0, o), from(cache), now), o.password);
  return iSeeYouOf(r.receive(hereIAm(cache, R, first.routerIdentity.receiveId, o), from(cache), now + 10_000), o.password);
}

function assign(cache: string, receiveId: number, changeNumber: number, caches: string[], extra: Partial<RedirectAssign> = {}): Uint8Array {
  const m: RedirectAssign = {
    type: MessageType.RedirectAssign,
    security: { option: 'none' },
    service: STANDARD_SERVICE,
    assignmentInfo: {
      key: { address: ip(cache), changeNumber: 1 },
      routers: [{ routerId: ip(R), receiveId, changeNumber }],
      webCaches: caches.map(ip),
      buckets: buildHashTable(caches.map(() => 1)),
    },
    ...extra,
  };
  return encodeMessage(m);
}

test('first HERE_I_AM: unicast I_SEE_YOU with Receive ID 1, the cache joining and not listed', () => {
  const { r, events } = router();
  const out = r.receive(hereIAm(A, R, 0), from(A), T0);
  assert.equal(out[0]!.to, from(A));
  const isy = iSeeYouOf(out);
  assert.equal(isy.routerIdentity, { routerId: ip(R), receiveId: 1, sentTo: ip(R), receivedFrom: [ip(A)] });
  assert.is(isy.routerView.memberChangeNumber, 0);
  assert.equal(isy.routerView.routers, [ip(R)]);
  assert.equal(isy.routerView.webCaches, []);
  assert.equal(isy.capabilities!.elements.map((e) => (e.kind === 'unknown' ? 0 : e.methods)), [3, 3, 3]);
  assert.equal(r.services()[0]!.caches, [{ address: A, usable: false, lastSeenMs: T0, mode: 'redirect' }]);
  assert.equal(events, []);
});

test('usable only after the cache echoes the last Receive ID it was sent', () => {
  const { r, events } = router();
  let last = iSeeYouOf(r.receive(hereIAm(A, R, 0), from(A), T0)).routerIdentity.receiveId;
  for (const wrong of [(n: number) => 0, (n: number) => n + 1, (n: number) => n - 1]) {
    const isy = iSeeYouOf(r.receive(hereIAm(A, R, wrong(last)), from(A), T0 + 1000));
    assert.equal(isy.routerView.webCaches, [], `echo ${wrong(last)} after ${last}`);
    last = isy.routerIdentity.receiveId;
  }
  assert.is(r.group(0)!.caches[0]!.lastReceiveIdSent, 4);
  const isy = iSeeYouOf(r.receive(hereIAm(A, R, 4), from(A), T0 + 2000));
  assert.is(isy.routerIdentity.receiveId, 5);
  assert.is(isy.routerView.memberChangeNumber, 1);
  assert.equal(isy.routerView.webCaches, [hashIdentity(A)]);
  assert.equal(events, [`usable ${A} 0`]);
  assert.is(r.counters().joins, 1);
  // Once usable, an older echo (a lost I_SEE_YOU) is answered and counted, and the cache stays.
  const again = iSeeYouOf(r.receive(hereIAm(A, R, 3), from(A), T0 + 3000));
  assert.equal(again.routerView.webCaches, [hashIdentity(A)]);
  assert.is(r.counters().stale_receive_id, 1);
});

test('the Receive ID is per group, increments on every I_SEE_YOU, and the echo is per cache', () => {
  const { r } = router();
  const ids: number[] = [];
  ids.push(iSeeYouOf(r.receive(hereIAm(A, R, 0), from(A), T0)).routerIdentity.receiveId);
  ids.push(iSeeYouOf(r.receive(hereIAm(B, R, 0), from(B), T0)).routerIdentity.receiveId);
  // A echoes 1 (the last one it got), even though the group has moved on to 2.
  const isy = iSeeYouOf(r.receive(hereIAm(A, R, 1), from(A), T0 + 10));
  ids.push(isy.routerIdentity.receiveId);
  assert.equal(ids, [1, 2, 3]);
  assert.equal(isy.routerView.webCaches.map((c) => c.address), [ip(A)]);
  // B echoing A's number does not make it usable.
  assert.equal(iSeeYouOf(r.receive(hereIAm(B, R, 3), from(B), T0 + 20)).routerView.webCaches.map((c) => c.address), [ip(A)]);
});

test('Member Change Number bumps on every membership change; the view lists usable caches ascending', () => {
  const { r } = router();
  join(r, B, T0);
  const isy = join(r, A, T0);
  assert.is(isy.routerView.memberChangeNumber, 2);
  assert.equal(isy.routerView.webCaches.map((c) => c.address), [ip(A), ip(B)]);
  assert.is(r.group(0)!.designated, A);
});

test('hash assignment from the designated cache is accepted, handed on, and its key echoed', () => {
  const { r, redirects, events } = router();
  join(r, A, T0);
  const isy = join(r, B, T0);
  const rid = r.group(0)!.caches.find((c) => c.address === A)!.lastReceiveIdSent;
  r.receive(assign(A, rid, isy.routerView.memberChangeNumber, [A, B]), from(A), T0 + 25_000);
  assert.is(r.counters().redirect_assign, 1);
  assert.equal(r.services()[0]!.assignment, 'hash');
  const byDevice = Object.fromEntries(redirects.map((m) => [m.device, m]));
  assert.equal(byDevice[A]!.buckets, Array.from({ length: 128 }, (_, i) => 2 * i));
  assert.equal(byDevice[B]!.buckets, Array.from({ length: 128 }, (_, i) => 2 * i + 1));
  assert.equal(byDevice[A]!.caches, [A, B]);
  assert.is(byDevice[A]!.serviceFilter, 'tcp dst port 80');
  assert.is(byDevice[A]!.dynamic, false);
  assert.equal(events.filter((e) => e.startsWith('redirect')), [`redirect ${A} 0`, `redirect ${B} 0`]);
  const next = iSeeYouOf(r.receive(hereIAm(A, R, rid), from(A), T0 + 30_000));
  assert.equal(next.routerView.assignmentKey, { address: ip(A), changeNumber: 1 });
  assert.is(next.assignmentInfo, undefined);
});

test('stale change numbers, wrong Receive IDs and non-designated senders are ignored and counted', () => {
  const { r, redirects } = router();
  join(r, A, T0);
  join(r, B, T0);
  const g = r.group(0)!;
  const ridA = g.caches.find((c) => c.address === A)!.lastReceiveIdSent;
  const ridB = g.caches.find((c) => c.address === B)!.lastReceiveIdSent;
  r.receive(assign(A, ridA, g.memberChangeNumber - 1, [A, B]), from(A), T0 + 25_000);
  r.receive(assign(A, ridA - 1, g.memberChangeNumber, [A, B]), from(A), T0 + 25_000);
  r.receive(assign(A, ridB, g.memberChangeNumber, [A, B]), from(A), T0 + 25_000);
  assert.is(r.counters().stale_assignment, 3);
  r.receive(assign(B, ridB, g.memberChangeNumber, [A, B]), from(B), T0 + 25_000);
  assert.is(r.counters().not_designated, 1);
  assert.is(r.counters().redirect_assign, 0);
  assert.equal(redirects, []);
  assert.is(r.group(0)!.assignment, null);
  assert.match(r.recentLog().join('\n'), /stale \(receive ID \d+, expected \d+; change number 1, expected 2\)/);
});

test('an assignment that does not list this router flushes the current one', () => {
  const { r, events } = router();
  join(r, A, T0);
  const g = r.group(0)!;
  const rid = g.caches[0]!.lastReceiveIdSent;
  r.receive(assign(A, rid, g.memberChangeNumber, [A]), from(A), T0 + 25_000);
  assert.equal(r.services()[0]!.assignment, 'hash');
  const other = assign(A, rid, g.memberChangeNumber, [A]);
  const m = decodeMessage(other) as RedirectAssign;
  const elsewhere = encodeMessage({ ...m, assignmentInfo: { ...m.assignmentInfo!, routers: [{ routerId: ip('10.0.0.99'), receiveId: 1, changeNumber: 1 }] } });
  r.receive(elsewhere, from(A), T0 + 26_000);
  assert.is(r.counters().not_listed, 1);
  assert.is(r.counters().assignments_flushed, 1);
  assert.equal(r.services()[0]!.assignment, 'none');
  assert.equal(r.group(0)!.assignmentKey, { address: 0, changeNumber: 0 });
  assert.equal(events.slice(-1), [`unassigned ${A} 0`]);
});

test('mask assignment (Alternate Assignment type 1): values per cache, Assignment Map in I_SEE_YOU', () => {
  const { r, redirects } = router();
  const o: HereOptions = { service: SQUID_DYNAMIC_SERVICE, methods: { forwarding: 2, assignment: 2, return: 2 }, password: 'abc' };
  join(r, A, T0, { ...o, identity: maskIdentity(A) });
  join(r, B, T0, { ...o, identity: maskIdentity(B) });
  const g = r.group(70)!;
  const rid = g.caches.find((c) => c.address === A)!.lastReceiveIdSent;
  const set = squidMaskSet(0x1741, [ip(A), ip(B)]);
  const m: RedirectAssign = {
    type: MessageType.RedirectAssign,
    security: { option: 'none' },
    service: SQUID_DYNAMIC_SERVICE,
    alternateAssignment: { kind: 'mask', key: { address: ip(A), changeNumber: 1 }, routers: [{ routerId: ip(R), receiveId: rid, changeNumber: g.memberChangeNumber }], sets: [set] },
  };
  r.receive(encodeMessage(m, { password: 'abc' }), from(A), T0 + 25_000);
  assert.is(r.counters().redirect_assign, 1);
  const forA = redirects.find((x) => x.device === A)!;
  assert.equal(forA.mask!.element, set.mask);
  assert.is(forA.mask!.values.length, 32);
  assert.ok(forA.mask!.values.every((v) => v.cacheAddress === ip(A)));
  assert.is(forA.buckets, undefined);
  assert.is(forA.serviceFilter, 'tcp and (src port 80 or src port 8080)');
  assert.is(forA.priority, 240);
  assert.is(forA.dynamic, true);
  const isy = iSeeYouOf(r.receive(hereIAm(A, R, rid, o), from(A), T0 + 30_000), 'abc');
  assert.equal(isy.assignmentMap, { sets: [set] });
  // A hash assignment for this mask group is refused.
  const rid2 = isy.routerIdentity.receiveId;
  const hash = decodeMessage(assign(A, rid2, g.memberChangeNumber, [A, B])) as RedirectAssign;
  r.receive(encodeMessage({ ...hash, service: SQUID_DYNAMIC_SERVICE }, { password: 'abc' }), from(A), T0 + 31_000);
  assert.is(r.counters().assignment_mismatch, 1);
});

test('more than one mask/value set and alternate-hash buckets', () => {
  const { r, redirects } = router();
  join(r, A, T0);
  const g = r.group(0)!;
  const rid = g.caches[0]!.lastReceiveIdSent;
  const two: RedirectAssign = {
    type: MessageType.RedirectAssign,
    security: { option: 'none' },
    service: STANDARD_SERVICE,
    alternateAssignment: { kind: 'mask', key: { address: ip(A), changeNumber: 1 }, routers: [{ routerId: ip(R), receiveId: rid, changeNumber: 1 }], sets: [squidMaskSet(1, [ip(A)]), squidMaskSet(2, [ip(A)])] },
  };
  r.receive(encodeMessage(two), from(A), T0 + 25_000);
  assert.is(r.counters().unsupported_assignment, 1);
  const buckets = new Uint8Array(256).fill(0);
  buckets[3] = 0x80;
  buckets[4] = 0xff;
  buckets[5] = 9; // an index beyond the cache list
  const alt = decodeMessage(assign(A, rid, 1, [A])) as RedirectAssign;
  r.receive(encodeMessage({ ...alt, assignmentInfo: { ...alt.assignmentInfo!, buckets } }), from(A), T0 + 25_000);
  assert.is(r.counters().alternate_buckets, 1);
  assert.equal(redirects[0]!.buckets, Array.from({ length: 256 }, (_, b) => b).filter((b) => b < 3 || b > 5));
});

test('25 s of silence: REMOVAL_QUERY; 30 s: removed, purged, change number bumped; rejoin works', () => {
  const { r, events, redirects } = router();
  join(r, A, T0);
  const isy = join(r, B, T0);
  const lastB = T0 + 10_000;
  const rid = r.group(0)!.caches[0]!.lastReceiveIdSent;
  r.receive(assign(A, rid, isy.routerView.memberChangeNumber, [A, B]), from(A), lastB + 1000);
  // A keeps talking, B falls silent.
  let now = lastB;
  let ridA = r.group(0)!.caches[0]!.lastReceiveIdSent;
  const queries: number[] = [];
  for (let t = 1000; t <= 30_000; t += 1000) {
    now = lastB + t;
    if (t % 10_000 === 0) ridA = iSeeYouOf(r.receive(hereIAm(A, R, ridA), from(A), now)).routerIdentity.receiveId;
    for (const o of r.tick(now)) {
      const q = decodeMessage(o.datagram);
      if (q.type !== MessageType.RemovalQuery) throw new Error('not a REMOVAL_QUERY');
      assert.equal(o.to, from(B));
      assert.equal(q.routerQuery, { routerId: ip(R), receiveId: r.group(0)!.caches[1]!.lastReceiveIdSent, sentTo: ip(R), target: ip(B) });
      queries.push(t);
    }
    if (t === 29_000) assert.is(r.group(0)!.caches.length, 2);
  }
  assert.equal(queries, [25_000]);
  assert.equal(r.group(0)!.caches.map((c) => c.address), [A]);
  assert.is(r.group(0)!.memberChangeNumber, 3);
  assert.equal(events.slice(-2), [`removed ${B} 0`, `redirect ${A} 0`]);
  assert.is(r.counters().removal_queries, 1);
  assert.is(r.counters().removals, 1);
  // B's buckets were purged from A's shared assignment: A keeps only its own.
  const left = r.group(0)!.assignment!;
  if (left.kind !== 'hash') throw new Error('not a hash assignment');
  assert.is(left.buckets.filter((b) => b === 0xff).length, 128);
  const lastForA = redirects.filter((m) => m.device === A).slice(-1)[0]!;
  assert.equal(lastForA.caches, [A]);
  assert.is(lastForA.buckets!.length, 128);
  // B comes back: a fresh handshake.
  const back = join(r, B, now + 1000);
  assert.equal(back.routerView.webCaches.map((c) => c.address), [ip(A), ip(B)]);
  assert.is(back.routerView.memberChangeNumber, 4);
});

test('a HERE_I_AM answering the REMOVAL_QUERY keeps the cache', () => {
  const { r } = router();
  join(r, A, T0);
  const last = T0 + 10_000;
  assert.is(r.tick(last + 25_000).length, 1);
  const rid = r.group(0)!.caches[0]!.lastReceiveIdSent;
  r.receive(hereIAm(A, R, rid), from(A), last + 26_000);
  r.tick(last + 30_000);
  r.tick(last + 40_000);
  assert.equal(r.group(0)!.caches.map((c) => [c.address, c.state, c.queried]), [[A, 'usable', false]]);
  assert.is(r.counters().removals, 0);
});

test('the assignment is flushed when none arrives within 50 s of a membership change', () => {
  const { r, events } = router();
  join(r, A, T0);
  const g = r.group(0)!;
  r.receive(assign(A, g.caches[0]!.lastReceiveIdSent, g.memberChangeNumber, [A]), from(A), T0 + 25_000);
  const joinedB = T0 + 40_000;
  join(r, B, joinedB - 10_000); // membership change at joinedB
  let rids: Record<string, number> = { [A]: r.group(0)!.caches[0]!.lastReceiveIdSent, [B]: r.group(0)!.caches[1]!.lastReceiveIdSent };
  for (let t = 10_000; t <= 50_000; t += 10_000) {
    for (const c of [A, B]) rids = { ...rids, [c]: iSeeYouOf(r.receive(hereIAm(c, R, rids[c]!), from(c), joinedB + t)).routerIdentity.receiveId };
    r.tick(joinedB + t);
    assert.is(r.services()[0]!.assignment, t < 50_000 ? 'hash' : 'none', `t=${t}`);
  }
  assert.is(r.counters().assignments_flushed, 1);
  assert.ok(events.includes(`unassigned ${A} 0`));
});

test('MD5: the right password is accepted and answered signed; wrong or missing is dropped and counted', () => {
  const { r } = router();
  const o: HereOptions = { service: SQUID_DYNAMIC_SERVICE, identity: maskIdentity(A), methods: { forwarding: 2, assignment: 2, return: 2 } };
  const isy = iSeeYouOf(r.receive(hereIAm(A, R, 0, { ...o, password: 'abc' }), from(A), T0), 'abc');
  assert.is(isy.security.option, 'md5');
  assert.equal(r.receive(hereIAm(A, R, 1, { ...o, password: 'abd' }), from(A), T0), []);
  assert.equal(r.receive(hereIAm(A, R, 1, o), from(A), T0), []);
  assert.is(r.counters().unauthentic, 2);
  // A group without a password refuses a signed message.
  assert.equal(r.receive(hereIAm(B, R, 0, { password: 'abc' }), from(B), T0), []);
  assert.is(r.counters().unauthentic, 3);
  assert.match(r.recentLog().join('\n'), /bad-digest[\s\S]*missing-md5[\s\S]*unexpected-md5/);
  assert.equal(r.services().map((s) => [s.service, s.security, s.caches.length]), [[0, 'none', 0], [70, 'md5', 1]]);
});

test('allowlist: a registration from outside is refused, counted, logged, and leaves no state', () => {
  const { r, events } = router();
  const before = r.group(0);
  assert.equal(r.receive(hereIAm('10.0.1.5', R, 0, { identity: hashIdentity('10.0.1.5') }), from('10.0.1.5'), T0), []);
  assert.is(r.counters().not_allowed, 1);
  assert.equal(r.group(0), before);
  assert.match(r.recentLog().join('\n'), /refused 10\.0\.1\.5: not in the allowlist/);
  // Changed at run time: a registered cache outside the new list is removed at once.
  join(r, A, T0);
  r.setAllowlist({ service: 0, prefixes: [B, '192.0.2.0/24'] }, T0 + 20_000);
  assert.equal(r.getAllowlist(0), { service: 0, prefixes: [B, '192.0.2.0/24'] });
  assert.equal(r.group(0)!.caches, []);
  assert.equal(events, [`usable ${A} 0`, `removed ${A} 0`]);
  assert.equal(r.receive(hereIAm(A, R, 0), from(A), T0 + 21_000), []);
  assert.is(r.counters().not_allowed, 2);
  assert.is(iSeeYouOf(r.receive(hereIAm(B, R, 0, { identity: hashIdentity(B) }), from(B), T0 + 21_000)).routerIdentity.receivedFrom[0], ip(B));
  for (const bad of ['10.0.0.1/24', '10.0.0.0/33', 'example.com', '']) {
    assert.throws(() => r.setAllowlist({ service: 0, prefixes: [bad] }, T0), (e: unknown) => e instanceof WccpConfigError && e.field === 'prefixes[0]', bad);
  }
  assert.throws(() => r.setAllowlist({ service: 9, prefixes: [] }, T0), (e: unknown) => e instanceof WccpConfigError && e.field === 'service');
});

test('an identity address other than the sender is refused', () => {
  const { r } = router();
  assert.equal(r.receive(hereIAm(B, R, 0), from(A), T0), []);
  assert.is(r.counters().address_mismatch, 1);
  assert.equal(r.group(0)!.caches, []);
});

test('capabilities: a method the group does not offer is ignored and counted', () => {
  const { r } = router({ services: [{ id: 0, type: 'standard', allow: ['10.0.0.0/24'], forwarding: ['gre'], assignment: ['hash'] }] });
  assert.equal(r.receive(hereIAm(A, R, 0, { methods: { forwarding: 2, assignment: 1, return: 1 } }), from(A), T0), []);
  assert.equal(r.receive(hereIAm(A, R, 0, { methods: { forwarding: 1, assignment: 2, return: 1 } }), from(A), T0), []);
  assert.equal(r.receive(hereIAm(A, R, 0, { methods: { forwarding: 3, assignment: 1, return: 1 } }), from(A), T0), []);
  assert.is(r.counters().bad_capability, 3);
  const isy = iSeeYouOf(r.receive(hereIAm(A, R, 0, { methods: null }), from(A), T0));
  assert.equal(isy.capabilities!.elements.map((e) => (e.kind === 'unknown' ? 0 : e.methods)), [1, 1, 3]);
  // The group's caches agree on one assignment method.
  const mixed = router();
  mixed.r.receive(hereIAm(A, R, 0), from(A), T0);
  assert.equal(mixed.r.receive(hereIAm(B, R, 0, { methods: { forwarding: 1, assignment: 2, return: 1 }, identity: maskIdentity(B) }), from(B), T0), []);
  assert.is(mixed.r.counters().bad_capability, 1);
});

test('unknown services, the other service type, and messages a router never takes', () => {
  const { r } = router();
  assert.equal(r.receive(hereIAm(A, R, 0, { service: { ...STANDARD_SERVICE, serviceId: 5 } }), from(A), T0), []);
  assert.equal(r.receive(hereIAm(A, R, 0, { service: { ...SQUID_DYNAMIC_SERVICE, serviceId: 0 } }), from(A), T0), []);
  assert.is(r.counters().unknown_service, 2);
  const isy = r.receive(hereIAm(A, R, 0), from(A), T0)[0]!.datagram;
  assert.equal(r.receive(isy, from(A), T0), []);
  assert.is(r.counters().unexpected_message, 1);
});

test('dynamic services: the first cache defines the service; a different definition is refused', () => {
  const { r } = router();
  const o: HereOptions = { service: SQUID_DYNAMIC_SERVICE, identity: maskIdentity(A), methods: { forwarding: 2, assignment: 2, return: 2 }, password: 'abc' };
  join(r, A, T0, o);
  const other = { ...o, identity: maskIdentity(B), service: { ...SQUID_DYNAMIC_SERVICE, ports: [443, 0, 0, 0, 0, 0, 0, 0] } };
  assert.equal(r.receive(hereIAm(B, R, 0, other), from(B), T0), []);
  assert.is(r.counters().service_mismatch, 1);
  const isy = iSeeYouOf(r.receive(hereIAm(B, R, 0, { ...o, identity: maskIdentity(B) }), from(B), T0), 'abc');
  assert.equal(isy.service, SQUID_DYNAMIC_SERVICE);
});

test('replication request: accepted when the device becomes usable, handed on again when it changes', () => {
  const { r, requests, events } = router();
  const isy = join(r, A, T0, { request: SNIFF_REQUEST });
  assert.equal(isy.routerView.webCaches.map((c) => c.address), [ip(A)]);
  assert.equal(requests, [
    { device: A, service: 0, mode: 'sniff', filter: SNIFF_REQUEST.filter, encap: 'erspan3', snaplen: 128, sample: 10, ratePps: 5000, rateBps: 50_000_000, lifetime: 3600, label: 'lab-probe-1', erspanSession: 321 },
  ]);
  assert.equal(events, [`request ${A} 0`, `usable ${A} 0`]);
  assert.equal(r.services()[0]!.caches[0]!.mode, 'sniff');
  // The same request again: nothing new. A changed one: handed on.
  const rid = isy.routerIdentity.receiveId;
  const next = iSeeYouOf(r.receive(hereIAm(A, R, rid, { request: SNIFF_REQUEST }), from(A), T0 + 20_000)).routerIdentity.receiveId;
  assert.is(requests.length, 1);
  r.receive(hereIAm(A, R, next, { request: { ...DUP_REQUEST, encapsulation: 'gre-wccp' } }), from(A), T0 + 30_000);
  assert.equal(requests.map((q) => [q.mode, q.encap]), [['sniff', 'erspan3'], ['dup', 'gre']]);
  // Devices take no part in assignment: a standard cache does not see them, and is designated.
  const std = join(r, B, T0 + 30_000);
  assert.equal(std.routerView.webCaches.map((c) => c.address), [ip(B)]);
  assert.is(r.group(0)!.designated, B);
  // Dropping the extension while registered is refused.
  assert.equal(r.receive(hereIAm(A, R, 0), from(A), T0 + 41_000), []);
  assert.is(r.counters().extension_changed, 1);
});

test('a tagged dup request hands its far end on as an address', () => {
  const { r, requests } = router();
  join(r, A, T0, { request: DUP_FAR_END_REQUEST });
  assert.equal(requests.map((q) => [q.mode, q.encap, q.farEnd, q.label]), [['dup', 'gre-seq', '203.0.113.9', 'isp-b']]);
});

test('replication request refused by the session layer: counted, logged, the device not listed', () => {
  const { r, events } = router({}, (q) => (q.filter.includes('443') ? 'session "x": filter: refused for the test' : null));
  const isy = join(r, A, T0, { request: SNIFF_REQUEST });
  assert.equal(isy.routerView.webCaches, []);
  assert.is(r.counters().request_refused, 1);
  assert.equal(r.group(0)!.caches[0]!.state, 'joining');
  assert.match(r.recentLog().join('\n'), /refused the replication request of 10\.0\.0\.11: session "x": filter: refused for the test/);
  assert.equal(events, [`request ${A} 0 refused`]);
  // A request the layer accepts makes it usable; a refused change takes it out again.
  const ok = iSeeYouOf(r.receive(hereIAm(A, R, isy.routerIdentity.receiveId, { request: DUP_REQUEST }), from(A), T0 + 20_000));
  assert.equal(ok.routerView.webCaches.map((c) => c.address), [ip(A)]);
  const out = iSeeYouOf(r.receive(hereIAm(A, R, ok.routerIdentity.receiveId, { request: SNIFF_REQUEST }), from(A), T0 + 30_000));
  assert.equal(out.routerView.webCaches, []);
  assert.equal(events, [`request ${A} 0 refused`, `request ${A} 0`, `usable ${A} 0`, `request ${A} 0 refused`, `removed ${A} 0`]);
  assert.is(r.counters().request_refused, 2);
});

test('a redirect-mode request makes a standard cache whose service filter is narrowed', () => {
  const { r, redirects } = router();
  const req = { ...DUP_REQUEST, mode: 'redirect' as const, encapsulation: 'gre-wccp' as const, filter: 'net 192.0.2.0/24' };
  join(r, A, T0, { request: req });
  const g = r.group(0)!;
  r.receive(assign(A, g.caches[0]!.lastReceiveIdSent, g.memberChangeNumber, [A]), from(A), T0 + 25_000);
  assert.is(redirects[0]!.serviceFilter, '(tcp dst port 80) and (net 192.0.2.0/24)');
  parseFilter(redirects[0]!.serviceFilter);
});

test('reconfiguration: a removed group removes its caches; a new group starts empty; bad input changes nothing', () => {
  const { r, events } = router();
  join(r, A, T0);
  assert.throws(() => r.configure([{ id: 1, type: 'standard', allow: [] }], T0), (e: unknown) => e instanceof WccpConfigError && e.field === 'services[0].id');
  assert.equal(r.services().map((s) => s.service), [0, 70]);
  r.configure([{ id: 80, type: 'dynamic', allow: ['10.0.0.0/24'] }, { id: 70, type: 'dynamic', allow: [] }], T0 + 1000);
  assert.equal(r.services().map((s) => s.service), [70, 80]);
  assert.equal(events, [`usable ${A} 0`, `removed ${A} 0`]);
  assert.equal(r.receive(hereIAm(A, R, 0), from(A), T0 + 2000), []);
  assert.is(r.counters().unknown_service, 1);
  for (const [services, field] of [
    [[{ id: 0, type: 'standard', allow: [], password: 'toolongpw' }], 'services[0].password'],
    [[{ id: 0, type: 'standard', allow: [], forwarding: [] }], 'services[0].forwarding'],
    [[{ id: 0, type: 'standard', allow: [], assignment: ['weight'] }], 'services[0].assignment[0]'],
    [[{ id: 300, type: 'dynamic', allow: [] }], 'services[0].id'],
    [[{ id: 90, type: 'dynamic', allow: [] }, { id: 90, type: 'dynamic', allow: [] }], 'services[1].id'],
    [[{ id: 90, type: 'dynamic', allow: ['10.0.0.0/8', 'x'] }], 'services[0].allow[1]'],
  ] as const) {
    assert.throws(() => r.configure(services as never, T0), (e: unknown) => e instanceof WccpConfigError && e.field === field && isUserError(e), field);
  }
  assert.throws(() => new WccpRouter({ address: 'nope', services: [] }), (e: unknown) => e instanceof WccpConfigError && e.field === 'address');
});

test('hooks that throw never escape: counted as hook_failed', () => {
  const r = new WccpRouter({
    address: R,
    services: [{ id: 0, type: 'standard', allow: ['10.0.0.0/24'] }],
    hooks: {
      usable: () => {
        throw new Error('boom');
      },
      log: () => {
        throw new Error('log boom');
      },
    },
  });
  const isy = join(r, A, T0);
  assert.equal(isy.routerView.webCaches.map((c) => c.address), [ip(A)]);
  assert.is(r.counters().hook_failed >= 1, true);
});

test('log lines beyond 20 a second are counted, not passed on; every refusal is still counted', () => {
  const { r, log } = router();
  for (let i = 0; i < 50; i++) r.receive(new Uint8Array([1, 2, 3]), from(A), T0);
  assert.is(r.counters().malformed, 50);
  assert.is(log.length, 20);
  assert.is(r.counters().log_suppressed, 30);
  r.receive(new Uint8Array([1]), from(A), T0 + 1000);
  assert.is(log.length, 21);
});

test('services() shows each group, its security, caches, their mode and the assignment kind', () => {
  const { r } = router();
  join(r, A, T0, { request: SNIFF_REQUEST });
  r.receive(hereIAm(B, R, 0), from(B), T0 + 5000);
  assert.equal(r.services(), [
    {
      service: 0,
      type: 'standard',
      security: 'none',
      caches: [
        { address: A, usable: true, lastSeenMs: T0 + 10_000, mode: 'sniff' },
        { address: B, usable: false, lastSeenMs: T0 + 5000, mode: 'redirect' },
      ],
      assignment: 'none',
    },
    { service: 70, type: 'dynamic', security: 'md5', caches: [], assignment: 'none' },
  ]);
});

test('a group holds at most 32 caches', () => {
  const { r } = router({ services: [{ id: 0, type: 'standard', allow: ['10.1.0.0/16'] }] });
  for (let i = 0; i < 33; i++) {
    const a = `10.1.0.${i + 1}`;
    r.receive(hereIAm(a, R, 0, { identity: hashIdentity(a) }), from(a), T0);
  }
  assert.is(r.group(0)!.caches.length, 32);
  assert.is(r.counters().group_full, 1);
});

test('the bucket bitmap the cache reports is echoed as sent', () => {
  const { r } = router();
  const identity = { ...hashIdentity(A), assignment: { kind: 'hash' as const, buckets: bucketBitmap([1, 2, 3]), weight: 7, status: 0 } };
  const isy = join(r, A, T0, { identity });
  assert.equal(isy.routerView.webCaches, [identity]);
});

/**
 * Squid 5.7's component walk on a 64-bit host (reference/wccp2.md 3.5, bug 1): it steps
 * 8 + length per component and 12 per capability element, and refuses a second component of a
 * type it has seen ("duplicate … definition").
 */
function squid57Walk(d: Uint8Array): { types: number[]; lengths: number[]; caps: number[] } | string {
  const v = new DataView(d.buffer, d.byteOffset, d.length);
  const types: number[] = [];
  const lengths: number[] = [];
  const caps: number[] = [];
  for (let at = 8; at + 4 <= d.length; ) {
    const type = v.getUint16(at);
    const length = v.getUint16(at + 2);
    if (at + 8 + length > d.length) return 'component overruns';
    if (types.includes(type)) return `duplicate ${type === 0 ? 'security' : type} definition`;
    types.push(type);
    lengths.push(length);
    if (type === 8) for (let e = at + 4; e + 8 <= at + 4 + length; e += 12) caps.push(v.getUint32(e + 4));
    at += 8 + length;
  }
  return { types, lengths, caps };
}

test('squid57Compat pads I_SEE_YOU so that Squid 5.7\'s stride finds every component; off by default', () => {
  const plain = router();
  const standard = plain.r.receive(hereIAm(A, R, 0), from(A), T0)[0]!.datagram;
  assert.is(squid57Walk(standard), 'duplicate security definition');
  const compat = router({ squid57Compat: true });
  const padded = compat.r.receive(hereIAm(A, R, 0), from(A), T0)[0]!.datagram;
  assert.is(padded.length, standard.length + 5 * 4 + 3 * 4);
  assert.equal(squid57Walk(padded), { types: [0, 1, 2, 4, 8], lengths: [4, 24, 20, 24, 36], caps: [3, 3, 3] });
  // Not standard: a conforming decoder reads the first pad as a second Security Info.
  assert.throws(() => decodeMessage(padded), /duplicate component/);
  // With MD5 the digest covers the pads.
  const o: HereOptions = { service: SQUID_DYNAMIC_SERVICE, identity: maskIdentity(A), methods: { forwarding: 2, assignment: 2, return: 2 }, password: 'abc' };
  const signed = compat.r.receive(hereIAm(A, R, 0, o), from(A), T0)[0]!.datagram;
  assert.ok(digestMatches(signed, 'abc'));
  assert.ok(!digestMatches(signed, 'abd'));
  assert.equal((squid57Walk(signed) as { types: number[] }).types, [0, 1, 2, 4, 8]);
  // Only I_SEE_YOU is padded; the REMOVAL_QUERY (which Squid ignores anyway) stays standard.
  const q = compat.r.tick(T0 + 25_000);
  assert.is(q.length, 2);
  for (const x of q) assert.is(decodeMessage(x.datagram).type, MessageType.RemovalQuery);
});

test.run();
