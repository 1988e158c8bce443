// `host` driver: a port whose medium is this machine's own IP stack. What the router sends on
// it leaves as IPv4 packets through a raw socket (IPPROTO_RAW, IP_HDRINCL), and the kernel
// routes each by its destination address, so a sim board's replicas reach a real device on
// 127.0.0.x (or any address this host can route to) as real GRE. Transmit only: receive()
// delivers nothing.
//
// Frames are not trusted: the Ethernet header and any 802.1Q/802.1ad tags are stripped; a frame
// that does not then hold a whole IPv4 packet is dropped and counted (notIpv4: another
// EtherType; malformed: too short, not version 4, a header or total length that does not fit
// the frame). Ethernet padding after the IPv4 total length is not sent. The kernel sets the
// total length and header checksum and chooses an ID when it is 0; a packet larger than the
// route's MTU is refused (the kernel never fragments a header-included packet).
//
// Counters: txPackets/txBytes count IPv4 packets and bytes the kernel took;
//   txDropped = drops.notIpv4 + drops.malformed + drops.txBlocked + drops.txRefused.

import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import type { RingView } from '../../ring.ts';
import { Desc } from '../../../wasm/abi.ts';
import { addon, BURST_MAX, type LinuxAddon } from '../linux/native.ts';
import { newSendCounters, sendAll, type SendCounters } from '../linux/burst.ts';

const ETH_HEADER = 14;
const ETHERTYPE_OFFSET = 12;
const ETHERTYPE_IPV4 = 0x0800;
/** Tag EtherTypes stripped before the payload type: 802.1Q, 802.1ad, and the pre-standard 0x9100. */
const TAG_TYPES = new Set([0x8100, 0x88a8, 0x9100]);
const TAG_BYTES = 4;
const IPV4_MIN_HEADER = 20;
const IPV4_TOTAL_LENGTH = 2;

export interface HostPortOptions {
  /** Send from inside this network namespace (a name under /run/netns or a path). */
  readonly netns?: string;
}

export interface HostDropCounters {
  notIpv4: number;
  malformed: number;
  txBlocked: number;
  txRefused: number;
}

export class HostPortDriver implements PortDriver {
  readonly kind = 'host';
  readonly capabilities = DriverCapability.Transmit;
  readonly exhausted = false;
  readonly drops: HostDropCounters = { notIpv4: 0, malformed: 0, txBlocked: 0, txRefused: 0 };
  private readonly native: LinuxAddon;
  private readonly tx: SendCounters = newSendCounters();
  private port!: PortHandle;
  private fd = -1;
  private readonly addrs = new Uint32Array(BURST_MAX);
  private readonly lens = new Uint32Array(BURST_MAX);

  constructor(readonly options: HostPortOptions = {}) {
    this.native = addon();
  }

  get lastTxError(): string {
    return this.tx.lastError;
  }

  attach(port: PortHandle): void {
    this.port = port;
    this.fd = this.native.openIpv4Sender({ netns: this.options.netns });
  }

  receive(_now: bigint): number {
    return 0;
  }

  transmit(_now: bigint): number {
    return this.drain(this.port.txOriginals) + this.drain(this.port.txReplicas);
  }

  close(): void {
    if (this.fd < 0) return;
    this.native.close(this.fd);
    this.fd = -1;
  }

  private drain(ring: RingView): number {
    const port = this.port;
    const k = ring.peek(ring.capacity);
    if (k === 0) return 0;
    const tx = this.tx;
    const sent0 = tx.sent, bytes0 = tx.bytes, blocked0 = tx.blocked, refused0 = tx.refused;
    const send = (addrs: Uint32Array, lens: Uint32Array, n: number): number => this.native.sendIpv4Burst(this.fd, port.mem, addrs, lens, n);
    let m = 0;
    let dropped = 0;
    for (let i = 0; i < k; i++) {
      const slot = ring.consSlot(i);
      if (this.locate(port.dv.getUint32(slot + Desc.Addr, true), port.dv.getUint16(slot + Desc.Len, true), m)) m++;
      else dropped++;
      if (m === BURST_MAX) {
        sendAll(send, this.addrs, this.lens, m, tx);
        m = 0;
      }
    }
    if (m > 0) sendAll(send, this.addrs, this.lens, m, tx);
    for (let i = 0; i < k; i++) port.frames.release(ring.consSlot(i));
    ring.release(k);
    port.counters.txPackets += tx.sent - sent0;
    port.counters.txBytes += tx.bytes - bytes0;
    this.drops.txBlocked += tx.blocked - blocked0;
    this.drops.txRefused += tx.refused - refused0;
    port.counters.txDropped += dropped + (tx.blocked - blocked0) + (tx.refused - refused0);
    return k;
  }

  /** Finds the IPv4 packet in the frame at addr; fills burst entry j, or counts why not. */
  private locate(addr: number, len: number, j: number): boolean {
    const mem = this.port.mem;
    if (len < ETH_HEADER) {
      this.drops.malformed++;
      return false;
    }
    let off = ETHERTYPE_OFFSET;
    let type = (mem[addr + off] << 8) | mem[addr + off + 1];
    while (TAG_TYPES.has(type)) {
      off += TAG_BYTES;
      if (off + 2 > len) {
        this.drops.malformed++;
        return false;
      }
      type = (mem[addr + off] << 8) | mem[addr + off + 1];
    }
    if (type !== ETHERTYPE_IPV4) {
      this.drops.notIpv4++;
      return false;
    }
    const ip = addr + off + 2;
    const available = len - (off + 2);
    const headerBytes = (mem[ip] & 0x0f) * 4;
    const total = (mem[ip + IPV4_TOTAL_LENGTH] << 8) | mem[ip + IPV4_TOTAL_LENGTH + 1];
    if (available < IPV4_MIN_HEADER || mem[ip] >> 4 !== 4 || headerBytes < IPV4_MIN_HEADER || total < headerBytes || total > available) {
      this.drops.malformed++;
      return false;
    }
    this.addrs[j] = ip;
    this.lens[j] = total;
    return true;
  }
}
