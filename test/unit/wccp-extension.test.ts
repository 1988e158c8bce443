// twinflow's replication request (Command Extension type 0x5446): the test vectors printed in
// docs/protocol.md are checked byte for byte against the encoder (so the document and the code
// cannot drift), round trips at the field limits, and every field's validation on decode and
// encode.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  CommandType,
  ComponentType,
  decodeComponent,
  decodeMessage,
  encodeComponent,
  encodeMessage,
  replicationRequestOf,
  WccpDecodeError,
  WccpEncodeError,
} from '../../firmware/shell/wccp/index.ts';
import type { DecodeErrorCode, ReplicationRequest } from '../../firmware/shell/wccp/index.ts';
import { deviceHereIAm, DOC_VECTORS, DUP_FAR_END_REQUEST, DUP_PASSWORD, FUTURE_REQUEST, hex, SNIFF_REQUEST, SYNTHETIC_MESSAGES, unhex } from './wccp-fixtures.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');

/** The hex dump under `<!-- test-vector: name -->` in docs/protocol.md, as bytes. */
function docVector(name: string): Uint8Array {
  const m = new RegExp(`<!-- test-vector: ${name} -->\\s*\`\`\`\\n([\\s\\S]*?)\`\`\``).exec(DOC);
  if (!m) throw new Error(`docs/protocol.md has no test vector "${name}"`);
  const lines = m[1]!.trim().split('\n');
  let expectedOffset = 0;
  const words = lines.flatMap((line) => {
    const [offset, ...rest] = line.trim().split(/\s+/);
    assert.is(parseInt(offset!, 16), expectedOffset, `${name}: offset column`);
    const bytes = rest.join('');
    expectedOffset += bytes.length / 2;
    return rest;
  });
  return unhex(words.join(''));
}

/** The command data of a replication command inside an encoded Command Extension. */
function commandData(request: ReplicationRequest): Uint8Array {
  return encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'replication', request }] }).subarray(8);
}

/**
 * A Command Extension holding one replication command with this raw data. Data whose length is
 * not a multiple of 4 is followed by an unknown command that realigns the component.
 */
function extensionWith(data: Uint8Array): Uint8Array {
  const filler = (4 - (data.length % 4)) % 4;
  const tail = filler === 0 ? 0 : 4 + filler;
  const out = new Uint8Array(8 + data.length + tail);
  const v = new DataView(out.buffer);
  v.setUint16(0, ComponentType.CommandExtension);
  v.setUint16(2, out.length - 4);
  v.setUint16(4, CommandType.TwinflowReplication);
  v.setUint16(6, data.length);
  out.set(data, 8);
  if (tail > 0) {
    v.setUint16(8 + data.length, 0x0063);
    v.setUint16(8 + data.length + 2, filler);
  }
  return out;
}

const BASE: ReplicationRequest = {
  mode: 'sniff',
  encapsulation: 'gre-wccp',
  filter: 'tcp',
  snaplen: 0,
  sample: 1,
  ratePps: 0,
  rateBps: 0,
  lifetime: 0,
};

test('docs/protocol.md lists exactly the vectors the fixtures define', () => {
  const names = [...DOC.matchAll(/<!-- test-vector: ([\w-]+) -->/g)].map((m) => m[1]);
  assert.equal(names, DOC_VECTORS.map((v) => v.name));
});

for (const v of DOC_VECTORS) {
  test(`doc vector ${v.name}: the encoder produces the documented bytes, which decode back`, () => {
    const documented = docVector(v.name);
    const options = v.password !== undefined ? { password: v.password } : {};
    const encoded = encodeMessage(v.message, options);
    assert.is(hex(encoded), hex(documented));
    const back = decodeMessage(documented, { password: v.password ?? null });
    const expected = v.password === undefined ? v.message : { ...v.message, security: { option: 'md5', digest: documented.slice(16, 32) } };
    assert.equal(back, expected);
    assert.is(hex(encodeMessage(back)), hex(documented));
    assert.equal(replicationRequestOf(back), replicationRequestOf(v.message));
  });
}

