// The far end of tagged dup: an eliminator instance (the data-plane module's 802.1CB recovery,
// wasm/eliminate/recovery.ts) with its memory laid out for batches of received packets. A driver
// receives GRE packets straight into the batch slots (packetAddr, room), calls process(), and
// delivers the inner packet of every Pass (and Untracked) verdict.
//
// Contract: time is an argument (ns); limits are checked here with RangeErrors naming them.

import { ElimLimit, ElimPacket, ElimVerdict, EliminatorHeader, StreamEntry, StreamFlag } from '../../wasm/abi.ts';
import { ensureMemory, instantiateDataplane, type DataplaneExports } from './wasm.ts';

export interface EliminatorOptions {
  /** Streams tracked at once (a power of two). */
  readonly streams?: number;
  /** History window in packets, 1..MAX_HISTORY_LENGTH: at least the largest skew between the paths, in packets. */
  readonly historyLength?: number;
  /** No accepted packet for this long resets a stream (its talker restarted). */
  readonly resetMs?: number;
  /** Packets per process() call, and the bytes each may have. */
  readonly batch?: number;
  readonly room?: number;
}

/** 802.1CB implementations default to 2 s (R2DTWO, xdpfrer); the window to 32 like VTSS's top. */
export const DEFAULT_RESET_MS = 2000;
export const DEFAULT_HISTORY = 32;
/** The longest window the data plane keeps (a ring of ElimLimit.MaxHistory bits per stream). */
export const MAX_HISTORY_LENGTH: number = ElimLimit.MaxHistory;
export const DEFAULT_STREAMS = 256;
const DEFAULT_BATCH = 64;
const DEFAULT_ROOM = 2048;

export interface StreamCounters {
  readonly stream: number;
  readonly passed: number;
  readonly discarded: number;
  readonly outOfOrder: number;
  readonly rogue: number;
  readonly lost: number;
  readonly resets: number;
}

export class Eliminator {
  readonly batch: number;
  readonly room: number;
  readonly mem: Uint8Array;
  private readonly dv: DataView;
  private readonly wasm: DataplaneExports;
  private readonly region: number;
  private readonly records: number;
  private readonly buffers: number;
  private readonly capacity: number;

  constructor(o: EliminatorOptions = {}) {
    this.capacity = o.streams ?? DEFAULT_STREAMS;
    const history = o.historyLength ?? DEFAULT_HISTORY;
    const resetMs = o.resetMs ?? DEFAULT_RESET_MS;
    this.batch = o.batch ?? DEFAULT_BATCH;
    this.room = o.room ?? DEFAULT_ROOM;
    if (!Number.isInteger(this.capacity) || this.capacity < 1 || (this.capacity & (this.capacity - 1)) !== 0) throw new RangeError('streams must be a power of two');
    if (!Number.isInteger(history) || history < 1 || history > MAX_HISTORY_LENGTH) throw new RangeError(`historyLength must be 1..${MAX_HISTORY_LENGTH}`);
    if (!(resetMs > 0)) throw new RangeError('resetMs must be positive');
    this.wasm = instantiateDataplane();
    const align = (v: number): number => Math.ceil(v / 64) * 64;
    this.region = align(this.wasm.heapBase());
    this.records = align(this.region + this.wasm.eliminatorBytes(this.capacity));
    this.buffers = align(this.records + this.batch * ElimPacket.Size);
    ensureMemory(this.wasm.memory, this.buffers + this.batch * this.room);
    this.mem = new Uint8Array(this.wasm.memory.buffer);
    this.dv = new DataView(this.wasm.memory.buffer);
    if (this.wasm.eliminatorInit(this.region, this.capacity, history, BigInt(Math.round(resetMs * 1e6))) === 0) throw new RangeError('eliminator parameters refused');
  }

  /** Where packet i of the next batch is received (room bytes). */
  packetAddr(i: number): number {
    return this.buffers + i * this.room;
  }

  /** Runs the first n packets of the batch (lens[i] bytes each, IPv4 with its header) at time `now`. */
  process(lens: ArrayLike<number>, n: number, nowNs: bigint): void {
    if (n > this.batch) throw new RangeError(`at most ${this.batch} packets per batch`);
    for (let i = 0; i < n; i++) {
      const r = this.records + i * ElimPacket.Size;
      this.dv.setUint32(r + ElimPacket.Addr, this.packetAddr(i), true);
      this.dv.setUint32(r + ElimPacket.Len, Math.min(lens[i], this.room), true);
    }
    this.wasm.eliminateBatch(this.region, this.records, n, nowNs);
  }

  /** Copies a packet into slot i (tests and callers that have bytes in hand). */
  put(i: number, packet: Uint8Array): number {
    const n = Math.min(packet.length, this.room);
    this.mem.set(packet.subarray(0, n), this.packetAddr(i));
    return n;
  }

  verdict(i: number): ElimVerdict {
    return this.dv.getUint32(this.records + i * ElimPacket.Size + ElimPacket.Verdict, true);
  }

  /** The inner IP packet of packet i (a view; valid until the next batch). */
  inner(i: number): Uint8Array {
    const r = this.records + i * ElimPacket.Size;
    const start = this.packetAddr(i) + this.dv.getUint32(r + ElimPacket.InnerOff, true);
    return this.mem.subarray(start, start + this.dv.getUint32(r + ElimPacket.InnerLen, true));
  }

  stream(i: number): number {
    return this.dv.getUint32(this.records + i * ElimPacket.Size + ElimPacket.Stream, true);
  }

  sequence(i: number): number {
    return this.dv.getUint32(this.records + i * ElimPacket.Size + ElimPacket.Sequence, true);
  }

  /** Packets passed without recovery (no room for their stream) and malformed ones. */
  totals(): { readonly streams: number; readonly untracked: number; readonly malformed: number } {
    return {
      streams: this.dv.getUint32(this.region + EliminatorHeader.Streams, true),
      untracked: Number(this.dv.getBigUint64(this.region + EliminatorHeader.Untracked, true)),
      malformed: Number(this.dv.getBigUint64(this.region + EliminatorHeader.Malformed, true)),
    };
  }

  /** Per-stream 802.1CB counters. */
  streams(): StreamCounters[] {
    const out: StreamCounters[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const e = this.region + EliminatorHeader.Size + i * StreamEntry.Size;
      if ((this.dv.getUint32(e + StreamEntry.Flags, true) & StreamFlag.Used) === 0) continue;
      const c = (off: number): number => Number(this.dv.getBigUint64(e + off, true));
      out.push({
        stream: this.dv.getUint32(e + StreamEntry.Key, true),
        passed: c(StreamEntry.Passed), discarded: c(StreamEntry.Discarded), outOfOrder: c(StreamEntry.OutOfOrder),
        rogue: c(StreamEntry.Rogue), lost: c(StreamEntry.Lost), resets: c(StreamEntry.Resets),
      });
    }
    return out.sort((a, b) => a.stream - b.stream);
  }
}
