// Frame pool addressing and release. A frame is a fixed-size slot in the pool; its index names it
// and its pool (rx or replica) is carried by DescFlag.ReplicaPool, so whoever consumes a
// descriptor can give the frame back to the free ring it came from.

import { Control, Desc, DescFlag, Ring } from '../abi';
import { ringPushIndex, ringSubmit } from './ring';

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

// Batched release: frameReturnBegin, then frameReturnOne per consumed descriptor, then
// frameReturnEnd publishes the returned indices to both free rings with one store each. The free
// rings hold every frame, so they always have room.
let returnRx: usize = 0;
let returnReplica: usize = 0;
let returnRxProd: u32 = 0;
let returnReplicaProd: u32 = 0;
let returnRxMask: u32 = 0;
let returnReplicaMask: u32 = 0;
let returnedRx: u32 = 0;
let returnedReplica: u32 = 0;

@inline export function frameReturnBegin(ctl: usize): void {
  returnRx = <usize>load<u32>(ctl + Control.RxFree);
  returnReplica = <usize>load<u32>(ctl + Control.ReplicaFree);
  returnRxProd = load<u32>(returnRx + Ring.Prod);
  returnReplicaProd = load<u32>(returnReplica + Ring.Prod);
  returnRxMask = load<u32>(returnRx + Ring.Mask);
  returnReplicaMask = load<u32>(returnReplica + Ring.Mask);
  returnedRx = 0;
  returnedReplica = 0;
}

@inline export function frameReturnOne(desc: usize): void {
  const index = load<u32>(desc, Desc.Frame);
  if ((load<u16>(desc, Desc.Flags) & DescFlag.ReplicaPool) != 0) {
    store<u32>(returnReplica + Ring.Header + (<usize>((returnReplicaProd + returnedReplica) & returnReplicaMask) << 2), index);
    returnedReplica++;
  } else {
    store<u32>(returnRx + Ring.Header + (<usize>((returnRxProd + returnedRx) & returnRxMask) << 2), index);
    returnedRx++;
  }
}

@inline export function frameReturnEnd(): void {
  ringSubmit(returnRx, returnedRx);
  ringSubmit(returnReplica, returnedReplica);
}
