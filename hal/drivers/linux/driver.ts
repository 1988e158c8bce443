// `linux` driver: a router port bound to a real Linux interface through an AF_PACKET socket
// (the addon, ./native.ts). The interface is trusted to exist only until it is checked: the
// constructor refuses one that is missing or down (InterfaceError); frames from it are never
// trusted (their lengths are checked, a frame longer than a frame's room is refused).
//
// Receive: frames come from the kernel's TPACKET_V2 ring (no system call per burst), straight
// into free rx frames of the data plane (port.frames.takeRx(); frames not filled are given back
// in the same call), each with an rx descriptor stamped `now`. 802.1Q and QinQ tags the kernel
// stripped are put back, so the data plane sees the frame as it was on the wire. While the rx
// ring is full or no frame is free the driver leaves frames in the kernel's ring (back-pressure,
// as a NIC's ring); what the kernel then cannot queue it drops and reports, and those drops
// are rxMissed. Frames longer than a frame are truncated by the copy, released and counted as
// rxErrors (never forwarded cut).
//
// Transmit: originals first, then replicas, by sendmmsg in bursts of at most BURST_MAX; every
// frame is released; what the kernel does not take (pushed back, or refused) is txDropped.
//
// Counters: DriverCounters as every driver, plus `drops` by reason:
//   rxMissed  = drops.kernel                 (PACKET_STATISTICS, read every STATS_INTERVAL_NS
//                                              of `now` and at close; refreshCounters() on demand)
//   rxChecksumPartial (not a drop): frames forwarded whose checksum a local sender left to
//                                    offload (a veth peer with tx offloads on; see docs/drivers.md)
//   rxErrors  = drops.rxTooLong
//   txDropped = drops.txBlocked + drops.txRefused
//
// Bounded: one burst per receive() call (≤ BURST_MAX frames, ≤ the rx ring's free space); the
// kernel ring's size is fixed at attach (PacketOptions.ringFrames).

import { DriverCapability, type PortDriver } from '../../driver.ts';
import type { PortHandle } from '../../port.ts';
import type { RingView } from '../../ring.ts';
import { writeRxDescriptor } from '../../descriptor.ts';
import { Desc } from '../../../wasm/abi.ts';
import { addon, BURST_MAX, isNativeError, type InterfaceInfo, type LinuxAddon } from './native.ts';
import { InterfaceError } from './errors.ts';
import { newSendCounters, sendAll, type SendCounters } from './burst.ts';

/** How often (in the runtime's ns) the kernel's drop counter is read: a system call per read. */
export const STATS_INTERVAL_NS = 100_000_000n;

export interface LinuxPortOptions {
  /** The interface to bind (the board port's `interface`). */
  readonly interface: string;
  /** Its network namespace (a name under /run/netns or a path); default: this process's. */
  readonly netns?: string;
  /**
   * Receive every frame on the wire, not only those addressed to the interface's MAC. Default
   * true: a wire-mode port forwards frames addressed to hosts beyond it.
   */
  readonly promiscuous?: boolean;
  /** Receive through the kernel's mmap ring (default) or by recvmmsg (slower; kept for comparison). */
  readonly ring?: boolean;
  /** Frames the kernel's ring holds (default: the addon's, 1024). */
  readonly ringFrames?: number;
  /** SO_RCVBUF / SO_SNDBUF (default: the addon's, 4 MiB); the receive buffer matters without the ring. */
  readonly bufferBytes?: number;
}

export interface LinuxDropCounters {
  /** rx: the kernel's ring was full (we did not keep up), per PACKET_STATISTICS. */
  kernel: number;
  /** rx: a frame longer than a data-plane frame. */
  rxTooLong: number;
  /** tx: the kernel could not take the frame now (queue or socket buffer full). */
  txBlocked: number;
  /** tx: the kernel refused the frame (larger than the MTU allows, interface down, ...). */
  txRefused: number;
}

export class LinuxPortDriver implements PortDriver {
  readonly kind = 'linux';
  readonly capabilities = DriverCapability.Receive | DriverCapability.Transmit;
  readonly exhausted = false;
  readonly info: InterfaceInfo;
  readonly drops: LinuxDropCounters = { kernel: 0, rxTooLong: 0, txBlocked: 0, txRefused: 0 };
  /**
   * Frames received (and forwarded) whose transport checksum was never computed: the sender is
   * local to this kernel with checksum offload on (a veth peer). Not a drop, a warning: turn the
   * sender's offloads off (ethtool -K IF tx off gso off).
   */
  rxChecksumPartial = 0;
  private readonly native: LinuxAddon;
  private readonly tx: SendCounters = newSendCounters();
  private port!: PortHandle;
  private fd = -1;
  private watchId = 0;
  private statsAt = 0n;
  private scratchDesc = 0;
  private readonly addrs = new Uint32Array(BURST_MAX);
  private readonly lens = new Uint32Array(BURST_MAX);
  private readonly wireLens = new Uint32Array(BURST_MAX);
  private readonly frameIndex = new Int32Array(BURST_MAX);

  constructor(readonly options: LinuxPortOptions) {
    this.native = addon();
    const name = options.interface;
    try {
      this.info = this.native.interfaceInfo(name, { netns: options.netns });
    } catch (e) {
      if (isNativeError(e) && e.code === 'ENODEV') {
        throw new InterfaceError(name, 'missing', `no such interface${options.netns ? ` in network namespace "${options.netns}"` : ' in this network namespace'}`);
      }
      if (e instanceof RangeError) throw new InterfaceError(name, 'invalid', 'is not a valid interface name (1 to 15 bytes)');
      throw e;
    }
    if (!this.info.up) throw new InterfaceError(name, 'down', `is down (bring it up: ip link set ${name} up)`);
  }

