// Classic libpcap files (draft-ietf-opsawg-pcap): read and write.
//
// Contract. Reading: the file is untrusted. The header's magic decides byte order and timestamp
// unit (µs 0xa1b2c3d4, ns 0xa1b23c4d, either order); the major version must be 2. Every record's
// caplen is checked against the header's snaplen (when it is 1..256 KiB) and against 256 KiB
// before its bytes are buffered, so one record costs at most 256 KiB of memory. A file that ends
// inside the header or inside a record is a CaptureFormatError; a file that ends exactly after a
// record is the normal end. origLen is reported as written, even when smaller than caplen.
// The link type is the low 16 bits of the header field (the upper bits carry FCS information,
// which is not interpreted). Writing: always little-endian, version 2.4; see PcapWriter.
//
// Layout (offsets in bytes):
//   file header   ┌───────┬───────┬───────┬──────────┬─────────┬─────────┬──────────┐
//                 │ magic │ major │ minor │ thiszone │ sigfigs │ snaplen │ linktype │
//                 │ 0  u32│ 4  u16│ 6  u16│ 8     i32│ 12   u32│ 16   u32│ 20    u32│ = 24
//                 └───────┴───────┴───────┴──────────┴─────────┴─────────┴──────────┘
//   record header ┌────────┬─────────┬────────┬─────────┬──────────────────┐
//                 │ ts_sec │ ts_frac │ caplen │ origlen │ data (caplen)    │
//                 │ 0   u32│ 4    u32│ 8   u32│ 12   u32│ 16               │
//                 └────────┴─────────┴────────┴─────────┴──────────────────┘

import { putU16, putU32, u16, u32 } from './bytes.ts';
import { WRITE_ERRORS } from './errors.ts';
import { LINKTYPE_MAX } from './linktype.ts';
import { DEFAULT_WRITE_BUFFER, ENCODE_BUFFER, MAX_CAPLEN } from './limits.ts';
import type { CaptureInterface, CapturedPacket, PacketInput } from './packet.ts';
import { ReaderBase } from './reader.ts';
import { MemorySink } from './sink.ts';
import type { ByteSink, CaptureTarget, SinkOptions } from './sink.ts';
import type { ByteSource } from './source.ts';
import { checkLinkType, checkPacketLinkType, checkSnaplen, checkTime, origLenOf, WriterBase } from './writer.ts';

/** Magic of a microsecond-resolution file, as a u32 in the file's byte order. */
export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
/** Magic of a nanosecond-resolution file, as a u32 in the file's byte order. */
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
/** The magics as a little-endian read of a big-endian file sees them. */
const PCAP_MAGIC_USEC_SWAPPED = 0xd4c3b2a1;
const PCAP_MAGIC_NSEC_SWAPPED = 0x4d3cb2a1;

/** The only major version that exists; 4 is the current minor. */
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;

/** File header fields. */
const HDR_MAGIC = 0;
const HDR_MAJOR = 4;
const HDR_MINOR = 6;
const HDR_THISZONE = 8;
const HDR_SIGFIGS = 12;
const HDR_SNAPLEN = 16;
const HDR_LINKTYPE = 20;
/** Bytes in the file header. */
export const PCAP_HEADER_LEN = 24;

/** Record header fields. */
const REC_TS_SEC = 0;
const REC_TS_FRAC = 4;
const REC_CAPLEN = 8;
const REC_ORIGLEN = 12;
/** Bytes in a record header. */
export const PCAP_RECORD_HEADER_LEN = 16;

const NS_PER_SEC = 1_000_000_000n;
const NS_PER_USEC = 1_000n;
/** Largest ts_sec: the field is unsigned 32-bit (year 2106). */
const TS_SEC_MAX = 0xffff_ffffn;
/** if_tsresol values describing the two classic resolutions (see CaptureInterface.tsresol). */
const TSRESOL_USEC = 6;
const TSRESOL_NSEC = 9;

