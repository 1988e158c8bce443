// The frames the race stage sends: copies of an opener to the other members, the RST that frees
// a loser's half-open connection, and the L2 rewrite of the original for its member.
//
// L2 rewrite (WCCP's L2 forwarding method): a frame for member m keeps every byte but its MACs —
// destination m's MAC, source the router's MAC on m's port. The servers hold the service address
// themselves (DSR style), so the IP packet needs no change and no encapsulation.
//
// Contract
// - Copies and resets are best effort, like replicas: they use replica frames and the member
//   port's replica queue, carry DescFlag.Replica (never classified again by this router), and each
//   one that cannot be sent is counted under one named reason. The original is never touched here
//   except by raceSteer, which act() calls last, after every reader of the frame.
// - The loser's reset follows RFC 9293 §3.5.2 (RFC 793 §3.4), "Reset Generation": "If the
//   incoming segment has an ACK field, the reset takes its sequence number from the ACK field of
//   the segment". The SYN-ACK's ACK field is the client's ISN + 1, the loser's RCV.NXT, so the
//   reset is acceptable in its SYN-RECEIVED state. It looks as if the client sent it: from the
//   client's address and port to the service's, via the router's MAC on the loser's port, with the
//   SYN-ACK's VLAN tags.

import { Control, Desc, DescFlag, Lane, LaneValue, PortConfig, RaceMember } from '../abi';
import { SessionCounter } from '../counters';
import { be16, be32, copyBytes, storeBe16, storeBe32 } from '../wire/bytes';
import { foldComplement, sumBytes } from '../wire/checksum';
import { IpProto, Ipv4, Ipv6 } from '../wire/ip';
import { Tcp, TcpFlag } from '../wire/transport';
import { ringFree, ringPopIndex, ringProdSlot, ringSubmit } from '../ring/ring';
import { frameData, frameRoom } from '../ring/frames';
import { sessionCounters } from '../replicate/replicate';
import { raceGroup, raceMemberAt } from './race';

/** TTL / hop limit of a reset: the router's own packets start at 64 (RFC 1700's default). */
@inline const RESET_TTL: u32 = 64;
/** IPv4 flags of a reset: don't fragment (40 bytes never need it). */
@inline const IPV4_DF: u32 = 0x4000;
@inline const TCP_HEADER_WORDS: u32 = 5;

@inline function bump(counters: usize, which: u32): void {
  const p = counters + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + 1);
}

/** Destination: member m; source: the router on m's port. */
@inline function writeMacs(frame: usize, m: usize): void {
  store<u32>(frame, load<u32>(m, RaceMember.Mac));
  store<u16>(frame, load<u16>(m, RaceMember.Mac + 4), 4);
  store<u32>(frame, load<u32>(m, RaceMember.RouterMac), 6);
  store<u16>(frame, load<u16>(m, RaceMember.RouterMac + 4), 10);
}

@inline function portConfig(ctl: usize, port: u32): usize {
  return <usize>load<u32>(ctl + Control.PortTable) + <usize>port * PortConfig.Size;
}

/**
 * Queues a copy of the frame in `desc` to every member in `copies` (bit k: member k), each with
 * that member's MACs and otherwise the original's bytes. `ipLen`: the IP packet's length, checked
 * against the member port's MTU. `session`: the race session's bank index.
 */
export function raceCopy(ctl: usize, bank: usize, cfg: usize, session: u32, desc: usize, ipLen: u32, copies: u32): void {
  const counters = sessionCounters(ctl, cfg);
  const group = raceGroup(bank, cfg);
  const frame = <usize>load<u32>(desc, Desc.Addr);
  const len = <u32>load<u16>(desc, Desc.Len);
  const origLen = <u32>load<u16>(desc, Desc.OrigLen);
  let pending = copies;
  while (pending != 0) {
    const k = <u32>ctz(pending);
    pending &= pending - 1;
    const m = raceMemberAt(group, k);
    const port = load<u32>(m, RaceMember.Port);
    const pc = portConfig(ctl, port);
    if (ipLen > load<u32>(pc, PortConfig.Mtu) || len > frameRoom(ctl)) {
      bump(counters, SessionCounter.RaceCopyMtu);
      continue;
    }
    const ring = <usize>load<u32>(pc, PortConfig.TxReplicaRing);
    if (ringFree(ring) == 0) {
      bump(counters, SessionCounter.RaceCopyRingFull);
      continue;
    }
    const index = ringPopIndex(<usize>load<u32>(ctl + Control.ReplicaFree));
    if (index < 0) {
      bump(counters, SessionCounter.RaceCopyNoFrame);
      continue;
    }
    const data = frameData(ctl, <u32>index);
    copyBytes(data, frame, len);
    writeMacs(data, m);
    const out = ringProdSlot(ring, 0);
    store<u32>(out, <u32>data, Desc.Addr);
    store<u32>(out, <u32>index, Desc.Frame);
    store<u16>(out, <u16>len, Desc.Len);
    store<u16>(out, <u16>origLen, Desc.OrigLen);
    store<u8>(out, load<u8>(desc, Desc.InPort), Desc.InPort);
    store<u8>(out, <u8>port, Desc.OutPort);
    store<u16>(out, <u16>(DescFlag.Replica | DescFlag.ReplicaPool | (len < origLen ? DescFlag.Truncated : 0)), Desc.Flags);
    store<i64>(out, load<i64>(desc, Desc.Timestamp), Desc.Timestamp);
    store<u32>(out, session, Desc.Session);
    store<u32>(out, origLen - len, Desc.Aux);
    ringSubmit(ring, 1);
    bump(counters, SessionCounter.RaceCopies);
  }
}

