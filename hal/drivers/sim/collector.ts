// The simulated remote device that receives replicas: accepts IPv4 GRE (protocol 47) addressed to
// its MAC and address, decapsulates every encapsulation the router sends (decap.ts: GRE with the
// WCCP redirect header, ERSPAN II and III, sequenced GRE carrying IP), counts what it got, checks
// GRE sequence continuity, and optionally keeps the last N inner packets for tests.
//
// Sequence streams: one per (outer source, encapsulation, ERSPAN session id). IPv4 and IPv6 inside
// sequenced GRE share one stream, because the router numbers a session's replicas with one counter
// whatever they carry (RFC 2890 numbers a tunnel, not a payload type). A replica whose sequence is
// not the previous one + 1 (mod 2^32) counts one `sequenceGaps` (a loss, a repeat or a reordering
// alike); the first replica of a stream sets its expectation.
//
// Contract: frames are untrusted; each lands in exactly one of `replicas`, `notForUs` (not IPv4 GRE
// to our MAC and address) or `malformed` (ours, but a header is inconsistent: a bad IPv4 header
// checksum, a fragment, any decap.ts failure). Bounded: at most MAX_STREAMS sequence streams (the
// oldest is forgotten first) and `keep` copies. It never emits.

import type { SimEndpoint } from './endpoint.ts';
import { ConfigCheck } from './config.ts';
import { IPV4_BYTES, MAC_BYTES, bytesEqual, ipv4Bytes } from '../../net/address.ts';
import { be32 } from '../../net/bytes.ts';
import { Eth, EtherType, IpProto, parseIp, parseLink } from './packets.ts';
import { decapsulateGre, type ReplicaEncap } from './decap.ts';

/** Configuration of a Collector. */
export interface CollectorConfig {
  readonly name: string;
  /** The device's IPv4 address (replicas' outer destination). */
  readonly address: string;
  /** The device's MAC (replicas' outer destination MAC). */
  readonly mac: string;
  /** Keep copies of the last `keep` inner packets in `received` (default 0). */
  readonly keep?: number;
}

/** One decapsulated replica, as kept by a Collector. */
export interface ReceivedReplica {
  readonly encap: ReplicaEncap;
  /** The IP packet (gre, gre-seq) or Ethernet frame (ERSPAN) the replica carried; a copy. */
  readonly inner: Uint8Array;
  readonly truncated: boolean;
  /** GRE sequence number, when the encapsulation has one. */
  readonly sequence?: number;
  /** ERSPAN session id. */
  readonly sessionId?: number;
  /** ERSPAN: the VLAN id the header reports (0: untagged). */
  readonly vlan?: number;
}

/** Most sequence streams tracked at once. */
export const MAX_STREAMS = 4096;
/** Most inner packets kept (memory: up to a frame each). */
export const MAX_KEEP = 1 << 20;

const ENCAP_CODE: Readonly<Record<ReplicaEncap, number>> = { gre: 0, erspan2: 1, erspan3: 2, 'gre-seq': 3 };
/** Stream key = source × 2^12 + encap code × 2^10 + ERSPAN session (10 bits): 44 bits, exact in a double. */
const SESSION_SPAN = 1 << 10;
const ENCAP_SPAN = 4;

/** The replica-receiving device; see the module comment. */
export class Collector implements SimEndpoint {
  readonly name: string;
  private readonly mac: Uint8Array;
  private readonly address: Uint8Array;
  private readonly keep: number;
  private readonly kept: ReceivedReplica[] = [];
  private keptNext = 0;
  private readonly expected = new Map<number, number>();

  private readonly c = {
    replicas: 0,
    bytes: 0,
    greWccp: 0,
    erspan2: 0,
    erspan3: 0,
    greSeq: 0,
    sequenceGaps: 0,
    truncated: 0,
    notForUs: 0,
    malformed: 0,
  };

  /** Throws SimConfigError naming the field when the config is invalid. */
  constructor(config: CollectorConfig) {
    const k = new ConfigCheck(config?.name);
    this.name = k.endpoint;
    this.address = ipv4Bytes(k.ipv4('address', config.address));
    this.mac = k.macBlock('mac', config.mac, 1);
    this.keep = k.optionalInt('keep', config.keep, 0, MAX_KEEP, 0);
  }

  /** The kept inner packets, oldest first (at most `keep`). */
  get received(): readonly ReceivedReplica[] {
    if (this.kept.length < this.keep) return this.kept.slice();
    return [...this.kept.slice(this.keptNext), ...this.kept.slice(0, this.keptNext)];
  }

  /** `bytes` counts inner bytes (after any truncation, before encapsulation), like the router's bytes_replicated. */
  counters(): Record<string, number> {
    return { ...this.c };
  }

  poll(_now: bigint, _emit: (frame: Uint8Array) => boolean): void {}

  deliver(frame: Uint8Array, _now: bigint): void {
    const link = parseLink(frame);
    if (link === null || link.etherType !== EtherType.Ipv4 || !bytesEqual(frame, Eth.Dst, this.mac, 0, MAC_BYTES)) {
      this.c.notForUs++;
      return;
    }
    const ip = parseIp(frame);
    if (ip === null) { this.c.malformed++; return; }
    if (!bytesEqual(frame, ip.dstAt, this.address, 0, IPV4_BYTES) || ip.proto !== IpProto.Gre) {
      this.c.notForUs++;
      return;
    }
    if (!ip.ipChecksumOk || ip.fragment) { this.c.malformed++; return; }
    const d = decapsulateGre(frame, ip.l4, ip.ipEnd);
    if (!d.ok) { this.c.malformed++; return; }

    this.c.replicas++;
    this.c.bytes += d.innerEnd - d.innerStart;
    if (d.truncated) this.c.truncated++;
    switch (d.encap) {
      case 'gre': this.c.greWccp++; break;
      case 'erspan2': this.c.erspan2++; break;
      case 'erspan3': this.c.erspan3++; break;
      case 'gre-seq': this.c.greSeq++; break;
    }
    if (d.sequence !== undefined) this.track(be32(frame, ip.srcAt), d.encap, d.sessionId ?? 0, d.sequence);
    if (this.keep > 0) {
      const entry: ReceivedReplica = {
        encap: d.encap,
        inner: frame.slice(d.innerStart, d.innerEnd),
        truncated: d.truncated,
        ...(d.sequence !== undefined ? { sequence: d.sequence } : {}),
        ...(d.sessionId !== undefined ? { sessionId: d.sessionId } : {}),
        ...(d.vlan !== undefined ? { vlan: d.vlan } : {}),
      };
      if (this.kept.length < this.keep) this.kept.push(entry);
      else this.kept[this.keptNext] = entry;
      this.keptNext = (this.keptNext + 1) % this.keep;
    }
  }

  private track(source: number, encap: ReplicaEncap, session: number, sequence: number): void {
    const key = (source * ENCAP_SPAN + ENCAP_CODE[encap]) * SESSION_SPAN + session;
    const want = this.expected.get(key);
    if (want === undefined) {
      if (this.expected.size >= MAX_STREAMS) this.expected.delete(this.expected.keys().next().value as number);
    } else if (want !== sequence) {
      this.c.sequenceGaps++;
    }
    this.expected.set(key, (sequence + 1) >>> 0);
  }
}
