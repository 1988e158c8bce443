// WCCP assignments as the data plane's key lanes (wasm/classify/assignment.ts computes the same
// per packet): which hash fields the WccpBucket lane uses, and how a mask/value element becomes
// one exact value of a WccpMask lane (the masked bits packed, most significant first, source
// address, destination address, source port, destination port).
//
// Contract: pure functions over validated WCCP elements; limits are checked here and reported
// as SessionError naming the field.

import { LaneValue } from '../../../wasm/abi.ts';
import { PRIMARY_HASH_FLAGS, ServiceFlag } from '../wccp/constants.ts';
import type { MaskElement, ValueElement } from '../wccp/elements.ts';
import { SessionError } from './compile.ts';

/** Bits a mask element may select in all: the lane holds 16 (the draft's caches use 6 or 7). */
export const MAX_MASK_BITS = 16;

const popcount = (v: number): number => {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
  return n;
};

/** The number of bits a mask element selects. */
export function maskBits(m: MaskElement): number {
  return popcount(m.srcAddr) + popcount(m.dstAddr) + popcount(m.srcPort & 0xffff) + popcount(m.dstPort & 0xffff);
}

function pack(acc: number, value: number, mask: number, width: number): number {
  for (let bit = width - 1; bit >= 0; bit--) {
    if (((mask >>> bit) & 1) === 0) continue;
    acc = acc * 2 + ((value >>> bit) & 1);
  }
  return acc;
}

/** The WccpMask lane value of packets that match `value` under `mask`. */
export function packMaskValue(mask: MaskElement, value: ValueElement): number {
  let v = 0;
  v = pack(v, value.srcAddr >>> 0, mask.srcAddr >>> 0, 32);
  v = pack(v, value.dstAddr >>> 0, mask.dstAddr >>> 0, 32);
  v = pack(v, value.srcPort, mask.srcPort, 16);
  v = pack(v, value.dstPort, mask.dstPort, 16);
  return v;
}

/** Checks a mask element fits a lane; the value elements must lie within it. */
export function checkMask(session: string, mask: MaskElement, values: readonly ValueElement[]): number[] {
  const bits = maskBits(mask);
  if (bits === 0) throw new SessionError(session, 'mask', 'the mask element selects no bits');
  if (bits > MAX_MASK_BITS) throw new SessionError(session, 'mask', `the mask element selects ${bits} bits; at most ${MAX_MASK_BITS} are supported`);
  return values.map((v, i) => {
    const inside = (v.srcAddr & ~mask.srcAddr) === 0 && (v.dstAddr & ~mask.dstAddr) === 0 && (v.srcPort & ~mask.srcPort) === 0 && (v.dstPort & ~mask.dstPort) === 0;
    if (!inside) throw new SessionError(session, `mask.values.${i}`, 'the value has bits outside the mask, so no packet can match it');
    const lane = packMaskValue(mask, v);
    if (lane > LaneValue.MaskValueMax) throw new SessionError(session, `mask.values.${i}`, 'does not fit a mask lane');
    return lane;
  });
}

/**
 * The hash flags the bucket lane must use for a service: 0 for the standard web-cache hash (the
 * destination address alone, which the parser computes anyway), otherwise the primary hash flags.
 */
export function bucketHashFlags(serviceFlags: number | undefined): number {
  const f = (serviceFlags ?? ServiceFlag.DstIpHash) & PRIMARY_HASH_FLAGS;
  return f === 0 || f === ServiceFlag.DstIpHash ? 0 : f;
}
