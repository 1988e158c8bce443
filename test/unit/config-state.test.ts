// The saved running state: save and load round trip (mode 0600, the container's layout checked
// byte by byte, the payload decoded by python3-msgpack as an independent reader), every kind of
// corruption refused with its own error, content validated as strictly as the configuration
// file, a state that could not be loaded never written, stale temporary files cleaned.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadState, saveState, StateError } from '../../firmware/shell/config/state.ts';
import { HEADER_BYTES } from '../../firmware/shell/config/container.ts';
import { removeStaleTempFiles, tempFileName } from '../../firmware/shell/config/atomic-write.ts';
import { encodeValue } from '../../firmware/shell/msgpack.ts';
import type { RouterState } from '../../firmware/shell/config/types.ts';
import { python } from './mgmt-helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-state-'));
const file = path.join(dir, 'router.state');

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const STATE: RouterState = {
  allowlists: [{ service: 0, prefixes: ['127.0.0.1', '10.0.0.0/8'] }, { service: 70, prefixes: [] }],
  sessions: [
    { name: 'web', mode: 'sniff', filter: 'tcp port 80', device: '192.0.2.2', snaplen: 128, rateBps: 90_000_000_000, requireRegistration: true },
    { name: 'dns', mode: 'dup', filter: 'udp port 53', device: '192.0.2.3' },
  ],
  policy: [{ action: 'deny', filter: 'tcp port 23' }],
  limits: { sessions: 16, maxRateBps: 50_000_000_000 },
};

/** Builds a container by hand from the documented layout (not with the product's encoder). */
function container(payload: Uint8Array, { magic = 'TFST', version = 1, flags = 0, length = payload.length } = {}): Buffer {
  const h = Buffer.alloc(12);
  h.write(magic, 0, 'latin1');
  h.writeUInt16BE(version, 4);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(length, 8);
  const sum = createHash('sha256').update(h).update(payload).digest();
  return Buffer.concat([h, sum, payload]);
}

test('save then load returns the state; mode 0600; the file is the documented container', () => {
  const bytes = saveState(file, STATE);
  assert.equal(loadState(file), STATE);
  const st = fs.statSync(file);
  assert.is(st.mode & 0o777, 0o600);
  assert.is(st.size, bytes);
  const raw = fs.readFileSync(file);
  assert.equal(raw, container(raw.subarray(HEADER_BYTES)), 'header = magic, version 1, flags 0, length, SHA-256(header ‖ payload)');
  assert.equal(raw.subarray(HEADER_BYTES), Buffer.from(encodeValue(STATE)));
});

test('python3-msgpack reads the payload: the encoding is standard', () => {
  const out = python(`
import sys, json, msgpack
b = sys.stdin.buffer.read()
print(json.dumps(msgpack.unpackb(b[44:], raw=False)))
`, fs.readFileSync(file));
  assert.equal(JSON.parse(out), STATE);
});

const payload = Buffer.from(encodeValue(STATE));
const CORRUPT: Array<[string, () => Buffer, RegExp]> = [
  ['a bad magic', () => container(payload, { magic: 'TFSX' }), /router\.state: not a twinflow state file \(bad magic\)/],
  ['a JSON file', () => Buffer.from(JSON.stringify(STATE)), /not a twinflow state file \(bad magic\)/],
  ['a wrong version', () => container(payload, { version: 2 }), /format version 2; this firmware reads version 1/],
  ['a file cut inside the header', () => container(payload).subarray(0, 20), /truncated: 20 bytes, the header alone is 44/],
  ['a file cut inside the payload', () => container(payload).subarray(0, HEADER_BYTES + 10), new RegExp(`truncated: the payload is ${payload.length} bytes, the file holds 10`)],
  ['an empty file', () => Buffer.alloc(0), /truncated: 0 bytes/],
  ['bytes after the payload', () => Buffer.concat([container(payload), Buffer.from([0])]), /1 unexpected bytes after the payload/],
  ['a flipped payload bit', () => { const b = container(payload); b[HEADER_BYTES + 5] ^= 0x01; return b; }, /checksum mismatch: the file is corrupt/],
  ['a flipped checksum bit', () => { const b = container(payload); b[20] ^= 0x80; return b; }, /checksum mismatch/],
  ['a flipped flags bit (checksum kept right)', () => container(payload, { flags: 1 }), /reserved flags 0x1 are set/],
  ['a length beyond the cap', () => container(payload, { length: 0x7fffffff }), /payload length 2147483647 exceeds/],
  ['a payload that is not MessagePack (reserved byte c1)', () => container(Buffer.from([0xc1])), /MessagePack value/],
  ['a payload cut short', () => container(Buffer.from('82a1', 'hex')), /not one MessagePack value/],
  ['a payload with an extension type', () => container(Buffer.from('d6ff00000001', 'hex')), /not a plain MessagePack value/],
];

