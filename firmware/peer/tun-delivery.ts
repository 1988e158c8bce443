// Delivering IP packets into this machine's own IP stack as if they had come off a wire: each
// packet is written to a TUN device (IFF_TUN, no packet information: one bare IPv4 or IPv6 packet
// per write), and the kernel receives it on that device — routes it, and hands it to the local
// socket it is addressed to. The far-end eliminator (eliminate.ts) delivers each first copy so.
//
// Reverse-path filtering. The kernel checks the source of every packet it receives against the
// route back to it (net.ipv4.conf.*.rp_filter: 0 off, 1 strict, 2 loose), and silently drops what
// fails (TcpExtIPReversePathFilter in nstat). Three things make delivered packets pass:
//   - the TUN has an IPv4 address: in strict and loose mode alike, Linux drops everything received
//     on an interface without one. It gets TUN_ADDRESS, 192.0.0.8/32, the IPv4 dummy address
//     (RFC 7600: for hosts that need an address but have none to use), with no subnet route, so
//     nothing is ever routed to or sourced from it;
//   - the TUN's own rp_filter is 2 (loose: the source must be reachable by some route; it is,
//     through the path interfaces, never through the TUN). The kernel applies the larger of
//     net.ipv4.conf.all.rp_filter and the interface's value, so with `all` at 1 (strict) the
//     packets are still dropped: warnings() says so, and the operator sets it to 2;
//   - this host has a route back to each packet's source (the client, for the first copies; the
//     senders of the member streams for the GRE itself, which the kernel checks on arrival too).
//
// Contract: the device lives as long as this object (it is not persistent) and is up from the
// start; deliver() sends a bounded burst and counts every packet as delivered, blocked (the
// TUN's queue was full) or refused (the kernel rejected it). Needs CAP_NET_ADMIN.

import fs from 'node:fs';
import { addon, type LinuxAddon } from '../../hal/drivers/linux/native.ts';
import { newSendCounters, sendAll, type SendCounters } from '../../hal/drivers/linux/burst.ts';

/** The TUN's address: the IPv4 dummy address (RFC 7600), /32. Its only use is to be an address. */
export const TUN_ADDRESS = '192.0.0.8';
/** The reverse-path filter mode set on the TUN: loose, which passes a source reachable by any route. */
export const TUN_RP_FILTER = 2;
/** net.ipv4.conf.all.rp_filter value that makes the kernel drop what we deliver (strict). */
const RP_FILTER_STRICT = 1;
const SYSCTL = '/proc/sys/net/ipv4/conf';

export interface TunDeliveryOptions {
  /** The device's name; '' lets the kernel pick one (tunN). */
  readonly name?: string;
}

export class TunDelivery {
  readonly name: string;
  private readonly native: LinuxAddon;
  private fd: number;
  private readonly tx: SendCounters = newSendCounters();
  private readonly notes: string[] = [];

  constructor(o: TunDeliveryOptions = {}) {
    this.native = addon();
    const tun = this.native.openTun(o.name ?? '', { up: true, ipv4: TUN_ADDRESS });
    this.fd = tun.fd;
    this.name = tun.name;
    try {
      fs.writeFileSync(`${SYSCTL}/${this.name}/rp_filter`, `${TUN_RP_FILTER}\n`);
    } catch (e) {
      this.notes.push(`could not set ${SYSCTL}/${this.name}/rp_filter to ${TUN_RP_FILTER} (${(e as Error).message}): strict reverse-path filtering would drop every delivered packet`);
    }
    const all = readSysctl(`${SYSCTL}/all/rp_filter`);
    if (all === RP_FILTER_STRICT) {
      this.notes.push(`net.ipv4.conf.all.rp_filter is ${RP_FILTER_STRICT} (strict): the kernel will drop the delivered packets, whose sources are not routed through ${this.name}; run sysctl -w net.ipv4.conf.all.rp_filter=${TUN_RP_FILTER}`);
    }
  }

  /** What the operator should know about this machine's settings (reverse-path filtering). */
  warnings(): readonly string[] {
    return this.notes;
  }

  /** Writes mem[addrs[i]..+lens[i]] for i < n to the TUN, in order; returns how many the kernel took. */
  deliver(mem: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): number {
    if (n === 0 || this.fd < 0) return 0;
    return sendAll((a, l, k) => this.native.sendBurst(this.fd, mem, a, l, k), addrs, lens, n, this.tx);
  }

  counters(): { readonly delivered: number; readonly bytes: number; readonly blocked: number; readonly refused: number; readonly lastError?: string } {
    const t = this.tx;
    return { delivered: t.sent, bytes: t.bytes, blocked: t.blocked, refused: t.refused, ...(t.lastError ? { lastError: t.lastError } : {}) };
  }

  close(): void {
    if (this.fd >= 0) this.native.close(this.fd);
    this.fd = -1;
  }
}

function readSysctl(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}
