// Descriptor and frame-index rings in linear memory (layout: wasm/abi.ts `Ring`).
//
// Contract: single producer, single consumer, both in this thread (a line card is one thread).
// Indices are free-running u32 and only ever move forward; `index & mask` picks the slot; the
// subtraction prod − cons is exact modulo 2^32, so wrap-around needs no special case.
//
// Verbs come in pairs, as in DPDK rte_ring and AF_XDP:
//   producer  reserve(n) → count  … write slots …  submit(count)
//   consumer  peek(n)    → count  … read slots …   release(count)
// All verbs here are *burst* verbs: they return how many they can do (possibly 0), never fail.
// The caller must submit/release exactly what it reserved/peeked before the next reserve/peek.

import { Ring } from '../abi';

@inline export function ringMask(ring: usize): u32 {
  return load<u32>(ring + Ring.Mask);
}

/** Slots the producer may fill now. */
@inline export function ringFree(ring: usize): u32 {
  const prod = load<u32>(ring + Ring.Prod);
  const cons = load<u32>(ring + Ring.Cons);
  return ringMask(ring) + 1 - (prod - cons);
}

/** Entries the consumer may read now. */
@inline export function ringUsed(ring: usize): u32 {
  return load<u32>(ring + Ring.Prod) - load<u32>(ring + Ring.Cons);
}

/** Burst reserve: up to n slots; returns the count. Slot k of the reservation is ringProdSlot(ring, k). */
@inline export function ringReserve(ring: usize, n: u32): u32 {
  const free = ringFree(ring);
  return n < free ? n : free;
}

/** Address of the k-th reserved (not yet submitted) slot. */
@inline export function ringProdSlot(ring: usize, k: u32): usize {
  const idx = (load<u32>(ring + Ring.Prod) + k) & ringMask(ring);
  return ring + Ring.Header + <usize>idx * <usize>load<u32>(ring + Ring.SlotBytes);
}

@inline export function ringSubmit(ring: usize, n: u32): void {
  store<u32>(ring + Ring.Prod, load<u32>(ring + Ring.Prod) + n);
}

/** Burst peek: up to n entries; returns the count. Entry k is ringConsSlot(ring, k). */
@inline export function ringPeek(ring: usize, n: u32): u32 {
  const used = ringUsed(ring);
  return n < used ? n : used;
}

@inline export function ringConsSlot(ring: usize, k: u32): usize {
  const idx = (load<u32>(ring + Ring.Cons) + k) & ringMask(ring);
  return ring + Ring.Header + <usize>idx * <usize>load<u32>(ring + Ring.SlotBytes);
}

@inline export function ringRelease(ring: usize, n: u32): void {
  store<u32>(ring + Ring.Cons, load<u32>(ring + Ring.Cons) + n);
}

/** Frame-index rings: take one index; −1 when the ring is empty. */
@inline export function ringPopIndex(ring: usize): i64 {
  if (ringUsed(ring) == 0) return -1;
  const v = load<u32>(ringConsSlot(ring, 0));
  ringRelease(ring, 1);
  return <i64>v;
}

/** Frame-index rings: give one index back. The ring is sized to hold every frame, so it cannot be full. */
@inline export function ringPushIndex(ring: usize, index: u32): void {
  store<u32>(ringProdSlot(ring, 0), index);
  ringSubmit(ring, 1);
}
