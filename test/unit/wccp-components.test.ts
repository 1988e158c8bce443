// Round trips of every component (typed form → bytes → typed form → same bytes), at their edge
// sizes, with literal bytes where the layout matters; then message-level encode rules: order,
// required and either-or components, raw components and the Address Table, size limits.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  ComponentType,
  decodeComponent,
  decodeMessage,
  encodeComponent,
  encodeMessage,
  MessageType,
  WccpEncodeError,
} from '../../firmware/shell/wccp/index.ts';
import type {
  ComponentValues,
  HereIAm,
  KnownComponentType,
  RemovalQuery,
  WccpMessage,
} from '../../firmware/shell/wccp/index.ts';
import {
  DOC_VECTORS,
  hex,
  HASH_ELEMENT,
  ip,
  MASK_ELEMENT,
  SNIFF_REQUEST,
  SQUID_DYNAMIC_SERVICE,
  SQUID_MASK_ELEMENT,
  squidMaskSet,
  STANDARD_SERVICE,
  SYNTHETIC_MESSAGES,
  unhex,
} from './wccp-fixtures.ts';

/** encode → decode gives the value back, and re-encoding gives the same bytes; returns the bytes. */
function roundTrip<T extends KnownComponentType>(type: T, value: ComponentValues[T], length?: number): Uint8Array {
  const bytes = encodeComponent(type, value);
  const back = decodeComponent(type, bytes);
  assert.equal(back, value);
  assert.is(hex(encodeComponent(type, back)), hex(bytes));
  assert.is(new DataView(bytes.buffer).getUint16(0), type);
  assert.is(new DataView(bytes.buffer).getUint16(2), bytes.length - 4);
  if (length !== undefined) assert.is(bytes.length - 4, length, 'component length');
  return bytes;
}

const MAX_LENGTH = 0xffff - 3; // largest 4-aligned u16 component length

const isEncodeError = (e: unknown) => e instanceof WccpEncodeError;

test('Security Info: none (4) and MD5 (20)', () => {
  assert.is(hex(roundTrip(ComponentType.SecurityInfo, { option: 'none' }, 4)), '0000000400000000');
  const digest = unhex('428dde4a9a22cf25fee236c37179f35a');
  assert.is(hex(roundTrip(ComponentType.SecurityInfo, { option: 'md5', digest }, 20)), '0000001400000001428dde4a9a22cf25fee236c37179f35a');
  assert.throws(() => encodeComponent(ComponentType.SecurityInfo, { option: 'md5', digest: new Uint8Array(15) }), isEncodeError);
});

test('Service Info (24): standard zeros, Squid dynamic 70, every field at its maximum', () => {
  roundTrip(ComponentType.ServiceInfo, STANDARD_SERVICE, 24);
  assert.is(
    hex(roundTrip(ComponentType.ServiceInfo, SQUID_DYNAMIC_SERVICE, 24)),
    '000100180146f0060000003100501f90000000000000000000000000',
  );
  roundTrip(ComponentType.ServiceInfo, { serviceType: 'dynamic', serviceId: 255, priority: 255, protocol: 255, flags: 0xffffffff, ports: Array(8).fill(65535) }, 24);
  assert.throws(() => encodeComponent(ComponentType.ServiceInfo, { ...STANDARD_SERVICE, serviceId: 256 }), (e: unknown) => e instanceof WccpEncodeError && e.field === 'service.serviceId');
  assert.throws(() => encodeComponent(ComponentType.ServiceInfo, { ...STANDARD_SERVICE, ports: [80] }), isEncodeError);
});

