// What a designated cache assigns (draft 4.x, "Designated web-cache"; reference/wccp2.md 3.4):
// every bucket, or every mask value, spread over the caches all routers see.
//
//   hash  256 buckets dealt by weight: buildHashTable in assignment.ts (equal or all-zero
//         weights give bucket b → cache b mod n, as Squid does)
//   mask  one Mask/Value Set: the mask 0x1741 on the field the service hashes on, and its 64
//         values dealt to the caches round robin, as Squid does
//
// Contract: pure; inputs come from our own state (the caches' addresses and weights, already
// bounded to 32 caches by the router). Addresses are u32.

import { ServiceFlag } from './constants.ts';
import type { ServiceInfo } from './components.ts';
import type { MaskElement, MaskValueSet, ValueElement } from './elements.ts';

/**
 * Squid's mask: six bits spread over the low 13 (0b1_0111_0100_0001), so 64 values that
 * differ in well-mixed address or port bits. Kept identical so a twinflow device and Squid
 * caches produce the same shares.
 */
export const DESIGNATED_MASK = 0x1741;

/** The field a mask assignment divides, chosen from the service's hash flags as Squid does. */
export function maskElementFor(service: ServiceInfo): MaskElement {
  const f = service.flags;
  const none = { srcAddr: 0, dstAddr: 0, srcPort: 0, dstPort: 0 };
  if (f & (ServiceFlag.SrcIpHash | ServiceFlag.SrcIpAltHash)) return { ...none, srcAddr: DESIGNATED_MASK };
  if (service.serviceType === 'standard' || f & (ServiceFlag.DstIpHash | ServiceFlag.DstIpAltHash)) return { ...none, dstAddr: DESIGNATED_MASK };
  if (f & (ServiceFlag.SrcPortHash | ServiceFlag.SrcPortAltHash)) return { ...none, srcPort: DESIGNATED_MASK };
  return { ...none, dstPort: DESIGNATED_MASK };
}

/** Every value the mask allows, dealt to `caches` round robin. */
export function maskShares(mask: MaskElement, caches: readonly number[]): MaskValueSet {
  const field = (['srcAddr', 'dstAddr', 'srcPort', 'dstPort'] as const).find((k) => mask[k] !== 0) ?? 'dstAddr';
  const bits = mask[field];
  const values: ValueElement[] = [];
  if (caches.length > 0) {
    let i = 0;
    for (let v = 0; v <= bits; v++) {
      if ((v & bits) !== v) continue;
      values.push({ srcAddr: 0, dstAddr: 0, srcPort: 0, dstPort: 0, [field]: v, cacheAddress: caches[i++ % caches.length]! });
    }
  }
  return { mask, values };
}
