// Transport and tunnel headers: only the fields the classifier and the loop guard read.

export namespace Tcp {
  @inline export const SrcPort: u32 = 0;
  @inline export const DstPort: u32 = 2;
  @inline export const DataOffset: u32 = 12; // high nibble, in 32-bit words
  @inline export const MinLen: u32 = 20;
}

export namespace Udp {
  @inline export const SrcPort: u32 = 0;
  @inline export const DstPort: u32 = 2;
  @inline export const Len: u32 = 8;
}

export namespace Sctp {
  @inline export const CommonHeaderLen: u32 = 12;
}

export namespace Icmp {
  @inline export const MinLen: u32 = 4;
}

export namespace Gre {
  @inline export const FlagsVersion: u32 = 0;
  @inline export const Protocol: u32 = 2;
  @inline export const BaseLen: u32 = 4;
  @inline export const SequenceBit: u32 = 0x1000;
}

/** GRE payload types that are replication traffic: ours, or another WCCP/ERSPAN speaker's. */
export namespace GreProto {
  @inline export const Wccp: u32 = 0x883e;
  @inline export const ErspanII: u32 = 0x88be;
  @inline export const ErspanIII: u32 = 0x22eb;
}

/** WCCPv2 registration channel: UDP 2048 in both directions. */
@inline export const WCCP_UDP_PORT: u32 = 2048;
