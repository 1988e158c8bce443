// The management port under hostile input, over a real authenticated connection with raw bytes
// (test/unit/mgmt-helpers.ts frames independently of the product's framing): malformed
// MessagePack and extension types, wrong envelopes, unknown methods, oversize frames, frames split
// byte by byte or coalesced, rate limiting, idle timeout, a client that never reads, and random
// frames. The server answers what can be answered, closes where the protocol says, counts every
// refusal, and keeps serving others.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { decodeValue, encodeValue } from '../../firmware/shell/msgpack.ts';
import { FrameReader, FrameTooLarge } from '../../firmware/shell/mgmt/framing.ts';
import { ManagementClient } from '../../firmware/shell/mgmt/client.ts';
import { RawConnection, startRouter, until, type Router } from './mgmt-helpers.ts';

let router: Router;
const MAX = 4096;

test.before(async () => {
  router = await startRouter({ limits: { maxRequestBytes: MAX, requestsPerSecond: 1000, requestBurst: 1000, maxConnections: 16 } });
});

test.after(async () => {
  await router.close();
});

const counter = (name: string): number => router.server.counters()[name];
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

async function answer(payload: Uint8Array): Promise<Record<string, any>> {
  const c = await RawConnection.open(router.port, router.key);
  try {
    c.send(payload);
    return decodeValue(await c.frame()) as Record<string, any>;
  } finally {
    c.close();
  }
}

// ── the product's framing and codec, in isolation ─────────────────────────────────────────────

test('FrameReader: split at every byte, coalesced, zero-length frames', () => {
  const frames = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from('x'.repeat(300))];
  const stream = Buffer.concat(frames.flatMap((f) => { const h = Buffer.alloc(4); h.writeUInt32BE(f.length); return [h, f]; }));
  const bytewise = new FrameReader(1000);
  const got: Buffer[] = [];
  for (const b of stream) got.push(...bytewise.push(Buffer.from([b])).frames);
  assert.equal(got.map((f) => f.toString()), frames.map((f) => f.toString()));
  assert.is(bytewise.buffered, 0);
  assert.equal(new FrameReader(1000).push(stream).frames.map((f) => f.toString()), frames.map((f) => f.toString()));
});

test('FrameReader: an oversize length is refused on its 4 bytes, before the payload; earlier frames survive', () => {
  const r = new FrameReader(100);
  const out = r.push(hex('00 00 00 01 aa 00 00 00 65 bb bb'));
  assert.equal(out.frames, [hex('aa')]);
  assert.instance(out.tooLarge, FrameTooLarge);
  assert.is(out.tooLarge!.length, 101);
  assert.is(r.buffered, 0, 'nothing after the bad header is kept');
  assert.throws(() => r.push(hex('00')), /after FrameTooLarge/);
  const ok = new FrameReader(100);
  assert.is(ok.push(hex('00 00 00 64')).frames.length, 0);
  assert.is(ok.buffered, 0);
});

test('codec: 64-bit integers as int 64, never float; undefined left out; non-plain values refused', () => {
  assert.equal(encodeValue(2 ** 40), hex('d3 00 00 01 00 00 00 00 00'));
  assert.equal(encodeValue(-(2 ** 40)), hex('d3 ff ff ff 00 00 00 00 00'));
  assert.equal(encodeValue(0xffffffff), hex('ce ff ff ff ff'));
  assert.equal(encodeValue({ a: 1, b: undefined }), hex('81 a1 61 01'));
  assert.equal(encodeValue(1.5), hex('cb 3f f8 00 00 00 00 00 00'));
  assert.throws(() => encodeValue({ d: new Date() }), /value\.d: a Date/);
  assert.throws(() => encodeValue(new Map()), /Map/);
  assert.is(decodeValue(hex('cf 00 00 01 00 00 00 00 00')), 2 ** 40);
  assert.is(decodeValue(hex('cf ff ff ff ff ff ff ff ff')), 2n ** 64n - 1n);
  // bin is standard MessagePack (firmware-image chunks): kept, as a copy.
  assert.equal(encodeValue(Uint8Array.of(1, 0xff)), hex('c4 02 01 ff'));
  assert.equal(decodeValue(hex('c4 02 01 ff')), Uint8Array.of(1, 0xff));
  for (const bad of ['d4 00 00', 'd6 ff 00 00 00 01', 'd4 72 00', 'c1', '', '01 02', '92 01', 'dd ff ff ff ff', 'c4 05 01']) {
    assert.throws(() => decodeValue(hex(bad)), undefined, bad);
  }
  const proto = decodeValue(hex('81 a9 5f 5f 70 72 6f 74 6f 5f 5f 81 a1 78 01')) as object;
  assert.is(Object.getPrototypeOf(proto), Object.prototype);
  assert.is((proto as { x?: number }).x, undefined);
  let deep = '01';
  for (let i = 0; i < 40; i++) deep = `91${deep}`;
  assert.throws(() => decodeValue(hex(deep)), /deeper/);
});

// ── over the wire ─────────────────────────────────────────────────────────────────────────────