/** Byte order and timestamp unit announced by a pcap magic read as little-endian u32. */
export function pcapMagicInfo(magicLe: number): { littleEndian: boolean; nanosecond: boolean } | null {
  switch (magicLe) {
    case PCAP_MAGIC_USEC: return { littleEndian: true, nanosecond: false };
    case PCAP_MAGIC_NSEC: return { littleEndian: true, nanosecond: true };
    case PCAP_MAGIC_USEC_SWAPPED: return { littleEndian: false, nanosecond: false };
    case PCAP_MAGIC_NSEC_SWAPPED: return { littleEndian: false, nanosecond: true };
    default: return null;
  }
}

/** Reader of a classic pcap file; construct through openCaptureReader/readCaptureBuffer. */
export class PcapReader extends ReaderBase {
  readonly format = 'pcap';
  readonly interfaces: readonly CaptureInterface[];
  /** True when the file is little-endian. */
  readonly littleEndian: boolean;
  /** True for nanosecond timestamps. */
  readonly nanosecond: boolean;
  private readonly linkType: number;
  private readonly snaplen: number;
  /** Largest caplen accepted: the snaplen when it is a usable bound, else MAX_CAPLEN. */
  private readonly caplenBound: number;
  private readonly fracToNs: bigint;

  /** Parse the file header at the source's cursor; throws CaptureFormatError. */
  constructor(src: ByteSource, copy: boolean) {
    super(src, copy);
    const at = src.offset;
    if (!src.ensure(PCAP_HEADER_LEN)) {
      throw this.fail(at, 'truncated-header', `${src.available} bytes, a pcap file header needs ${PCAP_HEADER_LEN}`);
    }
    const b = src.bytes;
    const p = src.pos;
    const info = pcapMagicInfo(u32(b, p + HDR_MAGIC, true));
    if (info === null) throw this.fail(at, 'unknown-magic', `0x${u32(b, p, false).toString(16).padStart(8, '0')}`);
    const le = info.littleEndian;
    this.littleEndian = le;
    this.nanosecond = info.nanosecond;
    const major = u16(b, p + HDR_MAJOR, le);
    if (major !== PCAP_VERSION_MAJOR) {
      throw this.fail(at + HDR_MAJOR, 'bad-version', `pcap major version ${major}, expected ${PCAP_VERSION_MAJOR}`);
    }
    this.snaplen = u32(b, p + HDR_SNAPLEN, le);
    this.linkType = u32(b, p + HDR_LINKTYPE, le) & LINKTYPE_MAX;
    this.caplenBound = this.snaplen > 0 && this.snaplen < MAX_CAPLEN ? this.snaplen : MAX_CAPLEN;
    this.fracToNs = info.nanosecond ? 1n : NS_PER_USEC;
    this.interfaces = [{
      linkType: this.linkType,
      snaplen: this.snaplen,
      tsresol: info.nanosecond ? TSRESOL_NSEC : TSRESOL_USEC,
      section: 0,
    }];
    src.skip(PCAP_HEADER_LEN);
  }

  protected readPacket(): CapturedPacket | null {
    const src = this.src;
    const at = src.offset;
    if (!src.ensure(PCAP_RECORD_HEADER_LEN)) {
      if (src.available === 0) return null;
      throw this.fail(at, 'truncated-record',
        `${src.available} bytes at end of file, a record header needs ${PCAP_RECORD_HEADER_LEN}`);
    }
    const le = this.littleEndian;
    let b = src.bytes;
    let p = src.pos;
    const caplen = u32(b, p + REC_CAPLEN, le);
    if (caplen > this.caplenBound) {
      const bound = this.caplenBound === MAX_CAPLEN && this.snaplen !== MAX_CAPLEN
        ? `the ${MAX_CAPLEN}-byte limit`
        : `the file's snaplen ${this.snaplen}`;
      throw this.fail(at + REC_CAPLEN, 'caplen-too-large', `caplen ${caplen} exceeds ${bound}`);
    }
    const recordLen = PCAP_RECORD_HEADER_LEN + caplen;
    if (!src.ensure(recordLen)) {
      throw this.fail(at, 'truncated-record',
        `record needs ${caplen} bytes of packet data, only ${src.available - PCAP_RECORD_HEADER_LEN} remain`);
    }
    b = src.bytes;
    p = src.pos;
    const sec = BigInt(u32(b, p + REC_TS_SEC, le));
    const frac = BigInt(u32(b, p + REC_TS_FRAC, le));
    const packet: CapturedPacket = {
      data: b.subarray(p + PCAP_RECORD_HEADER_LEN, p + recordLen),
      origLen: u32(b, p + REC_ORIGLEN, le),
      tsNs: sec * NS_PER_SEC + frac * this.fracToNs,
      linkType: this.linkType,
      interfaceId: 0,
    };
    src.skip(recordLen);
    return packet;
  }
}