test('doc vector B: the digest printed in the text is the one in the bytes, and needs the password', () => {
  const bytes = docVector('here-i-am-dup-md5');
  assert.match(DOC, new RegExp(hex(bytes.subarray(16, 32))));
  assert.throws(() => decodeMessage(bytes, { password: 'twinflo' }), (e: unknown) => (e as { verdict?: string }).verdict === 'bad-digest');
  assert.ok(decodeMessage(bytes, { password: DUP_PASSWORD }));
});

test('doc vector C with the critical bit set on the unknown sub-field is refused', () => {
  const bytes = docVector('here-i-am-future-subfield');
  const at = hex(bytes).lastIndexOf('01000003') / 2;
  bytes[at] = 0x81;
  try {
    decodeMessage(bytes);
    assert.unreachable('accepted an unknown critical sub-field');
  } catch (e) {
    assert.instance(e, WccpDecodeError);
    assert.is((e as WccpDecodeError).code, 'unknown-critical');
    assert.is((e as WccpDecodeError).field, 'commands[0].subFields[0].type');
    assert.is((e as WccpDecodeError).offset, at);
  }
});

test('doc vector D: the far end is type 3 with the critical bit; without the bit, or outside tagged dup, it is refused', () => {
  const bytes = docVector('here-i-am-dup-far-end');
  assert.equal(replicationRequestOf(decodeMessage(bytes)), DUP_FAR_END_REQUEST);
  const at = hex(bytes).lastIndexOf('80030004') / 2;
  assert.is(at, 0xd4);
  const expectRefusal = (patched: Uint8Array, field: string, offset: number): void => {
    try {
      decodeMessage(patched);
      assert.unreachable(`accepted ${field}`);
    } catch (e) {
      assert.instance(e, WccpDecodeError);
      assert.is((e as WccpDecodeError).code, 'bad-value');
      assert.is((e as WccpDecodeError).field, `commands[0].${field}`);
      assert.is((e as WccpDecodeError).offset, offset);
    }
  };
  const nonCritical = bytes.slice();
  nonCritical[at] = 0x00;
  expectRefusal(nonCritical, 'subFields[1].type', at);
  const commandAt = hex(bytes).indexOf('54460044') / 2;
  const sniff = bytes.slice();
  sniff[commandAt + 5] = 0x01;
  expectRefusal(sniff, 'farEnd', at + 4);
  const greWccp = bytes.slice();
  greWccp[commandAt + 6] = 0x01;
  expectRefusal(greWccp, 'farEnd', at + 4);
});

test('the command type is 0x5446 ("TF") and the fixed part is 28 bytes', () => {
  const ext = encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'replication', request: { ...BASE, filter: '' } }] });
  assert.is(hex(ext), '000f0020' + '5446001c' + '01010100' + '00000000' + '00000001' + '00000000' + '0000000000000000' + '00000000');
  assert.is(Buffer.from([0x54, 0x46]).toString('latin1'), 'TF');
});

test('round trips: every mode and encapsulation, field maxima, multi-byte filter at the 1024-byte limit', () => {
  const cases: ReplicationRequest[] = [
    ...(['sniff', 'dup', 'race'] as const).flatMap((mode) =>
      (['gre-wccp', 'erspan2', 'erspan3', 'gre-seq'] as const).map((encapsulation) => ({ ...BASE, mode, encapsulation })),
    ),
    { ...BASE, mode: 'redirect', filter: '' },
    { ...BASE, snaplen: 64 },
    { ...BASE, snaplen: 65535, sample: 0xffffffff, ratePps: 0xffffffff, rateBps: Number.MAX_SAFE_INTEGER, lifetime: 0xffffffff },
    { ...BASE, filter: 'é'.repeat(512) },
    { ...BASE, filter: 'x'.repeat(1021) },
    { ...BASE, filter: 'host 2001:db8::1 and not port 22 # ünïcødé ✓' },
    { ...BASE, encapsulation: 'erspan2', erspanSession: 0 },
    { ...BASE, encapsulation: 'erspan3', erspanSession: 1023, label: 'L'.repeat(64) },
    { ...BASE, label: 'ş' },
    { ...BASE, unknownSubFields: [{ type: 0x7fff, value: new Uint8Array(0) }, { type: 0x0004, value: unhex('0102030405') }] },
    { ...BASE, mode: 'dup', encapsulation: 'gre-seq', farEnd: 0xcb007109 },
    { ...BASE, mode: 'dup', encapsulation: 'gre-seq', farEnd: 0xdfffffff, label: 'far', unknownSubFields: [{ type: 0x0100, value: unhex('01') }] },
    SNIFF_REQUEST,
    FUTURE_REQUEST,
  ];
  for (const request of cases) {
    const bytes = encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'replication', request }] });
    assert.is(bytes.length % 4, 0);
    const back = decodeComponent(ComponentType.CommandExtension, bytes);
    assert.equal(back, { commands: [{ kind: 'replication', request }] }, JSON.stringify(request).slice(0, 80));
    assert.is(hex(encodeComponent(ComponentType.CommandExtension, back)), hex(bytes));
  }
});

