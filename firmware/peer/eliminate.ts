// `twinflow eliminate`: the far end of tagged dup (seed Fig. 3–4, 802.1CB FRER). Both member
// streams of a dup session arrive here as GRE with the session's stream id as key and one
// sequence number per packet — member 1 from router A by the originals' path, member 2 relayed by
// the peer router B over the other — and this command delivers each packet once: a raw GRE
// socket takes them straight into the eliminator's batch slots (firmware/runtime/eliminator.ts,
// the data plane's 802.1CB vector recovery), and the inner packet of each first copy is written
// into this machine's IP stack through a TUN device (tun-delivery.ts), so local applications
// receive it as if it had come off the wire. Later copies are discarded and counted.
//
// Why in firmware/peer/: this is the host-side end of a job, like `twinflow peer` (a device that
// receives what a twinflow router sends over GRE, from a raw socket, with counters on stderr and
// JSON at the end); the recovery itself stays with the runtime's data-plane instances.
//
// Counters (ELIMINATE_COUNTERS, and per stream the 802.1CB ones: passed, discarded, out of order,
// rogue, lost, resets): every packet taken from the socket ends in exactly one of delivered,
// discarded, rogue, malformed, not_allowed, truncated, tun_blocked, tun_refused. "lost" is
// sequence numbers that left the history window unseen on both members (802.1CB's counter,
// without its start-up over-count); the last HistoryLength numbers are still pending at exit.
//
// Contract: packets are untrusted (the eliminator parses GRE with bounds checks; a source not in
// --from is dropped before it); bad options are one line and exit status 2
// (EliminateOptionError); every wait and burst is bounded; stops cleanly on SIGINT/SIGTERM, after
// --duration seconds or --count deliveries. Needs root (raw socket, TUN).

import { Eliminator, DEFAULT_HISTORY, DEFAULT_RESET_MS, MAX_HISTORY_LENGTH, type StreamCounters } from '../runtime/eliminator.ts';
import { ElimVerdict } from '../../wasm/abi.ts';
import { addon, type LinuxAddon } from '../../hal/drivers/linux/native.ts';
import { parseIpv4 } from '../../hal/net/address.ts';
import { TunDelivery } from './tun-delivery.ts';
import { EliminateOptionError } from './errors.ts';
import { CommandRun } from './command-run.ts';

export interface EliminateOptions {
  /** Take GRE addressed to this address only (default: any address of this machine). */
  readonly address?: string;
  /** Member streams are accepted from these outer sources only (default: any). */
  readonly from?: readonly string[];
  /** TUN device name (default: the kernel picks tunN). */
  readonly tun?: string;
  /** History window in packets (802.1CB frerSeqRcvyHistoryLength). */
  readonly history?: number;
  /** Reset timeout in ms (frerSeqRcvyResetMSec). */
  readonly resetMs?: number;
  readonly duration?: number;
  /** Stop after delivering this many packets. */
  readonly count?: number;
  readonly json?: boolean;
}

export const ELIMINATE_COUNTERS = {
  received: 'GRE packets taken from the socket',
  delivered: 'first copies whose inner packet went into this machine\'s IP stack (untracked ones included)',
  discarded: 'later copies: a sequence number already delivered (802.1CB discarded)',
  rogue: 'sequence numbers outside the history window: discarded (802.1CB rogue)',
  untracked: 'packets of streams beyond the stream table, delivered without recovery (included in delivered)',
  malformed: 'packets that are not GRE with key and sequence carrying IPv4 or IPv6',
  not_allowed: 'packets from a source not given with --from',
  truncated: 'packets larger than a receive slot',
  tun_blocked: 'first copies the TUN could not take now (its queue was full)',
  tun_refused: 'first copies the kernel refused on the TUN',
} as const;
export type EliminateCounter = keyof typeof ELIMINATE_COUNTERS;

