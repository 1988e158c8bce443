// Traffic assignment (draft 4.11 and 5.6.2): the redirection hash, the 256-bucket table and its
// bitmaps, mask/value matching, and building a table from cache weights.
//
// Contract: pure functions over numbers the caller owns (addresses and ports as u32/u16 in
// host order); nothing here reads the wire. Tables are exactly BUCKET_COUNT bytes and bitmaps
// exactly BUCKET_BITMAP_SIZE bytes — other sizes throw RangeError, as do weights and bucket
// numbers out of range. Work is O(256) per table and O(sets × values) per mask match, both
// bounded by what the decoder accepted.

import {
  ALTERNATE_HASH_FLAGS,
  BUCKET_ALTERNATE_FLAG,
  BUCKET_BITMAP_SIZE,
  BUCKET_COUNT,
  BUCKET_INDEX_MASK,
  MAX_CACHES_PER_TABLE,
  PRIMARY_HASH_FLAGS,
  ServiceFlag,
  UNASSIGNED_BUCKET,
} from './constants.ts';
import type { MaskValueSet, ValueElement } from './elements.ts';

/** The packet fields assignment looks at. */
export interface FlowFields {
  readonly srcAddr: number;
  readonly dstAddr: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

/**
 * Hash flags of the well-known web-cache service (standard ID 0), whose Service Info carries
 * no flags: "Well Known Services are known by both routers and web-caches and do not require a
 * description other than a Service ID." It hashes on the destination address.
 */
export const WEB_CACHE_HASH_FLAGS = ServiceFlag.DstIpHash;

const BITS_PER_BYTE = 8;
const U16_MAX = 0xffff;

/**
 * The hash key of a packet. Primary (alternate = false): "If only the Destination IP Hash flag
 * is set then the packet destination IP address is used as the key. Otherwise if any of the
 * primary hash flags are set then the key is constructed by XORing the appropriate fields from
 * the packet with the key (which has an initial value of zero)." Alternate: the same XOR over
 * the alternate-hash flags.
 */
export function hashKey(flags: number, flow: FlowFields, alternate = false): number {
  const f = alternate ? flags & ALTERNATE_HASH_FLAGS : flags & PRIMARY_HASH_FLAGS;
  if (!alternate && f === ServiceFlag.DstIpHash) return flow.dstAddr >>> 0;
  const [srcIp, dstIp, srcPort, dstPort] = alternate
    ? [ServiceFlag.SrcIpAltHash, ServiceFlag.DstIpAltHash, ServiceFlag.SrcPortAltHash, ServiceFlag.DstPortAltHash]
    : [ServiceFlag.SrcIpHash, ServiceFlag.DstIpHash, ServiceFlag.SrcPortHash, ServiceFlag.DstPortHash];
  let key = 0;
  if (f & srcIp) key ^= flow.srcAddr;
  if (f & dstIp) key ^= flow.dstAddr;
  if (f & srcPort) key ^= flow.srcPort;
  if (f & dstPort) key ^= flow.dstPort;
  return key >>> 0;
}

/** The draft's hash: `hash ^= hash >> 16; hash ^= hash >> 8; return (hash & 0xFF);`. */
export function hashBucket(key: number): number {
  let h = key >>> 0;
  h ^= h >>> 16;
  h ^= h >>> 8;
  return h & 0xff;
}

/** Where hash assignment sends a packet; the buckets are what the GRE redirect header carries. */
export interface HashLookup {
  /** Index into the assignment's cache list. */
  readonly cacheIndex: number;
  readonly primaryBucket: number;
  /** The secondary bucket, when the primary one is flagged for alternate hashing. */
  readonly alternateBucket: number | null;
}

function checkTable(table: Uint8Array): void {
  if (table.length !== BUCKET_COUNT) throw new RangeError(`a bucket table has ${BUCKET_COUNT} entries, got ${table.length}`);
}

/**
 * Look a packet up in a 256-entry table (Assignment Info buckets). "If the Redirection Hash
 * Table entry contains an unflagged web-cache index then the packet is redirected to that
 * web-cache. If the bucket is unassigned the packet is forwarded normally. If the bucket is
 * flagged as requiring a secondary hash then a secondary key is formed ... If the entry is
 * unassigned the packet is forwarded normally." Returns null for "forwarded normally".
 */
export function lookupHash(table: Uint8Array, flags: number, flow: FlowFields): HashLookup | null {
  checkTable(table);
  const primaryBucket = hashBucket(hashKey(flags, flow));
  const primary = table[primaryBucket]!;
  if (primary === UNASSIGNED_BUCKET) return null;
  if ((primary & BUCKET_ALTERNATE_FLAG) === 0) {
    return { cacheIndex: primary & BUCKET_INDEX_MASK, primaryBucket, alternateBucket: null };
  }
  const alternateBucket = hashBucket(hashKey(flags, flow, true));
  const secondary = table[alternateBucket]!;
  if (secondary === UNASSIGNED_BUCKET) return null;
  return { cacheIndex: secondary & BUCKET_INDEX_MASK, primaryBucket, alternateBucket };
}

// ── Bucket bitmaps (Hash Assignment Data) ───────────────────────────────────────────────────

function checkBucket(b: number): void {
  if (!Number.isInteger(b) || b < 0 || b >= BUCKET_COUNT) throw new RangeError(`bucket ${b} is not in 0..${BUCKET_COUNT - 1}`);
}

function checkBitmap(bitmap: Uint8Array): void {
  if (bitmap.length !== BUCKET_BITMAP_SIZE) {
    throw new RangeError(`a bucket bitmap has ${BUCKET_BITMAP_SIZE} bytes, got ${bitmap.length}`);
  }
}

/** A 256-bit bucket vector: bucket 8·i+j is bit j (LSB first) of byte i, as Wireshark reads it. */
export function bucketBitmap(buckets: Iterable<number>): Uint8Array {
  const out = new Uint8Array(BUCKET_BITMAP_SIZE);
  for (const b of buckets) {
    checkBucket(b);
    out[b >> 3]! |= 1 << (b % BITS_PER_BYTE);
  }
  return out;
}

/** Whether a bitmap has `bucket` set. */
export function hasBucket(bitmap: Uint8Array, bucket: number): boolean {
  checkBitmap(bitmap);
  checkBucket(bucket);
  return (bitmap[bucket >> 3]! & (1 << (bucket % BITS_PER_BYTE))) !== 0;
}

/** The buckets a bitmap has set, ascending. */
export function bucketsOf(bitmap: Uint8Array): number[] {
  checkBitmap(bitmap);
  const out: number[] = [];
  for (let b = 0; b < BUCKET_COUNT; b++) {
    if ((bitmap[b >> 3]! & (1 << (b % BITS_PER_BYTE))) !== 0) out.push(b);
  }
  return out;
}

/** The bitmap of the buckets a table gives to cache `cacheIndex` (alternate flag ignored). */
export function bitmapForCache(table: Uint8Array, cacheIndex: number): Uint8Array {
  checkTable(table);
  const buckets: number[] = [];
  table.forEach((v, b) => {
    if (v !== UNASSIGNED_BUCKET && (v & BUCKET_INDEX_MASK) === cacheIndex) buckets.push(b);
  });
  return bucketBitmap(buckets);
}

// ── Mask/value matching ─────────────────────────────────────────────────────────────────────

/**
 * The value element a packet matches, or null. "perform a bitwise AND operation between the
 * mask from the first mask/value set ... and the contents of the packet ... The selected fields
 * from the packet are then compared against each entry in the list of values ... If no match is
 * found the process is repeated for each mask/value set". Sets and values are tried in order;
 * the first match wins.
 */
export function matchMask(sets: readonly MaskValueSet[], flow: FlowFields): ValueElement | null {
  for (const { mask, values } of sets) {
    const srcAddr = (flow.srcAddr & mask.srcAddr) >>> 0;
    const dstAddr = (flow.dstAddr & mask.dstAddr) >>> 0;
    const srcPort = flow.srcPort & mask.srcPort;
    const dstPort = flow.dstPort & mask.dstPort;
    for (const v of values) {
      if (v.srcAddr === srcAddr && v.dstAddr === dstAddr && v.srcPort === srcPort && v.dstPort === dstPort) return v;
    }
  }
  return null;
}

// ── Building a table ────────────────────────────────────────────────────────────────────────

/**
 * A 256-bucket table for caches with the given weights (cache i = index i in the assignment's
 * cache list). Buckets are dealt by smooth weighted round robin, so each cache's share is
 * proportional to its weight (within one bucket) and its buckets are spread over the table;
 * equal weights, and all-zero weights, give plain round robin (bucket b → cache b mod n), as
 * Squid does. A cache of weight 0 among non-zero ones gets no buckets. No caches: every
 * bucket unassigned (0xFF). At most 32 caches ("a web-cache index value in the range 0-31").
 */
export function buildHashTable(weights: readonly number[]): Uint8Array {
  if (weights.length > MAX_CACHES_PER_TABLE) {
    throw new RangeError(`at most ${MAX_CACHES_PER_TABLE} caches fit a bucket table, got ${weights.length}`);
  }
  for (const w of weights) {
    if (!Number.isInteger(w) || w < 0 || w > U16_MAX) throw new RangeError(`weight ${w} is not in 0..${U16_MAX}`);
  }
  const table = new Uint8Array(BUCKET_COUNT).fill(UNASSIGNED_BUCKET);
  if (weights.length === 0) return table;
  const effective = weights.every((w) => w === 0) ? weights.map(() => 1) : weights;
  const total = effective.reduce((a, b) => a + b, 0);
  const current = effective.map(() => 0);
  for (let b = 0; b < BUCKET_COUNT; b++) {
    let pick = 0;
    for (let i = 0; i < effective.length; i++) {
      current[i]! += effective[i]!;
      if (current[i]! > current[pick]!) pick = i;
    }
    current[pick]! -= total;
    table[b] = pick;
  }
  return table;
}
