// The dup peer's packets against scapy, an independent encoder: the relay's GRE with key and
// sequence to the far end (IPv4 and IPv6 inside), and the untagged form's forwarded packet
// (TTL − 1, checksum updated incrementally, options kept), byte for byte; refusals by name; the
// incremental checksum against a full recomputation over many headers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { forwardPacket, relayPacket, RELAY_OVERHEAD } from '../../firmware/peer/dup-wire.ts';
import { scapyTable } from '../fixtures/scapy.ts';
import { parseIpv4 } from '../../hal/net/address.ts';

const P = scapyTable({
  inner4: 'IP(src=A, dst=B, id=5, ttl=64)/UDP(sport=4000, dport=5000)/pay(100)',
  inner6: 'IPv6(src=A6, dst=B6, hlim=9)/UDP(sport=4000, dport=5000)/pay(40)',
  relay4: 'IP(src="198.51.100.1", dst="203.0.113.9", flags="DF", ttl=64, id=0)/GRE(key_present=1, seqnum_present=1, key=0xdeadbeef, sequence_number=7)/IP(src=A, dst=B, id=5, ttl=64)/UDP(sport=4000, dport=5000)/pay(100)',
  relay6: 'IP(src="198.51.100.1", dst="203.0.113.9", flags="DF", ttl=64, id=0)/GRE(key_present=1, seqnum_present=1, key=1, sequence_number=0xffffffff)/IPv6(src=A6, dst=B6, hlim=9)/UDP(sport=4000, dport=5000)/pay(40)',
  forwarded4: 'IP(src=A, dst=B, id=5, ttl=63)/UDP(sport=4000, dport=5000)/pay(100)',
  options: 'IP(src=A, dst=B, id=77, ttl=2, tos=0x10, options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP()])/TCP(sport=1, dport=2, flags="S")',
  optionsForwarded: 'IP(src=A, dst=B, id=77, ttl=1, tos=0x10, options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP()])/TCP(sport=1, dport=2, flags="S")',
  ttl1: 'IP(src=A, dst=B, ttl=1)/UDP()',
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const HEADER = { source: parseIpv4('198.51.100.1')!, farEnd: parseIpv4('203.0.113.9')!, key: 0xdeadbeef, sequence: 7 };

test('relay: GRE with the received key and sequence to the far end, as scapy builds it (IPv4 and IPv6 inside)', () => {
  const out = new Uint8Array(4096);
  const n = relayPacket(out, 100, HEADER, P.inner4);
  assert.is(n, P.relay4.length);
  assert.is(hex(out.subarray(100, 100 + (n as number))), hex(P.relay4));
  const m = relayPacket(out, 0, { ...HEADER, key: 1, sequence: 0xffffffff }, P.inner6);
  assert.is(hex(out.subarray(0, m as number)), hex(P.relay6));
  assert.is(RELAY_OVERHEAD, 32, 'the 32 bytes of outer IPv4 and GRE the router puts around member 1');
});

test('relay refuses what is not IP and what would not fit', () => {
  const out = new Uint8Array(256);
  assert.is(relayPacket(out, 0, HEADER, Uint8Array.of(0x00, 1, 2)), 'not_ip');
  assert.is(relayPacket(out, 0, HEADER, new Uint8Array(0)), 'not_ip');
  assert.is(relayPacket(out, 200, HEADER, P.inner4), 'too_large');
  const huge = new Uint8Array(0xffff - RELAY_OVERHEAD + 1);
  huge[0] = 0x45;
  assert.is(relayPacket(new Uint8Array(1 << 17), 0, HEADER, huge), 'too_large');
});

test('forward: TTL − 1 and the checksum scapy computes, options and padding beyond total length handled', () => {
  const out = new Uint8Array(4096);
  const n = forwardPacket(out, 7, P.inner4);
  assert.is(hex(out.subarray(7, 7 + (n as number))), hex(P.forwarded4));
  const padded = Uint8Array.from([...P.options, 0, 0, 0, 0]);
  const k = forwardPacket(out, 0, padded);
  assert.is(k, P.options.length, 'bytes after the total length are not sent');
  assert.is(hex(out.subarray(0, k as number)), hex(P.optionsForwarded));
});

test('forward refuses a TTL that would reach 0, and anything that is not a whole IPv4 packet', () => {
  const out = new Uint8Array(4096);
  assert.is(forwardPacket(out, 0, P.ttl1), 'ttl_expired');
  assert.is(forwardPacket(out, 0, P.inner6), 'not_ipv4');
  assert.is(forwardPacket(out, 0, P.inner4.subarray(0, 19)), 'not_ipv4');
  assert.is(forwardPacket(out, 0, P.inner4.subarray(0, P.inner4.length - 1)), 'not_ipv4', 'cut short of its total length');
  const badIhl = P.inner4.slice();
  badIhl[0] = 0x44;
  assert.is(forwardPacket(out, 0, badIhl), 'not_ipv4');
  assert.is(forwardPacket(new Uint8Array(10), 0, P.inner4), 'too_large');
});

test('the incremental checksum equals a full recomputation over many headers', () => {
  const full = (b: Uint8Array): number => {
    let s = 0;
    for (let i = 0; i < 20; i += 2) if (i !== 10) s += (b[i] << 8) | b[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  };
  let x = 0x2545f491;
  const next = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) & 0xff; };
  const out = new Uint8Array(64);
  for (let i = 0; i < 20_000; i++) {
    const h = Uint8Array.from({ length: 20 }, next);
    h[0] = 0x45;
    h[2] = 0;
    h[3] = 20;
    h[8] = 2 + (h[8] % 254);
    const c = full(h);
    h[10] = c >> 8;
    h[11] = c & 0xff;
    assert.is(forwardPacket(out, 0, h), 20);
    assert.is((out[10] << 8) | out[11], full(out), `header ${hex(h)}`);
  }
});

test.run();
