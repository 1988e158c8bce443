// Ethernet II and 802.1Q / 802.1ad tags.

export namespace Eth {
  @inline export const Dst: u32 = 0;
  @inline export const Src: u32 = 6;
  @inline export const Type: u32 = 12;
  @inline export const HeaderLen: u32 = 14;
}

export namespace VlanTag {
  @inline export const Tci: u32 = 0; // relative to the tag's TCI, i.e. just after its TPID
  @inline export const NextType: u32 = 2;
  @inline export const Len: u32 = 4;
  @inline export const VidMask: u32 = 0x0fff;
}

export namespace EtherType {
  @inline export const Ipv4: u32 = 0x0800;
  @inline export const Ipv6: u32 = 0x86dd;
  @inline export const Vlan: u32 = 0x8100; // 802.1Q
  @inline export const QinQ: u32 = 0x88a8; // 802.1ad service tag
  @inline export const QinQLegacy: u32 = 0x9100;
}

@inline export function isVlanTpid(t: u32): bool {
  return t == EtherType.Vlan || t == EtherType.QinQ || t == EtherType.QinQLegacy;
}
