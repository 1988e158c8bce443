// `trace` driver: a middleware device (smoltcp's Tracer) that wraps any PortDriver and writes
// every frame crossing the port, both directions, to one pcapng file. It changes nothing.
//
// What is written. One section, one interface (the port's name unless interfaceName is given,
// LINKTYPE_ETHERNET, nanosecond resolution, the given snaplen), one Enhanced Packet Block per
// frame, in the order the frames crossed the port:
//   inbound   every frame the wrapped driver delivered to the rx ring in receive(), timestamped
//             with its descriptor's timestamp (the medium's time or the driver's `now`);
//   outbound  every frame the router put on the port's tx rings, originals then replicas per
//             transmit(), timestamped with transmit's `now`. A replica (DescFlag.Replica) carries
//             the opt_comment "replica session N", N its descriptor's Session field (the
//             session's index in the published table bank).
// A frame's bytes, its captured length and its original length (Desc.OrigLen, at least Len) are
// the descriptor's; snaplen truncates what is stored, never the frame. Negative timestamps
// (pcapng cannot store them) are written as 0.
//
// How. The tap observes the port's own rings in place and never writes a ring, so it cannot
// alter what flows (no staging rings are needed, unlike the fault wrapper):
//   receive(now):  inner.receive(now), then the entries that appeared in the rx ring are written
//                  (the data plane, the ring's consumer, has not run yet, so they are all new).
//   transmit(now): the entries of both tx rings not yet traced are written, then
//                  inner.transmit(now). Writing before the inner driver runs records the bytes the
//                  router sent, even when the inner driver is itself a wrapper that alters frames
//                  in place (fault corruption); a per-ring high-water index makes sure a frame the
//                  inner driver leaves on the ring is not written twice.
// Wrapped around a fault wrapper, the tap therefore shows the router's side of the faults: what
// the router received (after rx faults) and what it sent (before tx faults).
//
// Output. A path is written with synchronous writes in large chunks; a Writable receives chunks
// without the poll loop ever waiting (a stream slower than the port grows memory: honour
// `needsDrain` and drain() between steps for long captures). close() closes the inner driver,
// then flushes and closes the writer, even when the inner close fails. exhausted and capabilities
// are the inner driver's.

import { Desc, DescFlag, Ring } from '../../../wasm/abi.ts';
import type { PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import type { RingView } from '../../ring.ts';
import { LINKTYPE, MAX_CAPLEN, PcapngWriter, TSRESOL_NSEC, type CaptureTarget, type PacketDirection } from '../pcap/format/index.ts';

/** The comment that marks a replica; the session number follows. */
export const REPLICA_COMMENT_PREFIX = 'replica session ';

export interface TraceOptions {
  /** A file path (created or truncated at attach) or a Node Writable. */
  readonly target: CaptureTarget;
  /** if_name of the interface; default: the port's name. */
  readonly interfaceName?: string;
  /** Bytes stored per frame at most, 0..262144; 0 (the pcapng convention) = whole frames. Default 0. */
  readonly snaplen?: number;
  /** Writable only: end the stream on close (default true; false for process.stdout). */
  readonly end?: boolean;
}

/** Frames written per direction. */
export interface TraceCounters {
  inbound: number;
  outbound: number;
}

/** Fixed parts of TraceDriver errors. */
export const TRACE_ERRORS = {
  snaplen: `trace snaplen must be an integer in 0..${MAX_CAPLEN}`,
  notAttached: 'trace driver is not attached',
} as const;

/** A pcapng tap around `inner`; see the module comment. */
export class TraceDriver implements PortDriver {
  readonly kind = 'trace';
  private port!: PortHandle;
  private writer: PcapngWriter | null = null;
  private readonly snaplen: number;
  /** Per tx ring (originals, replicas): the free-running index up to which entries were written. */
  private readonly tracedUpTo = [0, 0];
  private readonly tally: TraceCounters = { inbound: 0, outbound: 0 };

  constructor(readonly inner: PortDriver, readonly options: TraceOptions) {
    const snaplen = options.snaplen ?? 0;
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > MAX_CAPLEN) throw new RangeError(`${TRACE_ERRORS.snaplen}, got ${snaplen}`);
    this.snaplen = snaplen;
  }

  get capabilities(): number {
    return this.inner.capabilities;
  }

  get exhausted(): boolean {
    return this.inner.exhausted;
  }

  attach(port: PortHandle): void {
    this.port = port;
    const options = { interfaces: [{ linkType: LINKTYPE.ETHERNET, name: this.options.interfaceName ?? port.name, tsresol: TSRESOL_NSEC, snaplen: this.snaplen }] };
    this.writer = new PcapngWriter(this.options.target, this.options.end === undefined ? options : { ...options, end: this.options.end });
    this.tracedUpTo[0] = consIndex(port, port.txOriginals);
    this.tracedUpTo[1] = consIndex(port, port.txReplicas);
    this.inner.attach(port);
  }

  receive(now: bigint): number {
    const rx = this.port.rx;
    const before = rx.used();
    const n = this.inner.receive(now);
    const after = rx.used();
    for (let k = before; k < after; k++) {
      const slot = rx.consSlot(k);
      const ts = this.port.dv.getBigInt64(slot + Desc.Timestamp, true);
      this.write(slot, ts < 0n ? 0n : ts, 'inbound');
      this.tally.inbound++;
    }
    return n;
  }

  transmit(now: bigint): number {
    const port = this.port;
    [port.txOriginals, port.txReplicas].forEach((ring, q) => {
      const cons = consIndex(port, ring);
      const used = ring.used();
      // Entries below the high-water mark were written by an earlier call; the mark is stale
      // (behind cons) once the inner driver has taken them all.
      const done = (this.tracedUpTo[q]! - cons) >>> 0;
      for (let k = done <= used ? done : 0; k < used; k++) {
        this.write(ring.consSlot(k), now, 'outbound');
        this.tally.outbound++;
      }
      this.tracedUpTo[q] = (cons + used) >>> 0;
    });
    return this.inner.transmit(now);
  }

  /** Frames written so far, per direction. */
  counters(): TraceCounters {
    return { ...this.tally };
  }

  /** Pushes buffered records to the file or stream now (e.g. before a live viewer reads). */
  flush(): void {
    if (this.writer === null) throw new Error(TRACE_ERRORS.notAttached);
    this.writer.flush();
  }

  /** The writer's drain(): resolves when a stream target can take more. */
  drain(): Promise<void> {
    return this.writer?.drain() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
    } finally {
      const writer = this.writer;
      this.writer = null;
      await writer?.close();
    }
  }

  private write(slot: number, tsNs: bigint, direction: PacketDirection): void {
    const dv = this.port.dv;
    const addr = dv.getUint32(slot + Desc.Addr, true);
    const len = dv.getUint16(slot + Desc.Len, true);
    const origLen = dv.getUint16(slot + Desc.OrigLen, true);
    const flags = dv.getUint16(slot + Desc.Flags, true);
    const packet = {
      data: this.port.mem.subarray(addr, addr + len),
      tsNs,
      origLen: origLen > len ? origLen : len,
      direction,
    };
    this.writer!.write((flags & DescFlag.Replica) !== 0
      ? { ...packet, comment: `${REPLICA_COMMENT_PREFIX}${dv.getUint32(slot + Desc.Session, true)}` }
      : packet);
  }
}

/** A ring's free-running consumer index. */
function consIndex(port: PortHandle, ring: RingView): number {
  return port.u32[(ring.address + Ring.Cons) >>> 2]!;
}
