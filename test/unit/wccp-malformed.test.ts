// Malformed datagrams: a table of hand-made defects (each must be a WccpDecodeError naming the
// expected message, component, field and, where it matters, byte offset), then systematic
// damage to every real and synthetic message: every truncation, every component shortened,
// every u32 set huge, and seeded random corruption. Nothing may escape as another exception,
// and whatever still decodes must re-encode to the same bytes.

import fs from 'node:fs';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  ComponentType,
  componentName,
  decodeMessage,
  encodeComponent,
  encodeMessage,
  MessageType,
  replicationRequestOf,
  WccpDecodeError,
} from '../../firmware/shell/wccp/index.ts';
import type { DecodeErrorCode } from '../../firmware/shell/wccp/index.ts';
import {
  CAPTURE_DIR,
  HASH_ELEMENT,
  hex,
  ip,
  MASK_ELEMENT,
  SNIFF_REQUEST,
  squidMaskSet,
  STANDARD_SERVICE,
  SYNTHETIC_MESSAGES,
  unhex,
} from './wccp-fixtures.ts';
import { tsharkWccpFrames } from './wccp-tshark.ts';

// ── Building blocks ─────────────────────────────────────────────────────────────────────────

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A message: header (Length = sum of the parts unless given) and the parts. */
function msg(type: number, parts: readonly Uint8Array[], opts: { version?: number; length?: number } = {}): Uint8Array {
  const body = concat(parts);
  const head = new Uint8Array(8);
  const v = new DataView(head.buffer);
  v.setUint32(0, type);
  v.setUint16(4, opts.version ?? 0x0200);
  v.setUint16(6, opts.length ?? body.length);
  return concat([head, body]);
}

/** A component with a raw body (any length field value may be forced with `length`). */
function raw(type: number, bodyHex: string, length?: number): Uint8Array {
  const body = unhex(bodyHex);
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint16(0, type);
  new DataView(head.buffer).setUint16(2, length ?? body.length);
  return concat([head, body]);
}

/** A component encoded by us, then patched: `edits` maps body offsets to hex bytes. */
function patched(bytes: Uint8Array, edits: Record<number, string>): Uint8Array {
  const out = bytes.slice();
  for (const [at, h] of Object.entries(edits)) out.set(unhex(h), 4 + Number(at));
  return out;
}

function withLength(component: Uint8Array, length: number): Uint8Array {
  const out = component.slice();
  new DataView(out.buffer).setUint16(2, length);
  return out;
}

const SEC = encodeComponent(ComponentType.SecurityInfo, { option: 'none' });
const SVC = encodeComponent(ComponentType.ServiceInfo, STANDARD_SERVICE);
const WCI = encodeComponent(ComponentType.WebCacheIdentityInfo, HASH_ELEMENT);
const WCI_MASK = encodeComponent(ComponentType.WebCacheIdentityInfo, MASK_ELEMENT);
const WCV = encodeComponent(ComponentType.WebCacheViewInfo, { changeNumber: 1, routers: [{ routerId: ip('10.0.0.1'), receiveId: 3 }], webCaches: [ip('10.0.0.11')] });
const CAPS = encodeComponent(ComponentType.CapabilitiesInfo, { elements: [{ kind: 'forwarding-method', methods: 1 }] });
const CMD = encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'shutdown', address: ip('10.0.0.11') }] });
const RID = encodeComponent(ComponentType.RouterIdentityInfo, { routerId: ip('10.0.0.1'), receiveId: 1, sentTo: ip('10.0.0.1'), receivedFrom: [ip('10.0.0.11')] });
const RVIEW = encodeComponent(ComponentType.RouterViewInfo, {
  memberChangeNumber: 1,
  assignmentKey: { address: 0, changeNumber: 0 },
  routers: [ip('10.0.0.1')],
  webCaches: [HASH_ELEMENT],
});
const AINFO = encodeComponent(ComponentType.AssignmentInfo, {
  key: { address: ip('10.0.0.11'), changeNumber: 1 },
  routers: [{ routerId: ip('10.0.0.1'), receiveId: 1, changeNumber: 1 }],
  webCaches: [ip('10.0.0.11')],
  buckets: new Uint8Array(256),
});
const AMAP = encodeComponent(ComponentType.AssignmentMap, { sets: [squidMaskSet(0x3, [ip('10.0.0.11')])] });
const ALT = encodeComponent(ComponentType.AlternateAssignment, {
  kind: 'mask',
  key: { address: ip('10.0.0.11'), changeNumber: 1 },
  routers: [{ routerId: ip('10.0.0.1'), receiveId: 1, changeNumber: 1 }],
  sets: [squidMaskSet(0x3, [ip('10.0.0.11')])],
});
const QUERY = encodeComponent(ComponentType.RouterQueryInfo, { routerId: 1, receiveId: 2, sentTo: 3, target: 4 });
const TABLE = encodeComponent(ComponentType.AddressTable, { family: 'ipv4', addresses: [unhex('0a000001')] });