  /** The socket (for tests and diagnostics); −1 before attach and after close. */
  get socket(): number {
    return this.fd;
  }

  /** Last frame the kernel refused to send, and why. */
  get lastTxError(): string {
    return this.tx.lastError;
  }

  attach(port: PortHandle): void {
    this.port = port;
    this.scratchDesc = port.allocIo(Desc.Size);
    this.fd = this.native.openPacket(this.info.index, {
      promiscuous: this.options.promiscuous ?? true,
      ring: this.options.ring ?? true,
      frameBytes: port.frames.room,
      ringFrames: this.options.ringFrames,
      bufferBytes: this.options.bufferBytes,
      netns: this.options.netns,
    });
  }

  receive(now: bigint): number {
    const port = this.port;
    if (now - this.statsAt >= STATS_INTERVAL_NS) this.refreshCounters(now);
    const room = Math.min(BURST_MAX, port.rx.free());
    // With the kernel's ring, take only the free frames that will be filled (no give-back churn).
    const want = room === 0 ? 0 : this.native.rxPending(this.fd, room);
    if (want === 0) return 0;
    let taken = 0;
    while (taken < want) {
      const index = port.frames.takeRx();
      if (index < 0) break;
      this.frameIndex[taken] = index;
      this.addrs[taken] = port.frames.data(index);
      taken++;
    }
    if (taken === 0) return 0;
    const n = this.native.recvBurst(this.fd, port.mem, this.addrs, port.frames.room, this.lens, this.wireLens, taken);
    let delivered = 0;
    for (let i = 0; i < n; i++) {
      if (this.wireLens[i] > this.lens[i]) {
        this.drops.rxTooLong++;
        port.counters.rxErrors++;
        this.giveBack(this.frameIndex[i]);
        continue;
      }
      writeRxDescriptor(port.dv, port.rx.prodSlot(delivered), this.frameIndex[i], this.addrs[i], this.lens[i], this.wireLens[i], port.index, now);
      delivered++;
    }
    port.rx.submit(delivered);
    for (let i = n; i < taken; i++) this.giveBack(this.frameIndex[i]);
    return delivered;
  }

  transmit(_now: bigint): number {
    return this.drain(this.port.txOriginals) + this.drain(this.port.txReplicas);
  }

  /** Reads the kernel's drop counter now (it is also read every STATS_INTERVAL_NS and at close). */
  refreshCounters(now: bigint = this.statsAt): void {
    this.statsAt = now;
    if (this.fd < 0) return;
    const { drops, checksumPartial } = this.native.packetStats(this.fd);
    this.rxChecksumPartial += checksumPartial;
    this.drops.kernel += drops;
    this.port.counters.rxMissed += drops;
  }

  /** Calls `callback` whenever the interface has frames waiting (libuv poll); returns the stop function. */
  onReadable(callback: () => void): () => void {
    if (this.watchId) this.native.unwatch(this.watchId);
    const id = this.native.watch(this.fd, (error) => {
      if (error) throw error;
      callback();
    });
    this.watchId = id;
    return () => {
      if (this.watchId === id) {
        this.native.unwatch(id);
        this.watchId = 0;
      }
    };
  }

  close(): void {
    if (this.fd < 0) return;
    this.refreshCounters();
    this.native.close(this.fd);
    this.fd = -1;
    this.watchId = 0;
  }

  private drain(ring: RingView): number {
    const port = this.port;
    const k = ring.peek(ring.capacity);
    if (k === 0) return 0;
    const tx = this.tx;
    const sent0 = tx.sent, bytes0 = tx.bytes, blocked0 = tx.blocked, refused0 = tx.refused;
    const send = (addrs: Uint32Array, lens: Uint32Array, n: number): number => this.native.sendBurst(this.fd, port.mem, addrs, lens, n);
    for (let base = 0; base < k; base += BURST_MAX) {
      const m = Math.min(BURST_MAX, k - base);
      for (let j = 0; j < m; j++) {
        const slot = ring.consSlot(base + j);
        this.addrs[j] = port.dv.getUint32(slot + Desc.Addr, true);
        this.lens[j] = port.dv.getUint16(slot + Desc.Len, true);
      }
      sendAll(send, this.addrs, this.lens, m, tx);
    }
    for (let i = 0; i < k; i++) port.frames.release(ring.consSlot(i));
    ring.release(k);
    port.counters.txPackets += tx.sent - sent0;
    port.counters.txBytes += tx.bytes - bytes0;
    const blocked = tx.blocked - blocked0;
    const refused = tx.refused - refused0;
    this.drops.txBlocked += blocked;
    this.drops.txRefused += refused;
    port.counters.txDropped += blocked + refused;
    return k;
  }

  /** Returns an rx frame that received nothing (or was refused) to the pool. */
  private giveBack(index: number): void {
    const dv = this.port.dv;
    dv.setUint32(this.scratchDesc + Desc.Frame, index, true);
    dv.setUint16(this.scratchDesc + Desc.Flags, 0, true);
    this.port.frames.release(this.scratchDesc);
  }
}
