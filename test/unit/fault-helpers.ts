// Shared by the fault-*.test.ts and trace-*.test.ts suites: scapy-built frames, a wire-mode line
// card (simSpec: port 0 ↔ port 1) whose ports are memory drivers, some wrapped, and a stepping
// loop with a simulated clock. No tests live here. Requires python3-scapy.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { LineCard } from '../../firmware/runtime/linecard.ts';
import { simSpec } from '../../firmware/runtime/simulate.ts';
import type { DataPlaneSpec } from '../../firmware/runtime/dataplane.ts';
import type { PortDriver } from '../../hal/driver.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import type { FaultCounters } from '../../hal/drivers/fault/index.ts';
import { scapyBuild } from '../fixtures/scapy.ts';

/** An arbitrary epoch for receive timestamps. */
export const T0 = 1_700_000_000_000_000_000n;
/** Receive timestamps of injected frames are this far apart. */
export const TS_STEP = 1_000n;
/** The simulated clock's step between line-card iterations. */
export const STEP_NS = 10_000n;
/** Iterations after which a run is declared stuck. */
const MAX_STEPS = 100_000;

/**
 * `n` distinct frames (each one carries its index in the IP id, the source port and the
 * payload): IPv4/UDP, IPv4/TCP, IPv6/UDP and 802.1Q-tagged IPv4/UDP in turn, 60..~400 bytes.
 */
export function scapyFrames(n: number): Uint8Array[] {
  const exprs: string[] = [];
  for (let i = 0; i < n; i++) {
    const size = 20 + ((i * 37) % 360);
    const sport = 1024 + (i % 60000);
    switch (i % 4) {
      case 0: exprs.push(`E()/IP(src=A,dst=B,id=${i % 65536})/UDP(sport=${sport},dport=9)/pay(${size},${i})`); break;
      case 1: exprs.push(`E()/IP(src=A,dst=C,id=${i % 65536})/TCP(sport=${sport},dport=80,flags="PA",seq=${i})/pay(${size},${i})`); break;
      case 2: exprs.push(`E()/IPv6(src=A6,dst=B6)/UDP(sport=${sport},dport=9)/pay(${size},${i})`); break;
      default: exprs.push(`E()/Dot1Q(vlan=${1 + (i % 4000)})/IP(src=A,dst=D,id=${i % 65536})/UDP(sport=${sport},dport=9)/pay(${size},${i})`);
    }
  }
  return scapyBuild(exprs);
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export interface Rig {
  readonly card: LineCard;
  /** The memory drivers (the media), per port. */
  readonly media: MemoryPortDriver[];
  /** What each port was given: its memory driver or a wrapper around it. */
  readonly drivers: PortDriver[];
}

/** A simSpec line card; `wrap(port, medium)` may return a wrapper for that port's driver. */
export function rig(wrap: (port: number, medium: MemoryPortDriver) => PortDriver = (_p, m) => m, spec: DataPlaneSpec = simSpec()): Rig {
  const media = spec.ports.map(() => new MemoryPortDriver());
  const drivers = media.map((m, p) => wrap(p, m));
  const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i]! })));
  return { card, media, drivers };
}

/** Injects frames on `port` with timestamps T0, T0 + TS_STEP, ... */
export function inject(r: Rig, port: number, frames: readonly Uint8Array[], first = 0): void {
  frames.forEach((f, i) => r.media[port]!.inject(f, T0 + BigInt(first + i) * TS_STEP));
}

/** Steps the card from `now` by STEP_NS until drained; returns the clock at the end. */
export function runToDrained(r: Rig, now = STEP_NS): bigint {
  for (let i = 0; i < MAX_STEPS; i++) {
    r.card.step(now);
    if (r.card.drained()) return now;
    now += STEP_NS;
  }
  throw new Error(`the card did not drain in ${MAX_STEPS} steps`);
}

/** Bytes of what `port`'s medium was sent, as hex, in order. */
export function sentHex(r: Rig, port: number): string[] {
  return r.media[port]!.sent.map((s) => hex(s.bytes));
}

/** The fault counters' conservation invariant: seen + duplicated = passed + dropped + holdOverflow + held. */
export function conserved(c: FaultCounters): boolean {
  return c.seen + c.duplicated === c.passed + c.dropped + c.holdOverflow + c.held;
}

/** A fresh directory under os.tmpdir(); remove it with fs.rmSync(dir, { recursive: true }). */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-fault-'));
}

/** True when every frame is back in its free ring (nothing leaked, nothing released twice). */
export function poolsFull(r: Rig): boolean {
  const dp = r.card.dp;
  return dp.rxFree.used() === dp.spec.rxFrames && dp.replicaFree.used() === dp.spec.replicaFrames;
}
