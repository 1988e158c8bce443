// Line-card measurements, each run as its own process by bench/run.ts (not pinned: line cards are
// threads, and the point is to use both cores):
//   node --import tsx bench/cards-worker.ts throughput CARDS PACKETS
//     ports a ↔ b in wire mode and a mirror port m; a and b flood the router with the two
//     directions of 1,024 UDP flows, PACKETS 60-byte frames each (bench/cards-drivers.ts); a sniff
//     session replicates one client subnet (1/16 of the flows) to m. CARDS = 1: one card owns every
//     port; CARDS = 2: a and m on lc0, b on lc1, so every packet crosses cards once (either to the
//     card of its flow, or from that card to its egress port's owner). Times from resume() to the
//     last original sent (read from the drivers' counters); prints JSON {mpps, seconds, packets,
//     replicas, perCard}.
//   node --import tsx bench/cards-worker.ts handoff
//     the cost of one frame crossing, in one thread: one copy into a frame the receiver lent (what
//     the cards do), two copies through a SharedArrayBuffer slot ring (the alternative), and the
//     descriptor move alone (what a zero-copy design would still do); 60- and 1,500-byte frames;
//     prints JSON of ns per frame.

import { validateBoard, type Board } from '../firmware/runtime/board.ts';
import { DataPlane } from '../firmware/runtime/dataplane.ts';
import { simSpec } from '../firmware/runtime/simulate.ts';
import { WorkerCards } from '../firmware/runtime/workers/worker-cards.ts';
import { CardView, copyFrame, moveDescriptor } from '../firmware/runtime/workers/card-view.ts';
import { compileTables, type SessionSpec } from '../firmware/shell/sessions/compile.ts';
import { Desc } from '../wasm/abi.ts';
import type { FloodArg } from './cards-drivers.ts';

const FLOWS = 1024;
const WAIT_SLICE_MS = 2;

function board(cards: number): Board {
  return validateBoard({
    name: 'cards-bench',
    description: 'line-card benchmark: a ↔ b in wire mode, m a mirror port (bench/cards-drivers.ts)',
    memoryBudgetMiB: 64,
    frames: { size: 2048, headroom: 128, rx: 2048, replica: 1024 },
    rings: { rx: 256, tx: 256 },
    tableMiB: 1,
    flowCache: 4096,
    batch: 256,
    ports: [
      { name: 'a', driver: 'pcap', side: 'inside', mtu: 1500, mac: '02:74:66:00:00:0a', crossConnect: 'b' },
      { name: 'b', driver: 'pcap', side: 'outside', mtu: 1500, mac: '02:74:66:00:00:0b', crossConnect: 'a' },
      { name: 'm', driver: 'pcap', side: 'inside', mtu: 1500, mac: '02:74:66:00:00:0c', ipv4: '192.0.2.1/24' },
    ],
    lineCards: cards === 1 ? [{ name: 'lc0', ports: ['a', 'b', 'm'] }] : [{ name: 'lc0', ports: ['a', 'm'] }, { name: 'lc1', ports: ['b'] }],
  }, 'cards-bench');
}

const SNIFF: SessionSpec = {
  name: 'bench', mode: 'sniff', filter: 'net 10.0.0.0/26', encap: 'gre', snaplen: 0, sample: 1, ratePps: 0, rateBps: 0,
  egressPort: 2, mtu: 1500,
  source: { ip: 0xc0000201, mac: new Uint8Array([2, 0x74, 0x66, 0, 0, 0x0c]) },
  destination: { ip: 0xc0000202, mac: new Uint8Array([2, 0, 0, 0, 0, 0x0d]) },
  slot: 0, generation: 1,
};

async function throughput(cardCount: number, packets: number): Promise<void> {
  const arg: FloodArg = { packets, flows: FLOWS };
  const cards = await WorkerCards.start(board(cardCount), { drivers: { module: new URL('./cards-drivers.ts', import.meta.url), arg }, paused: true });
  try {
    cards.publish(compileTables([SNIFF]).bank.image);
    const sent = (): number => {
      const d = cards.driverCounters();
      return d.a.txPackets + d.b.txPackets;
    };
    const t0 = performance.now();
    cards.resume();
    while (sent() < 2 * packets) {
      if (cards.failure) throw cards.failure;
      await new Promise((resolve) => setTimeout(resolve, WAIT_SLICE_MS));
    }
    const seconds = (performance.now() - t0) / 1e3;
    const perCard = cards.cardNames.map((_, k) => cards.card(k).global.packets);
    const replicas = cards.sessionCounters(0).replicated;
    process.stdout.write(JSON.stringify({ mpps: (2 * packets) / seconds / 1e6, seconds, packets: 2 * packets, replicas, perCard }) + '\n');
  } finally {
    await cards.close();
  }
}

/** ns per frame of `fn`, over `n` frames after a warm-up. */
function time(n: number, fn: (k: number) => void): number {
  for (let k = 0; k < n / 10; k++) fn(k);
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) fn(k);
  return Number(process.hrtime.bigint() - t0) / n;
}

function handoff(): void {
  const spec = simSpec();
  const [from, to] = [DataPlane.create(spec), DataPlane.create(spec)].map((dp) => new CardView(dp.wasm.memory, dp.map));
  const ring = new SharedArrayBuffer(256 * (Desc.Size + spec.frameSize));
  const slots = new Uint8Array(ring);
  const out: Record<string, number> = {};
  const N = 1_000_000;
  const FRAMES = 256;
  for (const len of [60, 1500]) {
    // Descriptors of FRAMES frames in `from`, in its first rx ring's slots (any 32-byte-aligned place will do).
    const descs = Array.from({ length: FRAMES }, (_, k) => {
      const d = from.map.rxRings[0] + 192 + k * Desc.Size;
      const addr = from.frameSlot(k) + spec.headroom;
      from.u32[(d + Desc.Addr) >>> 2] = addr;
      from.u32[(d + Desc.Frame) >>> 2] = k;
      from.dv.setUint16(d + Desc.Len, len, true);
      return d;
    });
    const target = (k: number): number => to.map.txOrigRings[0] + 192 + (k % FRAMES) * Desc.Size;
    out[`lent_${len}`] = time(N, (k) => copyFrame(from, descs[k % FRAMES], to, (k * 7) % FRAMES, target(k), false));
    out[`two_copies_${len}`] = time(N, (k) => {
      const d = descs[k % FRAMES];
      const addr = from.u32[(d + Desc.Addr) >>> 2];
      const slot = (k % 256) * (Desc.Size + spec.frameSize);
      slots.set(from.mem.subarray(d, d + Desc.Size), slot);
      slots.set(from.mem.subarray(addr, addr + len), slot + Desc.Size);
      const dst = to.frameSlot((k * 7) % FRAMES) + spec.headroom;
      to.mem.set(slots.subarray(slot + Desc.Size, slot + Desc.Size + len), dst);
      to.mem.set(slots.subarray(slot, slot + Desc.Size), target(k));
      to.u32[(target(k) + Desc.Addr) >>> 2] = dst;
    });
    out[`descriptor_only_${len}`] = time(N, (k) => moveDescriptor(to.u32, descs[k % FRAMES] - from.map.rxRings[0] + to.map.rxRings[0], target(k)));
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'throughput') await throughput(Number(a), Number(b));
else if (mode === 'handoff') handoff();
else throw new Error('usage: cards-worker.ts throughput CARDS PACKETS | handoff');
