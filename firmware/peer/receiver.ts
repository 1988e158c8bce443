// What a registered device receives: GRE and ERSPAN replicas, taken from this machine's IP stack
// by a raw socket for protocol 47 bound to the device's address (the kernel here has no GRE
// tunnels, and a device should not need one), decapsulated, and handed on one by one with what
// the encapsulation says about them.
//
// Contract: packets are untrusted. Each received datagram is either handed on or counted under
// one named reason; nothing throws out of the receive path. Only packets from one of our routers
// to our own address are handed on (the socket's bind filters the latter; it is checked again). Sequence gaps are counted per stream
// (router, encapsulation, ERSPAN session or GRE key) for the encapsulations that number their
// packets; a gap is loss between the router and us (the router counts its own drops).

import { addon, BURST_MAX, type LinuxAddon } from '../../hal/drivers/linux/native.ts';
import { decapsulateGre, WccpRedirect, type DecapFailure, type ReplicaEncap } from '../../hal/drivers/sim/decap.ts';
import { formatIpv4, parseIpv4 } from '../../hal/net/address.ts';
import { be32 } from '../../hal/net/bytes.ts';

/** One decapsulated replica. */
export interface ReceivedReplica {
  readonly router: string;
  readonly encap: ReplicaEncap;
  /** The inner IP packet (gre, gre-seq) or Ethernet frame (ERSPAN): a copy. */
  readonly inner: Uint8Array;
  /** The inner packet's length before any truncation (from its own IP header where there is one). */
  readonly origLen: number;
  readonly tsNs: bigint;
  readonly outbound?: boolean;
  readonly ingressPort?: number;
  readonly sequence?: number;
  readonly key?: number;
  readonly sessionId?: number;
  /** GRE-WCCP: the 4-byte WCCP redirect header as the router wrote it (a cache returns it unchanged). */
  readonly redirectHeader?: Uint8Array;
  readonly truncated: boolean;
}

export const RECEIVER_COUNTERS = {
  received: 'replicas decapsulated and handed on',
  gre_wccp: 'of them GRE with the WCCP redirect header',
  gre_seq: 'of them sequenced GRE (dup streams)',
  erspan2: 'of them ERSPAN type II',
  erspan3: 'of them ERSPAN type III',
  lost: 'sequence numbers skipped: replicas lost between the router and this device',
  reordered: 'replicas that arrived with a sequence number below the highest seen',
  truncated: 'replicas whose inner packet the router cut (snaplen or path MTU)',
  not_from_router: 'GRE packets whose source is none of our routers',
  not_for_us: 'GRE packets addressed to another address of this machine (never handed on)',
  malformed: 'GRE packets that could not be decapsulated',
} as const;
export type ReceiverCounter = keyof typeof RECEIVER_COUNTERS;

const ENCAP_COUNTER: Record<ReplicaEncap, ReceiverCounter> = { gre: 'gre_wccp', 'gre-seq': 'gre_seq', erspan2: 'erspan2', erspan3: 'erspan3' };
const IPPROTO_GRE = 47;
/** Bytes of one receive slot: the largest IPv4 packet a 9216-byte jumbo frame carries, and more. */
const SLOT_BYTES = 16384;
const IPV4_MIN = 20;
const ETH_HEADER = 14;
const VLAN_TAG = 4;

export interface ReceiverOptions {
  /** The device's address: the raw socket binds it (replicas are addressed to it). */
  readonly address: string;
  /** Routers whose replicas we take (others are counted not_from_router). */
  readonly routers: readonly string[];
  readonly onReplica: (r: ReceivedReplica) => void;
  /** Open the socket in another network namespace (tests). */
  readonly netns?: string;
  readonly clock?: () => bigint;
}

export class ReplicaReceiver {
  private readonly native: LinuxAddon;
  private fd = -1;
  private watchId = -1;
  private readonly mem = new Uint8Array(SLOT_BYTES * BURST_MAX);
  private readonly addrs = Uint32Array.from({ length: BURST_MAX }, (_, i) => i * SLOT_BYTES);
  private readonly lens = new Uint32Array(BURST_MAX);
  private readonly wire = new Uint32Array(BURST_MAX);
  private readonly routers: ReadonlySet<number>;
  private readonly address: number;
  private readonly lastSeq = new Map<string, number>();
  private readonly c = Object.fromEntries(Object.keys(RECEIVER_COUNTERS).map((k) => [k, 0])) as Record<ReceiverCounter, number>;
  private readonly failures = new Map<DecapFailure, number>();

