// Link-layer header types (LINKTYPE_* values from tcpdump.org/linktypes.html), shared by pcap
// and pcapng. The codecs do not interpret packet bytes: any 16-bit value is carried through as a
// number; the names below only serve readability and messages.
//
// Note: LINKTYPE_RAW is 101 in files even though DLT_RAW is 12 or 14 depending on the platform;
// files always carry the LINKTYPE value.

/** Link types twinflow produces or meets; others pass through as plain numbers. */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  IEEE802_11: 105,
  LINUX_SLL: 113,
  USER0: 147,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** Largest link type value: both formats store it in 16 bits (pcap's upper bits carry FCS info). */
export const LINKTYPE_MAX = 0xffff;

const NAMES = new Map<number, string>(Object.entries(LINKTYPE).map(([name, value]) => [value, name]));

/** `ETHERNET`, `RAW`, ... for known types, `LINKTYPE_<n>` for the rest. */
export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? `LINKTYPE_${linkType}`;
}

/** True when `linkType` can be stored in a capture file. */
export function isValidLinkType(linkType: number): boolean {
  return Number.isInteger(linkType) && linkType >= 0 && linkType <= LINKTYPE_MAX;
}