test('Router Identity Info: no caches (16), three, and the largest that fits a u16 length', () => {
  roundTrip(ComponentType.RouterIdentityInfo, { routerId: ip('10.0.0.1'), receiveId: 1, sentTo: ip('10.0.0.1'), receivedFrom: [] }, 16);
  roundTrip(ComponentType.RouterIdentityInfo, { routerId: 1, receiveId: 0xffffffff, sentTo: 2, receivedFrom: [3, 4, 5] }, 28);
  const most = (MAX_LENGTH - 16) / 4;
  const receivedFrom = Array.from({ length: most }, (_, i) => i);
  roundTrip(ComponentType.RouterIdentityInfo, { routerId: 1, receiveId: 2, sentTo: 3, receivedFrom }, MAX_LENGTH);
  assert.throws(
    () => encodeComponent(ComponentType.RouterIdentityInfo, { routerId: 1, receiveId: 2, sentTo: 3, receivedFrom: [...receivedFrom, 0] }),
    (e: unknown) => e instanceof WccpEncodeError && /longer than 65535/.test(e.message),
  );
});

test('Web-Cache Identity Info: hash (44), Squid mask (32), mask with values, none (8), extended', () => {
  roundTrip(ComponentType.WebCacheIdentityInfo, HASH_ELEMENT, 44);
  assert.is(
    hex(roundTrip(ComponentType.WebCacheIdentityInfo, SQUID_MASK_ELEMENT, 32)),
    '000300207f00000100000002000000010000174100000000000000000000000000000000',
  );
  roundTrip(ComponentType.WebCacheIdentityInfo, MASK_ELEMENT, 32 + 32);
  roundTrip(ComponentType.WebCacheIdentityInfo, { address: 1, hashRevision: 0, flags: 0x0004 | 0x0001, assignment: { kind: 'none' } }, 8);
  roundTrip(
    ComponentType.WebCacheIdentityInfo,
    { address: 1, hashRevision: 0, flags: 0x0006, assignment: { kind: 'extended', assignmentType: 3, body: unhex('27100000') } },
    16,
  );
  roundTrip(ComponentType.WebCacheIdentityInfo, { ...HASH_ELEMENT, flags: 0x0009, hashRevision: 7 }, 44);
});

test('Web-Cache Identity flags: the assignment-type bits follow assignment.kind on encode', () => {
  const bytes = encodeComponent(ComponentType.WebCacheIdentityInfo, { ...MASK_ELEMENT, flags: 0x0001 });
  assert.is(new DataView(bytes.buffer).getUint16(10), 0x0003);
  assert.is(decodeComponent(ComponentType.WebCacheIdentityInfo, bytes).flags, 0x0003);
});

test('Router View Info: empty (20) and mixed elements', () => {
  roundTrip(ComponentType.RouterViewInfo, { memberChangeNumber: 0, assignmentKey: { address: 0, changeNumber: 0 }, routers: [], webCaches: [] }, 20);
  roundTrip(
    ComponentType.RouterViewInfo,
    {
      memberChangeNumber: 0xffffffff,
      assignmentKey: { address: ip('10.0.0.11'), changeNumber: 9 },
      routers: [ip('10.0.0.1'), ip('10.0.0.2')],
      webCaches: [HASH_ELEMENT, MASK_ELEMENT, SQUID_MASK_ELEMENT, { address: 5, hashRevision: 0, flags: 4, assignment: { kind: 'none' } }],
    },
    20 + 8 + 44 + 64 + 32 + 8,
  );
});

test('Web-Cache View Info: Squid (20), empty (12), many', () => {
  assert.is(
    hex(roundTrip(ComponentType.WebCacheViewInfo, { changeNumber: 1, routers: [{ routerId: ip('127.0.0.2'), receiveId: 0 }], webCaches: [] }, 20)),
    '0005001400000001000000017f0000020000000000000000',
  );
  roundTrip(ComponentType.WebCacheViewInfo, { changeNumber: 0, routers: [], webCaches: [] }, 12);
  roundTrip(
    ComponentType.WebCacheViewInfo,
    { changeNumber: 3, routers: Array.from({ length: 32 }, (_, i) => ({ routerId: i, receiveId: i * 7 })), webCaches: Array.from({ length: 32 }, (_, i) => i) },
    12 + 32 * 8 + 32 * 4,
  );
});