const HIA = MessageType.HereIAm;
const ISY = MessageType.ISeeYou;
const RA = MessageType.RedirectAssign;
const RQ = MessageType.RemovalQuery;

const hereIAm = (...extra: Uint8Array[]) => msg(HIA, [SEC, SVC, WCI, WCV, ...extra]);
const iSeeYou = (...extra: Uint8Array[]) => msg(ISY, [SEC, SVC, RID, RVIEW, ...extra]);

interface Expect {
  readonly code: DecodeErrorCode;
  readonly component: string | null;
  readonly field: string | RegExp;
  readonly offset?: number;
  readonly messageType?: string | null;
}

function expectError(label: string, bytes: Uint8Array, e: Expect): void {
  try {
    decodeMessage(bytes);
  } catch (err) {
    if (!(err instanceof WccpDecodeError)) throw new Error(`${label}: threw ${String(err)}`);
    assert.is(err.code, e.code, `${label}: code (${err.message})`);
    assert.is(err.component, e.component, `${label}: component (${err.message})`);
    if (typeof e.field === 'string') assert.is(err.field, e.field, `${label}: field (${err.message})`);
    else assert.match(err.field, e.field, `${label}: field (${err.message})`);
    if (e.offset !== undefined) assert.is(err.offset, e.offset, `${label}: offset (${err.message})`);
    if (e.messageType !== undefined) assert.is(err.messageType, e.messageType, `${label}: message type`);
    assert.ok(err.offset >= 0 && err.offset <= bytes.length, `${label}: offset inside the datagram`);
    return;
  }
  assert.unreachable(`${label}: decoded`);
}

const SECURITY = 'Security Info';
const SERVICE = 'Service Info';

// ── The table ───────────────────────────────────────────────────────────────────────────────

