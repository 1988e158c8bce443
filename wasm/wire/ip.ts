// IPv4 and IPv6 header fields and the IPv6 extension headers the parser walks.

export namespace Ipv4 {
  @inline export const VersionIhl: u32 = 0;
  @inline export const TotalLen: u32 = 2;
  @inline export const Id: u32 = 4;
  @inline export const FlagsFrag: u32 = 6;
  @inline export const Ttl: u32 = 8;
  @inline export const Proto: u32 = 9;
  @inline export const Checksum: u32 = 10;
  @inline export const Src: u32 = 12;
  @inline export const Dst: u32 = 16;
  @inline export const MinLen: u32 = 20;
  @inline export const FragOffsetMask: u32 = 0x1fff;
}

export namespace Ipv6 {
  @inline export const PayloadLen: u32 = 4;
  @inline export const NextHeader: u32 = 6;
  @inline export const HopLimit: u32 = 7;
  @inline export const Src: u32 = 8;
  @inline export const Dst: u32 = 24;
  @inline export const HeaderLen: u32 = 40;
  @inline export const MaxExtHeaders: u32 = 12; // more than this is treated as malformed
}

/** IPv6 extension header and IP protocol numbers the parser needs. */
export namespace IpProto {
  @inline export const HopByHop: u32 = 0;
  @inline export const Icmp: u32 = 1;
  @inline export const Tcp: u32 = 6;
  @inline export const Udp: u32 = 17;
  @inline export const Routing: u32 = 43;
  @inline export const Fragment: u32 = 44;
  @inline export const Gre: u32 = 47;
  @inline export const Esp: u32 = 50;
  @inline export const Ah: u32 = 51;
  @inline export const Icmpv6: u32 = 58;
  @inline export const NoNext: u32 = 59;
  @inline export const DestOpts: u32 = 60;
  @inline export const Sctp: u32 = 132;
  @inline export const Mobility: u32 = 135;
  @inline export const Hip: u32 = 139;
  @inline export const Shim6: u32 = 140;
}

export namespace Ipv6Frag {
  @inline export const OffsetFlags: u32 = 2; // offset in the high 13 bits
  @inline export const Len: u32 = 8;
}
