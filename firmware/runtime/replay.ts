// `twinflow replay`: run the real data plane over a capture file, offline.
//
// The replay board is three ports: `in` (the capture, pcap driver), `out` (where originals are
// forwarded: a classic pcap) and `mirror` (where replicas leave: a pcapng). One session carries
// the user's filter and replication options; its replicas are addressed from the router
// (192.0.2.1, TEST-NET-1) to the device (192.0.2.2 unless --device says otherwise). Timestamps are
// the capture's, so the rate limit applies in capture time.

import { PcapSourceDriver } from '../../hal/drivers/pcap/source-driver.ts';
import { PcapSinkDriver } from '../../hal/drivers/pcap/sink-driver.ts';
import { compileTables, type SessionSpec } from '../shell/sessions/compile.ts';
import type { EncapName } from '../shell/sessions/template.ts';
import { LineCard } from './linecard.ts';
import { conservationViolations, globalCounters, portCounters, sessionCounters, type CounterSet } from './counters.ts';
import type { DataPlaneSpec } from './dataplane.ts';
import { parseIpv4, parseMac } from '../shell/net/address.ts';

export interface ReplayOptions {
  readonly input: string;
  readonly match: string;
  readonly replicas: string;
  readonly originals: string;
  readonly encap?: EncapName;
  readonly snaplen?: number;
  readonly sample?: number;
  readonly ratePps?: number;
  readonly mtu?: number;
  readonly device?: string;
  /** Called now and then with bytes of the input consumed and its size. */
  readonly progress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  readonly packets: number;
  readonly elapsedMs: number;
  readonly ports: Record<string, CounterSet>;
  readonly session: CounterSet;
  readonly global: CounterSet;
  readonly drivers: Record<string, CounterSet>;
  readonly tables: { readonly rules: number; readonly trees: number; readonly bytes: number };
}

const ROUTER_IP = '192.0.2.1';
const DEVICE_IP = '192.0.2.2';
const ROUTER_MAC = '02:74:66:00:00:01';
const DEVICE_MAC = '02:74:66:00:00:02';
const PORT_IN = 0;
const PORT_OUT = 1;
const PORT_MIRROR = 2;

/** The replay board: large frames (a capture may hold jumbo frames). */
export function replaySpec(): DataPlaneSpec {
  return {
    ports: [
      { name: 'in', crossConnect: PORT_OUT, mtu: 9216, side: 'outside' },
      { name: 'out', crossConnect: null, mtu: 9216, side: 'inside' },
      { name: 'mirror', crossConnect: null, mtu: 9216, side: 'inside' },
    ],
    // Small rings keep the frames in flight (and so the cache footprint of 9 KB frames) small:
    // measured, 256-slot rings ingest a capture twice as fast as 4096-slot ones.
    rxRing: 256,
    txRing: 256,
    rxFrames: 1024,
    replicaFrames: 512,
    frameSize: 9216,
    headroom: 128,
    sessionSlots: 1,
    bankBytes: 32 << 20,
    // The flow cache pays only when classification is slower than a hash probe, i.e. for large
    // firewall-style rule sets with long flows (docs/benchmarks.md); a capture replays without it.
    flowCacheEntries: 0,
    batchMax: 256,
    ioBytes: 16 << 20,
    memoryBudget: 256 << 20,
  };
}

export async function replay(o: ReplayOptions): Promise<ReplayResult> {
  const session: SessionSpec = {
    name: 'replay',
    mode: 'sniff',
    filter: o.match,
    encap: o.encap ?? 'gre',
    snaplen: o.snaplen ?? 0,
    sample: o.sample ?? 1,
    ratePps: o.ratePps ?? 0,
    rateBps: 0,
    egressPort: PORT_MIRROR,
    mtu: o.mtu ?? 9000,
    source: { ip: parseIpv4(ROUTER_IP), mac: parseMac(ROUTER_MAC) },
    destination: { ip: parseIpv4(o.device ?? DEVICE_IP), mac: parseMac(DEVICE_MAC) },
    slot: 0,
    generation: 1,
  };
  const tables = compileTables([session]); // filter errors surface before any file is created

  const source = new PcapSourceDriver(o.input);
  const card = LineCard.create(replaySpec(), [
    { name: 'in', driver: source },
    { name: 'out', driver: new PcapSinkDriver(o.originals, { format: 'pcap', queues: 'originals' }) },
    { name: 'mirror', driver: new PcapSinkDriver(o.replicas, { format: 'pcapng', queues: 'replicas', interfaceName: 'mirror' }) },
  ]);
  try {
    card.dp.publish(tables.bank.image);
    const started = performance.now();
    let packets = 0;
    let steps = 0;
    while (!card.drained()) {
      packets += card.step(0n);
      if (o.progress && (++steps & 63) === 0) o.progress(source.bytesDone, source.fileBytes);
    }
    const elapsedMs = performance.now() - started;
    o.progress?.(source.fileBytes, source.fileBytes);
    const ports: Record<string, CounterSet> = {};
    const drivers: Record<string, CounterSet> = {};
    card.ports.forEach((p, i) => {
      ports[p.name] = portCounters(card.dp, i);
      drivers[p.name] = { ...p.counters };
    });
    const sessionSet = sessionCounters(card.dp, 0);
    const violations = conservationViolations(ports, { replay: sessionSet });
    if (violations.length) throw new Error(`counter conservation violated: ${violations.join('; ')}`);
    return {
      packets,
      elapsedMs,
      ports,
      session: sessionSet,
      global: globalCounters(card.dp),
      drivers,
      tables: { rules: tables.rules.length, trees: tables.forest.trees.length, bytes: tables.bank.bytes },
    };
  } finally {
    await card.close();
  }
}