const CASES: ReadonlyArray<[string, Uint8Array, Expect]> = [
  // header
  ['empty datagram', new Uint8Array(0), { code: 'truncated', component: null, field: 'header', offset: 0, messageType: null }],
  ['7-byte datagram', hereIAm().subarray(0, 7), { code: 'truncated', component: null, field: 'header', offset: 0 }],
  ['WCCPv1 type 7', msg(7, [SEC]), { code: 'unknown-message-type', component: null, field: 'type', offset: 0, messageType: null }],
  ['type 14', msg(14, [SEC, SVC]), { code: 'unknown-message-type', component: null, field: 'type', offset: 0 }],
  ['type 0x0100000a', msg(0x0100000a, [SEC, SVC]), { code: 'unknown-message-type', component: null, field: 'type', offset: 0 }],
  ['version 0x0201', msg(HIA, [SEC, SVC, WCI, WCV], { version: 0x0201 }), { code: 'bad-version', component: null, field: 'version', offset: 4, messageType: 'HERE_I_AM' }],
  ['version 0x0100', msg(ISY, [SEC], { version: 0x0100 }), { code: 'bad-version', component: null, field: 'version', offset: 4, messageType: 'I_SEE_YOU' }],
  ['header length beyond the datagram', msg(HIA, [SEC, SVC, WCI, WCV], { length: hereIAm().length - 8 + 4 }), { code: 'length-mismatch', component: null, field: 'length', offset: 6 }],
  ['header length 0xffff', msg(RQ, [SEC, SVC, QUERY], { length: 0xffff }), { code: 'length-mismatch', component: null, field: 'length', offset: 6 }],
  ['trailing bytes after the message', concat([hereIAm(), unhex('00000000')]), { code: 'trailing-bytes', component: null, field: 'datagram', offset: hereIAm().length }],
  ['header length short of the last component', msg(RQ, [SEC, SVC, QUERY], { length: 8 + 28 }), { code: 'trailing-bytes', component: null, field: 'datagram', offset: 8 + 36 }],
  // framing
  ['component header cut short', msg(RQ, [SEC, SVC, QUERY, unhex('0063')]), { code: 'truncated', component: null, field: 'component', offset: 8 + 8 + 28 + 20 }],
  ['component length beyond the message', msg(RQ, [SEC, withLength(SVC, 28), QUERY.subarray(0, 4)]), { code: 'bad-length', component: SERVICE, field: 'length', offset: 8 + 8 + 2 }],
  ['component length not a multiple of 4', msg(RQ, [SEC, raw(1, '00'.repeat(24), 22), QUERY]), { code: 'bad-length', component: SERVICE, field: 'length', offset: 18 }],
  ['no components at all', msg(HIA, []), { code: 'missing-component', component: SECURITY, field: 'component', offset: 8 }],
  ['first component is not Security Info', msg(RQ, [SVC, SEC, QUERY]), { code: 'missing-component', component: SECURITY, field: 'component', offset: 8 }],
  ['unknown component before Security Info', msg(RQ, [raw(99, ''), SEC, SVC, QUERY]), { code: 'missing-component', component: SECURITY, field: 'component', offset: 8 }],
  ['HERE_I_AM without Service Info', msg(HIA, [SEC, WCI, WCV]), { code: 'missing-component', component: SERVICE, field: 'component' }],
  ['HERE_I_AM without Web-Cache Identity Info', msg(HIA, [SEC, SVC, WCV]), { code: 'missing-component', component: 'Web-Cache Identity Info', field: 'component', offset: 8 + 8 + 28 + 28 }],
  ['HERE_I_AM without Web-Cache View Info', msg(HIA, [SEC, SVC, WCI, CAPS]), { code: 'missing-component', component: 'Web-Cache View Info', field: 'component' }],
  ['I_SEE_YOU without Router Identity Info', msg(ISY, [SEC, SVC, RVIEW]), { code: 'missing-component', component: 'Router Identity Info', field: 'component' }],
  ['I_SEE_YOU without Router View Info', msg(ISY, [SEC, SVC, RID, CAPS]), { code: 'missing-component', component: 'Router View Info', field: 'component' }],
  ['REMOVAL_QUERY without Router Query Info', msg(RQ, [SEC, SVC]), { code: 'missing-component', component: 'Router Query Info', field: 'component' }],
  ['REDIRECT_ASSIGN without an assignment', msg(RA, [SEC, SVC]), { code: 'missing-component', component: 'Assignment Info or Alternate Assignment', field: 'component' }],
  ['duplicate Security Info', msg(RQ, [SEC, SEC, SVC, QUERY]), { code: 'duplicate-component', component: SECURITY, field: 'type', offset: 16 }],
  ['duplicate Service Info', msg(RQ, [SEC, SVC, SVC, QUERY]), { code: 'duplicate-component', component: SERVICE, field: 'type', offset: 8 + 8 + 28 }],
  ['duplicate Capabilities Info', hereIAm(CAPS, CAPS), { code: 'duplicate-component', component: 'Capabilities Info', field: 'type' }],
  ['duplicate Router Query Info', msg(RQ, [SEC, SVC, QUERY, QUERY]), { code: 'duplicate-component', component: 'Router Query Info', field: 'type' }],
  ['duplicate Address Table', msg(RQ, [SEC, SVC, TABLE, QUERY, TABLE]), { code: 'duplicate-component', component: 'Address Table', field: 'type' }],
  ['Router View Info in HERE_I_AM', hereIAm(RVIEW), { code: 'unexpected-component', component: 'Router View Info', field: 'type' }],
  ['Web-Cache View Info in I_SEE_YOU', iSeeYou(WCV), { code: 'unexpected-component', component: 'Web-Cache View Info', field: 'type' }],
  ['Capabilities Info in REDIRECT_ASSIGN', msg(RA, [SEC, SVC, AINFO, CAPS]), { code: 'unexpected-component', component: 'Capabilities Info', field: 'type' }],
  ['Command Extension in REMOVAL_QUERY', msg(RQ, [SEC, SVC, QUERY, CMD]), { code: 'unexpected-component', component: 'Command Extension', field: 'type' }],
  ['Assignment Map in REDIRECT_ASSIGN', msg(RA, [SEC, SVC, AMAP]), { code: 'unexpected-component', component: 'Assignment Map', field: 'type' }],
  ['Web-Cache View before Web-Cache Identity', msg(HIA, [SEC, SVC, WCV, WCI]), { code: 'out-of-order', component: 'Web-Cache Identity Info', field: 'type', offset: 8 + 8 + 28 + 28 }],
  ['Capabilities before Router View', msg(ISY, [SEC, SVC, RID, CAPS, RVIEW]), { code: 'out-of-order', component: 'Router View Info', field: 'type' }],
  ['Command Extension before Capabilities', hereIAm(CMD, CAPS), { code: 'out-of-order', component: 'Capabilities Info', field: 'type' }],
  ['Service Info after Router Query Info', msg(RQ, [SEC, QUERY, SVC]), { code: 'out-of-order', component: SERVICE, field: 'type' }],
  ['I_SEE_YOU with Assignment Info and Assignment Map', iSeeYou(AINFO, AMAP), { code: 'conflicting-components', component: 'Assignment Map', field: 'type' }],
  ['REDIRECT_ASSIGN with Assignment Info and Alternate Assignment', msg(RA, [SEC, SVC, AINFO, ALT]), { code: 'conflicting-components', component: 'Alternate Assignment', field: 'type' }],
  // Security Info
  ['security option 2', msg(RQ, [raw(0, '00000002'), SVC, QUERY]), { code: 'bad-value', component: SECURITY, field: 'option', offset: 12 }],
  ['MD5 option without a digest', msg(RQ, [raw(0, '00000001'), SVC, QUERY]), { code: 'bad-length', component: SECURITY, field: 'length', offset: 10 }],
  ['no-security option with 16 more bytes', msg(RQ, [raw(0, '00000000' + '00'.repeat(16)), SVC, QUERY]), { code: 'bad-length', component: SECURITY, field: 'length', offset: 10 }],
  ['Security Info of length 0', msg(RQ, [raw(0, ''), SVC, QUERY]), { code: 'bad-length', component: SECURITY, field: 'length', offset: 10 }],
  ['MD5 digest 12 bytes', msg(RQ, [raw(0, '00000001' + '00'.repeat(12)), SVC, QUERY]), { code: 'bad-length', component: SECURITY, field: 'length' }],
  // Service Info
  ['Service Info of 20 bytes', msg(RQ, [SEC, raw(1, '00'.repeat(20)), QUERY]), { code: 'bad-length', component: SERVICE, field: 'length', offset: 18 }],
  ['Service Info of 28 bytes', msg(RQ, [SEC, raw(1, '00'.repeat(28)), QUERY]), { code: 'bad-length', component: SERVICE, field: 'length', offset: 18 }],
  ['service type 2', msg(RQ, [SEC, patched(SVC, { 0: '02' }), QUERY]), { code: 'bad-value', component: SERVICE, field: 'serviceType', offset: 20 }],
  // Router Identity Info
  ['Router Identity of 12 bytes', msg(ISY, [SEC, SVC, raw(2, '00'.repeat(12)), RVIEW]), { code: 'bad-length', component: 'Router Identity Info', field: 'length' }],
  ['receivedFrom count 0xffffffff', msg(ISY, [SEC, SVC, patched(RID, { 12: 'ffffffff' }), RVIEW]), { code: 'count-too-large', component: 'Router Identity Info', field: 'receivedFrom count', offset: 8 + 8 + 28 + 4 + 12 }],
  ['receivedFrom count 0x40000000 (×4 wraps 32 bits)', msg(ISY, [SEC, SVC, patched(RID, { 12: '40000000' }), RVIEW]), { code: 'count-too-large', component: 'Router Identity Info', field: 'receivedFrom count' }],
  ['receivedFrom count 0 with an address left over', msg(ISY, [SEC, SVC, patched(RID, { 12: '00000000' }), RVIEW]), { code: 'bad-length', component: 'Router Identity Info', field: 'length', offset: 8 + 8 + 28 + 2 }],
  // Web-Cache Identity Info
  ['Web-Cache Identity of 4 bytes', msg(HIA, [SEC, SVC, raw(3, '0a00000b'), WCV]), { code: 'bad-length', component: 'Web-Cache Identity Info', field: 'length' }],
  ['hash data cut before the weight', msg(HIA, [SEC, SVC, withLength(WCI, 40).subarray(0, 44), WCV]), { code: 'truncated', component: 'Web-Cache Identity Info', field: 'webCache.weight' }],
  ['hash element with 4 extra bytes', msg(HIA, [SEC, SVC, concat([withLength(WCI, 48), unhex('00000000')]), WCV]), { code: 'bad-length', component: 'Web-Cache Identity Info', field: 'length' }],
  ['mask set count 0xffffffff', msg(HIA, [SEC, SVC, patched(WCI_MASK, { 8: 'ffffffff' }), WCV]), { code: 'count-too-large', component: 'Web-Cache Identity Info', field: 'webCache.sets count' }],
  ['mask value count 0xffffffff', msg(HIA, [SEC, SVC, patched(WCI_MASK, { 24: 'ffffffff' }), WCV]), { code: 'count-too-large', component: 'Web-Cache Identity Info', field: 'webCache.sets[0].values count' }],
  ['extended assignment length beyond the element', msg(HIA, [SEC, SVC, raw(3, '0a00000b00000006' + '00030010' + '00000000'), WCV]), { code: 'bad-length', component: 'Web-Cache Identity Info', field: 'webCache.extended.length' }],
  // Router View Info
  ['Router View of 16 bytes', msg(ISY, [SEC, SVC, RID, raw(4, '00'.repeat(16))]), { code: 'bad-length', component: 'Router View Info', field: 'length' }],
  ['Router View routers count 0xffffffff', msg(ISY, [SEC, SVC, RID, patched(RVIEW, { 12: 'ffffffff' })]), { code: 'count-too-large', component: 'Router View Info', field: 'routers count' }],
  ['Router View webCaches count 0xffffffff', msg(ISY, [SEC, SVC, RID, patched(RVIEW, { 20: 'ffffffff' })]), { code: 'count-too-large', component: 'Router View Info', field: 'webCaches count' }],
  ['Router View says 3 caches, carries 1', msg(ISY, [SEC, SVC, RID, patched(RVIEW, { 20: '00000003' })]), { code: 'truncated', component: 'Router View Info', field: 'webCaches[1]' }],
  // Web-Cache View Info
  ['Web-Cache View of 8 bytes', msg(HIA, [SEC, SVC, WCI, raw(5, '00'.repeat(8))]), { code: 'bad-length', component: 'Web-Cache View Info', field: 'length' }],
  ['Web-Cache View routers count 0xffffffff', msg(HIA, [SEC, SVC, WCI, patched(WCV, { 4: 'ffffffff' })]), { code: 'count-too-large', component: 'Web-Cache View Info', field: 'routers count' }],
  ['Web-Cache View says 2 caches, carries 1', msg(HIA, [SEC, SVC, WCI, patched(WCV, { 16: '00000002' })]), { code: 'count-too-large', component: 'Web-Cache View Info', field: 'webCaches count' }],
  // Assignment Info
  ['Assignment Info of 268 bytes', msg(RA, [SEC, SVC, raw(6, '00'.repeat(268))]), { code: 'bad-length', component: 'Assignment Info', field: 'length' }],
  ['Assignment Info routers count 0xffffffff', msg(RA, [SEC, SVC, patched(AINFO, { 8: 'ffffffff' })]), { code: 'count-too-large', component: 'Assignment Info', field: 'routers count' }],
  ['Assignment Info webCaches count 0xffffffff', msg(RA, [SEC, SVC, patched(AINFO, { 24: 'ffffffff' })]), { code: 'count-too-large', component: 'Assignment Info', field: 'webCaches count' }],
  ['Assignment Info with 4 extra bytes', msg(RA, [SEC, SVC, concat([withLength(AINFO, AINFO.length), unhex('00000000')])]), { code: 'bad-length', component: 'Assignment Info', field: 'length' }],
  // Router Query Info
  ['Router Query of 12 bytes', msg(RQ, [SEC, SVC, raw(7, '00'.repeat(12))]), { code: 'bad-length', component: 'Router Query Info', field: 'length' }],
  ['Router Query of 20 bytes', msg(RQ, [SEC, SVC, raw(7, '00'.repeat(20))]), { code: 'bad-length', component: 'Router Query Info', field: 'length' }],
  // Capabilities Info
  ['forwarding capability of 8 bytes', hereIAm(raw(8, '00010008' + '0000000100000000')), { code: 'bad-length', component: 'Capabilities Info', field: 'elements[0].length' }],
  ['capability length beyond the component', hereIAm(raw(8, '00990010' + '00000000')), { code: 'bad-length', component: 'Capabilities Info', field: 'elements[0].length' }],
  ['capability head cut short', hereIAm(raw(8, '00990002aaaa0001')), { code: 'truncated', component: 'Capabilities Info', field: 'elements[1]' }],
  ['two forwarding capabilities', hereIAm(raw(8, '0001000400000001' + '0001000400000002')), { code: 'duplicate-element', component: 'Capabilities Info', field: 'elements[1].type' }],
  // Alternate Assignment
  ['Alternate Assignment of 0 bytes', msg(RA, [SEC, SVC, raw(13, '')]), { code: 'bad-length', component: 'Alternate Assignment', field: 'length' }],
  ['assignment length ≠ the rest of the component', msg(RA, [SEC, SVC, patched(ALT, { 2: '0000' })]), { code: 'bad-length', component: 'Alternate Assignment', field: 'assignmentLength' }],
  ['hash alternate assignment too short', msg(RA, [SEC, SVC, raw(13, '00000008' + '00'.repeat(8))]), { code: 'bad-length', component: 'Alternate Assignment', field: 'assignmentLength' }],
  ['mask alternate assignment set count 0xffffffff', msg(RA, [SEC, SVC, patched(ALT, { 28: 'ffffffff' })]), { code: 'count-too-large', component: 'Alternate Assignment', field: 'sets count' }],
  ['mask alternate assignment routers count 0xffffffff', msg(RA, [SEC, SVC, patched(ALT, { 12: 'ffffffff' })]), { code: 'count-too-large', component: 'Alternate Assignment', field: 'routers count' }],
  // Assignment Map
  ['Assignment Map set count 0xffffffff', iSeeYou(patched(AMAP, { 0: 'ffffffff' })), { code: 'count-too-large', component: 'Assignment Map', field: 'sets count' }],
  ['Assignment Map value count 0xffffffff', iSeeYou(patched(AMAP, { 16: 'ffffffff' })), { code: 'count-too-large', component: 'Assignment Map', field: 'sets[0].values count' }],
  ['Assignment Map of 0 bytes', iSeeYou(raw(14, '')), { code: 'truncated', component: 'Assignment Map', field: 'sets count' }],
  // Command Extension
  ['SHUTDOWN of 8 bytes', hereIAm(raw(15, '00010008' + '0a00000b00000000')), { code: 'bad-length', component: 'Command Extension', field: 'commands[0].length' }],
  ['command length beyond the component', hereIAm(raw(15, '00630010' + '00000000')), { code: 'bad-length', component: 'Command Extension', field: 'commands[0].length' }],
  ['command head cut short', hereIAm(raw(15, '00630002aaaa0001')), { code: 'truncated', component: 'Command Extension', field: 'commands[1]' }],
  ['two SHUTDOWN commands', hereIAm(raw(15, '000100040a00000b' + '000100040a00000b')), { code: 'duplicate-element', component: 'Command Extension', field: 'commands[1].type' }],
  ['replication command shorter than its fixed part', hereIAm(raw(15, '54460004' + '01010100')), { code: 'bad-length', component: 'Command Extension', field: 'commands[0].length' }],
  // Address Table
  ['address family 3', msg(RQ, [SEC, SVC, QUERY, raw(17, '0003000400000000')]), { code: 'bad-value', component: 'Address Table', field: 'family' }],
  ['IPv4 table with 16-byte addresses', msg(RQ, [SEC, SVC, QUERY, raw(17, '0001001000000000')]), { code: 'bad-value', component: 'Address Table', field: 'addressLength' }],
  ['address count 0xffffffff', msg(RQ, [SEC, SVC, QUERY, raw(17, '00010004ffffffff')]), { code: 'count-too-large', component: 'Address Table', field: 'addresses count' }],
  ['address count 1, two addresses', msg(RQ, [SEC, SVC, QUERY, raw(17, '00010004000000010a0000010a000002')]), { code: 'bad-length', component: 'Address Table', field: 'length' }],
];

