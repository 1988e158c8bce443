// What a driver is given when it is attached to a router port: the port's rings and the frame
// pool, all in the data plane's linear memory, plus the capture "DMA" the data plane offers.
// Drivers never see the control plane; the runtime builds PortHandles (firmware/runtime).

import type { RingView } from './ring.ts';

/** Frames in linear memory. Indices name frames; descriptors carry the index and the pool. */
export interface FramePool {
  /** A free receive frame's index, or −1 when none is free. */
  takeRx(): number;
  /** Address of a frame's data start (after its headroom). */
  data(index: number): number;
  /** Bytes of data a frame holds. */
  readonly room: number;
  /** Gives the frame of a consumed descriptor back to the pool it came from. */
  release(desc: number): void;
}

/** Record movers implemented in wasm (wasm/io/capture.ts), so a file costs no JS per packet. */
export interface CaptureDma {
  /** Moves whole pcap records from buf[0..len) into the port's rx ring; bytes consumed. */
  pcapIngest(port: number, buf: number, len: number, swapped: boolean, nanos: boolean): { consumed: number; capLenError: boolean; errorAt: number };
  /** Serialises a tx ring as pcap records into out[0..cap); bytes written. */
  pcapEmit(ring: number, out: number, cap: number, nanos: boolean): number;
  /** Serialises a tx ring as pcapng EPBs of interface `iface` into out[0..cap); bytes written. */
  pcapngEmit(ring: number, out: number, cap: number, iface: number): number;
}

/** Driver-level counters (what a NIC would report beside the data plane's). */
export interface DriverCounters {
  /** Frames the driver could not hand to the data plane: rx ring full or no free frame. */
  rxMissed: number;
  /** Frames a driver took off the wire but refused as invalid (too long for a frame, ...). */
  rxErrors: number;
  txPackets: number;
  /** Bytes the medium took (for a capture file, including its record headers). */
  txBytes: number;
  /** Frames handed to the driver for sending that it could not send (wire full, ...). */
  txDropped: number;
}

export function newDriverCounters(): DriverCounters {
  return { rxMissed: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txDropped: 0 };
}

export interface PortHandle {
  readonly index: number;
  readonly name: string;
  readonly mem: Uint8Array;
  readonly u32: Uint32Array;
  readonly dv: DataView;
  readonly rx: RingView;
  readonly txOriginals: RingView;
  readonly txReplicas: RingView;
  readonly frames: FramePool;
  readonly dma: CaptureDma;
  readonly counters: DriverCounters;
  /** Bytes of the data plane's io region, for driver buffers (attach time only). */
  allocIo(bytes: number): number;
  /** A descriptor ring in the io region (attach time only). */
  allocRing(capacity: number): RingView;
}