const ENVELOPES: Array<[string, Uint8Array, string, string | undefined, number | null]> = [
  ['not MessagePack (reserved byte c1)', hex('c1'), 'malformed', undefined, null],
  ['truncated map', hex('82 a2 69 64'), 'malformed', undefined, null],
  ['two values in one frame', Buffer.concat([encodeValue({ id: 1, method: 'status', params: {} }), hex('01')]), 'malformed', undefined, null],
  ['an empty frame', Buffer.alloc(0), 'malformed', undefined, null],
  ['msgpackr record extension', hex('d4 72 00'), 'malformed', undefined, null],
  ['a timestamp extension as params', Buffer.concat([hex('83 a2 69 64 01 a6 6d 65 74 68 6f 64 a6 73 74 61 74 75 73 a6 70 61 72 61 6d 73'), hex('d6 ff 00 00 00 01')]), 'malformed', undefined, null],
  ['binary params', Buffer.concat([hex('83 a2 69 64 01 a6 6d 65 74 68 6f 64 a6 73 74 61 74 75 73 a6 70 61 72 61 6d 73'), hex('c4 00')]), 'invalid_request', 'params', 1],
  ['an array, not a map', encodeValue([1, 'status', {}]), 'invalid_request', undefined, null],
  ['no id', encodeValue({ method: 'status', params: {} }), 'invalid_request', 'id', null],
  ['a negative id', encodeValue({ id: -1, method: 'status', params: {} }), 'invalid_request', 'id', null],
  ['an id beyond 32 bits', encodeValue({ id: 2 ** 32, method: 'status', params: {} }), 'invalid_request', 'id', null],
  ['a string id', encodeValue({ id: '1', method: 'status', params: {} }), 'invalid_request', 'id', null],
  ['no method', encodeValue({ id: 5, params: {} }), 'invalid_request', 'method', 5],
  ['a numeric method', encodeValue({ id: 5, method: 3, params: {} }), 'invalid_request', 'method', 5],
  ['no params', encodeValue({ id: 6, method: 'status' }), 'invalid_request', 'params', 6],
  ['params an array', encodeValue({ id: 6, method: 'status', params: [] }), 'invalid_request', 'params', 6],
  ['an extra envelope key', encodeValue({ id: 7, method: 'status', params: {}, auth: 'x' }), 'invalid_request', 'auth', 7],
  ['an unknown method', encodeValue({ id: 8, method: 'firmware.flash', params: {} }), 'unknown_method', 'method', 8],
  ['a prototype method name', encodeValue({ id: 9, method: 'toString', params: {} }), 'unknown_method', 'method', 9],
  ['a __proto__ param', hex('83 a2 69 64 0a a6 6d 65 74 68 6f 64 a6 73 74 61 74 75 73 a6 70 61 72 61 6d 73 81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01'), 'invalid_params', 'params.__proto_', 10],
];

for (const [what, payload, code, field, id] of ENVELOPES) {
  test(`refused, connection kept: ${what} → ${code}`, async () => {
    const c = await RawConnection.open(router.port, router.key);
    try {
      c.send(payload);
      const r = decodeValue(await c.frame()) as { id: unknown; error: { code: string; field?: string; message: string } };
      assert.is(r.id, id);
      assert.is(r.error.code, code);
      assert.is(r.error.field, field);
      assert.type(r.error.message, 'string');
      c.send(encodeValue({ id: 99, method: 'status', params: {} }));
      const ok = decodeValue(await c.frame()) as { id: number; result: { board: string } };
      assert.equal([ok.id, ok.result.board], [99, 'sim']);
    } finally {
      c.close();
    }
  });
}

test('each refusal was counted under its reason', () => {
  const want: Record<string, number> = {};
  for (const [, , code] of ENVELOPES) want[code] = (want[code] ?? 0) + 1;
  assert.is(counter('refused_malformed'), want.malformed);
  assert.is(counter('refused_invalid_request'), want.invalid_request);
  assert.is(counter('refused_unknown_method'), want.unknown_method);
});

test('oversize: answered with id nil, then the connection is closed; the server serves others', async () => {
  const before = counter('refused_oversize');
  const c = await RawConnection.open(router.port, router.key);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(MAX + 1);
  c.write(h);
  const r = decodeValue(await c.frame()) as { id: null; error: { code: string; message: string } };
  assert.is(r.id, null);
  assert.is(r.error.code, 'oversize');
  assert.match(r.error.message, new RegExp(`${MAX + 1} bytes exceeds the limit of ${MAX}`));
  assert.ok(await c.waitClosed(), 'closed');
  assert.is(counter('refused_oversize'), before + 1);
  const ok = await answer(encodeValue({ id: 1, method: 'status', params: {} }));
  assert.is(ok.result.board, 'sim');
});

