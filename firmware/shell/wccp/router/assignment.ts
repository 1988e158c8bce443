// A service group's current assignment, as the router accepted it from the designated cache's
// REDIRECT_ASSIGN: which hash buckets or which mask values each cache receives.
//
//   hash   Assignment Info (or Alternate Assignment type 0): a cache list (index = position)
//          and 256 bucket bytes naming an index (0x80 = alternate hashing, 0xFF = unassigned)
//   mask   Alternate Assignment type 1: one Mask/Value Set; each value names its cache by IP
//
// Contract: the input is a decoded (well-formed, authentic) REDIRECT_ASSIGN from the designated
// cache; nothing else about it is trusted. Buckets that name an index beyond the cache list are
// treated as unassigned; buckets flagged for alternate hashing are not redirected (twinflow's
// data plane hashes once) and are reported so they can be counted. At most one Mask/Value Set
// is accepted: the session layer describes a cache's share with one mask.

import { BUCKET_ALTERNATE_FLAG, BUCKET_COUNT, UNASSIGNED_BUCKET } from '../constants.ts';
import type { AssignmentInfo } from '../components.ts';
import type { AssignmentKey, MaskElement, MaskValueSet, RouterAssignmentElement, ValueElement } from '../elements.ts';
import type { RedirectAssign } from '../message.ts';

export type GroupAssignment =
  | { readonly kind: 'hash'; readonly key: AssignmentKey; readonly caches: readonly number[]; readonly buckets: Uint8Array }
  | { readonly kind: 'mask'; readonly key: AssignmentKey; readonly set: MaskValueSet | null };

/** What one cache receives of an assignment. */
export type CacheShare =
  | { readonly kind: 'hash'; readonly buckets: readonly number[] }
  | { readonly kind: 'mask'; readonly element: MaskElement; readonly values: readonly ValueElement[] };

/** The assignment a REDIRECT_ASSIGN carries, with its router list, or why it cannot be used. */
export type ParsedAssignment =
  | { readonly ok: true; readonly assignment: GroupAssignment; readonly routers: readonly RouterAssignmentElement[]; readonly alternateBuckets: number }
  | { readonly ok: false; readonly reason: 'unsupported_assignment'; readonly detail: string };

function hashAssignment(a: AssignmentInfo): ParsedAssignment {
  let alternateBuckets = 0;
  const buckets = new Uint8Array(BUCKET_COUNT);
  for (let b = 0; b < BUCKET_COUNT; b++) {
    const v = a.buckets[b]!;
    if (v !== UNASSIGNED_BUCKET && (v & BUCKET_ALTERNATE_FLAG) !== 0) {
      alternateBuckets++;
      buckets[b] = UNASSIGNED_BUCKET;
    } else {
      buckets[b] = v < a.webCaches.length ? v : UNASSIGNED_BUCKET;
    }
  }
  return { ok: true, assignment: { kind: 'hash', key: a.key, caches: [...a.webCaches], buckets }, routers: a.routers, alternateBuckets };
}

/** Read the assignment out of a REDIRECT_ASSIGN. */
export function parseAssignment(m: RedirectAssign): ParsedAssignment {
  if (m.assignmentInfo !== undefined) return hashAssignment(m.assignmentInfo);
  const alt = m.alternateAssignment!;
  if (alt.kind === 'hash') return hashAssignment(alt.assignment);
  if (alt.kind === 'mask') {
    if (alt.sets.length > 1) {
      return { ok: false, reason: 'unsupported_assignment', detail: `${alt.sets.length} mask/value sets (at most 1 is supported)` };
    }
    return { ok: true, assignment: { kind: 'mask', key: alt.key, set: alt.sets[0] ?? null }, routers: alt.routers, alternateBuckets: 0 };
  }
  return { ok: false, reason: 'unsupported_assignment', detail: `alternate assignment type ${alt.assignmentType}` };
}

/** What `cache` receives; null when the assignment gives it nothing. */
export function shareOf(a: GroupAssignment, cache: number): CacheShare | null {
  if (a.kind === 'hash') {
    const index = a.caches.indexOf(cache);
    if (index < 0) return null;
    const buckets: number[] = [];
    for (let b = 0; b < BUCKET_COUNT; b++) if (a.buckets[b] === index) buckets.push(b);
    return buckets.length > 0 ? { kind: 'hash', buckets } : null;
  }
  if (a.set === null) return null;
  const values = a.set.values.filter((v) => v.cacheAddress === cache);
  return values.length > 0 ? { kind: 'mask', element: a.set.mask, values } : null;
}

/**
 * The assignment without `cache` (it left the group): its buckets become unassigned and its
 * values are dropped, so its traffic is forwarded normally until the next assignment.
 */
export function purgeCache(a: GroupAssignment, cache: number): GroupAssignment {
  if (a.kind === 'hash') {
    const index = a.caches.indexOf(cache);
    if (index < 0) return a;
    const buckets = a.buckets.map((v) => (v === index ? UNASSIGNED_BUCKET : v));
    return { ...a, buckets };
  }
  if (a.set === null) return a;
  return { ...a, set: { mask: a.set.mask, values: a.set.values.filter((v) => v.cacheAddress !== cache) } };
}
