// The one rule in memory terms: a replica is built inside its own frame slot and nowhere else.
// A replica of a frame as large as the board allows, for a session whose path MTU is larger still,
// must not spill past the slot's data room (into the next slot, or, for the last slot of the pool,
// into the io region where drivers keep their buffers). The sniff session may cut it (flagged
// truncated) or the replica may be dropped and counted; either way the bytes around the slot
// stay untouched and the original goes out unchanged.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import { compileTables } from '../../firmware/shell/sessions/compile.ts';
import { conservationViolations, portCounters, sessionCounters } from '../../firmware/runtime/counters.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { session } from '../fixtures/oracle.ts';
import { decapsulate } from '../fixtures/decap.ts';

/** A frame of exactly `n` bytes: IPv4/UDP with a consistent header, pattern payload. */
function bigFrame(n: number): Uint8Array {
  const f = new Uint8Array(n);
  const dv = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 0x0b, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x00]);
  f[14] = 0x45;
  dv.setUint16(16, n - 14);
  f[22] = 64;
  f[23] = 17;
  dv.setUint32(26, 0x0a000001);
  dv.setUint32(30, 0x0a000002);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += dv.getUint16(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  dv.setUint16(24, ~s & 0xffff);
  dv.setUint16(34, 1000);
  dv.setUint16(36, 9);
  dv.setUint16(38, n - 34);
  for (let i = 42; i < n; i++) f[i] = (i * 7) & 0xff;
  return f;
}

for (const encap of ['gre', 'erspan2', 'erspan3'] as const) {
  test(`${encap}: a replica of a full-size frame with path MTU 65535 stays inside its frame slot`, () => {
    // One replica frame: it is the last slot of the pool, so the io region follows it directly.
    const spec = simSpec({ replicaFrames: 1 });
    const drivers = spec.ports.map(() => new MemoryPortDriver());
    const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
    try {
      const dp = card.dp;
      const canary = dp.allocIo(256);
      assert.is(canary, dp.map.io, 'the canary is the first thing after the frame pool');
      assert.is(dp.map.io, dp.map.framePool + (spec.rxFrames + spec.replicaFrames) * dp.map.frameStride);
      dp.mem.fill(0xa5, canary, canary + 256);
      // The next-to-last slot's tail and the last slot's headroom are watched too.
      const lastSlot = dp.map.framePool + (spec.rxFrames + spec.replicaFrames - 1) * dp.map.frameStride;

      const s = session('big', 0, { filter: '', encap, mtu: 65535 });
      dp.publish(compileTables([s]).bank.image);
      const frame = bigFrame(spec.frameSize);
      drivers[0].inject(frame, 1000n);
      while (!card.drained()) card.step(0n);

      const spill = Array.from(dp.mem.subarray(canary, canary + 256)).findIndex((b) => b !== 0xa5);
      assert.is(spill, -1, `the io region after the last frame slot was overwritten from byte ${spill}`);
      const originals = drivers[1].sent.filter((f) => f.queue === 'originals');
      assert.is(originals.length, 1);
      assert.ok(Buffer.from(originals[0].bytes).equals(Buffer.from(frame)), 'the original is unchanged');
      const replicas = drivers[2].sent.filter((f) => f.queue === 'replicas');
      for (const r of replicas) {
        assert.ok(r.bytes.length <= spec.frameSize, `a ${r.bytes.length}-byte replica in a ${spec.frameSize}-byte data room (slot at ${lastSlot})`);
        const d = decapsulate(r.bytes);
        const whole = encap === 'gre' ? frame.subarray(14) : frame;
        assert.ok(Buffer.from(d.inner).equals(Buffer.from(whole.subarray(0, d.inner.length))), 'a prefix of the original');
        if (d.erspan) assert.is(d.erspan.truncated, d.inner.length < whole.length);
      }
      const ports = Object.fromEntries(spec.ports.map((p, i) => [p.name, portCounters(dp, i)]));
      assert.equal(conservationViolations(ports, { big: sessionCounters(dp, 0) }), []);
    } finally {
      void card.close();
    }
  });
}

test.run();