const IPPROTO_GRE = 47;
/** A receive slot: the largest IPv4 packet a 9216-byte jumbo frame carries, and more. */
const SLOT_BYTES = 16384;
/** Packets per receive burst and eliminator batch (the eliminator's default). */
const BATCH = 64;
/** Longest reset timeout accepted: an hour. A talker restart would go unnoticed for longer than that. */
const MAX_RESET_MS = 3_600_000;

function checkOptions(o: EliminateOptions): { history: number; resetMs: number; from: ReadonlySet<number> | null } {
  if (o.address !== undefined && parseIpv4(o.address) === null) throw new EliminateOptionError(`--address: "${o.address}" is not an IPv4 address`);
  const from = new Set<number>();
  for (const a of o.from ?? []) {
    const v = parseIpv4(a);
    if (v === null) throw new EliminateOptionError(`--from: "${a}" is not an IPv4 address`);
    from.add(v);
  }
  const history = o.history ?? DEFAULT_HISTORY;
  if (!Number.isInteger(history) || history < 1 || history > MAX_HISTORY_LENGTH) throw new EliminateOptionError(`--history: must be 1..${MAX_HISTORY_LENGTH} packets`);
  const resetMs = o.resetMs ?? DEFAULT_RESET_MS;
  if (!Number.isInteger(resetMs) || resetMs < 1 || resetMs > MAX_RESET_MS) throw new EliminateOptionError(`--reset-ms: must be 1..${MAX_RESET_MS}`);
  if (o.tun !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(o.tun)) throw new EliminateOptionError(`--tun: "${o.tun}" is not an interface name (1..15 letters, digits, "_", "." or "-")`);
  return { history, resetMs, from: from.size > 0 ? from : null };
}

/** One far end: a socket, the eliminator, the TUN, the counters. */
export class FarEnd {
  readonly counters = Object.fromEntries(Object.keys(ELIMINATE_COUNTERS).map((k) => [k, 0])) as Record<EliminateCounter, number>;
  readonly tun: TunDelivery;
  private readonly native: LinuxAddon;
  private readonly eliminator: Eliminator;
  private fd = -1;
  private watchId = -1;
  private readonly rx = Uint32Array.from({ length: BATCH });
  private readonly lens = new Uint32Array(BATCH);
  private readonly wire = new Uint32Array(BATCH);
  private readonly kept = new Uint32Array(BATCH);
  private readonly outAddrs = new Uint32Array(BATCH);
  private readonly outLens = new Uint32Array(BATCH);

  constructor(private readonly o: { address?: string; from: ReadonlySet<number> | null; history: number; resetMs: number; tun?: string; onDelivered?: () => void }) {
    this.native = addon();
    this.eliminator = new Eliminator({ historyLength: o.history, resetMs: o.resetMs, batch: BATCH, room: SLOT_BYTES });
    for (let i = 0; i < BATCH; i++) this.rx[i] = this.eliminator.packetAddr(i);
    this.tun = new TunDelivery({ name: o.tun ?? '' });
  }

