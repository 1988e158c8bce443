// `pcap` driver, transmit side: a port whose wire is a capture file. Frames sent on the port are
// appended as classic pcap records or pcapng Enhanced Packet Blocks; the wasm record mover
// (wasm/io/capture.ts) serialises the tx rings straight into the io region, and the driver
// writes that region to the file in large chunks.
//
// Output is buffered in the io region and written when the buffer fills, a second has passed, or
// the driver closes: a write per poll would cost a system call per few hundred packets.
//
// Which queues go to the file is an option: the originals queue, the replicas queue, or both
// (originals first). A queue the file does not take is drained and counted as txDropped, so
// nothing routed to the port disappears unseen. pcapng blocks name the port's interface and
// carry direction "outbound" (the frame left the router on that port).

import fs from 'node:fs';
import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import type { RingView } from '../../ring.ts';
import { encodePcapng, LINKTYPE, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, TSRESOL_NSEC } from './format/index.ts';

/** Output buffer: big enough to make writes rare, small enough to stay in cache (measured). */
const DEFAULT_CHUNK = 256 << 10;
const PCAP_SNAPLEN = 262144;
/** Buffered output reaches the file at least this often (ns of the runtime clock). */
const FLUSH_INTERVAL_NS = 1_000_000_000n;

export interface PcapSinkOptions {
  readonly format: 'pcap' | 'pcapng';
  readonly queues: 'originals' | 'replicas' | 'both';
  /** Classic pcap: nanosecond timestamps (default false: microseconds, the common form). */
  readonly nanos?: boolean;
  /** pcapng interface name (default: the port's name). */
  readonly interfaceName?: string;
  readonly chunkBytes?: number;
}

export class PcapSinkDriver implements PortDriver {
  readonly kind = 'pcap';
  readonly capabilities = DriverCapability.Transmit;
  readonly exhausted = true;
  private port!: PortHandle;
  private fd = -1;
  private out = 0;
  private used = 0; // bytes buffered at out
  private nextFlush = FLUSH_INTERVAL_NS;
  private readonly chunk: number;

  constructor(readonly path: string, readonly options: PcapSinkOptions) {
    this.chunk = options.chunkBytes ?? DEFAULT_CHUNK;
  }

  attach(port: PortHandle): void {
    this.port = port;
    this.out = port.allocIo(this.chunk);
    this.fd = fs.openSync(this.path, 'w');
    if (this.options.format === 'pcap') {
      const h = new DataView(new ArrayBuffer(24));
      h.setUint32(0, this.options.nanos ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, true);
      h.setUint16(4, 2, true);
      h.setUint16(6, 4, true);
      h.setUint32(16, PCAP_SNAPLEN, true);
      h.setUint32(20, LINKTYPE.ETHERNET, true);
      fs.writeSync(this.fd, new Uint8Array(h.buffer));
    } else {
      fs.writeSync(this.fd, encodePcapng([], {
        interfaces: [{ linkType: LINKTYPE.ETHERNET, name: this.options.interfaceName ?? port.name, tsresol: TSRESOL_NSEC }],
      }));
    }
  }

  receive(_now: bigint): number {
    return 0;
  }

  transmit(now: bigint): number {
    const q = this.options.queues;
    let n = 0;
    n += q === 'replicas' ? this.discard(this.port.txOriginals) : this.write(this.port.txOriginals);
    n += q === 'originals' ? this.discard(this.port.txReplicas) : this.write(this.port.txReplicas);
    if (this.used > 0 && now >= this.nextFlush) {
      this.flush();
      this.nextFlush = now + FLUSH_INTERVAL_NS;
    }
    return n;
  }

  private write(ring: RingView): number {
    let taken = 0;
    while (ring.used() > 0) {
      const before = ring.used();
      const room = this.chunk - this.used;
      const bytes = this.options.format === 'pcap'
        ? this.port.dma.pcapEmit(ring.address, this.out + this.used, room, this.options.nanos ?? false)
        : this.port.dma.pcapngEmit(ring.address, this.out + this.used, room, 0);
      const k = before - ring.used();
      if (k === 0) {
        if (this.used === 0) throw new Error(`${this.path}: a frame does not fit the ${this.chunk}-byte write buffer`);
        this.flush();
        continue;
      }
      this.used += bytes;
      taken += k;
      this.port.counters.txPackets += k;
      this.port.counters.txBytes += bytes;
    }
    return taken;
  }

  /** Writes what is buffered to the file. */
  flush(): void {
    if (this.used > 0 && this.fd >= 0) fs.writeSync(this.fd, this.port.mem, this.out, this.used);
    this.used = 0;
  }

  private discard(ring: RingView): number {
    const k = ring.peek(ring.capacity);
    for (let i = 0; i < k; i++) this.port.frames.release(ring.consSlot(i));
    ring.release(k);
    this.port.counters.txDropped += k;
    return k;
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