test('replicationRequestOf: the request of a HERE_I_AM, null without one (a standard cache)', () => {
  const withIt = SYNTHETIC_MESSAGES[0]!.message;
  assert.equal(replicationRequestOf(withIt), SNIFF_REQUEST);
  const { commandExtension: _ext, ...plain } = deviceHereIAm(SNIFF_REQUEST);
  assert.is(replicationRequestOf(plain), null);
  const shutdownOnly = SYNTHETIC_MESSAGES.find((s) => s.name === 'here-i-am-mask-shutdown')!.message;
  assert.is(replicationRequestOf(shutdownOnly), null);
  const isy = SYNTHETIC_MESSAGES.find((s) => s.name === 'i-see-you-map')!.message;
  assert.is(replicationRequestOf(isy), null);
});

// ── Decode validation ───────────────────────────────────────────────────────────────────────

/** Patch command data bytes (offsets within the data) and expect a decode error. */
function refuse(label: string, data: Uint8Array, code: DecodeErrorCode, field: string, offsetInData?: number): void {
  const ext = extensionWith(data);
  try {
    decodeComponent(ComponentType.CommandExtension, ext);
  } catch (e) {
    if (!(e instanceof WccpDecodeError)) throw e;
    assert.is(e.code, code, `${label}: ${e.message}`);
    assert.is(e.component, 'Command Extension', label);
    assert.is(e.field, `commands[0].${field}`, `${label}: ${e.message}`);
    if (offsetInData !== undefined) assert.is(e.offset, 8 + offsetInData, `${label}: offset`);
    return;
  }
  assert.unreachable(`${label}: accepted`);
}

function edit(request: ReplicationRequest, edits: Record<number, string>): Uint8Array {
  const data = commandData(request).slice();
  for (const [at, h] of Object.entries(edits)) data.set(unhex(h), Number(at));
  return data;
}

test('decode refuses every out-of-range field, naming it', () => {
  refuse('version 2', edit(BASE, { 0: '02' }), 'bad-value', 'version', 0);
  refuse('version 0', edit(BASE, { 0: '00' }), 'bad-value', 'version', 0);
  refuse('mode 0', edit(BASE, { 1: '00' }), 'bad-value', 'mode', 1);
  refuse('mode 5', edit(BASE, { 1: '05' }), 'bad-value', 'mode', 1);
  refuse('encapsulation 0', edit(BASE, { 2: '00' }), 'bad-value', 'encapsulation', 2);
  refuse('encapsulation 5', edit(BASE, { 2: '05' }), 'bad-value', 'encapsulation', 2);
  refuse('reserved 1', edit(BASE, { 3: '01' }), 'bad-value', 'reserved', 3);
  refuse('snaplen 1', edit(BASE, { 4: '0001' }), 'bad-value', 'snaplen', 4);
  refuse('snaplen 63', edit(BASE, { 4: '003f' }), 'bad-value', 'snaplen', 4);
  refuse('filter length 1025', edit({ ...BASE, filter: 'x'.repeat(1024) }, { 6: '0401' }), 'bad-value', 'filterLength', 6);
  refuse('filter length beyond the data', edit(BASE, { 6: '0010' }), 'bad-length', 'filterLength', 6);
  refuse('rate above 2^53-1', edit(BASE, { 16: '0020000000000000' }), 'bad-value', 'rateBps', 16);
  refuse('rate 2^64-1', edit(BASE, { 16: 'ffffffffffffffff' }), 'bad-value', 'rateBps', 16);
  refuse('filter not UTF-8', edit(BASE, { 28: 'ff' }), 'bad-utf8', 'filter', 28);
  refuse('filter with a broken UTF-8 sequence', edit({ ...BASE, filter: 'tcé' }, { 31: '41' }), 'bad-utf8', 'filter', 28);
  refuse('filter with NUL', edit(BASE, { 29: '00' }), 'bad-value', 'filter', 28);
  refuse('non-zero filter padding', edit(BASE, { 31: '01' }), 'bad-padding', 'filter padding', 31);
  refuse('redirect with a snaplen', edit({ ...BASE, mode: 'redirect' }, { 4: '0080' }), 'bad-value', 'snaplen', 4);
  refuse('redirect with erspan2', edit({ ...BASE, mode: 'redirect' }, { 2: '02' }), 'bad-value', 'encapsulation', 2);
  refuse('data shorter than the fixed part', commandData(BASE).subarray(0, 24), 'bad-length', 'length', -2);
});

