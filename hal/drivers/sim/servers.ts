// A group of simulated server hosts: answers every client packet addressed to one of its hosts,
// the other side of clients.ts (protocol.ts):
//
//   SYN              → SYN-ACK (with MSS)
//   data segment     → ACK carrying a response of `responseBytes` bytes
//   FIN              → FIN-ACK
//   UDP request      → UDP response starting with the request's id
//   pure ACK, RST    → nothing (counted as `ignored`)
//
// The servers keep no per-connection state: every answer is computed from the request alone. The
// initial sequence number and the response (size and bytes) are a function of the seed, the
// request's addresses and ports and its sequence number (TCP) or request id (UDP), so a
// retransmitted request gets exactly the answer the original got, as from a real stack.
//
// Contract. Config is untrusted and checked at construction (SimConfigError). Delivered frames are
// untrusted and each lands in exactly one counter: answered (queued), `ignored`, `notForUs`
// (not TCP/UDP to one of our hosts' MAC and address, or on another VLAN), `badChecksum`, or
// `queueDrops`. Answers are built at delivery and emitted only in poll(), at most `burst` per poll,
// from a queue bounded by `queueCapacity` (overflow is dropped and counted).

import type { SimEndpoint } from './endpoint.ts';
import { ConfigCheck } from './config.ts';
import { Fifo } from './fifo.ts';
import { HostBlock, MAX_HOSTS } from './hosts.ts';
import { Eth, IpProto, TcpFlag, buildFrame, parseSegment, type SegmentView, type TcpSpec, type UdpSpec } from './packets.ts';
import { MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES, MSS_IPV4, MSS_IPV6, REQUEST_ID_BYTES, WINDOW, patternPayload } from './protocol.ts';
import { MAC_BYTES } from '../../net/address.ts';
import { be32 } from '../../net/bytes.ts';
import { XorShift32, mix32 } from '../../prng.ts';

/** Configuration of a ServerGroup. */
export interface ServerGroupConfig {
  readonly name: string;
  /** IPv4 address of host 0; host i has firstAddress + i. */
  readonly firstAddress: string;
  /** Hosts in the group, 1..65536. */
  readonly count: number;
  /** MAC of host 0 (unicast); host i has mac + i. */
  readonly mac: string;
  /** IPv6 address of host 0, when the group answers over IPv6 too. */
  readonly ipv6?: { readonly firstAddress: string };
  /** Tags every frame with this 802.1Q VLAN id; only frames so tagged are answered. */
  readonly vlan?: number;
  /** [min, max] payload bytes of a response, 4..1440. */
  readonly responseBytes: readonly [number, number];
  readonly seed: number;
  /** Most answers waiting to be emitted (default 1024); more are dropped and counted. */
  readonly queueCapacity?: number;
  /** Most frames emitted per poll (default 64). */
  readonly burst?: number;
}

/** Default reply queue bound: four times the sim board's rx ring. */
export const DEFAULT_QUEUE_CAPACITY = 1024;
/** Default frames per poll: a quarter of the sim board's 256-slot rx ring. */
export const DEFAULT_SERVER_BURST = 64;

const MAX_QUEUE_CAPACITY = 1 << 20;
const MAX_BURST = 4096;
const U16_RANGE = 65536;
const PORT_SHIFT = 16;
const WORD_BYTES = 4;
/** Distinguishes the ISN derivation from the response derivation of the same request. */
const ISN_SALT = 0x5eed15a;

/** Simulated server hosts; see the module comment. */
export class ServerGroup implements SimEndpoint {
  readonly name: string;
  private readonly hosts: HostBlock;
  private readonly vlan: number | undefined;
  private readonly responseBytes: readonly [number, number];
  private readonly seed: number;
  private readonly burst: number;
  private readonly queue: Fifo<Uint8Array>;
  private readonly ipIds: Uint16Array;

  private readonly c = {
    packetsReceived: 0,
    bytesReceived: 0,
    packetsSent: 0,
    bytesSent: 0,
    ignored: 0,
    notForUs: 0,
    badChecksum: 0,
    queueDrops: 0,
  };

  /** Throws SimConfigError naming the field when the config is invalid. */
  constructor(config: ServerGroupConfig) {
    const k = new ConfigCheck(config?.name);
    this.name = k.endpoint;
    const count = k.int('count', config.count, 1, MAX_HOSTS);
    const first = k.ipv4Block('firstAddress', config.firstAddress, count);
    const mac = k.macBlock('mac', config.mac, count);
    const first6 = config.ipv6 === undefined ? null
      : k.ipv6Block('ipv6.firstAddress', k.object('ipv6', config.ipv6).firstAddress, count);
    this.hosts = new HostBlock(count, first, mac, first6);
    this.vlan = k.vlan('vlan', config.vlan);
    this.responseBytes = k.range('responseBytes', config.responseBytes, MIN_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES);
    this.seed = k.seed('seed', config.seed);
    this.queue = new Fifo(k.optionalInt('queueCapacity', config.queueCapacity, 1, MAX_QUEUE_CAPACITY, DEFAULT_QUEUE_CAPACITY));
    this.burst = k.optionalInt('burst', config.burst, 1, MAX_BURST, DEFAULT_SERVER_BURST);
    const rng = new XorShift32(this.seed);
    this.ipIds = Uint16Array.from({ length: count }, () => rng.below(U16_RANGE));
  }

