// Wireshark (tshark) as the independent judge of every message the router and the device put
// on the wire, taken from real runs on the in-memory network: I_SEE_YOU before any assignment,
// with the key echo (hash), with the Assignment Map (mask), signed with MD5; REMOVAL_QUERY; the
// device's HERE_I_AM with the replication extension; REDIRECT_ASSIGN hash and mask. Each must
// dissect as WCCP with the values we meant, with no malformed-packet mark and no expert info
// above "note" — except the Receive ID 0 a cache echoes before its first I_SEE_YOU, which Squid
// sends too (squid_*.pcap) and which tshark flags as a warning.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { WccpDevice } from '../../firmware/shell/wccp/device.ts';
import type { WccpDeviceOptions } from '../../firmware/shell/wccp/device.ts';
import { decodeMessage, MessageType } from '../../firmware/shell/wccp/index.ts';
import type { WccpMessage } from '../../firmware/shell/wccp/index.ts';
import { WccpRouter } from '../../firmware/shell/wccp/router/index.ts';
import type { WccpServiceConfig } from '../../firmware/shell/config/types.ts';
import { WccpServer } from '../../firmware/shell/wccp/server.ts';
import { encodePcap, LINKTYPE } from '../../hal/drivers/pcap/format/index.ts';
import { SNIFF_REQUEST } from './wccp-fixtures.ts';
import { expectedTsharkFields, TSHARK_FIELDS, tsharkWccpFrames } from './wccp-tshark.ts';
import { ManualClock, MemoryNet } from './wccp-net.ts';
import type { Sent } from './wccp-net.ts';

const R = '10.0.0.1';

/** Run one router and some devices for `ms`; return every datagram that crossed the network. */
async function run(services: readonly WccpServiceConfig[], devices: ReadonlyArray<Partial<WccpDeviceOptions> & { address: string }>, ms: number, silence?: string): Promise<Sent[]> {
  const clock = new ManualClock();
  const net = new MemoryNet(clock);
  const router = new WccpRouter({ address: R, services });
  const server = new WccpServer({ router, address: R, port: 2048, clock, transport: net.transport({ address: R, port: 2048 }) });
  await server.start();
  const devs = devices.map(
    (d) => new WccpDevice({ routers: [R], service: { id: 0, type: 'standard' }, clock, transport: net.transport({ address: d.address, port: 2048 }), ...d }),
  );
  for (const d of devs) await d.start();
  if (silence !== undefined) {
    clock.advance(20_000);
    net.filter = (from) => from.address !== silence;
    clock.advance(ms - 20_000);
  } else {
    clock.advance(ms);
  }
  for (const d of devs) await d.stop();
  await server.close();
  return net.sent;
}

interface Case {
  readonly name: string;
  readonly sent: Sent;
  readonly message: WccpMessage;
  readonly password?: string;
}

const cases: Case[] = [];
function pick(name: string, sent: Sent[], password: string | undefined, match: (m: WccpMessage, s: Sent) => boolean): void {
  const found = sent.find((s) => match(decodeMessage(s.datagram), s));
  if (found === undefined) throw new Error(`no message for ${name}`);
  cases.push({ name, sent: found, message: decodeMessage(found.datagram), ...(password === undefined ? {} : { password }) });
}

const hashRun = await run([{ id: 0, type: 'standard', allow: ['10.0.0.0/24'] }], [{ address: '10.0.0.11' }, { address: '10.0.0.12' }], 60_000);
pick('I_SEE_YOU, first (no caches, no key)', hashRun, undefined, (m) => m.type === MessageType.ISeeYou && m.routerIdentity.receiveId === 1);
pick('I_SEE_YOU, two usable caches', hashRun, undefined, (m) => m.type === MessageType.ISeeYou && m.routerView.webCaches.length === 2 && m.routerView.assignmentKey.changeNumber === 0);
pick('I_SEE_YOU, hash key echo', hashRun, undefined, (m) => m.type === MessageType.ISeeYou && m.routerView.assignmentKey.changeNumber === 1);
pick('HERE_I_AM, hash, first (Receive ID 0)', hashRun, undefined, (m) => m.type === MessageType.HereIAm && m.webCacheView.routers[0]!.receiveId === 0);
pick('HERE_I_AM, hash, steady', hashRun, undefined, (m) => m.type === MessageType.HereIAm && m.webCacheView.routers[0]!.receiveId > 2 && m.webCacheView.webCaches.length === 1);
pick('REDIRECT_ASSIGN, hash (Assignment Info)', hashRun, undefined, (m) => m.type === MessageType.RedirectAssign);

const mask = { assignment: 'mask', forwarding: 'l2', return: 'l2', service: { id: 70, type: 'dynamic', priority: 240, protocol: 6, flags: 0x31, ports: [80, 8080] }, password: 'abc' } as const;
const maskRun = await run([{ id: 70, type: 'dynamic', allow: ['10.0.0.0/24'], password: 'abc' }], [{ address: '10.0.0.11', ...mask }, { address: '10.0.0.12', ...mask }], 60_000);
pick('REDIRECT_ASSIGN, mask (Alternate Assignment), MD5', maskRun, 'abc', (m) => m.type === MessageType.RedirectAssign);
pick('I_SEE_YOU, Assignment Map, MD5', maskRun, 'abc', (m) => m.type === MessageType.ISeeYou && m.assignmentMap !== undefined);
pick('HERE_I_AM, mask, MD5', maskRun, 'abc', (m) => m.type === MessageType.HereIAm && m.webCacheView.routers[0]!.receiveId > 2);