test('every malformed input in the table is a WccpDecodeError naming component, field and offset', () => {
  for (const [label, bytes, e] of CASES) expectError(label, bytes, e);
  const codes = new Set(CASES.map(([, , e]) => e.code));
  for (const c of ['truncated', 'bad-length', 'count-too-large', 'bad-version', 'unknown-message-type', 'length-mismatch', 'trailing-bytes', 'missing-component', 'duplicate-component', 'unexpected-component', 'out-of-order', 'conflicting-components', 'bad-value', 'duplicate-element'] as const) {
    assert.ok(codes.has(c), `the table covers ${c}`);
  }
});

test('the error message reads message: component: field at byte N: what: detail', () => {
  try {
    decodeMessage(msg(RQ, [SEC, raw(1, '00'.repeat(20)), QUERY]));
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).message, 'WCCP REMOVAL_QUERY: Service Info: length at byte 18: bad length: 20, expected 24');
  }
});

// ── Systematic damage to every real and synthetic message ───────────────────────────────────

const BASES: ReadonlyArray<[string, Uint8Array]> = [
  ...fs
    .readdirSync(CAPTURE_DIR)
    .filter((f) => f.endsWith('.pcap'))
    .flatMap((f) => tsharkWccpFrames(path.join(CAPTURE_DIR, f)).map((fr): [string, Uint8Array] => [`${f}#${fr.frame}`, fr.payload])),
  ...SYNTHETIC_MESSAGES.map((s): [string, Uint8Array] => [s.name, encodeMessage(s.message, s.password !== undefined ? { password: s.password } : {})]),
  ['here-i-am-everything', hereIAm(CAPS, encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'replication', request: SNIFF_REQUEST }] }))],
];