test('oversize after good requests: those are answered first, in order', async () => {
  const c = await RawConnection.open(router.port, router.key);
  const big = Buffer.alloc(4);
  big.writeUInt32BE(0xffffffff);
  const reqs = [1, 2, 3].map((id) => { const p = encodeValue({ id, method: 'status', params: {} }); const l = Buffer.alloc(4); l.writeUInt32BE(p.length); return Buffer.concat([l, p]); });
  c.write(Buffer.concat([...reqs, big, Buffer.from('ignored')]));
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((decodeValue(await c.frame()) as { id: number | null }).id);
  assert.equal(ids, [1, 2, 3, null]);
  assert.ok(await c.waitClosed());
});

test('a request split into single bytes and many requests coalesced into one write', async () => {
  const c = await RawConnection.open(router.port, router.key);
  try {
    const p = encodeValue({ id: 42, method: 'limits.get', params: {} });
    const whole = Buffer.concat([Buffer.from([0, 0, 0, p.length]), p]);
    for (const b of whole) {
      c.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    assert.is((decodeValue(await c.frame()) as { id: number }).id, 42);
    const many = Array.from({ length: 50 }, (_, i) => {
      const q = encodeValue({ id: 1000 + i, method: 'status', params: {} });
      return Buffer.concat([Buffer.from([0, 0, 0, q.length]), q]);
    });
    c.write(Buffer.concat(many));
    for (let i = 0; i < 50; i++) assert.is((decodeValue(await c.frame()) as { id: number }).id, 1000 + i);
  } finally {
    c.close();
  }
});

test('rate limit: a burst beyond the bucket is answered rate_limited, in order, not executed', async () => {
  const r = await startRouter({ limits: { requestsPerSecond: 1, requestBurst: 5 } });
  const c = await RawConnection.open(r.port, r.key);
  try {
    const frames = Array.from({ length: 20 }, (_, i) => {
      const q = encodeValue({ id: i + 1, method: 'status', params: {} });
      return Buffer.concat([Buffer.from([0, 0, 0, q.length]), q]);
    });
    c.write(Buffer.concat(frames));
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(decodeValue(await c.frame()) as { id: number; result?: unknown; error?: { code: string } });
    assert.equal(answers.map((a) => a.id), frames.map((_, i) => i + 1));
    const served = answers.filter((a) => 'result' in a).length;
    const limited = answers.filter((a) => a.error?.code === 'rate_limited').length;
    assert.ok(served >= 5 && served <= 7, `served ${served}`);
    assert.is(served + limited, 20);
    assert.is(r.control.calls.filter((x) => x.method === 'status').length, served);
    assert.is(r.server.counters().refused_rate_limited, limited);
    assert.ok(!c.closed, 'the connection stays open');
  } finally {
    c.close();
    await r.close();
  }
});

test('idle timeout: an authenticated connection that sends nothing is closed and counted', async () => {
  const r = await startRouter({ limits: { idleTimeoutMs: 300 } });
  try {
    const c = await RawConnection.open(r.port, r.key);
    assert.ok(await c.waitClosed(3000), 'closed by the server');
    assert.is(r.server.counters().refused_idle_timeout, 1);
  } finally {
    await r.close();
  }
});

test('a client that pipelines and never reads: the server stops reading and working; nothing is lost when it reads again', async () => {
  const r = await startRouter({ limits: { maxQueuedRequests: 4, maxPendingOutputBytes: 64 << 10, requestsPerSecond: 1e6, requestBurst: 1e6 } });
  const c = await RawConnection.open(r.port, r.key);
  const TOTAL = 20_000;
  try {
    c.socket.pause();
    const frames = Array.from({ length: TOTAL }, (_, i) => {
      const q = encodeValue({ id: i, method: 'counters', params: {} });
      return Buffer.concat([Buffer.from([0, 0, 0, q.length]), q]);
    });
    c.write(Buffer.concat(frames));
    // Wait until the server makes no more progress (its answers fill the socket buffers).
    let last = -1;
    const end = Date.now() + 15_000;
    while (r.control.calls.length !== last && Date.now() < end) {
      last = r.control.calls.length;
      await new Promise((res) => setTimeout(res, 300));
    }
    const stalled = r.control.calls.length;
    assert.ok(stalled < TOTAL / 2, `the server answered ${stalled} of ${TOTAL} requests to a client that reads nothing`);
    c.socket.resume();
    for (let i = 0; i < TOTAL; i++) assert.is((decodeValue(await c.frame(10_000)) as { id: number }).id, i);
    assert.is(r.control.calls.length, TOTAL);
  } finally {
    c.close();
    await r.close();
  }
});

test('random frames and random bytes never crash the server; it keeps answering', async () => {
  const c = await RawConnection.open(router.port, router.key);
  try {
    for (let i = 0; i < 200; i++) {
      const len = 1 + (randomBytes(1)[0] % 64);
      c.send(randomBytes(len));
      const r = decodeValue(await c.frame()) as { error?: { code: string } };
      assert.ok(r.error, 'random bytes are never a valid request');
    }
  } finally {
    c.close();
  }
  const client = await ManagementClient.connect('127.0.0.1', router.port, router.key);
  assert.ok(await client.call('status'));
  await client.close();
  await until(() => counter('connections_open') === 0, 2000, 'connections closed');
});

test.run();
