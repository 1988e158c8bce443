// Sampling and rate limiting through the real data plane, against models written from the rules
// the code documents (wasm/replicate/sample.ts, wasm/replicate/police.ts,
// firmware/shell/sessions/limits.ts), plus the statistical property a user relies on.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulate, type SimPacket } from '../../firmware/runtime/simulate.ts';
import { sampleOracle } from '../fixtures/packets.ts';
import { session } from '../fixtures/oracle.ts';
import { decapsulate } from '../fixtures/decap.ts';
import { scapyBuild } from '../fixtures/scapy.ts';

// One scapy run for the whole file: a TCP packet, a UDP packet, a full-size (1514-byte) and a
// jumbo (8014-byte) frame, and TCP packets of five sizes.
const SIZES = [40, 200, 600, 1000, 1400];
const [TCP, UDP, FULL, JUMBO, ...SIZED] = scapyBuild([
  `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/pay(20)`,
  `E()/IP(src=A,dst=C)/UDP(sport=1025,dport=53)/pay(20)`,
  `E()/IP(src=A,dst=B)/UDP(sport=1025,dport=9)/pay(1472)`,
  `E()/IP(src=A,dst=B)/UDP(sport=1025,dport=9)/pay(7972)`,
  ...SIZES.map((n, i) => `E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/pay(${n},${i})`),
]);

const S = 1_000_000_000n;

/**
 * The token bucket as limits.ts and police.ts state it: depth = 100 ms of the rate (at least one
 * packet, at least one 1518-byte frame of bits), full when the session starts (at the batch's
 * `now`, 0 in the simulator), refilled by elapsed capture time × rate and capped at the depth, time
 * never running backwards; a replica passes when both buckets hold its cost (one packet, its frame
 * bits) and is then charged to both.
 */
class TokenBucketModel {
  private pkts: bigint;
  private bits: bigint;
  private last = 0n;
  private readonly capPkts: bigint;
  private readonly capBits: bigint;

  constructor(private readonly pps: number, private readonly bps: number) {
    this.capPkts = BigInt(Math.max(1, Math.ceil((pps * 100) / 1000))) * S;
    this.capBits = BigInt(Math.max(1518 * 8, Math.ceil((bps * 100) / 1000))) * S;
    this.pkts = this.capPkts;
    this.bits = this.capBits;
  }

  admit(frameBytes: number, ts: bigint): boolean {
    if (this.pps === 0 && this.bps === 0) return true;
    if (ts > this.last) {
      const dt = ts - this.last;
      const up = (v: bigint, rate: number, cap: bigint): bigint => (v + dt * BigInt(rate) > cap ? cap : v + dt * BigInt(rate));
      this.pkts = up(this.pkts, this.pps, this.capPkts);
      this.bits = up(this.bits, this.bps, this.capBits);
      this.last = ts;
    }
    const cost = BigInt(frameBytes * 8) * S;
    const ok = (this.pps === 0 || this.pkts >= S) && (this.bps === 0 || this.bits >= cost);
    if (ok) {
      this.pkts -= S;
      this.bits -= cost;
    }
    return ok;
  }
}

const replicasOf = (sent: ReadonlyArray<{ queue: string; bytes: Uint8Array }>): Uint8Array[] =>
  sent.filter((f) => f.queue === 'replicas').map((f) => f.bytes);

