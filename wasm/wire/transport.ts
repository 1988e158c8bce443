// Transport and tunnel headers: the fields the classifier, the loop guard and the race stage use.

export namespace Tcp {
  @inline export const SrcPort: u32 = 0;
  @inline export const DstPort: u32 = 2;
  @inline export const Seq: u32 = 4;
  @inline export const Ack: u32 = 8;
  @inline export const DataOffset: u32 = 12; // high nibble, in 32-bit words
  @inline export const Flags: u32 = 13;
  @inline export const Window: u32 = 14;
  @inline export const Checksum: u32 = 16;
  @inline export const Urgent: u32 = 18;
  @inline export const MinLen: u32 = 20;
}

/** TCP control bits (RFC 9293 §3.1), in the Flags byte. */
export namespace TcpFlag {
  @inline export const Fin: u32 = 0x01;
  @inline export const Syn: u32 = 0x02;
  @inline export const Rst: u32 = 0x04;
  @inline export const Ack: u32 = 0x10;
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
