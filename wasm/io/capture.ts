// Capture-file "DMA": moves classic pcap records into a port's rx ring and serialises tx rings as
// pcap records or pcapng Enhanced Packet Blocks, so that replaying a file costs no JavaScript
// per packet. The runtime's pcap driver (hal/drivers/pcap/) reads and writes the files in large
// chunks and handles file headers, interfaces and errors; this file only handles records.
//
// Contract: `buf`/`out` are runtime-owned regions of linear memory. Record fields are untrusted:
// a record is consumed only when it lies wholly inside the chunk, and a capture length larger
// than a frame is reported (ingestError), never copied.

import { Control, Desc, PortConfig, Ring } from '../abi';
import { ringFree, ringPeek, ringSubmit, ringRelease, ringUsed } from '../ring/ring';
import { copyBytes } from '../wire/bytes';
import { frameRoom, frameReturnBegin, frameReturnOne, frameReturnEnd } from '../ring/frames';

export namespace PcapRecord {
  @inline export const TsSec: u32 = 0;
  @inline export const TsFrac: u32 = 4;
  @inline export const CapLen: u32 = 8;
  @inline export const OrigLen: u32 = 12;
  @inline export const HeaderLen: u32 = 16;
}

export namespace PcapngEpb {
  @inline export const BlockType: u32 = 6;
  @inline export const Type: u32 = 0;
  @inline export const TotalLen: u32 = 4;
  @inline export const InterfaceId: u32 = 8;
  @inline export const TsHigh: u32 = 12;
  @inline export const TsLow: u32 = 16;
  @inline export const CapLen: u32 = 20;
  @inline export const OrigLen: u32 = 24;
  @inline export const Data: u32 = 28;
  @inline export const OptFlags: u16 = 2; // epb_flags
  @inline export const OptFlagsLen: u32 = 8; // code, length, u32 value
  @inline export const OptEndLen: u32 = 4;
  @inline export const FixedLen: u32 = 32; // header, fields and trailing length
  @inline export const DirectionOutbound: u32 = 2;
}

/** Why the last pcapIngest() stopped early, 0 when it did not. */
export let ingestError: u32 = 0;
/** File offset (within the chunk) of the record that caused ingestError. */
export let ingestErrorAt: u32 = 0;
export namespace IngestError {
  @inline export const None: u32 = 0;
  @inline export const CapLenTooLarge: u32 = 1;
}

@inline function rd32(p: usize, swapped: bool): u32 {
  const v = load<u32>(p);
  return swapped ? bswap<u32>(v) : v;
}

/**
 * Moves whole pcap records from `buf[0..len)` into the rx ring of `port`, as many as the ring
 * and the free frames allow. Returns the bytes consumed; the caller keeps the rest for the next
 * chunk. `swapped`: the file's byte order is not little-endian; `nanos`: fractions are ns.
 */
export function pcapIngest(ctl: usize, port: u32, buf: usize, len: u32, swapped: bool, nanos: bool): u32 {
  ingestError = IngestError.None;
  const portCfg = <usize>load<u32>(ctl + Control.PortTable) + <usize>port * PortConfig.Size;
  const rx = <usize>load<u32>(portCfg, PortConfig.RxRing);
  const freeRing = <usize>load<u32>(ctl + Control.RxFree);
  const room = frameRoom(ctl);
  let off: u32 = 0;
  // Room for this call: rx slots and free frames, taken in one go and given back in one go.
  let space = ringFree(rx);
  const frames = ringUsed(freeRing);
  if (frames < space) space = frames;
  let queued: u32 = 0;
  // Ring and pool geometry, read once: per record only the record itself is loaded.
  const freeSlots = freeRing + Ring.Header;
  const freeMask = load<u32>(freeRing + Ring.Mask);
  const freeCons = load<u32>(freeRing + Ring.Cons);
  const rxSlots = rx + Ring.Header;
  const rxMask = load<u32>(rx + Ring.Mask);
  const rxProd = load<u32>(rx + Ring.Prod);
  const pool = <usize>load<u32>(ctl + Control.FramePool);
  const stride = <usize>load<u32>(ctl + Control.FrameStride);
  const headroom = <usize>load<u32>(ctl + Control.FrameHeadroom);
  while (off + PcapRecord.HeaderLen <= len && queued < space) {
    const rec = buf + off;
    const capLen = rd32(rec + PcapRecord.CapLen, swapped);
    if (capLen > room || capLen > 0xffff) {
      ingestError = IngestError.CapLenTooLarge;
      ingestErrorAt = off;
      break;
    }
    if (capLen > len - off - PcapRecord.HeaderLen) break;
    const index = load<u32>(freeSlots + (<usize>((freeCons + queued) & freeMask) << 2));
    const data = pool + <usize>index * stride + headroom;
    copyBytes(data, rec + PcapRecord.HeaderLen, capLen);
    let origLen = rd32(rec + PcapRecord.OrigLen, swapped);
    if (origLen < capLen) origLen = capLen;
    if (origLen > 0xffff) origLen = 0xffff;
    const frac = <i64>rd32(rec + PcapRecord.TsFrac, swapped);
    const ts = <i64>rd32(rec + PcapRecord.TsSec, swapped) * 1_000_000_000 + (nanos ? frac : frac * 1000);

    const d = rxSlots + <usize>((rxProd + queued) & rxMask) * Desc.Size;
    store<u32>(d, <u32>data, Desc.Addr);
    store<u32>(d, <u32>index, Desc.Frame);
    store<u16>(d, <u16>capLen, Desc.Len);
    store<u16>(d, <u16>origLen, Desc.OrigLen);
    store<u8>(d, <u8>port, Desc.InPort);
    store<u8>(d, 255, Desc.OutPort);
    store<u16>(d, 0, Desc.Flags);
    store<i64>(d, ts, Desc.Timestamp);
    store<u32>(d, 0xffffffff, Desc.Session);
    store<u32>(d, 0, Desc.Aux);
    queued++;
    off += PcapRecord.HeaderLen + capLen;
  }
  ringRelease(freeRing, queued);
  ringSubmit(rx, queued);
  return off;
}

