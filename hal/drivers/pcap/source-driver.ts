// `pcap` driver, receive side: a capture file is a port's wire. Records become received frames
// with their capture timestamps, in file order, as fast as the data plane takes them: the driver
// waits for ring space and free frames (a file has no line rate), so nothing is ever missed.
//
// Classic pcap (Ethernet) takes the fast path: the file is read in large chunks straight into
// the data plane's io region and the wasm record mover (wasm/io/capture.ts) turns records into
// descriptors, with no JavaScript per packet. pcapng goes through the codec
// (./format/pcapng.ts), one packet at a time; each packet's interface must be Ethernet.
//
// Errors (CaptureFormatError, naming the file and byte offset): not a capture, a link type other
// than Ethernet, a record longer than a frame, a file that ends inside a record.

import fs from 'node:fs';
import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import { writeRxDescriptor } from '../../descriptor.ts';
import { CaptureFormatError, LINKTYPE, linkTypeName, openCaptureReader, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, type CaptureReader } from './format/index.ts';

const PCAP_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
const HDR_LINKTYPE = 20;
const DEFAULT_CHUNK = 4 << 20;
/**
 * The buffer is topped up when fewer bytes than this remain: more than the largest record (64 KiB
 * of frame and its header), and small, because topping up first moves what remains to the front.
 */
const REFILL_BELOW = 256 << 10;

export interface PcapSourceOptions {
  /** Bytes read from the file at a time (default 4 MiB). */
  readonly chunkBytes?: number;
}

export class PcapSourceDriver implements PortDriver {
  readonly kind = 'pcap';
  readonly capabilities = DriverCapability.Receive | DriverCapability.Finite | DriverCapability.MediumTimestamps;
  private port!: PortHandle;
  private fd = -1;
  private readonly chunk: number;
  // Classic pcap fast path.
  private classic = false;
  private swapped = false;
  private nanos = false;
  private io = 0;
  private start = 0; // first unconsumed byte in the io buffer
  private end = 0; // one past the last valid byte
  private filePos = 0; // file offset of io[end]
  private eof = false;
  // pcapng path.
  private reader: CaptureReader | null = null;
  private pending: { data: Uint8Array; origLen: number; tsNs: bigint } | null = null;
  private done = false;
  /** Bytes of the file consumed so far (for progress). */
  bytesDone = 0;
  readonly fileBytes: number;

  constructor(readonly path: string, options: PcapSourceOptions = {}) {
    this.chunk = options.chunkBytes ?? DEFAULT_CHUNK;
    this.fileBytes = fs.statSync(path).size;
  }

  get exhausted(): boolean {
    return this.done;
  }

  attach(port: PortHandle): void {
    this.port = port;
    const head = new Uint8Array(PCAP_HEADER);
    const fd = fs.openSync(this.path, 'r');
    const got = fs.readSync(fd, head, 0, PCAP_HEADER, 0);
    const dv = new DataView(head.buffer);
    const le = got >= 4 ? dv.getUint32(0, true) : 0;
    const be = got >= 4 ? dv.getUint32(0, false) : 0;
    if (le === PCAP_MAGIC_USEC || le === PCAP_MAGIC_NSEC || be === PCAP_MAGIC_USEC || be === PCAP_MAGIC_NSEC) {
      if (got < PCAP_HEADER) {
        fs.closeSync(fd);
        throw new CaptureFormatError(this.path, got, 'truncated-header', 'file ends inside the pcap file header');
      }
      this.classic = true;
      this.swapped = !(le === PCAP_MAGIC_USEC || le === PCAP_MAGIC_NSEC);
      this.nanos = (this.swapped ? be : le) === PCAP_MAGIC_NSEC;
      const linkType = dv.getUint32(HDR_LINKTYPE, !this.swapped) & 0xffff;
      if (linkType !== LINKTYPE.ETHERNET) {
        fs.closeSync(fd);
        throw new CaptureFormatError(this.path, HDR_LINKTYPE, 'unsupported-linktype', `link type ${linkTypeName(linkType)}: twinflow ports carry Ethernet frames`);
      }
      this.fd = fd;
      this.io = port.allocIo(this.chunk);
      this.filePos = PCAP_HEADER;
      this.bytesDone = PCAP_HEADER;
    } else {
      fs.closeSync(fd);
      this.reader = openCaptureReader(this.path); // pcapng, or a clear error
    }
  }