test('decode refuses malformed sub-fields, naming them', () => {
  const labelled = { ...BASE, label: 'abc' };
  const at = 32; // fixed part (28) + "tcp" padded to 4
  refuse('sub-field length beyond the data', edit(labelled, { [at + 2]: '0009' }), 'bad-length', 'subFields[0].length', at + 2);
  refuse('non-zero sub-field padding', edit(labelled, { [at + 7]: '01' }), 'bad-padding', 'subFields[0].padding', at + 7);
  refuse('empty label', concat(commandData(BASE), unhex('00010000')), 'bad-length', 'subFields[0].length', at + 2);
  refuse('label of 65 bytes', concat(commandData(BASE), unhex('00010041'), new Uint8Array(68).fill(0x61)), 'bad-length', 'subFields[0].length');
  refuse('label not UTF-8', edit(labelled, { [at + 4]: 'ff' }), 'bad-utf8', 'label', at + 4);
  refuse('two labels', concat(commandData(labelled), unhex('0001000178000000')), 'duplicate-element', 'subFields[1].type', at + 8);
  const erspan = { ...BASE, encapsulation: 'erspan2' as const, erspanSession: 5 };
  refuse('ERSPAN session of 4 bytes', edit(erspan, { [at + 2]: '0004' }), 'bad-length', 'subFields[0].length', at + 2);
  refuse('ERSPAN session 1024', edit(erspan, { [at + 4]: '0400' }), 'bad-value', 'erspanSession', at + 4);
  refuse('ERSPAN session with gre-seq', edit(erspan, { 2: '04' }), 'bad-value', 'erspanSession', at + 4);
  refuse('two ERSPAN sessions', concat(commandData(erspan), unhex('0002000200070000')), 'duplicate-element', 'subFields[1].type');
  const tagged = { ...BASE, mode: 'dup' as const, encapsulation: 'gre-seq' as const, farEnd: 0xcb007109 };
  refuse('far end of 2 bytes', edit(tagged, { [at + 2]: '0002' }), 'bad-length', 'subFields[0].length', at + 2);
  refuse('far end 0.0.0.0', edit(tagged, { [at + 4]: '00000000' }), 'bad-value', 'farEnd', at + 4);
  refuse('far end on loopback', edit(tagged, { [at + 4]: '7f000001' }), 'bad-value', 'farEnd', at + 4);
  refuse('far end multicast', edit(tagged, { [at + 4]: 'e0000001' }), 'bad-value', 'farEnd', at + 4);
  refuse('far end broadcast', edit(tagged, { [at + 4]: 'ffffffff' }), 'bad-value', 'farEnd', at + 4);
  refuse('far end with race', edit(tagged, { 1: '03' }), 'bad-value', 'farEnd', at + 4);
  refuse('two far ends', concat(commandData(tagged), unhex('80030004cb00710a')), 'duplicate-element', 'subFields[1].type', at + 8);
  refuse('far end without the critical bit', concat(commandData(BASE), unhex('00030004cb007109')), 'bad-value', 'subFields[0].type', at);
  refuse('unknown critical sub-field', concat(commandData(BASE), unhex('80000000')), 'unknown-critical', 'subFields[0].type', at);
  refuse('sub-field head cut short', concat(commandData(BASE), unhex('0003')), 'truncated', 'subFields[0]');
});