/** Decode, allowing only WccpDecodeError; returns the error or null. */
function tryDecode(label: string, bytes: Uint8Array): WccpDecodeError | null {
  try {
    const m = decodeMessage(bytes);
    // Raw components, the Address Table and unknown sub-fields are re-encoded after the known
    // parts (documented), so only messages without them must come back byte for byte.
    const movable = m.rawComponents !== undefined || m.addressTable !== undefined || replicationRequestOf(m)?.unknownSubFields !== undefined;
    if (!movable) assert.is(hex(encodeMessage(m)), hex(bytes), `${label}: decoded, so it must re-encode to the same bytes`);
    return null;
  } catch (e) {
    if (e instanceof WccpDecodeError) return e;
    throw new Error(`${label}: escaped as ${String(e)}`);
  }
}

/** [type, offset, length] of each component of an encoded message. */
function components(bytes: Uint8Array): Array<[number, number, number]> {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  const out: Array<[number, number, number]> = [];
  for (let at = 8; at < bytes.length; at += 4 + v.getUint16(at + 2)) out.push([v.getUint16(at), at, v.getUint16(at + 2)]);
  return out;
}

test(`all ${BASES.length} base messages decode`, () => {
  for (const [label, bytes] of BASES) assert.is(tryDecode(label, bytes), null, label);
});

