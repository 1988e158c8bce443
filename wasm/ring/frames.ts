// Frame pool addressing and release. A frame is a fixed-size slot in the pool; its index names it
// and its pool (rx or replica) is carried by DescFlag.ReplicaPool, so whoever consumes a
// descriptor can give the frame back to the free ring it came from.

import { Control, Desc, DescFlag } from '../abi';
import { ringPushIndex } from './ring';

/** Address of the first byte of frame `index`'s slot (the headroom starts here). */
@inline export function frameSlot(ctl: usize, index: u32): usize {
  return <usize>load<u32>(ctl + Control.FramePool) + <usize>index * <usize>load<u32>(ctl + Control.FrameStride);
}

/** Address where received data starts in frame `index` (after the headroom). */
@inline export function frameData(ctl: usize, index: u32): usize {
  return frameSlot(ctl, index) + <usize>load<u32>(ctl + Control.FrameHeadroom);
}

/** Bytes of data a frame can hold after its headroom. */
@inline export function frameRoom(ctl: usize): u32 {
  return load<u32>(ctl + Control.FrameStride) - load<u32>(ctl + Control.FrameHeadroom);
}

/** Returns the frame of a consumed descriptor to its free ring. */
@inline export function frameRelease(ctl: usize, desc: usize): void {
  const replica = (load<u16>(desc, Desc.Flags) & DescFlag.ReplicaPool) != 0;
  ringPushIndex(<usize>load<u32>(ctl + (replica ? Control.ReplicaFree : Control.RxFree)), load<u32>(desc, Desc.Frame));
}
