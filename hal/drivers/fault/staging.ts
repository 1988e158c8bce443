// Staging rings: the PortHandle a wrapper driver gives the driver it wraps.
//
// The inner driver sees its own rx, originals and replicas rings, real rings in linear memory
// (port.allocRing, same capacities as the port's), so code that hands a ring address to the wasm
// record movers (the pcap sink's pcapEmit/pcapngEmit) works unchanged. Everything else (memory,
// frame pool, counters, io allocation) is the real port's.
//
// One path needs help: the wasm pcapIngest (the classic-pcap source's fast path) is given a port
// *index* and writes into the rx ring that the data plane's port table names, i.e. the real one,
// bypassing the staging ring. The staged handle's dma.pcapIngest therefore (1) limits the bytes it
// passes to the first `staging free` whole records, so everything ingested fits the staging
// ring, (2) calls the real mover, then (3) moves the descriptors it produced from the real rx ring
// to the staging ring and rewinds the real ring's producer index. (3) is safe because the wrapper
// is the real rx ring's only producer and the data plane, its consumer, never runs during
// receive(): the consumer cannot have seen the entries that are taken back.

import { Desc, Ring } from '../../../wasm/abi.ts';
import type { CaptureDma, PortHandle } from '../../port.ts';
import type { RingView } from '../../ring.ts';

/** Classic pcap record header: ts_sec, ts_frac, caplen, origlen (u32 each). */
const PCAP_RECORD_HEADER = 16;
const PCAP_RECORD_CAPLEN = 8;

/** A port handle whose rings are staging rings; `rx`, `txOriginals`, `txReplicas` are those rings. */
export interface StagedPort {
  readonly handle: PortHandle;
  readonly rx: RingView;
  readonly txOriginals: RingView;
  readonly txReplicas: RingView;
}

/** Bytes of the first `records` whole pcap records in buf[0..len), or len when there are fewer. */
function recordPrefix(dv: DataView, buf: number, len: number, swapped: boolean, records: number): number {
  let off = 0;
  for (let k = 0; k < records; k++) {
    if (off + PCAP_RECORD_HEADER > len) return len;
    const capLen = dv.getUint32(buf + off + PCAP_RECORD_CAPLEN, !swapped);
    if (capLen > len - off - PCAP_RECORD_HEADER) return len;
    off += PCAP_RECORD_HEADER + capLen;
  }
  return off;
}

/** Allocates the staging rings in the port's io region and builds the inner driver's handle. */
export function stagePort(port: PortHandle): StagedPort {
  const rx = port.allocRing(port.rx.capacity);
  const txOriginals = port.allocRing(port.txOriginals.capacity);
  const txReplicas = port.allocRing(port.txReplicas.capacity);
  const realRx = port.rx;
  const prodWord = (realRx.address + Ring.Prod) >>> 2;

  const dma: CaptureDma = {
    pcapIngest: (index, buf, len, swapped, nanos) => {
      if (index !== port.index) return port.dma.pcapIngest(index, buf, len, swapped, nanos);
      const room = rx.free();
      if (room === 0) return { consumed: 0, capLenError: false, errorAt: 0 };
      const limit = recordPrefix(port.dv, buf, len, swapped, room);
      const before = realRx.used();
      const prod = port.u32[prodWord]!;
      const result = port.dma.pcapIngest(index, buf, limit, swapped, nanos);
      const n = realRx.used() - before;
      for (let k = 0; k < n; k++) {
        const from = realRx.consSlot(before + k);
        port.mem.copyWithin(rx.prodSlot(k), from, from + Desc.Size);
      }
      rx.submit(n);
      port.u32[prodWord] = prod;
      return result;
    },
    pcapEmit: (ring, out, cap, nanos) => port.dma.pcapEmit(ring, out, cap, nanos),
    pcapngEmit: (ring, out, cap, iface) => port.dma.pcapngEmit(ring, out, cap, iface),
  };

  const handle: PortHandle = {
    index: port.index,
    name: port.name,
    mem: port.mem,
    u32: port.u32,
    dv: port.dv,
    rx,
    txOriginals,
    txReplicas,
    frames: port.frames,
    dma,
    counters: port.counters,
    allocIo: (bytes) => port.allocIo(bytes),
    allocRing: (capacity) => port.allocRing(capacity),
  };
  return { handle, rx, txOriginals, txReplicas };
}