/**
 * Queues to member `k` the RST that ends its half-open connection, built from its SYN-ACK in
 * `desc` (`l3`, `l4`: that frame's IP and TCP header offsets; `key` its classification key).
 */
export function raceReset(ctl: usize, bank: usize, cfg: usize, session: u32, k: u32, desc: usize, l3: u32, l4: u32, key: usize): void {
  const counters = sessionCounters(ctl, cfg);
  const m = raceMemberAt(raceGroup(bank, cfg), k);
  const port = load<u32>(m, RaceMember.Port);
  const ring = <usize>load<u32>(portConfig(ctl, port), PortConfig.TxReplicaRing);
  if (ringFree(ring) == 0) {
    bump(counters, SessionCounter.RaceResetRingFull);
    return;
  }
  const index = ringPopIndex(<usize>load<u32>(ctl + Control.ReplicaFree));
  if (index < 0) {
    bump(counters, SessionCounter.RaceResetNoFrame);
    return;
  }
  const answer = <usize>load<u32>(desc, Desc.Addr);
  const data = frameData(ctl, <u32>index);
  copyBytes(data, answer, l3); // Ethernet and VLAN tags, ending with the IP EtherType
  writeMacs(data, m);

  const ip = data + l3;
  const from = answer + l3;
  const v6 = load<u32>(key + Lane.Family * 4) == LaneValue.FamilyIpv6;
  const ipHeader: u32 = v6 ? Ipv6.HeaderLen : Ipv4.MinLen;
  const tcp = ip + ipHeader;
  let pseudo: u64 = <u64>IpProto.Tcp + <u64>Tcp.MinLen;
  if (v6) {
    storeBe32(ip, 0x60000000); // version 6, traffic class 0, flow label 0
    storeBe16(ip + Ipv6.PayloadLen, Tcp.MinLen);
    store<u8>(ip + Ipv6.NextHeader, <u8>IpProto.Tcp);
    store<u8>(ip + Ipv6.HopLimit, <u8>RESET_TTL);
    copyBytes(ip + Ipv6.Src, from + Ipv6.Dst, 16); // from the client
    copyBytes(ip + Ipv6.Dst, from + Ipv6.Src, 16); // to the service
    pseudo += sumBytes(ip + Ipv6.Src, 32);
  } else {
    store<u8>(ip + Ipv4.VersionIhl, 0x45);
    store<u8>(ip + 1, 0); // DSCP, ECN
    storeBe16(ip + Ipv4.TotalLen, Ipv4.MinLen + Tcp.MinLen);
    storeBe16(ip + Ipv4.Id, 0);
    storeBe16(ip + Ipv4.FlagsFrag, IPV4_DF);
    store<u8>(ip + Ipv4.Ttl, <u8>RESET_TTL);
    store<u8>(ip + Ipv4.Proto, <u8>IpProto.Tcp);
    storeBe16(ip + Ipv4.Checksum, 0);
    storeBe32(ip + Ipv4.Src, be32(from + Ipv4.Dst));
    storeBe32(ip + Ipv4.Dst, be32(from + Ipv4.Src));
    storeBe16(ip + Ipv4.Checksum, foldComplement(sumBytes(ip, Ipv4.MinLen)));
    pseudo += sumBytes(ip + Ipv4.Src, 8);
  }
  const answerTcp = answer + l4;
  storeBe16(tcp + Tcp.SrcPort, be16(answerTcp + Tcp.DstPort));
  storeBe16(tcp + Tcp.DstPort, be16(answerTcp + Tcp.SrcPort));
  storeBe32(tcp + Tcp.Seq, be32(answerTcp + Tcp.Ack));
  storeBe32(tcp + Tcp.Ack, 0);
  store<u8>(tcp + Tcp.DataOffset, <u8>(TCP_HEADER_WORDS << 4));
  store<u8>(tcp + Tcp.Flags, <u8>TcpFlag.Rst);
  storeBe16(tcp + Tcp.Window, 0);
  storeBe16(tcp + Tcp.Checksum, 0);
  storeBe16(tcp + Tcp.Urgent, 0);
  storeBe16(tcp + Tcp.Checksum, foldComplement(pseudo + sumBytes(tcp, Tcp.MinLen)));

  const len = l3 + ipHeader + Tcp.MinLen;
  const out = ringProdSlot(ring, 0);
  store<u32>(out, <u32>data, Desc.Addr);
  store<u32>(out, <u32>index, Desc.Frame);
  store<u16>(out, <u16>len, Desc.Len);
  store<u16>(out, <u16>len, Desc.OrigLen);
  store<u8>(out, load<u8>(desc, Desc.InPort), Desc.InPort);
  store<u8>(out, <u8>port, Desc.OutPort);
  store<u16>(out, <u16>(DescFlag.Replica | DescFlag.ReplicaPool), Desc.Flags);
  store<i64>(out, load<i64>(desc, Desc.Timestamp), Desc.Timestamp);
  store<u32>(out, session, Desc.Session);
  store<u32>(out, 0, Desc.Aux);
  ringSubmit(ring, 1);
  bump(counters, SessionCounter.RaceResets);
}

/** Rewrites the queued original `out` for member `k` (its MACs, in place) and flags it Steered. */
export function raceSteer(bank: usize, cfg: usize, k: u32, out: usize): void {
  writeMacs(<usize>load<u32>(out, Desc.Addr), raceMemberAt(raceGroup(bank, cfg), k));
  store<u16>(out, load<u16>(out, Desc.Flags) | <u16>DescFlag.Steered, Desc.Flags);
}