test('1-in-N sampling: the exact count of a fixed seed, and the ratio within ±5% over 20,000 packets', async () => {
  const packets: SimPacket[] = Array.from({ length: 20_000 }, () => ({ port: 0, frame: TCP }));
  const cases = [
    { n: 10, seed: 1 },
    { n: 4, seed: 0xdeadbeef },
    { n: 100, seed: 777 },
  ];
  const sessions = cases.map((c, i) => session(`s${c.n}`, i, { filter: 'tcp port 80', sample: c.n, seed: c.seed }));
  const r = await simulate(sessions, packets);
  assert.equal(r.violations, []);
  assert.is(r.ports[0].forwarded, 20_000);
  cases.forEach((c) => {
    const s = r.sessions[`s${c.n}`];
    const kept = sampleOracle(c.seed, c.n, 20_000).filter(Boolean).length;
    assert.is(s.matched, 20_000);
    assert.is(s.replicated, kept, `1-in-${c.n} seed ${c.seed}: the seeded stream keeps exactly ${kept}`);
    assert.is(s.sampled_out, 20_000 - kept);
    const ratio = s.replicated / (20_000 / c.n);
    assert.ok(ratio > 0.95 && ratio < 1.05, `1-in-${c.n}: ${s.replicated} replicas, ratio ${ratio.toFixed(3)} to the expected 1/${c.n}`);
  });
  // Replicas leave in order: the GRE-WCCP outer IP ids of each session run 0, 1, 2, ...
  const ids = new Map<string, number[]>();
  for (const b of replicasOf(r.sent[2])) {
    const d = decapsulate(b);
    ids.set(d.outer.dst, [...(ids.get(d.outer.dst) ?? []), d.outer.id]);
  }
  for (const list of ids.values()) assert.ok(list.every((id, k) => id === (k & 0xffff)));
});

test('sampling is per session and reproducible: the same seed gives the same replicas run after run', async () => {
  const packets: SimPacket[] = Array.from({ length: 500 }, (_, i) => ({ port: 0, frame: i % 2 ? TCP : UDP }));
  const sessions = [session('a', 0, { filter: '', sample: 3, seed: 99, encap: 'erspan2' }), session('b', 1, { filter: '', sample: 3, seed: 100, encap: 'erspan2' })];
  const one = await simulate(sessions, packets);
  const two = await simulate(sessions, packets);
  const timesOf = (r: typeof one, dst: string): string[] => r.sent[2].filter((f) => f.queue === 'replicas' && decapsulate(f.bytes).outer.dst === dst).map((f) => String(f.desc.timestamp));
  for (const dst of ['192.0.2.10', '192.0.2.11']) assert.equal(timesOf(one, dst), timesOf(two, dst));
  assert.is.not(timesOf(one, '192.0.2.10').join(), timesOf(one, '192.0.2.11').join(), 'different seeds draw different packets');
  assert.is(one.sessions.a.replicated, sampleOracle(99, 3, 500).filter(Boolean).length);
  assert.is(one.sessions.b.replicated, sampleOracle(100, 3, 500).filter(Boolean).length);
});

test('rate limit 100 pps over 2 s of capture time at 1000 pps: 209 replicas (bucket 10 + 199 refilled)', async () => {
  // Packets 1 ms apart from t = 1 s to t = 2.999 s: the bucket starts full (10 packets = 100 ms
  // of 100 pps), and 1.999 s × 100 pps = 199.9 tokens refill, of which 199 whole ones are spent.
  const t0 = 1_000_000_000n;
  const packets: SimPacket[] = Array.from({ length: 2000 }, (_, k) => ({ port: 0, frame: TCP, ts: t0 + BigInt(k) * 1_000_000n }));
  const r = await simulate([session('rl', 0, { filter: 'tcp', ratePps: 100 }), session('free', 1, { filter: 'tcp', encap: 'erspan2' })], packets);
  assert.equal(r.violations, []);
  assert.is(r.sessions.rl.replicated, 209);
  assert.is(r.sessions.rl.rate_limited, 2000 - 209);
  assert.is(r.sessions.free.replicated, 2000);
  assert.is(r.ports[0].forwarded, 2000, 'the limit never touches originals');
  // The model agrees, and the admitted packets are the model's packets.
  const model = new TokenBucketModel(100, 0);
  const admitted = packets.filter((pkt) => model.admit(0, pkt.ts!)).map((pkt) => String(pkt.ts));
  const got = r.sent[2].filter((f) => f.queue === 'replicas' && decapsulate(f.bytes).outer.dst === '192.0.2.10').map((f) => String(f.desc.timestamp));
  assert.equal(got, admitted);
  // The first ten pass at once (the burst, 0–9 ms); by 10 ms the 0.1 token per ms has refilled
  // one more; after that one every 10 ms.
  assert.equal(got.slice(0, 13).map((t) => Number((BigInt(t) - t0) / 1_000_000n)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30]);
});

