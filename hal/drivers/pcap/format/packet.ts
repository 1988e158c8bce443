// The packet model shared by every capture codec, and the reader interface.
//
// Contract: a CapturedPacket is what a record of a pcap or pcapng file says, no more: the codecs
// never interpret packet bytes. Readers hand out `data` as a *view* into their read buffer to
// avoid a copy per packet; the view is valid until the next call to the reader's next() (or the
// next step of its iterator). Keep a packet longer by copying it with copyPacket(), or open the
// reader with `{ copy: true }`. readCaptureBuffer() is the exception: its packets view the
// caller's buffer and stay valid as long as that buffer is left unchanged.

/** Direction of a packet relative to the capturing interface (pcapng epb_flags bits 0-1). */
export type PacketDirection = 'inbound' | 'outbound';

/** One packet record of a capture file. */
export interface CapturedPacket {
  /** Captured bytes (caplen = data.length). A view: see the module comment for its lifetime. */
  data: Uint8Array;
  /** Length of the packet on the wire; larger than data.length when the capture truncated it. */
  origLen: number;
  /** Capture time in nanoseconds since the Unix epoch (0n when the format has none: pcapng SPB). */
  tsNs: bigint;
  /** LINKTYPE_* of the packet's interface (see linktype.ts). */
  linkType: number;
  /**
   * Index into the reader's `interfaces`. pcapng numbers interfaces per section; this index
   * counts across sections (the section-local number is this minus the index of the section's
   * first interface). Always 0 for classic pcap; for writers, the declared interface's index.
   */
  interfaceId: number;
  /** From pcapng epb_flags; absent when the file does not say. */
  direction?: PacketDirection;
  /** The first opt_comment of the record (pcapng only). */
  comment?: string;
}

/** An interface of a capture: a pcapng Interface Description Block, or a pcap file header. */
export interface CaptureInterface {
  /** LINKTYPE_* of every packet on this interface. */
  linkType: number;
  /** Snapshot length; 0 means "no limit" (pcapng). Captured lengths are checked against it. */
  snaplen: number;
  /**
   * Timestamp resolution in the if_tsresol encoding: bit 7 clear means 10^-n s (6 = µs, the
   * pcapng default, 9 = ns), bit 7 set means 2^-n s with n = the low 7 bits.
   */
  tsresol: number;
  /** if_name, when present. */
  name?: string;
  /** if_description, when present. */
  description?: string;
  /** if_tsoffset in seconds, when present (already added to every tsNs of the interface). */
  tsoffsetSec?: bigint;
  /** 0-based index of the pcapng section that described the interface (0 for pcap). */
  section: number;
}

/** The two file formats. */
export type CaptureFormat = 'pcap' | 'pcapng';

/** Options common to the readers. */
export interface CaptureReaderOptions {
  /** Bytes per read(2) of a file; records straddling chunks are handled. Default 1 MiB. */
  chunkSize?: number;
  /** Copy every packet's data out of the read buffer so packets may be kept. Default false. */
  copy?: boolean;
}

/**
 * A pull reader over one capture. next() returns packets in file order, then null at a clean end
 * of input; a malformed or truncated input throws CaptureFormatError (after every complete
 * packet before the fault has been returned), and every later next() throws an `after-error`
 * CaptureFormatError whose `cause` is the first one. Iterating the reader yields the same
 * packets and closes the reader when the loop ends, however it ends.
 */
export interface CaptureReader extends Iterable<CapturedPacket> {
  /** Which format the magic number announced. */
  readonly format: CaptureFormat;
  /** Interfaces seen so far: one for pcap, the IDBs read up to the current position for pcapng. */
  readonly interfaces: readonly CaptureInterface[];
  /** The next packet, or null at the end. `data` is valid until the next call. */
  next(): CapturedPacket | null;
  /** Release the file descriptor. Idempotent. next() on a closed reader throws. */
  close(): void;
}

/** A packet to write: a CapturedPacket is one; only data and tsNs are required. */
export interface PacketInput {
  /** Bytes to store; the writer truncates to its snaplen (origLen keeps the full length). */
  data: Uint8Array;
  /** Capture time in nanoseconds since the Unix epoch; must be >= 0. */
  tsNs: bigint;
  /** Length on the wire; default data.length. Must be >= the stored length. */
  origLen?: number;
  /** pcapng: index of a declared interface (default 0). Classic pcap ignores it. */
  interfaceId?: number;
  /** When given, must equal the link type of the file/interface (guards against mixing). */
  linkType?: number;
  /** pcapng: written as epb_flags. Classic pcap cannot store it and drops it. */
  direction?: PacketDirection;
  /** pcapng: written as opt_comment. Classic pcap cannot store it and drops it. */
  comment?: string;
}

/** A packet whose data is an owned copy, safe to keep after the reader moves on. */
export function copyPacket(packet: CapturedPacket): CapturedPacket {
  return { ...packet, data: packet.data.slice() };
}