/**
 * Serialises descriptors from `ring` as little-endian pcap records into out[0..cap) and releases
 * their frames. Returns the bytes written; stops when the next record would not fit.
 */
export function pcapEmit(ctl: usize, ring: usize, out: usize, cap: u32, nanos: bool): u32 {
  const n = ringPeek(ring, 0xffffffff);
  frameReturnBegin(ctl);
  const slots = ring + Ring.Header;
  const mask = load<u32>(ring + Ring.Mask);
  const cons = load<u32>(ring + Ring.Cons);
  let off: u32 = 0;
  let k: u32 = 0;
  for (; k < n; k++) {
    const d = slots + <usize>((cons + k) & mask) * Desc.Size;
    const len = <u32>load<u16>(d, Desc.Len);
    if (off + PcapRecord.HeaderLen + len > cap) break;
    const rec = out + off;
    const ts = load<i64>(d, Desc.Timestamp);
    const sec = ts / 1_000_000_000;
    const ns = ts - sec * 1_000_000_000;
    store<u32>(rec + PcapRecord.TsSec, <u32>sec);
    store<u32>(rec + PcapRecord.TsFrac, <u32>(nanos ? ns : ns / 1000));
    store<u32>(rec + PcapRecord.CapLen, len);
    store<u32>(rec + PcapRecord.OrigLen, <u32>load<u16>(d, Desc.OrigLen));
    copyBytes(rec + PcapRecord.HeaderLen, <usize>load<u32>(d, Desc.Addr), len);
    off += PcapRecord.HeaderLen + len;
    frameReturnOne(d);
  }
  ringRelease(ring, k);
  frameReturnEnd();
  return off;
}

/**
 * Serialises descriptors from `ring` as pcapng Enhanced Packet Blocks (interface `iface`, whose
 * IDB declares nanosecond resolution; direction outbound) into out[0..cap) and releases their
 * frames. Returns the bytes written.
 */
export function pcapngEmit(ctl: usize, ring: usize, out: usize, cap: u32, iface: u32): u32 {
  const n = ringPeek(ring, 0xffffffff);
  frameReturnBegin(ctl);
  const slots = ring + Ring.Header;
  const mask = load<u32>(ring + Ring.Mask);
  const cons = load<u32>(ring + Ring.Cons);
  let off: u32 = 0;
  let k: u32 = 0;
  for (; k < n; k++) {
    const d = slots + <usize>((cons + k) & mask) * Desc.Size;
    const len = <u32>load<u16>(d, Desc.Len);
    const padded = (len + 3) & ~3;
    const total = PcapngEpb.FixedLen + padded + PcapngEpb.OptFlagsLen + PcapngEpb.OptEndLen;
    if (off + total > cap) break;
    const b = out + off;
    const ts = <u64>load<i64>(d, Desc.Timestamp);
    store<u32>(b + PcapngEpb.Type, PcapngEpb.BlockType);
    store<u32>(b + PcapngEpb.TotalLen, total);
    store<u32>(b + PcapngEpb.InterfaceId, iface);
    store<u32>(b + PcapngEpb.TsHigh, <u32>(ts >> 32));
    store<u32>(b + PcapngEpb.TsLow, <u32>ts);
    store<u32>(b + PcapngEpb.CapLen, len);
    store<u32>(b + PcapngEpb.OrigLen, <u32>load<u16>(d, Desc.OrigLen));
    copyBytes(b + PcapngEpb.Data, <usize>load<u32>(d, Desc.Addr), len);
    for (let z = len; z < padded; z++) store<u8>(b + PcapngEpb.Data + z, 0);
    const o = b + PcapngEpb.Data + padded;
    store<u16>(o, PcapngEpb.OptFlags);
    store<u16>(o + 2, 4);
    store<u32>(o + 4, PcapngEpb.DirectionOutbound);
    store<u32>(o + 8, 0); // opt_endofopt
    store<u32>(b + total - 4, total);
    off += total;
    frameReturnOne(d);
  }
  ringRelease(ring, k);
  frameReturnEnd();
  return off;
}
