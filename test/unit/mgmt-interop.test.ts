// The management port's encoding is standard MessagePack, checked against an independent
// implementation, Debian's python3-msgpack: it decodes every frame the router sends (64-bit
// counters exact), and the router accepts requests it encodes. The test vectors of
// docs/management.md are checked both ways, so another implementation can rely on them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { decodeValue, encodeValue } from '../../firmware/shell/msgpack.ts';
import { encodeFrame } from '../../firmware/shell/mgmt/framing.ts';
import { METHODS } from '../../firmware/shell/mgmt/methods.ts';
import { BIG_COUNTER } from '../fixtures/fake-control.ts';
import { python, RawConnection, startRouter, type Router } from './mgmt-helpers.ts';

const DOC = fs.readFileSync(new URL('../../docs/management.md', import.meta.url), 'utf8');

interface Vector { readonly name: string; readonly json: unknown; readonly bytes: Buffer }

function vectors(): Vector[] {
  const out: Vector[] = [];
  for (const m of DOC.matchAll(/```vector\n([\s\S]*?)```/g)) {
    const body = m[1];
    const name = /^name: (.*)$/m.exec(body)![1];
    const json = JSON.parse(/^json: (.*)$/m.exec(body)![1]);
    const hex = body.slice(body.indexOf('hex:') + 4).replace(/\s+/g, '');
    out.push({ name, json, bytes: Buffer.from(hex, 'hex') });
  }
  return out;
}

const VECTORS = vectors();

/** Python: decode each hex frame (after its length), print the values as JSON lines. */
const PY_DECODE = `
import sys, json, msgpack
for line in sys.stdin:
    b = bytes.fromhex(line.strip())
    n = int.from_bytes(b[:4], 'big')
    assert n == len(b) - 4, (n, len(b))
    print(json.dumps(msgpack.unpackb(b[4:], raw=False, strict_map_key=True)))
`;

/** Python: encode each JSON line as a frame (standard msgpack, str as str), print hex lines. */
// A JSON object {"$hex": "..."} stands for bytes (MessagePack bin): the image chunks' data.
const PY_ENCODE = `
import sys, json, msgpack
def unhex(o):
    return bytes.fromhex(o['$hex']) if set(o) == {'$hex'} else o
for line in sys.stdin:
    p = msgpack.packb(json.loads(line, object_hook=unhex), use_bin_type=True)
    print((len(p).to_bytes(4, 'big') + p).hex())
`;

const hasWideInt = (v: unknown): boolean =>
  typeof v === 'number' ? Number.isInteger(v) && Math.abs(v) >= 2 ** 32 : typeof v === 'object' && v !== null && Object.values(v).some(hasWideInt);

test('docs/management.md has test vectors, including a 64-bit integer and an id-nil error', () => {
  assert.ok(VECTORS.length >= 6, String(VECTORS.length));
  assert.ok(VECTORS.some((v) => hasWideInt(v.json)));
  assert.ok(VECTORS.some((v) => (v.json as { id: unknown }).id === null));
});

for (const v of VECTORS) {
  test(`vector "${v.name}": the router writes exactly these bytes and reads them back`, () => {
    assert.equal(Buffer.from(encodeFrame(encodeValue(v.json))).toString('hex'), v.bytes.toString('hex'));
    assert.equal(decodeValue(v.bytes.subarray(4)), v.json);
  });
}

test('python3-msgpack decodes every vector to its JSON value', () => {
  const decoded = python(PY_DECODE, VECTORS.map((v) => v.bytes.toString('hex')).join('\n') + '\n').trim().split('\n');
  assert.is(decoded.length, VECTORS.length);
  VECTORS.forEach((v, i) => assert.equal(JSON.parse(decoded[i]), v.json, v.name));
});

test('python3-msgpack encodes every vector to the same bytes (or, for 64-bit integers, bytes the router reads the same)', () => {
  const encoded = python(PY_ENCODE, VECTORS.map((v) => JSON.stringify(v.json)).join('\n') + '\n').trim().split('\n');
  VECTORS.forEach((v, i) => {
    const bytes = Buffer.from(encoded[i], 'hex');
    if (!hasWideInt(v.json)) assert.is(bytes.toString('hex'), v.bytes.toString('hex'), v.name);
    assert.equal(decodeValue(bytes.subarray(4)), v.json, v.name);
  });
});

// ── against a live router ─────────────────────────────────────────────────────────────────────

let router: Router;