  /** Answers waiting for the next poll. */
  get pending(): number {
    return this.queue.length;
  }

  /** packetsReceived = answered + ignored + notForUs + badChecksum + queueDrops; `pending` is the queue's length. */
  counters(): Record<string, number> {
    return { ...this.c, pending: this.queue.length };
  }

  poll(_now: bigint, emit: (frame: Uint8Array) => boolean): void {
    for (let n = 0; n < this.burst; n++) {
      const frame = this.queue.shift();
      if (frame === undefined) break;
      this.c.packetsSent++;
      this.c.bytesSent += frame.length;
      emit(frame);
    }
  }

  deliver(frame: Uint8Array, _now: bigint): void {
    this.c.packetsReceived++;
    this.c.bytesReceived += frame.length;
    const seg = parseSegment(frame);
    if (seg === null || (seg.vlan === null ? undefined : seg.vlan) !== this.vlan) { this.c.notForUs++; return; }
    const host = this.hosts.indexOf(frame, seg.dstAt, seg.family);
    if (host < 0 || !this.hosts.macIs(host, frame, Eth.Dst)) { this.c.notForUs++; return; }
    if (!seg.checksumOk) { this.c.badChecksum++; return; }
    const answer = this.answer(host, frame, seg);
    if (answer === null) { this.c.ignored++; return; }
    if (!this.queue.push(answer)) this.c.queueDrops++;
  }

  /** The answer to a request, or null when it needs none. */
  private answer(host: number, frame: Uint8Array, seg: SegmentView): Uint8Array | null {
    const tuple = this.tupleHash(frame, seg);
    if (seg.proto === IpProto.Udp) {
      const id = seg.payloadLen >= REQUEST_ID_BYTES ? be32(frame, seg.payload) : 0;
      const payload = this.response(mix32(tuple, id));
      payload.set(frame.subarray(seg.payload, seg.payload + Math.min(seg.payloadLen, REQUEST_ID_BYTES)));
      return this.reply(host, frame, seg, { proto: 'udp', srcPort: seg.dstPort, dstPort: seg.srcPort }, payload);
    }
    const f = seg.flags;
    const tcp = (seq: number, ack: number, flags: number, mss?: number): TcpSpec =>
      ({ proto: 'tcp', srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seq >>> 0, ack: ack >>> 0, flags, window: WINDOW, mss });
    if ((f & TcpFlag.Rst) !== 0) return null;
    if ((f & (TcpFlag.Syn | TcpFlag.Ack)) === TcpFlag.Syn) {
      const isn = mix32(tuple ^ ISN_SALT, seg.seq);
      return this.reply(host, frame, seg, tcp(isn, seg.seq + 1, TcpFlag.Syn | TcpFlag.Ack, seg.family === 6 ? MSS_IPV6 : MSS_IPV4), undefined);
    }
    if ((f & TcpFlag.Syn) !== 0 || (f & TcpFlag.Ack) === 0) return null;
    if ((f & TcpFlag.Fin) !== 0) {
      return this.reply(host, frame, seg, tcp(seg.ack, seg.seq + seg.payloadLen + 1, TcpFlag.Fin | TcpFlag.Ack), undefined);
    }
    if (seg.payloadLen === 0) return null;
    const payload = this.response(mix32(tuple, seg.seq));
    return this.reply(host, frame, seg, tcp(seg.ack, seg.seq + seg.payloadLen, TcpFlag.Psh | TcpFlag.Ack), payload);
  }

  /** Hash of the seed, the client's address and both ports. */
  private tupleHash(frame: Uint8Array, seg: SegmentView): number {
    const words = [this.seed, seg.proto, (seg.srcPort << PORT_SHIFT) | seg.dstPort];
    for (let i = 0; i < seg.addrLen; i += WORD_BYTES) words.push(be32(frame, seg.srcAt + i));
    return mix32(...words);
  }

  /** A response payload determined by `key`. */
  private response(key: number): Uint8Array {
    const size = new XorShift32(key).between(this.responseBytes[0], this.responseBytes[1]);
    return patternPayload(size, key);
  }

  private reply(host: number, frame: Uint8Array, seg: SegmentView, l4: TcpSpec | UdpSpec, payload: Uint8Array | undefined): Uint8Array {
    const ipId = this.ipIds[host];
    this.ipIds[host] = (ipId + 1) % U16_RANGE;
    return buildFrame({
      srcMac: this.hosts.macs[host],
      dstMac: frame.slice(Eth.Src, Eth.Src + MAC_BYTES),
      vlan: this.vlan,
      src: this.hosts.address(host, seg.family === 6),
      dst: frame.slice(seg.srcAt, seg.srcAt + seg.addrLen),
      ipId,
      l4,
      payload,
    });
  }
}
