// The packet simulator: runs the real data plane (the same wasm, the same compiled tables) over
// packets given in memory and returns everything it sent, per port and queue, with the counters.
// `explain`, the fixture tables and many tests use it (Katran's KatranSimulator idea).
//
// The simulated router has `ports` ports in wire mode (port 0 ↔ port 1 cross-connected, the
// others send nothing of their own) unless a spec is given.
//
// By default every packet is queued at once and the data plane takes them in batches, port by
// port (round robin), so packets of different ports are not processed in the order given. With
// `inOrder` each packet is processed alone, in the order given: what a conversation across ports
// needs (a race: the client's SYN, then the members' answers in a chosen order).

import { MemoryPortDriver, type SentFrame } from '../../hal/drivers/memory/driver.ts';
import { compileTables, type CompiledTables, type PolicyRuleSpec, type SessionSpec } from '../shell/sessions/compile.ts';
import { LineCard } from './linecard.ts';
import { conservationViolations, globalCounters, portCounters, sessionCounters, type CounterSet } from './counters.ts';
import type { DataPlaneSpec } from './dataplane.ts';

export interface SimPacket {
  readonly port: number;
  readonly frame: Uint8Array;
  /** Receive time in ns (the policer's clock); default: 1 µs apart in order. */
  readonly ts?: bigint;
  /** Wire length when the frame is a truncated capture. */
  readonly origLen?: number;
}

export interface SimResult {
  /** Frames sent, per port index. */
  readonly sent: SentFrame[][];
  readonly ports: CounterSet[];
  /** Session counters by session name. */
  readonly sessions: Record<string, CounterSet>;
  readonly global: CounterSet;
  readonly tables: CompiledTables;
  /** Conservation invariant violations (empty when they hold). */
  readonly violations: string[];
  /** Race connection-table entries in use at the end. */
  readonly conntrackInUse: number;
}

export interface SimOptions {
  /** Process each packet alone, in the order given (default: all queued at once, batched per port). */
  readonly inOrder?: boolean;
}

/** A small wire-mode router: port 0 (inside) ↔ port 1 (outside), port 2 a mirror port. */
export function simSpec(overrides: Partial<DataPlaneSpec> = {}): DataPlaneSpec {
  return {
    ports: [
      { name: 'p0', crossConnect: 1, mtu: 1500, side: 'inside' },
      { name: 'p1', crossConnect: 0, mtu: 1500, side: 'outside' },
      { name: 'p2', crossConnect: null, mtu: 1500, side: 'inside' },
    ],
    rxRing: 256,
    txRing: 256,
    rxFrames: 1024,
    replicaFrames: 512,
    frameSize: 9216,
    headroom: 128,
    sessionSlots: 64,
    bankBytes: 8 << 20,
    flowCacheEntries: 1024,
    batchMax: 64,
    ioBytes: 1 << 20,
    memoryBudget: 128 << 20,
    ...overrides,
  };
}

/** Runs packets through the data plane with these sessions. */
export async function simulate(sessions: readonly SessionSpec[], packets: readonly SimPacket[], spec: DataPlaneSpec = simSpec(), policy: readonly PolicyRuleSpec[] = [], options: SimOptions = {}): Promise<SimResult> {
  return simulateTables(compileTables(sessions, policy, { portCount: spec.ports.length }), packets, spec, options);
}

/** Runs packets through a fresh data plane loaded with already compiled tables (explain). */
export async function simulateTables(tables: CompiledTables, packets: readonly SimPacket[], spec: DataPlaneSpec = simSpec(), options: SimOptions = {}): Promise<SimResult> {
  const drivers = spec.ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(spec, spec.ports.map((p, i) => ({ name: p.name, driver: drivers[i] })));
  try {
    card.dp.publish(tables.bank.image);
    const inject = (p: SimPacket, i: number): void => drivers[p.port].inject(p.frame, p.ts ?? BigInt(i + 1) * 1000n, p.origLen ?? p.frame.length);
    if (options.inOrder) {
      packets.forEach((p, i) => {
        inject(p, i);
        while (!card.drained()) card.step(0n);
      });
    } else {
      packets.forEach(inject);
    }
    while (!card.drained()) card.step(0n);
    const ports = spec.ports.map((_, i) => portCounters(card.dp, i));
    const byName: Record<string, CounterSet> = {};
    for (const s of tables.order) byName[s.name] = sessionCounters(card.dp, s.slot);
    const portsByName: Record<string, CounterSet> = {};
    spec.ports.forEach((p, i) => { portsByName[p.name] = ports[i]; });
    return {
      sent: drivers.map((d) => d.sent),
      ports,
      sessions: byName,
      global: globalCounters(card.dp),
      tables,
      violations: conservationViolations(portsByName, byName),
      conntrackInUse: card.dp.conntrackInUse(),
    };
  } finally {
    await card.close();
  }
}