test('every truncation of every message is a length mismatch', () => {
  for (const [label, bytes] of BASES) {
    for (let n = 8; n < bytes.length; n++) {
      const e = tryDecode(`${label}[:${n}]`, bytes.subarray(0, n));
      assert.is(e?.code, 'length-mismatch', `${label} cut to ${n}`);
    }
  }
});

test('every truncation with the header length fixed up fails inside a component, or is a shorter valid message', () => {
  for (const [label, bytes] of BASES) {
    const bounds = new Set(components(bytes).map(([, at]) => at));
    for (let n = 8; n < bytes.length; n++) {
      const cut = bytes.slice(0, n);
      new DataView(cut.buffer).setUint16(6, n - 8);
      const e = tryDecode(`${label}[:${n}]`, cut);
      if (e === null) assert.ok(bounds.has(n), `${label} cut to ${n} decoded although it ends inside a component`);
    }
  }
});

test('every component shortened (lengths fixed up) is an error naming that component', () => {
  const listy = new Set<number>([ComponentType.CapabilitiesInfo, ComponentType.CommandExtension]);
  for (const [label, bytes] of BASES) {
    for (const [type, at, len] of components(bytes)) {
      for (let k = 4; k <= len; k += 4) {
        const end = at + 4 + len;
        const shorter = concat([bytes.subarray(0, end - k), bytes.subarray(end)]);
        const v = new DataView(shorter.buffer);
        v.setUint16(at + 2, len - k);
        v.setUint16(6, shorter.length - 8);
        const e = tryDecode(`${label} ${componentName(type)} -${k}`, shorter);
        if (e === null) {
          assert.ok(listy.has(type), `${label}: ${componentName(type)} shortened by ${k} still decodes`);
        } else {
          assert.is(e.component, componentName(type), `${label}: ${componentName(type)} shortened by ${k}: ${e.message}`);
        }
      }
    }
  }
});

test('every 32-bit word set to 0xffffffff or 0x80000000 is handled (huge counts never allocate)', () => {
  const started = Date.now();
  for (const [label, bytes] of BASES) {
    for (let at = 0; at + 4 <= bytes.length; at += 2) {
      for (const word of [0xffffffff, 0x80000000, 0x0000ffff]) {
        const b = bytes.slice();
        new DataView(b.buffer).setUint32(at, word);
        tryDecode(`${label} @${at}=${word.toString(16)}`, b);
      }
    }
  }
  assert.ok(Date.now() - started < 20_000, 'bounded work');
});

test('seeded random corruption: only WccpDecodeError, and what decodes re-encodes identically', () => {
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let decoded = 0;
  for (let round = 0; round < 30000; round++) {
    const [label, base] = BASES[next() % BASES.length]!;
    const b = base.slice();
    const flips = 1 + (next() % 4);
    for (let i = 0; i < flips; i++) b[next() % b.length] = next() & 0xff;
    if (tryDecode(`${label} round ${round}`, b) === null) decoded++;
  }
  assert.ok(decoded > 0, 'some corruptions land in value fields and still decode');
});

test.run();
