// Exact-match flow cache in front of the tree: direct-mapped, keyed on the whole key, each entry
// tagged with the TableVersion it was filled under. Publishing new tables bumps the version, which
// invalidates every entry at once: a new session applies to established flows on the next packet.
//
// Contract: `cache` holds mask+1 FlowEntry slots (mask+1 a power of two). No allocation.

import { FlowEntry, Lane } from '../abi';

@inline const HASH_P1: u32 = 0x9e3779b1;
@inline const HASH_P2: u32 = 0x85ebca77;

/** A 32-bit hash of the whole key. */
@inline export function hashKey(key: usize): u32 {
  const p = i32x4.splat(<i32>HASH_P1);
  let h = v128.load(key);
  h = i32x4.add(i32x4.mul(h, p), v128.load(key, 16));
  h = i32x4.add(i32x4.mul(h, p), v128.load(key, 32));
  h = i32x4.add(i32x4.mul(h, p), v128.load(key, 48));
  h = i32x4.add(i32x4.mul(h, p), v128.load(key, 64));
  h = v128.xor(h, i32x4.shr_u(h, 15));
  h = i32x4.mul(h, i32x4.splat(<i32>HASH_P2));
  let x = <u32>(i32x4.extract_lane(h, 0) ^ i32x4.extract_lane(h, 1) ^ i32x4.extract_lane(h, 2) ^ i32x4.extract_lane(h, 3));
  x ^= x >> 13;
  x *= HASH_P1;
  x ^= x >> 16;
  return x;
}

@inline export function flowSlot(cache: usize, mask: u32, hash: u32): usize {
  return cache + <usize>(hash & mask) * FlowEntry.Size;
}

/** True when the slot holds this key under this version. */
@inline export function flowHit(slot: usize, key: usize, version: u32): bool {
  if (load<u32>(slot, FlowEntry.Version) != version) return false;
  const e0 = i32x4.eq(v128.load(slot), v128.load(key));
  const e1 = i32x4.eq(v128.load(slot, 16), v128.load(key, 16));
  const e2 = i32x4.eq(v128.load(slot, 32), v128.load(key, 32));
  const e3 = i32x4.eq(v128.load(slot, 48), v128.load(key, 48));
  const e4 = i32x4.eq(v128.load(slot, 64), v128.load(key, 64));
  return i32x4.all_true(v128.and(v128.and(v128.and(e0, e1), v128.and(e2, e3)), e4));
}

@inline export function flowFill(slot: usize, key: usize, version: u32, rule: u32, mask: u64): void {
  v128.store(slot, v128.load(key));
  v128.store(slot, v128.load(key, 16), 16);
  v128.store(slot, v128.load(key, 32), 32);
  v128.store(slot, v128.load(key, 48), 48);
  v128.store(slot, v128.load(key, 64), 64);
  store<u32>(slot, version, FlowEntry.Version);
  store<u32>(slot, rule, FlowEntry.Rule);
  store<u64>(slot, mask, FlowEntry.Mask);
}