test('rate limits in packets and bits per second agree with the token-bucket model on irregular traffic', async () => {
  let x = 0x1234567;
  const rnd = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
  let t = 500_000_000n;
  const packets: SimPacket[] = [];
  for (let k = 0; k < 3000; k++) {
    t += BigInt(Math.floor(rnd() * 4_000_000)); // 0–4 ms apart, bursts of equal timestamps included
    if (rnd() < 0.1) t -= 1_000_000n; // now and then a timestamp older than the last: refills nothing
    packets.push({ port: 0, frame: SIZED[Math.floor(rnd() * SIZED.length)], ts: t < 0n ? 0n : t });
  }
  const configs = [
    { pps: 200, bps: 0 },
    { pps: 0, bps: 2_000_000 },
    { pps: 300, bps: 1_000_000 },
    { pps: 5, bps: 0 },
  ];
  const sessions = configs.map((c, i) => session(`c${i}`, i, { filter: 'tcp', ratePps: c.pps, rateBps: c.bps }));
  const r = await simulate(sessions, packets);
  assert.equal(r.violations, []);
  configs.forEach((c, i) => {
    const model = new TokenBucketModel(c.pps, c.bps);
    // GRE-WCCP replica frame: 14 Ethernet + 20 IPv4 + 4 GRE + 4 redirect header + the IP packet.
    const want = packets.filter((p) => model.admit(42 + p.frame.length - 14, p.ts!)).length;
    const s = r.sessions[`c${i}`];
    assert.is(s.replicated, want, `pps ${c.pps} bps ${c.bps}`);
    assert.is(s.rate_limited, packets.length - want);
    assert.ok(want > 0 && want < packets.length, 'the limit bites but lets some through');
  });
});

test('a bit-rate limit admits, at a sustained rate below it, replicas larger than 1518 bytes', async () => {
  // One packet per second for 5 s. A GRE replica of a 1514-byte frame is 1542 bytes (12 336 bits
  // per second offered against a 50 000 bit/s limit); one of an 8014-byte frame 8042 bytes
  // (64 336 bit/s against 200 000). Both are well under their limits, so after the first second
  // every replica must pass: a bucket shallower than one replica would refuse them forever.
  const cases = [
    { frame: FULL, bps: 50_000, name: 'full-size' },
    { frame: JUMBO, bps: 200_000, name: 'jumbo' },
  ];
  for (const c of cases) {
    const packets: SimPacket[] = Array.from({ length: 5 }, (_, i) => ({ port: 0, frame: c.frame, ts: BigInt(i + 1) * 1_000_000_000n }));
    const r = await simulate([session('b', 0, { filter: '', rateBps: c.bps, mtu: 9000 })], packets);
    assert.equal(r.violations, []);
    const model = new TokenBucketModel(0, c.bps);
    const modelled = packets.filter((p) => model.admit(42 + c.frame.length - 14, p.ts!)).length;
    assert.is(r.sessions.b.replicated, 5, `${c.name}: ${r.sessions.b.replicated} of 5 replicas passed a ${c.bps} bit/s limit at ${(42 + c.frame.length - 14) * 8} bit/s (the model of limits.ts admits ${modelled}: bucket depth ${Math.max(1518 * 8, c.bps / 10)} bits)`);
  }
});

test('snaplen and sampling combine: sampled replicas are cut, bytes_replicated counts the cut bytes', async () => {
  const packets: SimPacket[] = Array.from({ length: 400 }, () => ({ port: 0, frame: SIZED[4] }));
  const r = await simulate([session('s', 0, { filter: 'tcp', sample: 2, seed: 5, snaplen: 100, encap: 'erspan3' })], packets);
  const kept = sampleOracle(5, 2, 400).filter(Boolean).length;
  assert.is(r.sessions.s.replicated, kept);
  assert.is(r.sessions.s.truncated, kept);
  assert.is(r.sessions.s.bytes_replicated, kept * 100);
  assert.is(r.sessions.s.bytes_matched, 400 * SIZED[4].length);
  for (const b of replicasOf(r.sent[2])) {
    const d = decapsulate(b);
    assert.ok(d.erspan!.truncated);
    assert.equal(Array.from(d.inner), Array.from(SIZED[4].subarray(0, 100)));
  }
});

test.run();
