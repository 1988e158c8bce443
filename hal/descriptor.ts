// Reading and writing descriptors (layout: wasm/abi.ts `Desc`) from the driver side.

import { Desc, DescFlag } from '../wasm/abi.ts';

export interface DescriptorFields {
  readonly addr: number;
  readonly frame: number;
  readonly len: number;
  readonly origLen: number;
  readonly inPort: number;
  readonly outPort: number;
  readonly flags: number;
  readonly timestamp: bigint;
  readonly session: number;
  readonly aux: number;
}

/** Fills a received frame's descriptor (not a replica; no egress decided yet). */
export function writeRxDescriptor(dv: DataView, slot: number, frame: number, data: number, len: number, origLen: number, port: number, timestamp: bigint): void {
  dv.setUint32(slot + Desc.Addr, data, true);
  dv.setUint32(slot + Desc.Frame, frame, true);
  dv.setUint16(slot + Desc.Len, len, true);
  dv.setUint16(slot + Desc.OrigLen, Math.min(Math.max(origLen, len), 0xffff), true);
  dv.setUint8(slot + Desc.InPort, port);
  dv.setUint8(slot + Desc.OutPort, 255);
  dv.setUint16(slot + Desc.Flags, 0, true);
  dv.setBigInt64(slot + Desc.Timestamp, timestamp, true);
  dv.setUint32(slot + Desc.Session, 0xffffffff, true);
  dv.setUint32(slot + Desc.Aux, 0, true);
}

export function readDescriptor(dv: DataView, slot: number): DescriptorFields {
  return {
    addr: dv.getUint32(slot + Desc.Addr, true),
    frame: dv.getUint32(slot + Desc.Frame, true),
    len: dv.getUint16(slot + Desc.Len, true),
    origLen: dv.getUint16(slot + Desc.OrigLen, true),
    inPort: dv.getUint8(slot + Desc.InPort),
    outPort: dv.getUint8(slot + Desc.OutPort),
    flags: dv.getUint16(slot + Desc.Flags, true),
    timestamp: dv.getBigInt64(slot + Desc.Timestamp, true),
    session: dv.getUint32(slot + Desc.Session, true),
    aux: dv.getUint32(slot + Desc.Aux, true),
  };
}

/** The frame bytes a descriptor points at (a view: valid until the frame is released). */
export function descriptorBytes(mem: Uint8Array, dv: DataView, slot: number): Uint8Array {
  const addr = dv.getUint32(slot + Desc.Addr, true);
  return mem.subarray(addr, addr + dv.getUint16(slot + Desc.Len, true));
}

export function isReplica(dv: DataView, slot: number): boolean {
  return (dv.getUint16(slot + Desc.Flags, true) & DescFlag.Replica) !== 0;
}
