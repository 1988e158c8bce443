// Hostile input for the router: random bytes, every truncation and every byte flip of every
// real and synthetic message, huge counts, wrong message types. receive() must never throw,
// every datagram must land under exactly one outcome counter (accepted or one drop reason), the
// router's internal_error must stay 0, and the state must stay within its bounds.

import fs from 'node:fs';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { encodeMessage } from '../../firmware/shell/wccp/index.ts';
import { WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import type { WccpCounters } from '../../firmware/shell/wccp/router/index.ts';
import { XorShift32 } from '../../hal/prng.ts';
import { CAPTURE_DIR, SYNTHETIC_MESSAGES } from './wccp-fixtures.ts';
import { captureMessages, hereIAm } from './wccp-net.ts';

/** Counters of which exactly one moves per datagram. */
const OUTCOMES: ReadonlyArray<keyof WccpCounters> = [
  'here_i_am',
  'redirect_assign',
  'malformed',
  'unexpected_message',
  'address_table',
  'unknown_service',
  'not_allowed',
  'unauthentic',
  'address_mismatch',
  'bad_capability',
  'service_mismatch',
  'extension_changed',
  'group_full',
  'not_designated',
  'stale_assignment',
  'assignment_mismatch',
  'unsupported_assignment',
  'not_listed',
  'internal_error',
];

function makeRouter(): WccpRouter {
  return new WccpRouter({
    address: '127.0.0.2',
    services: [
      { id: 0, type: 'standard', allow: ['127.0.0.0/8', '10.0.0.0/8', '192.0.2.0/24'] },
      { id: 70, type: 'dynamic', allow: ['127.0.0.0/8', '10.0.0.0/8'], password: 'abc' },
      { id: 90, type: 'dynamic', allow: ['0.0.0.0/0'] },
    ],
  });
}

const corpus: Uint8Array[] = [];
for (const f of fs.readdirSync(CAPTURE_DIR).filter((x) => x.endsWith('.pcap'))) {
  for (const m of captureMessages(path.join(CAPTURE_DIR, f))) if (m.payload.length > 0) corpus.push(m.payload);
}
for (const s of SYNTHETIC_MESSAGES) corpus.push(encodeMessage(s.message, s.password === undefined ? {} : { password: s.password }));
corpus.push(hereIAm('127.0.0.1', '127.0.0.2', 0));

function feed(r: WccpRouter, datagrams: Iterable<Uint8Array>, sources: readonly string[]): number {
  let n = 0;
  let now = 1_000_000;
  for (const d of datagrams) {
    const src = sources[n % sources.length]!;
    let out: unknown;
    try {
      out = r.receive(d, { address: src, port: 2048 }, now);
    } catch (e) {
      assert.unreachable(`receive threw on datagram ${n}: ${(e as Error).stack}`);
    }
    assert.ok(Array.isArray(out));
    if (n % 97 === 0) {
      now += 7_000;
      r.tick(now);
    }
    n++;
  }
  return n;
}

function checkConservation(r: WccpRouter, n: number): void {
  const c = r.counters();
  assert.is(c.datagrams, n);
  assert.is(c.internal_error, 0, r.recentLog().filter((l) => l.includes('internal')).join('\n'));
  const sum = OUTCOMES.reduce((acc, k) => acc + c[k], 0);
  assert.is(sum, n, JSON.stringify(c));
  for (const s of r.services()) assert.ok(s.caches.length <= 32);
}

function* truncations(): Generator<Uint8Array> {
  for (const m of corpus) for (let len = 0; len < m.length; len++) yield m.subarray(0, len);
}

function* flips(): Generator<Uint8Array> {
  for (const m of corpus) {
    for (let i = 0; i < m.length; i++) {
      const d = m.slice();
      d[i] ^= 0xff;
      yield d;
    }
  }
}

function* hugeWords(): Generator<Uint8Array> {
  for (const m of corpus) {
    for (let i = 0; i + 4 <= m.length; i += 4) {
      const d = m.slice();
      new DataView(d.buffer).setUint32(i, 0xffff_fff0);
      yield d;
    }
  }
}

function* randomBytes(seed: number, count: number): Generator<Uint8Array> {
  const prng = new XorShift32(seed);
  const rng = () => prng.next();
  for (let i = 0; i < count; i++) {
    const d = new Uint8Array(rng() % 1500);
    for (let j = 0; j < d.length; j++) d[j] = rng() & 0xff;
    // Give some of them a real header so they reach the component walk.
    if (i % 3 === 0 && d.length >= 8) {
      const v = new DataView(d.buffer);
      v.setUint32(0, 10 + (i % 4));
      v.setUint16(4, 0x0200);
      v.setUint16(6, d.length - 8);
    }
    yield d;
  }
}

const SOURCES = ['127.0.0.1', '10.0.0.11', '192.0.2.10', '198.51.100.1'];

test('every truncation of every message: counted, never thrown', () => {
  const r = makeRouter();
  checkConservation(r, feed(r, truncations(), SOURCES));
  assert.ok(r.counters().malformed > 0);
});

test('every single-byte flip of every message: counted, never thrown', () => {
  const r = makeRouter();
  checkConservation(r, feed(r, flips(), SOURCES));
});

test('every u32 set huge: counted, never thrown', () => {
  const r = makeRouter();
  checkConservation(r, feed(r, hugeWords(), SOURCES));
});

test('seeded random datagrams: counted, never thrown', () => {
  const r = makeRouter();
  checkConservation(r, feed(r, randomBytes(0x5eed, 3000), SOURCES));
  assert.ok(r.counters().malformed > 2500);
});

test('the real messages themselves are conserved too (accepted or refused, once each)', () => {
  const r = makeRouter();
  const n = feed(r, corpus, ['127.0.0.1']);
  checkConservation(r, n);
  assert.ok(r.counters().here_i_am > 0);
  assert.ok(r.counters().unexpected_message > 0);
});

test.run();
