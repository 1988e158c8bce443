// The Linux addon (./addon, C with node_api.h, built by `npm install` through node-gyp), typed.
//
// Contract: every call is non-blocking. A failed system call throws a NativeError (an Error
// with `syscall`, `code` = errno name, `errno` and `hint`; EPERM/EACCES say "needs root or
// CAP_NET_RAW"). Frame memory is a Uint8Array over an ArrayBuffer or a SharedArrayBuffer (the
// data plane's linear memory); the addon checks every frame address against it. Bursts move at
// most BURST_MAX frames. The addon is loaded on first use, so importing this module never fails;
// a missing build throws LinuxAddonError with what to run.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Frames one burst call moves at most (the addon's BURST_MAX: the data plane's largest batch). */
export const BURST_MAX = 256;

/** Where node-gyp puts the addon (hal/drivers/linux/addon/build is ignored by git). */
export const ADDON_PATH = fileURLToPath(new URL('./addon/build/Release/twinflow_linux.node', import.meta.url));

export const ADDON_MISSING = 'the linux addon is not built: run npm install (needs g++ and node-gyp)';

export class LinuxAddonError extends Error {
  override readonly name = 'LinuxAddonError';
  constructor(readonly path: string, cause: unknown) {
    super(`${ADDON_MISSING} (${path}: ${(cause as Error).message.split('\n')[0]})`);
  }
}

/** What a failed system call throws. */
export interface NativeError extends Error {
  readonly syscall: string;
  readonly code: string;
  readonly errno: number;
  readonly hint: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).syscall === 'string' && typeof (e as Partial<NativeError>).code === 'string';
}

export interface InterfaceInfo {
  readonly name: string;
  readonly index: number;
  readonly mac: Uint8Array;
  readonly mtu: number;
  /** IFF_UP: the administrator's state. */
  readonly up: boolean;
  /** IFF_RUNNING: carrier. */
  readonly running: boolean;
}

export interface NetnsOption {
  /** Create the fd inside this network namespace: a name under /run/netns or a path. */
  readonly netns?: string;
}

export interface PacketOptions extends NetnsOption {
  /** Receive frames not addressed to the interface (PACKET_MR_PROMISC, dropped on close). */
  readonly promiscuous?: boolean;
  /** Receive through a TPACKET_V2 mmap ring (default) or by recvmmsg. */
  readonly ring?: boolean;
  /** Largest frame the ring keeps whole (default 2048). */
  readonly frameBytes?: number;
  /** Ring frames (default 1024, rounded up to whole ring blocks). */
  readonly ringFrames?: number;
  /** SO_RCVBUF / SO_SNDBUF (default 4 MiB; root may exceed net.core.*mem_max). */
  readonly bufferBytes?: number;
}

export interface PacketStats {
  /** Frames the socket saw since the last read, drops included. */
  readonly packets: number;
  /** Frames the kernel dropped since the last read: the ring or receive buffer was full. */
  readonly drops: number;
  /**
   * Frames received since the last read whose TCP/UDP checksum the kernel had not computed yet
   * (TP_STATUS_CSUMNOTREADY: a local sender with checksum offload on, typically over a veth).
   * They are delivered as they are; a receiver beyond the router will reject them.
   */
  readonly checksumPartial: number;
}

export type FdKind = 'packet' | 'packet-ring' | 'raw-ipv4' | 'ipv4-sender' | 'tun' | 'unknown';

export interface FdDescription {
  readonly kind: FdKind;
  readonly watched: boolean;
  readonly ring?: { readonly frames: number; readonly frameSize: number; readonly blockSize: number; readonly bytes: number };
}

export interface LinuxAddon {
  interfaceInfo(name: string, options?: NetnsOption): InterfaceInfo;
  openPacket(ifindex: number, options?: PacketOptions): number;
  packetStats(fd: number): PacketStats;
  openRawIpv4(protocol: number, bindAddress?: string | null, options?: NetnsOption): number;
  openIpv4Sender(options?: NetnsOption): number;
  /**
   * A TUN device (IFF_TUN, IFF_NO_PI); with `up` also brought up (IFF_UP), with `ipv4` given that
   * address with a /32 mask (no subnet route).
   */
  openTun(name: string, options?: NetnsOption & { readonly up?: boolean; readonly ipv4?: string }): { fd: number; name: string };
  /**
   * A listening TCP socket with SO_REUSEADDR and IP_TRANSPARENT, bound to address:port: it may
   * accept connections addressed to other hosts (policy routing delivers them locally) and
   * answer from their address. The fd is the caller's, for net.Server#listen({ fd }), which then
   * owns and closes it; no other addon call takes it. Needs CAP_NET_RAW or CAP_NET_ADMIN.
   */
  openTransparentListener(address: string, port: number, options?: NetnsOption & { readonly backlog?: number }): number;
  /** Frame i → mem[addrs[i]..+lens[i]], wireLens[i] its length on the wire; returns frames received. */
  recvBurst(fd: number, mem: Uint8Array, addrs: Uint32Array, room: number, lens: Uint32Array, wireLens: Uint32Array, max: number): number;
  /** Sends mem[addrs[i]..+lens[i]] for i < n in order; returns how many the kernel took. */
  sendBurst(fd: number, mem: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): number;
  /** As sendBurst, whole IPv4 packets on an openIpv4Sender() fd, each to its header's destination. */
  sendIpv4Burst(fd: number, mem: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): number;
  /** Frames waiting in a packet ring, counted up to max (no system call); max for every other fd. */
  rxPending(fd: number, max: number): number;
  /** callback() whenever fd is readable (libuv poll); returns the id for unwatch. */
  watch(fd: number, callback: (error?: Error) => void): number;
  unwatch(id: number): void;
  close(fd: number): void;
  describe(fd: number): FdDescription;
}

let loaded: LinuxAddon | null = null;

/** Loads the addon from `file` (tests point it elsewhere); throws LinuxAddonError when it is not there. */
export function loadAddon(file: string = ADDON_PATH): LinuxAddon {
  try {
    return createRequire(import.meta.url)(file) as LinuxAddon;
  } catch (e) {
    throw new LinuxAddonError(file, e);
  }
}

/** The addon, loaded once. */
export function addon(): LinuxAddon {
  loaded ??= loadAddon();
  return loaded;
}
