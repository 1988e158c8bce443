// The far-end eliminator of tagged dup (802.1CB vector recovery in wasm) against a plain model:
// two member streams with independent seeded loss and delay arrive interleaved; the first copy of
// every sequence number must pass and every later one be discarded, and the counters must say
// exactly what the model says (passed, discarded, out of order, lost — without the standard's
// start-up over-count). Also: 32-bit wrap, rogue jumps and the reset timeout, a full stream
// table (pass, counted), malformed packets, and GRE built by scapy.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Eliminator } from '../../firmware/runtime/eliminator.ts';
import { ElimVerdict } from '../../wasm/abi.ts';
import { XorShift32 } from '../../hal/prng.ts';
import { scapyBuild } from '../fixtures/scapy.ts';

/** An outer IPv4 + GRE (K, S) + inner IPv4/UDP packet carrying `seq` in its payload. */
function member(key: number, seq: number, flags = 0x3000, proto = 0x0800): Uint8Array {
  const inner = new Uint8Array(28 + 4);
  inner[0] = 0x45;
  inner[2] = 0;
  inner[3] = inner.length;
  inner[9] = 17;
  new DataView(inner.buffer).setUint32(28, seq >>> 0);
  const greLen = 4 + ((flags & 0x2000) ? 4 : 0) + ((flags & 0x1000) ? 4 : 0);
  const p = new Uint8Array(20 + greLen + inner.length);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 47;
  dv.setUint32(12, 0xc6336401);
  dv.setUint32(16, 0xcb007109);
  dv.setUint16(20, flags);
  dv.setUint16(22, proto);
  let at = 24;
  if (flags & 0x2000) { dv.setUint32(at, key >>> 0); at += 4; }
  if (flags & 0x1000) { dv.setUint32(at, seq >>> 0); at += 4; }
  p.set(inner, at);
  return p;
}

interface Arrival { readonly t: number; readonly seq: number; readonly key: number }

/** Feeds arrivals in time order, one batch per distinct instant group of up to `batch`. */
function feed(e: Eliminator, arrivals: readonly Arrival[]): ElimVerdict[] {
  const out: ElimVerdict[] = [];
  for (let i = 0; i < arrivals.length; i += e.batch) {
    const chunk = arrivals.slice(i, i + e.batch);
    const lens = chunk.map((a, k) => e.put(k, member(a.key, a.seq)));
    e.process(lens, chunk.length, BigInt(Math.round(chunk[0].t * 1e6)));
    chunk.forEach((a, k) => {
      out.push(e.verdict(k));
      if (e.verdict(k) === ElimVerdict.Pass) assert.is(new DataView(e.inner(k).slice().buffer).getUint32(28), a.seq >>> 0, 'the inner packet is the member\'s own');
    });
  }
  return out;
}

/**
 * 802.1CB vector recovery as the standard states it, on a set instead of a bit vector (no
 * resets: the arrivals have no gaps). Lost counts only numbers known since the start.
 */
function model(arrivals: readonly Arrival[], length: number): { verdicts: ElimVerdict[]; passed: number; discarded: number; outOfOrder: number; rogue: number; lost: number } {
  let recov: number | null = null;
  let valid = 0;
  const window = new Set<number>();
  const c = { passed: 0, discarded: 0, outOfOrder: 0, rogue: 0, lost: 0 };
  const verdicts = arrivals.map(({ seq }) => {
    if (recov === null) {
      recov = seq; valid = 1; window.add(seq); c.passed++;
      return ElimVerdict.Pass;
    }
    const delta = seq - recov;
    if (Math.abs(delta) >= length) { c.rogue++; return ElimVerdict.Rogue; }
    if (delta > 0) {
      for (let x = recov - length + 1; x < recov - length + 1 + delta; x++) {
        if (x > recov - valid && !window.has(x)) c.lost++;
        window.delete(x);
      }
      valid = Math.min(length, valid + delta);
      recov = seq; window.add(seq); c.passed++;
      if (delta !== 1) c.outOfOrder++;
      return ElimVerdict.Pass;
    }
    if (window.has(seq)) { c.discarded++; return ElimVerdict.Discard; }
    window.add(seq); c.passed++; c.outOfOrder++;
    return ElimVerdict.Pass;
  });
  return { verdicts, ...c };
}

// Two member streams, 10 % seeded loss each, 0.1 ms apart, path 2 `skew` ms behind path 1 with up
// to 1 ms of jitter on each; windows up to the longest (a ring of several words, so copies and
// holes cross word boundaries and the ring wraps many times), and one window shorter than the skew.
for (const { history, skewMs, rogue } of [
  { history: 32, skewMs: 1, rogue: false },
  { history: 333, skewMs: 25, rogue: false },
  { history: 1024, skewMs: 90, rogue: false },
  { history: 64, skewMs: 20, rogue: true },
]) {
  test(`two lossy member streams, window ${history}, skew ${skewMs} ms: verdicts and counters are the model's`, () => {
    const e = new Eliminator({ historyLength: history, batch: 16 });
    const rng = new XorShift32(2024 + history);
    const key = 0xdeadbeef;
    const n = 20000;
    const first = 5000; // a stream need not start at 0
    const arrivals: Arrival[] = [];
    for (let i = 0; i < n; i++) {
      const seq = first + i;
      const sent = i * 0.1; // ms
      if (rng.chance(0.9)) arrivals.push({ t: sent + 1 + rng.below(10) * 0.1, seq, key });
      if (rng.chance(0.9)) arrivals.push({ t: sent + 1 + skewMs + rng.below(10) * 0.1, seq, key });
    }
    arrivals.sort((a, b) => a.t - b.t);
    const verdicts = feed(e, arrivals);
    const m = model(arrivals, history);
    assert.equal(verdicts, m.verdicts);
    const [c] = e.streams();
    assert.equal(c, { stream: key, passed: m.passed, discarded: m.discarded, outOfOrder: m.outOfOrder, rogue: m.rogue, lost: m.lost, resets: 0 });
    if (rogue) {
      assert.ok(m.rogue > 1000, `a window shorter than the skew makes path 2's copies rogue (${m.rogue})`);
    } else {
      assert.is(m.rogue, 0);
      assert.is(m.passed + m.discarded, arrivals.length);
      assert.ok(m.lost > 100 && m.lost < 350, `about 1 % of ${n} lost on both paths (${m.lost})`);
    }
  });
}