for (const [what, make, message] of CORRUPT) {
  test(`refused: ${what}`, () => {
    fs.writeFileSync(file, make());
    try {
      loadState(file);
      assert.unreachable('loaded');
    } catch (e) {
      assert.instance(e, StateError);
      assert.match((e as Error).message, message);
    }
  });
}

const INVALID: Array<[string, unknown, RegExp]> = [
  ['a missing section', { allowlists: [], sessions: [], policy: [] }, /router\.state: limits: is required/],
  ['an unknown section', { ...STATE, extra: 1 }, /: extra: unknown field/],
  ['a session with a bad snaplen', { ...STATE, sessions: [{ ...STATE.sessions[0], snaplen: 20 }] }, /: sessions\.0\.snaplen: must be 0 \(whole packets\) or at least 64/],
  ['two sessions of one name', { ...STATE, sessions: [STATE.sessions[0], STATE.sessions[0]] }, /: sessions\.1\.name: "web" is used by two sessions/],
  ['a filter that does not parse', { ...STATE, policy: [{ action: 'deny', filter: 'port' }] }, /: policy\.0\.filter: /],
  ['an allowlist with host bits', { ...STATE, allowlists: [{ service: 0, prefixes: ['10.0.0.1/8'] }] }, /: allowlists\.0\.prefixes\.0: .*bits set past \/8/],
  ['two allowlists for one service', { ...STATE, allowlists: [{ service: 0, prefixes: [] }, { service: 0, prefixes: [] }] }, /: allowlists\.1\.service: service 0 has two allowlists/],
  ['limits out of order', { ...STATE, limits: { snaplenMin: 900, snaplenMax: 800 } }, /: limits\.snaplenMin: is larger than limits\.snaplenMax/],
];

for (const [what, state, message] of INVALID) {
  test(`refused on load: ${what}`, () => {
    fs.writeFileSync(file, container(Buffer.from(encodeValue(state))));
    assert.throws(() => loadState(file), message);
  });
  test(`refused on save, the old file kept: ${what}`, () => {
    saveState(file, STATE);
    const before = fs.readFileSync(file);
    assert.throws(() => saveState(file, state as RouterState), /refusing to save/);
    assert.equal(fs.readFileSync(file), before);
  });
}

test('missing file and directory are named', () => {
  assert.throws(() => loadState(path.join(dir, 'none.state')), /none\.state: no such file/);
  assert.throws(() => loadState(dir), /is not a regular file/);
});

test('stale temporary files (a dead writer\'s, our own) are removed by the next save; a live writer\'s kept', () => {
  saveState(file, STATE);
  const deadPid = 2 ** 22 + 12345; // above pid_max's default: no such process
  const stale = tempFileName(file, deadPid);
  const ours = tempFileName(file, process.pid);
  const live = tempFileName(file, 1); // init always runs
  const unrelated = path.join(dir, '.other.state.77.ab.tmp');
  for (const f of [stale, ours, live, unrelated]) fs.writeFileSync(f, 'partial');
  saveState(file, { ...STATE, policy: [] });
  const left = fs.readdirSync(dir).sort();
  assert.ok(!left.includes(path.basename(stale)), 'dead writer\'s temp removed');
  assert.ok(!left.includes(path.basename(ours)), 'our own leftover removed');
  assert.ok(left.includes(path.basename(live)), 'a running writer\'s temp kept');
  assert.ok(left.includes(path.basename(unrelated)), 'another file\'s temp untouched');
  assert.is(removeStaleTempFiles(file), 0);
  fs.rmSync(live);
  fs.rmSync(unrelated);
  assert.equal(loadState(file).policy, []);
});

test.run();
