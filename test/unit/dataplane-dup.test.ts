// Tagged dup (FRER style) through the real data plane: the original travels in the session's
// sequenced stream to the far-end eliminator by its own path (the carrier member), its replica
// goes to the peer on the other path, and both carry the same stream id (GRE key) and sequence
// number, consecutive per matched packet. Checked with the independent decapsulator; what does
// not fit the carrier path, or leaves by another port, is forwarded as it is and counted.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulate, simSpec } from '../../firmware/runtime/simulate.ts';
import { defaultStreamId, type SessionSpec } from '../../firmware/shell/sessions/compile.ts';
import { buildFrame } from '../../hal/drivers/sim/packets.ts';
import { ipv4Bytes, parseIpv4 } from '../../hal/net/address.ts';
import { decapsulate } from '../fixtures/decap.ts';
import { session, ROUTER_MAC, DEVICE_MAC } from '../fixtures/oracle.ts';

const ELIMINATOR = '203.0.113.9';
const ELIMINATOR_MAC = Uint8Array.of(2, 0, 0, 0, 0, 9);

function udp(len: number, i: number, src = '10.0.0.1', dst = '10.0.0.2'): Uint8Array {
  return buildFrame({
    srcMac: Uint8Array.of(2, 0, 0, 0, 0, 1), dstMac: Uint8Array.of(2, 0, 0, 0, 0, 2),
    src: ipv4Bytes(parseIpv4(src)!), dst: ipv4Bytes(parseIpv4(dst)!), ipId: i,
    l4: { proto: 'udp', srcPort: 5000, dstPort: 6000 }, payload: new Uint8Array(len).fill(i),
  });
}

const ipOf = (b: Uint8Array): Uint8Array => b.subarray(14, 14 + ((b[16] << 8) | b[17]));

function tagged(overrides: Partial<SessionSpec> = {}): SessionSpec {
  return session('dup', 0, {
    filter: 'udp', mode: 'dup', encap: 'gre-seq',
    carrier: { egressPort: 1, mtu: 1500, source: { ip: parseIpv4('198.51.100.1')!, mac: ROUTER_MAC }, destination: { ip: parseIpv4(ELIMINATOR)!, mac: ELIMINATOR_MAC } },
    ...overrides,
  });
}

test('both members carry the original with one stream id and the same consecutive sequence numbers', async () => {
  const frames = [udp(100, 1), udp(200, 2), udp(300, 3)];
  const r = await simulate([tagged()], frames.map((frame) => ({ port: 0, frame })), simSpec());
  assert.equal(r.violations, []);
  const stream = defaultStreamId('dup');
  const carried = r.sent[1].map((s) => ({ s, d: decapsulate(s.bytes) }));
  const replicas = r.sent[2].map((s) => ({ s, d: decapsulate(s.bytes) }));
  assert.is(carried.length, 3);
  assert.is(replicas.length, 3);
  frames.forEach((f, i) => {
    for (const [what, { s, d }] of [['carried original', carried[i]], ['replica', replicas[i]]] as const) {
      assert.is(d.kind, 'gre-seq', what);
      assert.is(d.key, stream, `${what} ${i}: stream id`);
      assert.is(d.sequence, i, `${what} ${i}: sequence`);
      assert.equal(d.inner, ipOf(f), `${what} ${i}: the original packet inside`);
      assert.is(s.queue, what === 'replica' ? 'replicas' : 'originals');
    }
    assert.is(carried[i].d.outer.dst, ELIMINATOR);
    assert.is(carried[i].d.outer.dstMac, '02:00:00:00:00:09');
    assert.is(replicas[i].d.outer.dstMac, Array.from(DEVICE_MAC, (b) => b.toString(16).padStart(2, '0')).join(':'));
  });
  assert.is(r.sessions.dup.carried, 3);
  assert.is(r.sessions.dup.carrier_bypassed, 0);
  assert.is(r.ports[0].forwarded, 3, 'a carried original is forwarded (in its stream)');
});

test('an original too large for the carrier path or leaving by another port goes as it is, counted, its number kept', async () => {
  const big = udp(1480, 2); // IP 1508: + 32 bytes of GRE-seq exceeds the carrier's 1500
  const reverse = udp(100, 3, '10.0.0.2', '10.0.0.1');
  const frames = [udp(100, 1), big, udp(100, 4)];
  const r = await simulate([tagged({ mtu: 9000 })], [
    ...frames.map((frame) => ({ port: 0, frame })),
    { port: 1, frame: reverse },
  ], simSpec());
  assert.equal(r.violations, []);
  const onPath = r.sent[1];
  assert.is(onPath.length, 3);
  assert.is(decapsulate(onPath[0].bytes).sequence, 0);
  assert.equal(onPath[1].bytes, big, 'the oversize original leaves unchanged');
  assert.is(decapsulate(onPath[2].bytes).sequence, 2, 'the next packet keeps its own number: the stream has no hole');
  assert.equal(r.sent[0].map((s) => s.bytes), [reverse], 'the reverse direction leaves by port 0, not the carrier port: unchanged');
  assert.equal(r.sent[2].map((s) => decapsulate(s.bytes).sequence), [0, 1, 2, 3], 'every match has its replica, numbered');
  assert.is(r.sessions.dup.carried, 2);
  assert.is(r.sessions.dup.carrier_bypassed, 2);
});

test('a carrier needs a dup session with the sequenced GRE encapsulation', async () => {
  await simulate([tagged({ mode: 'sniff' })], []).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /carrier: only a dup session with encap gre-seq/));
  await simulate([tagged({ encap: 'gre' })], []).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /carrier: only a dup session/));
});

test.run();