test('requests encoded by python3-msgpack, for every method, are accepted and answered; python decodes the answers', async () => {
  router = await startRouter({ limits: { requestsPerSecond: 1000, requestBurst: 1000 } });
  const requests: Array<{ id: number; method: string; params: Record<string, unknown> }> = [
    { id: 1, method: 'sessions.add', params: { spec: { name: 'py', mode: 'sniff', filter: 'udp port 53', device: '192.0.2.2', rateBps: 90_000_000_000, lifetime: 4_000_000_000 } } },
    { id: 2, method: 'status', params: {} },
    { id: 3, method: 'counters', params: {} },
    { id: 4, method: 'sessions.list', params: {} },
    { id: 5, method: 'allowlist.get', params: { service: 70 } },
    { id: 6, method: 'allowlist.set', params: { list: { service: 70, prefixes: ['10.0.0.0/8', '192.0.2.0/24'] } } },
    { id: 7, method: 'policy.get', params: {} },
    { id: 8, method: 'policy.set', params: { rules: [{ action: 'deny', filter: 'tcp port 23' }] } },
    { id: 9, method: 'limits.get', params: {} },
    { id: 10, method: 'limits.set', params: { limits: { peers: 8 } } },
    { id: 11, method: 'services.list', params: {} },
    { id: 12, method: 'explain', params: { packet: { port: 'lan', proto: 'udp', src: '10.1.0.10', dst: '198.51.100.10', dport: 53 } } },
    { id: 13, method: 'config.save', params: {} },
    { id: 14, method: 'config.load', params: {} },
    { id: 15, method: 'sessions.delete', params: { name: 'py' } },
    { id: 16, method: 'image.begin', params: { size: 12 } },
    { id: 17, method: 'image.chunk', params: { offset: 0, data: { $hex: '0011223344556677' } } },
    { id: 18, method: 'image.chunk', params: { offset: 8, data: { $hex: '8899aabb' } } },
    { id: 19, method: 'image.flash', params: {} },
    { id: 20, method: 'image.abort', params: {} },
    { id: 21, method: 'sessions.add', params: { spec: { name: 'py2', mode: 'sniff', filter: 'udp', device: '192.0.2.2', snaplen: 70000 } } },
  ];
  assert.equal([...new Set(requests.map((r) => r.method))].sort(), Object.keys(METHODS).sort(), 'every method');
  const frames = python(PY_ENCODE, requests.map((r) => JSON.stringify(r)).join('\n') + '\n').trim().split('\n');
  const c = await RawConnection.open(router.port, router.key);
  const answers: Buffer[] = [];
  try {
    for (const f of frames) {
      c.write(Buffer.from(f, 'hex'));
      answers.push(await c.frame());
    }
  } finally {
    c.close();
  }
  const ours = answers.map((a) => decodeValue(a) as { id: number; result?: any; error?: any });
  ours.slice(0, 20).forEach((a, i) => assert.ok('result' in a, `${requests[i].method}: ${JSON.stringify(a.error)}`));
  assert.is(ours[20].error.field, 'params.spec.snaplen');
  assert.equal(Array.from(router.control.flashed[0]), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb], 'the bytes python sent as bin, in order');
  assert.is(router.control.calls[0].method, 'addSession');
  assert.is((router.control.calls[0].args[0] as { rateBps: number }).rateBps, 90_000_000_000);
  assert.is((router.control.calls[0].args[0] as { lifetime: number }).lifetime, 4_000_000_000);

  const theirs = python(PY_DECODE, answers.map((a) => encodeFrame(a).toString('hex')).join('\n') + '\n').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(theirs, JSON.parse(JSON.stringify(ours)));
  const counters = theirs[2].result;
  assert.is(counters.ports.lan.rx_bytes, BIG_COUNTER, 'python reads the 64-bit counter exactly');
  assert.is(counters.sessions.py.matched, BIG_COUNTER);
  await router.close();
});

test('a python-encoded request with uint 64 and int 64 integers (cf, d3) is read exactly', async () => {
  router = await startRouter();
  const c = await RawConnection.open(router.port, router.key);
  try {
    // {"id":1,"method":"limits.set","params":{"limits":{"maxRateBps": uint64 9e10}}} with id as uint 64 too.
    const p = Buffer.concat([
      Buffer.from('83a26964', 'hex'), Buffer.from('cf0000000000000001', 'hex'),
      Buffer.from('a66d6574686f64aa6c696d6974732e736574a6706172616d7381a66c696d69747381aa6d6178526174654270', 'hex'),
      Buffer.from('73', 'hex'), Buffer.from('d300000014f46b0400', 'hex'),
    ]);
    c.send(p);
    const a = decodeValue(await c.frame()) as { id: number; result: { maxRateBps: number } };
    assert.is(a.id, 1);
    assert.is(a.result.maxRateBps, 90_000_000_000);
  } finally {
    c.close();
    await router.close();
  }
});

test.run();