  constructor(private readonly o: ReceiverOptions) {
    this.native = addon();
    this.routers = new Set(o.routers.map((r) => parseIpv4(r)!));
    this.address = parseIpv4(o.address)!;
  }

  /** Opens the socket and starts taking replicas as they arrive. */
  start(): void {
    this.fd = this.native.openRawIpv4(IPPROTO_GRE, this.o.address, this.o.netns !== undefined ? { netns: this.o.netns } : {});
    this.watchId = this.native.watch(this.fd, () => this.drain());
  }

  /** Takes everything waiting on the socket now. */
  drain(): number {
    let total = 0;
    for (;;) {
      const n = this.native.recvBurst(this.fd, this.mem, this.addrs, SLOT_BYTES, this.lens, this.wire, BURST_MAX);
      for (let i = 0; i < n; i++) this.handle(this.addrs[i], this.lens[i]);
      total += n;
      if (n < BURST_MAX) return total;
    }
  }

  private handle(at: number, len: number): void {
    const b = this.mem;
    if (len < IPV4_MIN || b[at] >> 4 !== 4) return this.fail('short');
    const ihl = (b[at] & 0xf) * 4;
    const src = be32(b, at + 12);
    if (!this.routers.has(src)) {
      this.c.not_from_router++;
      return;
    }
    if (be32(b, at + 16) !== this.address) {
      this.c.not_for_us++;
      return;
    }
    const total = Math.min(len, (b[at + 2] << 8) | b[at + 3]);
    const d = decapsulateGre(b, at + ihl, at + total);
    if (!d.ok) return this.fail(d.reason);
    const router = formatIpv4(src);
    const inner = b.slice(d.innerStart, d.innerEnd);
    this.c.received++;
    this.c[ENCAP_COUNTER[d.encap]]++;
    if (d.truncated) this.c.truncated++;
    if (d.sequence !== undefined) this.sequence(`${router}/${d.encap}/${d.sessionId ?? d.key ?? 0}`, d.sequence);
    this.o.onReplica({
      router, encap: d.encap, inner, origLen: originalLength(d.encap, inner), tsNs: this.o.clock?.() ?? wallClockNs(),
      truncated: d.truncated,
      ...(d.outbound !== undefined ? { outbound: d.outbound } : {}),
      ...(d.ingressPort !== undefined ? { ingressPort: d.ingressPort } : {}),
      ...(d.sequence !== undefined ? { sequence: d.sequence } : {}),
      ...(d.key !== undefined ? { key: d.key } : {}),
      ...(d.sessionId !== undefined ? { sessionId: d.sessionId } : {}),
      ...(d.encap === 'gre' ? { redirectHeader: b.slice(d.innerStart - WccpRedirect.Header, d.innerStart) } : {}),
    });
  }

  private sequence(stream: string, seq: number): void {
    const last = this.lastSeq.get(stream);
    if (last !== undefined) {
      const delta = (seq - last) | 0;
      if (delta <= 0) {
        this.c.reordered++;
        return;
      }
      this.c.lost += delta - 1;
    }
    this.lastSeq.set(stream, seq >>> 0);
  }

  private fail(reason: DecapFailure): void {
    this.c.malformed++;
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  counters(): Record<ReceiverCounter, number> & { readonly malformedBy: Record<string, number> } {
    return { ...this.c, malformedBy: Object.fromEntries(this.failures) };
  }

  close(): void {
    if (this.watchId >= 0) this.native.unwatch(this.watchId);
    if (this.fd >= 0) this.native.close(this.fd);
    this.watchId = -1;
    this.fd = -1;
  }
}

function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** The inner packet's length on the wire, from its IP header; its captured length when unknown. */
function originalLength(encap: ReplicaEncap, inner: Uint8Array): number {
  let l3 = 0;
  if (encap === 'erspan2' || encap === 'erspan3') {
    if (inner.length < ETH_HEADER) return inner.length;
    l3 = ETH_HEADER;
    let type = (inner[12] << 8) | inner[13];
    while ((type === 0x8100 || type === 0x88a8) && inner.length >= l3 + VLAN_TAG) {
      type = (inner[l3 + 2] << 8) | inner[l3 + 3];
      l3 += VLAN_TAG;
    }
    if (type !== 0x0800 && type !== 0x86dd) return inner.length;
  }
  if (inner.length < l3 + 6) return inner.length;
  const v = inner[l3] >> 4;
  const ipLen = v === 4 ? (inner[l3 + 2] << 8) | inner[l3 + 3] : v === 6 ? 40 + ((inner[l3 + 4] << 8) | inner[l3 + 5]) : inner.length - l3;
  return Math.max(inner.length, l3 + ipLen);
}