test('Assignment Info: minimal (272) and with routers and caches', () => {
  const buckets = new Uint8Array(256).fill(0xff);
  roundTrip(ComponentType.AssignmentInfo, { key: { address: 0, changeNumber: 0 }, routers: [], webCaches: [], buckets }, 272);
  roundTrip(
    ComponentType.AssignmentInfo,
    {
      key: { address: ip('127.0.0.1'), changeNumber: 1 },
      routers: [{ routerId: ip('127.0.0.2'), receiveId: 3, changeNumber: 1 }],
      webCaches: [ip('127.0.0.1')],
      buckets: new Uint8Array(256),
    },
    288,
  );
  assert.throws(
    () => encodeComponent(ComponentType.AssignmentInfo, { key: { address: 0, changeNumber: 0 }, routers: [], webCaches: [], buckets: new Uint8Array(255) }),
    (e: unknown) => e instanceof WccpEncodeError && e.field === 'assignmentInfo.buckets',
  );
});

test('Router Query Info (16)', () => {
  assert.is(
    hex(roundTrip(ComponentType.RouterQueryInfo, { routerId: ip('10.0.0.1'), receiveId: 77, sentTo: ip('10.0.0.1'), target: ip('10.0.0.12') }, 16)),
    '000700100a0000010000004d0a0000010a00000c',
  );
});

test('Capabilities Info: empty, the three methods, unknown types kept (rev1 Transmit_t too)', () => {
  roundTrip(ComponentType.CapabilitiesInfo, { elements: [] }, 0);
  assert.is(
    hex(
      roundTrip(ComponentType.CapabilitiesInfo, {
        elements: [
          { kind: 'forwarding-method', methods: 1 },
          { kind: 'assignment-method', methods: 1 },
          { kind: 'return-method', methods: 1 },
        ],
      }, 24),
    ),
    '00080018000100040000000100020004000000010003000400000001',
  );
  roundTrip(ComponentType.CapabilitiesInfo, {
    elements: [
      { kind: 'unknown', type: 4, value: unhex('03e80064') },
      { kind: 'return-method', methods: 0xffffffff },
      { kind: 'unknown', type: 0xffff, value: new Uint8Array(0) },
    ],
  }, 20);
  assert.throws(() => encodeComponent(ComponentType.CapabilitiesInfo, { elements: [{ kind: 'unknown', type: 1, value: unhex('00000001') }] }), isEncodeError);
  assert.throws(() => encodeComponent(ComponentType.CapabilitiesInfo, { elements: [{ kind: 'unknown', type: 9, value: unhex('01') }] }), /multiple of 4/);
});

test('Alternate Assignment: hash, mask (Squid-like 64 values), unknown type kept', () => {
  roundTrip(ComponentType.AlternateAssignment, {
    kind: 'hash',
    assignment: { key: { address: 1, changeNumber: 2 }, routers: [{ routerId: 3, receiveId: 4, changeNumber: 5 }], webCaches: [6, 7], buckets: new Uint8Array(256).fill(1) },
  }, 4 + 8 + 4 + 12 + 4 + 8 + 256);
  const mask = roundTrip(ComponentType.AlternateAssignment, {
    kind: 'mask',
    key: { address: ip('127.0.0.1'), changeNumber: 1 },
    routers: [{ routerId: ip('127.0.0.2'), receiveId: 3, changeNumber: 1 }],
    sets: [squidMaskSet(0x1741, [ip('127.0.0.1')])],
  }, 1072);
  assert.is(new DataView(mask.buffer).getUint16(6), 1068, 'assignment length = component length - 4, as in Squid\'s capture');
  roundTrip(ComponentType.AlternateAssignment, { kind: 'unknown', assignmentType: 2, body: unhex('0000000000000000') }, 12);
  roundTrip(ComponentType.AlternateAssignment, { kind: 'mask', key: { address: 0, changeNumber: 0 }, routers: [], sets: [] }, 4 + 8 + 4 + 4);
});

test('Assignment Map: empty and with sets', () => {
  roundTrip(ComponentType.AssignmentMap, { sets: [] }, 4);
  roundTrip(ComponentType.AssignmentMap, { sets: [squidMaskSet(0x1741, [1, 2, 3]), squidMaskSet(0x0003, [4])] }, 4 + 16 + 64 * 16 + 16 + 4 * 16);
});