test('sequence numbers wrap at 2^32', () => {
  const e = new Eliminator({ historyLength: 8, batch: 8 });
  const seqs = [0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 0xffffffff, 2, 0];
  feed(e, seqs.map((seq, i) => ({ t: i, seq, key: 1 })));
  const [c] = e.streams();
  assert.equal([c.passed, c.discarded, c.rogue, c.outOfOrder], [6, 2, 0, 0]);
});

test('a jump beyond the window is rogue until the reset timeout, then the stream resynchronises', () => {
  const e = new Eliminator({ historyLength: 16, resetMs: 100, batch: 1 });
  const v = feed(e, [
    { t: 0, seq: 1000, key: 7 }, { t: 1, seq: 1001, key: 7 },
    { t: 2, seq: 5, key: 7 }, // the talker restarted its numbering: rogue
    { t: 50, seq: 6, key: 7 }, // still rogue: the last accepted packet was 49 ms ago
    { t: 200, seq: 7, key: 7 }, // 199 ms without an accepted packet: reset, take any
    { t: 201, seq: 8, key: 7 },
  ]);
  assert.equal(v, [ElimVerdict.Pass, ElimVerdict.Pass, ElimVerdict.Rogue, ElimVerdict.Rogue, ElimVerdict.Pass, ElimVerdict.Pass]);
  const [c] = e.streams();
  assert.equal([c.passed, c.rogue, c.resets, c.lost], [4, 2, 1, 0]);
});

test('no start-up over-count of lost packets, and late packets fill their holes', () => {
  const e = new Eliminator({ historyLength: 8, batch: 1 });
  const seqs = [1000, 1002, 1001, 1003, 1010, 1011, 1012, 1013];
  const v = feed(e, seqs.map((seq, i) => ({ t: i, seq, key: 3 })));
  assert.equal(v, seqs.map(() => ElimVerdict.Pass));
  const [c] = e.streams();
  // 993..999 were never in the window (the stream started at 1000): not lost. 1004 and 1005 left
  // the window unseen when 1012 and 1013 arrived; 1006..1009 are still pending.
  assert.equal([c.passed, c.outOfOrder, c.lost], [8, 3, 2]);
});

test('streams beyond the table pass untracked and are counted; malformed packets are refused', () => {
  const e = new Eliminator({ streams: 2, batch: 8 });
  const packets = [member(1, 0), member(2, 0), member(3, 0), member(3, 0),
    member(4, 0, 0x1000), // no key
    member(4, 0, 0x2000), // no sequence
    member(4, 0, 0x3000, 0x88be), // carries ERSPAN, not IP
    Uint8Array.of(0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8)]; // TCP, not GRE
  const lens = packets.map((p, i) => e.put(i, p));
  e.process(lens, packets.length, 0n);
  assert.equal(packets.map((_, i) => e.verdict(i)), [ElimVerdict.Pass, ElimVerdict.Pass, ElimVerdict.Untracked, ElimVerdict.Untracked,
    ElimVerdict.Malformed, ElimVerdict.Malformed, ElimVerdict.Malformed, ElimVerdict.Malformed]);
  assert.equal(e.totals(), { streams: 2, untracked: 2, malformed: 4 });
  const truncated = member(5, 9).subarray(0, 30);
  e.process([e.put(0, truncated)], 1, 0n);
  assert.is(e.verdict(0), ElimVerdict.Malformed, 'a packet shorter than its IPv4 length');
});

test('GRE with key and sequence built by scapy: stream, number and inner packet found', () => {
  const [a, b] = scapyBuild([
    `IP(src="198.51.100.1",dst="203.0.113.9")/GRE(key_present=1,seqnum_present=1,key=0x01020304,sequence_number=77,proto=0x0800)/IP(src=A,dst=B)/UDP(sport=1,dport=2)/pay(10)`,
    `IP(src="198.51.100.2",dst="203.0.113.9")/GRE(key_present=1,seqnum_present=1,key=0x01020304,sequence_number=77,proto=0x86dd)/IPv6(src=A6,dst=B6)/UDP(sport=1,dport=2)/pay(10)`,
  ]);
  const e = new Eliminator({ batch: 2 });
  e.process([e.put(0, a), e.put(1, b)], 2, 0n);
  assert.equal([e.verdict(0), e.stream(0), e.sequence(0)], [ElimVerdict.Pass, 0x01020304, 77]);
  assert.equal(e.inner(0), a.subarray(32), 'IPv4 inner packet after 20 + 12 bytes');
  assert.is(e.verdict(1), ElimVerdict.Discard, 'the same stream and number, by another path (and family): a duplicate');
});

test.run();