  receive(_now: bigint): number {
    if (this.done) return 0;
    return this.classic ? this.receiveClassic() : this.receivePcapng();
  }

  private receiveClassic(): number {
    let delivered = 0;
    for (;;) {
      if (!this.eof && this.end - this.start < Math.min(REFILL_BELOW, this.chunk / 2)) this.refill();
      const before = this.port.rx.used();
      const r = this.port.dma.pcapIngest(this.port.index, this.io + this.start, this.end - this.start, this.swapped, this.nanos);
      if (r.capLenError) {
        const at = this.filePos - (this.end - this.start) + r.errorAt;
        throw new CaptureFormatError(this.path, at, 'caplen-too-large', `record longer than a frame (${this.port.frames.room} bytes); use a board with larger frames`);
      }
      this.start += r.consumed;
      this.bytesDone += r.consumed;
      delivered += this.port.rx.used() - before;
      if (r.consumed === 0) break;
    }
    if (this.eof && this.start === this.end) {
      this.done = true;
      fs.closeSync(this.fd);
      this.fd = -1;
    } else if (this.eof && this.port.rx.free() > 0 && this.port.frames.room > 0 && this.end - this.start > 0 && this.stuckOnPartialRecord()) {
      throw new CaptureFormatError(this.path, this.filePos - (this.end - this.start), 'truncated-record', 'file ends inside a record');
    }
    return delivered;
  }

  /** True when the remaining bytes cannot be a whole record (and nothing else blocks ingest). */
  private stuckOnPartialRecord(): boolean {
    const left = this.end - this.start;
    if (left < PCAP_RECORD_HEADER) return true;
    const capLen = this.port.dv.getUint32(this.io + this.start + 8, !this.swapped);
    return capLen > left - PCAP_RECORD_HEADER;
  }

  private refill(): void {
    if (this.start > 0) {
      this.port.mem.copyWithin(this.io, this.io + this.start, this.io + this.end);
      this.end -= this.start;
      this.start = 0;
    }
    while (!this.eof && this.end < this.chunk) {
      const n = fs.readSync(this.fd, this.port.mem, this.io + this.end, this.chunk - this.end, this.filePos);
      if (n === 0) this.eof = true;
      this.end += n;
      this.filePos += n;
    }
  }

  private receivePcapng(): number {
    const port = this.port;
    let delivered = 0;
    while (port.rx.free() > 0) {
      if (!this.pending) {
        const p = this.reader!.next();
        if (!p) {
          this.done = true;
          this.reader!.close();
          break;
        }
        if (p.linkType !== LINKTYPE.ETHERNET) {
          throw new CaptureFormatError(this.path, -1, 'unsupported-linktype', `interface ${p.interfaceId} has link type ${linkTypeName(p.linkType)}: twinflow ports carry Ethernet frames`);
        }
        if (p.data.length > port.frames.room) {
          throw new CaptureFormatError(this.path, -1, 'caplen-too-large', `a ${p.data.length}-byte packet is longer than a frame (${port.frames.room} bytes)`);
        }
        this.pending = { data: p.data.slice(), origLen: p.origLen, tsNs: p.tsNs };
      }
      const frame = port.frames.takeRx();
      if (frame < 0) break;
      const data = port.frames.data(frame);
      port.mem.set(this.pending.data, data);
      writeRxDescriptor(port.dv, port.rx.prodSlot(0), frame, data, this.pending.data.length, this.pending.origLen, port.index, this.pending.tsNs);
      port.rx.submit(1);
      this.pending = null;
      delivered++;
    }
    return delivered;
  }

  transmit(_now: bigint): number {
    // A capture file is receive-only: anything routed here is released and counted.
    let n = 0;
    for (const ring of [this.port.txOriginals, this.port.txReplicas]) {
      const k = ring.peek(ring.capacity);
      for (let i = 0; i < k; i++) this.port.frames.release(ring.consSlot(i));
      ring.release(k);
      n += k;
    }
    this.port.counters.txDropped += n;
    return n;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.reader?.close();
  }
}
