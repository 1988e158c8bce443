// WCCP assignment lanes: the hash bucket and mask values a redirect session's rules select on,
// computed per packet from the bank's service definitions (wasm/abi.ts Bank.HashFlags, Bank.Masks).
//
// The parser always writes the standard web-cache bucket (the destination address hashed,
// draft-wilson §4.2) and MaskNone in both mask lanes. When the running tables name other hash
// fields or mask elements, this stage overwrites those lanes for every IPv4 key of the batch:
//   bucket: "If only the Destination IP Hash flag is set then the packet destination IP address
//           is used as the key. Otherwise ... the key is constructed by XORing the appropriate
//           fields from the packet with the key (which has an initial value of zero)", then
//           h ^= h >> 16; h ^= h >> 8; bucket = h & 0xFF;
//   mask:   each field ANDed with its mask, the selected bits packed from the most significant bit
//           of the source address down to the least significant bit of the destination port, so a
//           value element becomes one exact lane value (firmware/shell/sessions/wccp-lanes.ts).
// A packet without ports (not TCP/UDP, a non-first fragment) hashes and masks with port 0.
//
// Contract: reads only the keys and the bank; no allocation; cost is zero when the bank names
// neither (the common case), one pass over the batch otherwise.

import { Bank, Lane, LaneValue, MaskElement } from '../abi';
import { wccpBucketOf } from '../wire/parse';

// ServiceFlag bits (draft-wilson §5.5), primary hash.
@inline const SRC_IP_HASH: u32 = 0x1;
@inline const DST_IP_HASH: u32 = 0x2;
@inline const SRC_PORT_HASH: u32 = 0x4;
@inline const DST_PORT_HASH: u32 = 0x8;

@inline function lane(key: usize, which: u32): u32 {
  return load<u32>(key + (<usize>which << 2));
}

@inline function portOrZero(v: u32): u32 {
  return v == LaneValue.PortNone ? 0 : v;
}

/** Packs the bits of `value` selected by `mask` onto `acc`, most significant first. */
@inline function packBits(acc: u32, value: u32, mask: u32): u32 {
  let m = mask;
  while (m != 0) {
    const bit = 31 - clz(m);
    acc = (acc << 1) | ((value >> bit) & 1);
    m &= ~(<u32>1 << bit);
  }
  return acc;
}

export function assignmentLanes(bank: usize, keys: usize, n: u32): void {
  const flags = load<u32>(bank, Bank.HashFlags);
  const masks = load<u32>(bank, Bank.MaskCount);
  if (flags == 0 && masks == 0) return;
  for (let k: u32 = 0; k < n; k++) {
    const key = keys + <usize>k * Lane.Bytes;
    if (lane(key, Lane.Family) != LaneValue.FamilyIpv4) continue;
    const src = lane(key, Lane.Src0);
    const dst = lane(key, Lane.Dst0);
    const sport = portOrZero(lane(key, Lane.SrcPort));
    const dport = portOrZero(lane(key, Lane.DstPort));
    if (flags != 0 && flags != DST_IP_HASH) {
      let h: u32 = 0;
      if ((flags & SRC_IP_HASH) != 0) h ^= src;
      if ((flags & DST_IP_HASH) != 0) h ^= dst;
      if ((flags & SRC_PORT_HASH) != 0) h ^= sport;
      if ((flags & DST_PORT_HASH) != 0) h ^= dport;
      store<u32>(key + Lane.WccpBucket * 4, wccpBucketOf(h));
    }
    for (let m: u32 = 0; m < masks; m++) {
      const e = bank + Bank.Masks + <usize>m * MaskElement.Size;
      let v: u32 = 0;
      v = packBits(v, src, load<u32>(e, MaskElement.SrcAddr));
      v = packBits(v, dst, load<u32>(e, MaskElement.DstAddr));
      v = packBits(v, sport, load<u32>(e, MaskElement.SrcPort));
      v = packBits(v, dport, load<u32>(e, MaskElement.DstPort));
      store<u32>(key + (Lane.WccpMask0 + m) * 4, v);
    }
  }
}