  start(): void {
    try {
      this.fd = this.native.openRawIpv4(IPPROTO_GRE, this.o.address ?? null);
      this.watchId = this.native.watch(this.fd, () => this.drain());
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Takes everything waiting on the socket now; returns the packets taken. */
  drain(): number {
    if (this.fd < 0) return 0;
    let total = 0;
    for (;;) {
      const n = this.native.recvBurst(this.fd, this.eliminator.mem, this.rx, SLOT_BYTES, this.lens, this.wire, BATCH);
      if (n > 0) this.batch(n);
      total += n;
      if (n < BATCH) return total;
    }
  }

  private batch(n: number): void {
    const c = this.counters;
    const e = this.eliminator;
    const mem = e.mem;
    c.received += n;
    // Keep what may enter the eliminator, packed into the first slots.
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (this.wire[i] > this.lens[i]) {
        c.truncated++;
        continue;
      }
      const at = this.rx[i];
      if (this.o.from !== null) {
        const src = ((mem[at + 12] << 24) | (mem[at + 13] << 16) | (mem[at + 14] << 8) | mem[at + 15]) >>> 0;
        if (this.lens[i] < 20 || !this.o.from.has(src)) {
          c.not_allowed++;
          continue;
        }
      }
      if (k !== i) mem.copyWithin(this.rx[k], at, at + this.lens[i]);
      this.kept[k++] = this.lens[i];
    }
    if (k === 0) return;
    e.process(this.kept, k, process.hrtime.bigint());
    let m = 0;
    for (let i = 0; i < k; i++) {
      const v = e.verdict(i);
      if (v === ElimVerdict.Pass || v === ElimVerdict.Untracked) {
        if (v === ElimVerdict.Untracked) c.untracked++;
        const inner = e.inner(i);
        this.outAddrs[m] = inner.byteOffset;
        this.outLens[m++] = inner.length;
      } else if (v === ElimVerdict.Discard) c.discarded++;
      else if (v === ElimVerdict.Rogue) c.rogue++;
      else c.malformed++;
    }
    const before = this.tun.counters();
    this.tun.deliver(mem, this.outAddrs, this.outLens, m);
    const after = this.tun.counters();
    c.delivered += after.delivered - before.delivered;
    c.tun_blocked += after.blocked - before.blocked;
    c.tun_refused += after.refused - before.refused;
    if (m > 0) this.o.onDelivered?.();
  }

  streams(): StreamCounters[] {
    return this.eliminator.streams();
  }

  close(): void {
    if (this.watchId >= 0) this.native.unwatch(this.watchId);
    if (this.fd >= 0) this.native.close(this.fd);
    this.watchId = -1;
    this.fd = -1;
    this.tun.close();
  }
}

export async function eliminateCommand(o: EliminateOptions): Promise<void> {
  const { history, resetMs, from } = checkOptions(o);
  const say = (line: string): void => { process.stderr.write(`twinflow eliminate: ${line}\n`); };
  const far: FarEnd = new FarEnd({
    ...(o.address !== undefined ? { address: o.address } : {}), from, history, resetMs, ...(o.tun !== undefined ? { tun: o.tun } : {}),
    onDelivered: () => { if (o.count !== undefined && far.counters.delivered >= o.count) run.stop(); },
  });
  const run = new CommandRun();
  try {
    far.start();
    for (const w of far.tun.warnings()) say(`warning: ${w}`);
    say(`listening for GRE (key, sequence) to ${o.address ?? 'any address'}${from ? ` from ${o.from!.join(', ')}` : ''}; delivering through ${far.tun.name} (history ${history} packets, reset ${resetMs} ms)`);
    run.stopAfter(o.duration);
    run.showStatus(() => status(far.counters, far.streams()), say);
    await run.stopped;
  } finally {
    run.close();
    far.drain();
    far.close();
  }
  const streams = far.streams();
  const final = {
    address: o.address ?? null, tun: far.tun.name, historyLength: history, resetMs,
    counters: far.counters, tun_counters: far.tun.counters(),
    streams: streams.map((s) => ({ ...s, streamHex: `0x${s.stream.toString(16).padStart(8, '0')}` })),
  };
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (o.json) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else {
    say(`stopped: ${status(far.counters, streams)}`);
    for (const s of final.streams) say(`stream ${s.streamHex}: passed ${s.passed}  discarded ${s.discarded}  out_of_order ${s.outOfOrder}  rogue ${s.rogue}  lost ${s.lost}  resets ${s.resets}`);
  }
}

function status(c: Record<EliminateCounter, number>, streams: readonly StreamCounters[]): string {
  const lost = streams.reduce((n, s) => n + s.lost, 0);
  return `received ${c.received}  delivered ${c.delivered}  discarded ${c.discarded}  rogue ${c.rogue}  lost ${lost}  malformed ${c.malformed}  not_allowed ${c.not_allowed}  streams ${streams.length}`;
}