/** Options of PcapWriter and encodePcap. */
export interface PcapWriterOptions extends SinkOptions {
  /** LINKTYPE_* of every packet (1 Ethernet, 101 raw IP, ...). */
  linkType: number;
  /** Stored bytes per packet at most (longer packets are truncated). 1..262144, default 262144. */
  snaplen?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. Default false. */
  nanosecond?: boolean;
}

/**
 * Writes a classic pcap file, little-endian, version 2.4, header written at construction.
 * Timestamps are truncated to the file's resolution; a packet longer than snaplen is stored
 * truncated with its full origLen. Classic pcap cannot carry direction, comment or interface:
 * those fields of a packet are ignored. Throws RangeError for a negative timestamp or one past
 * 2106-02-07 (ts_sec is 32-bit), for origLen < stored length, for a link type mismatch.
 */
export class PcapWriter extends WriterBase {
  /** LINKTYPE_* of the file. */
  readonly linkType: number;
  /** Snapshot length of the file. */
  readonly snaplen: number;
  /** True when timestamps are in nanoseconds. */
  readonly nanosecond: boolean;
  private readonly nsPerFrac: bigint;

  /** Create `target` (a path, truncated if it exists, or a Writable) and write the header. */
  constructor(target: CaptureTarget | ByteSink, options: PcapWriterOptions) {
    const linkType = checkLinkType(options.linkType);
    const snaplen = checkSnaplen(options.snaplen ?? MAX_CAPLEN, 1);
    super(target, options, DEFAULT_WRITE_BUFFER);
    this.linkType = linkType;
    this.snaplen = snaplen;
    this.nanosecond = options.nanosecond ?? false;
    this.nsPerFrac = this.nanosecond ? 1n : NS_PER_USEC;
    const h = this.sink.reserve(PCAP_HEADER_LEN);
    putU32(h, HDR_MAGIC, this.nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC);
    putU16(h, HDR_MAJOR, PCAP_VERSION_MAJOR);
    putU16(h, HDR_MINOR, PCAP_VERSION_MINOR);
    putU32(h, HDR_THISZONE, 0);
    putU32(h, HDR_SIGFIGS, 0);
    putU32(h, HDR_SNAPLEN, snaplen);
    putU32(h, HDR_LINKTYPE, linkType);
    this.sink.submit();
  }

  protected encode(packet: PacketInput): void {
    checkPacketLinkType(packet, this.linkType);
    const tsNs = checkTime(packet.tsNs);
    const sec = tsNs / NS_PER_SEC;
    if (sec > TS_SEC_MAX) throw new RangeError(`${WRITE_ERRORS.timeRange}: ${tsNs} ns is past pcap's 32-bit ts_sec`);
    const frac = (tsNs % NS_PER_SEC) / this.nsPerFrac;
    const caplen = Math.min(packet.data.length, this.snaplen);
    const origLen = origLenOf(packet, caplen);
    const r = this.sink.reserve(PCAP_RECORD_HEADER_LEN + caplen);
    putU32(r, REC_TS_SEC, Number(sec));
    putU32(r, REC_TS_FRAC, Number(frac));
    putU32(r, REC_CAPLEN, caplen);
    putU32(r, REC_ORIGLEN, origLen);
    r.set(caplen === packet.data.length ? packet.data : packet.data.subarray(0, caplen), PCAP_RECORD_HEADER_LEN);
    this.sink.submit();
  }
}

/** A whole pcap file in memory (for tests and small fixtures). */
export function encodePcap(packets: Iterable<PacketInput>, options: PcapWriterOptions): Uint8Array {
  const sink = new MemorySink(options.bufferSize ?? ENCODE_BUFFER);
  const w = new PcapWriter(sink, options);
  for (const p of packets) w.write(p);
  sink.close();
  return sink.bytes();
}