test('Command Extension: empty, SHUTDOWN, SHUTDOWN_RESPONSE, replication, unknown kept', () => {
  roundTrip(ComponentType.CommandExtension, { commands: [] }, 0);
  assert.is(hex(roundTrip(ComponentType.CommandExtension, { commands: [{ kind: 'shutdown', address: ip('10.0.0.12') }] }, 8)), '000f0008000100040a00000c');
  roundTrip(ComponentType.CommandExtension, {
    commands: [
      { kind: 'shutdown-response', address: ip('10.0.0.12') },
      { kind: 'unknown', commandType: 0x0003, data: unhex('0102') },
      { kind: 'unknown', commandType: 0x7fff, data: unhex('030405060708') },
      { kind: 'replication', request: SNIFF_REQUEST },
    ],
  }, 8 + 6 + 10 + 4 + 88);
  assert.throws(() => encodeComponent(ComponentType.CommandExtension, { commands: [{ kind: 'unknown', commandType: 2, data: unhex('01020304') }] }), isEncodeError);
});

test('Address Table (rev1): IPv4 and IPv6, empty', () => {
  roundTrip(ComponentType.AddressTable, { family: 'ipv4', addresses: [] }, 8);
  assert.is(hex(roundTrip(ComponentType.AddressTable, { family: 'ipv4', addresses: [unhex('0a000001')] }, 12)), '0011000c00010004000000010a000001');
  roundTrip(ComponentType.AddressTable, { family: 'ipv6', addresses: [unhex('20010db8000000000000000000000001'), new Uint8Array(16)] }, 8 + 32);
  assert.throws(() => encodeComponent(ComponentType.AddressTable, { family: 'ipv6', addresses: [new Uint8Array(4)] }), isEncodeError);
});

test('decodeComponent checks the type and that nothing follows', () => {
  const bytes = encodeComponent(ComponentType.RouterQueryInfo, { routerId: 1, receiveId: 2, sentTo: 3, target: 4 });
  assert.throws(() => decodeComponent(ComponentType.ServiceInfo, bytes), /value out of range: 7, expected 1/);
  const longer = new Uint8Array(bytes.length + 4);
  longer.set(bytes);
  assert.throws(() => decodeComponent(ComponentType.RouterQueryInfo, longer), /trailing bytes/);
});

// ── Messages ────────────────────────────────────────────────────────────────────────────────

function expectedDecode(m: WccpMessage, bytes: Uint8Array, password?: string): WccpMessage {
  if (password === undefined) return m;
  return { ...m, security: { option: 'md5', digest: bytes.slice(16, 32) } };
}

test('every synthetic message (all types and components) round-trips', () => {
  for (const s of SYNTHETIC_MESSAGES) {
    const bytes = encodeMessage(s.message, s.password !== undefined ? { password: s.password } : {});
    const back = decodeMessage(bytes, s.password !== undefined ? { password: s.password } : {});
    assert.equal(back, expectedDecode(s.message, bytes, s.password), s.name);
    assert.is(hex(encodeMessage(back)), hex(bytes), s.name);
  }
});

const QUERY: RemovalQuery = {
  type: MessageType.RemovalQuery,
  security: { option: 'none' },
  service: STANDARD_SERVICE,
  routerQuery: { routerId: 1, receiveId: 2, sentTo: 3, target: 4 },
};

test('REMOVAL_QUERY literal bytes: header, then Security, Service, Router Query in order', () => {
  assert.is(
    hex(encodeMessage(QUERY)),
    '0000000d02000038' + '0000000400000000' + '00010018' + '00'.repeat(24) + '00070010' + '00000001000000020000000300000004',
  );
});