const deviceRun = await run(
  [{ id: 90, type: 'dynamic', allow: ['10.0.0.0/24'], password: 'twinflow' }],
  [{ address: '10.0.0.21', service: { id: 90, type: 'dynamic', protocol: 6, flags: 1 }, password: 'twinflow', request: SNIFF_REQUEST }],
  30_000,
);
pick('HERE_I_AM with the replication extension, MD5', deviceRun, 'twinflow', (m) => m.type === MessageType.HereIAm && m.webCacheView.routers[0]!.receiveId > 1);
pick('I_SEE_YOU to a device with a request, MD5', deviceRun, 'twinflow', (m) => m.type === MessageType.ISeeYou && m.routerView.webCaches.length === 1);

const silentRun = await run([{ id: 0, type: 'standard', allow: ['10.0.0.0/24'] }], [{ address: '10.0.0.11' }], 50_000, '10.0.0.11');
pick('REMOVAL_QUERY', silentRun, undefined, (m) => m.type === MessageType.RemovalQuery);

const SEVERITY_NOTE = 0x400000;
const RECEIVE_ID_ZERO = "Receive ID shouldn't be 0";

/** Dissect the cases, with the real addresses, and read severities and malformed marks too. */
function dissect(): Array<{ fields: Record<string, string>; severities: number[]; messages: string[]; malformed: boolean }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-wccp-'));
  try {
    const file = path.join(dir, 'emitted.pcap');
    const packets = cases.map((c, i) => ({ data: ipv4Udp(c.sent.datagram, c.sent.from.address, c.sent.to.address), tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n }));
    fs.writeFileSync(file, encodePcap(packets, { linkType: LINKTYPE.RAW }));
    const frames = tsharkWccpFrames(file);
    const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', '_ws.expert.severity', '-e', '_ws.expert.message', '-e', '_ws.malformed'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l.length > 0);
    assert.is(frames.length, cases.length, 'every emitted datagram dissects as WCCP');
    return frames.map((f, i) => {
      const [sev = '', msg = '', malformed = ''] = lines[i]!.split('\t');
      return { fields: f.fields, severities: sev === '' ? [] : sev.split('|').map(Number), messages: msg === '' ? [] : msg.split('|'), malformed: malformed !== '' };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function ipv4Udp(payload: Uint8Array, src: string, dst: string): Uint8Array {
  const frame = new Uint8Array(28 + payload.length);
  const v = new DataView(frame.buffer);
  const addr = (a: string) => a.split('.').reduce((x, p) => x * 256 + Number(p), 0);
  v.setUint8(0, 0x45);
  v.setUint16(2, frame.length);
  v.setUint8(8, 64);
  v.setUint8(9, 17);
  v.setUint32(12, addr(src));
  v.setUint32(16, addr(dst));
  v.setUint16(20, 2048);
  v.setUint16(22, 2048);
  v.setUint16(24, 8 + payload.length);
  frame.set(payload, 28);
  return frame;
}

const dissected = dissect();

test('every message type we emit is in the set', () => {
  const types = new Set(cases.map((c) => c.message.type));
  assert.equal([...types].sort(), [10, 11, 12, 13]);
  assert.ok(cases.some((c) => c.message.type === MessageType.ISeeYou && c.message.assignmentMap !== undefined));
  assert.ok(cases.some((c) => c.message.type === MessageType.RedirectAssign && c.message.alternateAssignment?.kind === 'mask'));
  assert.ok(cases.some((c) => c.message.type === MessageType.RedirectAssign && c.message.assignmentInfo !== undefined));
  assert.ok(cases.some((c) => c.message.type === MessageType.HereIAm && c.message.commandExtension !== undefined));
});

test('tshark: no malformed packet, no expert info above note (bar Receive ID 0 in a first HERE_I_AM)', () => {
  dissected.forEach((d, i) => {
    const c = cases[i]!;
    assert.ok(!d.malformed, `${c.name}: malformed`);
    const loud = d.messages.filter((_, k) => d.severities[k]! > SEVERITY_NOTE);
    const allowed = c.name.includes('Receive ID 0') ? [RECEIVE_ID_ZERO] : [];
    assert.equal(loud, allowed, `${c.name}: ${d.messages.join('; ')}`);
  });
});

test('tshark shows the values we encoded', () => {
  dissected.forEach((d, i) => {
    const c = cases[i]!;
    const ours = expectedTsharkFields(c.message, c.sent.datagram);
    for (const f of TSHARK_FIELDS) assert.is(ours[f], d.fields[f], `${c.name}: ${f}`);
  });
});

test('MD5 digests verify under the group password', () => {
  for (const c of cases.filter((x) => x.password !== undefined)) {
    assert.is(c.message.security.option, 'md5', c.name);
    decodeMessage(c.sent.datagram, { password: c.password! });
  }
});

test.run();