test('a second replication command in one Command Extension is refused', () => {
  const data = commandData(BASE);
  const one = extensionWith(data);
  const two = new Uint8Array(one.length + 4 + data.length);
  two.set(one);
  two.set(one.subarray(4), one.length);
  new DataView(two.buffer).setUint16(2, two.length - 4);
  assert.throws(() => decodeComponent(ComponentType.CommandExtension, two), (e: unknown) => e instanceof WccpDecodeError && e.code === 'duplicate-element' && e.field === 'commands[1].type');
});

// ── Encode validation ───────────────────────────────────────────────────────────────────────

function refuseEncode(label: string, request: ReplicationRequest, field: string): void {
  assert.throws(
    () => encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'replication', request }] }),
    (e: unknown) => e instanceof WccpEncodeError && e.field === `commandExtension.commands[0].request.${field}`,
    label,
  );
}

test('encode refuses what the wire cannot carry, naming the field', () => {
  refuseEncode('mode', { ...BASE, mode: 'mirror' as never }, 'mode');
  refuseEncode('encapsulation', { ...BASE, encapsulation: 'vxlan' as never }, 'encapsulation');
  refuseEncode('snaplen 63', { ...BASE, snaplen: 63 }, 'snaplen');
  refuseEncode('snaplen 65536', { ...BASE, snaplen: 65536 }, 'snaplen');
  refuseEncode('snaplen 1.5', { ...BASE, snaplen: 100.5 }, 'snaplen');
  refuseEncode('filter of 1025 bytes', { ...BASE, filter: 'x'.repeat(1025) }, 'filter');
  refuseEncode('filter of 513 two-byte characters', { ...BASE, filter: 'é'.repeat(513) }, 'filter');
  refuseEncode('filter with a lone surrogate', { ...BASE, filter: 'tcp \ud800' }, 'filter');
  refuseEncode('filter with NUL', { ...BASE, filter: 'tcp\u0000' }, 'filter');
  refuseEncode('sample -1', { ...BASE, sample: -1 }, 'sample');
  refuseEncode('sample 2^32', { ...BASE, sample: 2 ** 32 }, 'sample');
  refuseEncode('ratePps 2^32', { ...BASE, ratePps: 2 ** 32 }, 'ratePps');
  refuseEncode('rateBps 2^53', { ...BASE, rateBps: 2 ** 53 }, 'rateBps');
  refuseEncode('lifetime NaN', { ...BASE, lifetime: Number.NaN }, 'lifetime');
  refuseEncode('redirect with a snaplen', { ...BASE, mode: 'redirect', snaplen: 128 }, 'snaplen');
  refuseEncode('redirect with erspan3', { ...BASE, mode: 'redirect', encapsulation: 'erspan3' }, 'encapsulation');
  refuseEncode('empty label', { ...BASE, label: '' }, 'label');
  refuseEncode('label of 65 bytes', { ...BASE, label: 'x'.repeat(65) }, 'label');
  refuseEncode('ERSPAN session with gre-wccp', { ...BASE, erspanSession: 1 }, 'erspanSession');
  refuseEncode('ERSPAN session 1024', { ...BASE, encapsulation: 'erspan3', erspanSession: 1024 }, 'erspanSession');
  const dup = { ...BASE, mode: 'dup' as const, encapsulation: 'gre-seq' as const };
  refuseEncode('far end with sniff', { ...BASE, encapsulation: 'gre-seq', farEnd: 0xcb007109 }, 'farEnd');
  refuseEncode('far end with dup over gre-wccp', { ...dup, encapsulation: 'gre-wccp', farEnd: 0xcb007109 }, 'farEnd');
  refuseEncode('far end 127.0.0.1', { ...dup, farEnd: 0x7f000001 }, 'farEnd');
  refuseEncode('far end 2^32', { ...dup, farEnd: 2 ** 32 }, 'farEnd');
  refuseEncode('unknown sub-field with the far end\'s type, non-critical', { ...BASE, unknownSubFields: [{ type: 3, value: unhex('01020304') }] }, 'unknownSubFields[0].type');
  refuseEncode('unknown sub-field with a defined type', { ...BASE, unknownSubFields: [{ type: 1, value: unhex('61') }] }, 'unknownSubFields[0].type');
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test.run();