test('raw components: kept with their type, written after the draft\'s components', () => {
  const raw = { type: 99, data: unhex('deadbeef') };
  const withRaw: RemovalQuery = { ...QUERY, rawComponents: [raw] };
  const bytes = encodeMessage(withRaw);
  assert.match(hex(bytes), /00630004deadbeef$/);
  assert.equal(decodeMessage(bytes), withRaw);
  const alt = { type: 16, data: unhex('0001000400000000') };
  assert.equal(decodeMessage(encodeMessage({ ...QUERY, rawComponents: [alt] })).rawComponents, [alt], 'rev1 Alternate Assignment Map is kept raw');
  assert.throws(() => encodeMessage({ ...QUERY, rawComponents: [{ type: 1, data: new Uint8Array(24) }] }), /known type/);
  assert.throws(() => encodeMessage({ ...QUERY, rawComponents: [{ type: 99, data: new Uint8Array(3) }] }), /multiple of 4/);
});

test('a raw component in the middle decodes; re-encoding moves it after the draft\'s components', () => {
  const plain = encodeMessage(QUERY);
  const raw = unhex('00630004cafebabe');
  const middle = new Uint8Array(plain.length + raw.length);
  middle.set(plain.subarray(0, 44));
  middle.set(raw, 44);
  middle.set(plain.subarray(44), 44 + raw.length);
  new DataView(middle.buffer).setUint16(6, middle.length - 8);
  const m = decodeMessage(middle);
  assert.equal(m.rawComponents, [{ type: 99, data: unhex('cafebabe') }]);
  const again = encodeMessage(m);
  assert.is(again.length, middle.length);
  assert.equal(decodeMessage(again), m);
});

test('Address Table: decoded in any message, re-encoded after the draft\'s components', () => {
  const table = { family: 'ipv4' as const, addresses: [unhex('0a000001'), unhex('0a00000c')] };
  const m: RemovalQuery = { ...QUERY, routerQuery: { routerId: 1, receiveId: 2, sentTo: 1, target: 2 }, addressTable: table };
  const bytes = encodeMessage(m);
  assert.equal(decodeMessage(bytes), m);
});

test('encode refuses a message that lacks a required component or has both alternatives', () => {
  const here = DOC_VECTORS[0]!.message;
  const { webCacheView: _view, ...noView } = here;
  assert.throws(() => encodeMessage(noView as unknown as HereIAm), (e: unknown) => e instanceof WccpEncodeError && e.field === 'HERE_I_AM.webCacheView');
  const isy = SYNTHETIC_MESSAGES.find((s) => s.name === 'i-see-you-map')!.message;
  const info = SYNTHETIC_MESSAGES.find((s) => s.name === 'i-see-you-assignment')!.message;
  if (isy.type !== MessageType.ISeeYou || info.type !== MessageType.ISeeYou) throw new Error('fixtures changed');
  assert.throws(() => encodeMessage({ ...isy, assignmentInfo: info.assignmentInfo! }), /only one of assignmentInfo and assignmentMap/);
  const ra = SYNTHETIC_MESSAGES.find((s) => s.name === 'redirect-assign-info')!.message;
  if (ra.type !== MessageType.RedirectAssign) throw new Error('fixtures changed');
  const { assignmentInfo: _info, ...bare } = ra;
  assert.throws(() => encodeMessage(bare), /one of assignmentInfo and alternateAssignment is required/);
  assert.throws(() => encodeMessage({ ...QUERY, type: 14 } as unknown as WccpMessage), isEncodeError);
});

test('encode refuses a message larger than a UDP datagram', () => {
  const big = { type: 99, data: new Uint8Array(MAX_LENGTH) };
  assert.throws(() => encodeMessage({ ...QUERY, rawComponents: [big] }), /message longer than/);
});

test('a message at the UDP size limit encodes and decodes; one more word does not encode', () => {
  const fixed = 8 + 8 + 28 + 20 + 4; // header, Security, Service, Router Query, raw component head
  const data = new Uint8Array(65507 - fixed - ((65507 - fixed) % 4));
  const m: RemovalQuery = { ...QUERY, rawComponents: [{ type: 99, data }] };
  const bytes = encodeMessage(m);
  assert.is(bytes.length, 65504);
  assert.equal(decodeMessage(bytes), m);
  assert.throws(() => encodeMessage({ ...QUERY, rawComponents: [{ type: 99, data: new Uint8Array(data.length + 4) }] }), /message longer than 65507/);
});

test.run();
