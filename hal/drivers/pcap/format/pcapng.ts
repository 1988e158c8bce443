// pcapng files (draft-ietf-opsawg-pcapng): read and write.
//
// Contract. Reading: the file is untrusted. Each Section Header Block sets the byte order of the
// blocks that follow (both orders, any number of sections). The file numbers interfaces per
// section; packets report a file-wide index instead, so reader.interfaces[p.interfaceId] is
// always the packet's interface (its `section` tells which section). Parsed blocks (SHB,
// IDB, EPB, SPB and the obsolete PB) are checked before they are buffered: total length a
// multiple of 4, at least the block's fixed part, at most MAX_BLOCK_LEN, caplen within the
// interface's snaplen and MAX_CAPLEN, packet data inside the block; then the trailing total
// length must equal the leading one, and options must tile the option area exactly (each value
// padded to 32 bits, inside the block; opt_endofopt ends the list). Other block types (NRB, ISB,
// DSB, custom, unknown) are skipped without buffering their bodies, but their trailing length
// is still checked. Any violation, and a file ending mid-block, is a CaptureFormatError.
// Timestamps are converted from the interface's if_tsresol (10^-n or 2^-n s) to nanoseconds,
// rounding down, plus if_tsoffset seconds. SPBs carry no timestamp: tsNs is 0n. Text options
// are decoded as UTF-8 (invalid sequences become U+FFFD); a packet keeps its first opt_comment.
// Writing: one little-endian section, interfaces declared up front; see PcapngWriter.
//
// Layouts (offsets in bytes from the start of the block; every block ends with its length again):
//   any block ┌──────┬─────────────┬──────────────────────────────┬─────────────┐
//             │ type │ total len   │ body, padded to 32 bits      │ total len   │
//             │ 0 u32│ 4        u32│ 8                            │ len-4    u32│
//             └──────┴─────────────┴──────────────────────────────┴─────────────┘
//   SHB  8 byte-order magic u32 │ 12 major u16 │ 14 minor u16 │ 16 section length i64 │ 24 options
//   IDB  8 link type u16 │ 10 reserved u16 │ 12 snaplen u32 │ 16 options
//   EPB  8 interface u32 │ 12 ts high u32 │ 16 ts low u32 │ 20 caplen u32 │ 24 origlen u32 │
//        28 data (caplen, padded) │ options
//   PB   as EPB but 8 interface u16 │ 10 drops count u16 (obsolete, read only)
//   SPB  8 origlen u32 │ 12 data (to the end of the block)
//   option ┌──────┬────────┬──────────────────────────┐  list ends with code 0 length 0,
//          │ code │ length │ value, padded to 32 bits │  or at the end of the block
//          │ 0 u16│ 2   u16│ 4                        │
//          └──────┴────────┴──────────────────────────┘

import { i64, pad4, putI64, putU16, putU32, u16, u32, WORD } from './bytes.ts';
import { WRITE_ERRORS } from './errors.ts';
import type { CaptureErrorCode } from './errors.ts';
import { DEFAULT_WRITE_BUFFER, ENCODE_BUFFER, MAX_BLOCK_LEN, MAX_CAPLEN } from './limits.ts';
import type { CaptureInterface, CapturedPacket, PacketDirection, PacketInput } from './packet.ts';
import { ReaderBase } from './reader.ts';
import { MemorySink } from './sink.ts';
import type { ByteSink, CaptureTarget, SinkOptions } from './sink.ts';
import type { ByteSource } from './source.ts';
import { checkLinkType, checkPacketLinkType, checkSnaplen, checkTime, origLenOf, WriterBase } from './writer.ts';

/** Block type codes. */
export const BLOCK_TYPE = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  PB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
} as const;

/** Byte-order magic of an SHB, as written in the section's own order. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** The byte-order magic of a big-endian section read as little-endian. */
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;
/** The version this codec reads and writes. */
export const PCAPNG_VERSION_MAJOR = 1;
export const PCAPNG_VERSION_MINOR = 0;
/** Section length field value meaning "not known" (a streamed file). */
const SECTION_LENGTH_UNKNOWN = -1n;

/** Option codes (the same number means different options in different blocks). */
export const OPTION = {
  ENDOFOPT: 0,
  COMMENT: 1,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
  EPB_FLAGS: 2,
} as const;

/** epb_flags bits 0-1: "00 = information not available, 01 = inbound, 10 = outbound". */
const FLAGS_DIRECTION_MASK = 0b11;
const FLAGS_INBOUND = 0b01;
const FLAGS_OUTBOUND = 0b10;

/** Generic block fields. */
const BLK_TYPE = 0;
const BLK_LEN = 4;
const BLOCK_HEADER_LEN = 8;
const BLOCK_TRAILER_LEN = 4;
/** The smallest block: header and trailer, empty body. */
const MIN_BLOCK_LEN = BLOCK_HEADER_LEN + BLOCK_TRAILER_LEN;

/** SHB fields. */
const SHB_BOM = 8;
const SHB_MAJOR = 12;
const SHB_MINOR = 14;
const SHB_SECTION_LEN = 16;
const SHB_OPTIONS = 24;
const SHB_MIN_LEN = SHB_OPTIONS + BLOCK_TRAILER_LEN;

/** IDB fields. */
const IDB_LINKTYPE = 8;
const IDB_RESERVED = 10;
const IDB_SNAPLEN = 12;
const IDB_OPTIONS = 16;
const IDB_MIN_LEN = IDB_OPTIONS + BLOCK_TRAILER_LEN;

/** EPB (and PB) fields. */
const EPB_IFACE = 8;
const EPB_TS_HIGH = 12;
const EPB_TS_LOW = 16;
const EPB_CAPLEN = 20;
const EPB_ORIGLEN = 24;
const EPB_DATA = 28;
const EPB_MIN_LEN = EPB_DATA + BLOCK_TRAILER_LEN;

/** SPB fields. */
const SPB_ORIGLEN = 8;
const SPB_DATA = 12;
const SPB_MIN_LEN = SPB_DATA + BLOCK_TRAILER_LEN;

/** Option fields and sizes. */
const OPT_CODE = 0;
const OPT_LEN = 2;
const OPT_VALUE = 4;
const OPT_HEADER_LEN = 4;
const OPT_VALUE_MAX = 0xffff;
const IF_TSRESOL_LEN = 1;
const IF_TSOFFSET_LEN = 8;
const EPB_FLAGS_LEN = 4;

/** if_tsresol: bit 7 selects powers of two; the low 7 bits are the (negative) exponent. */
const TSRESOL_POW2_BIT = 0x80;
const TSRESOL_EXP_MASK = 0x7f;
/** Finest resolutions that still leave a 64-bit timestamp whole seconds of range. */
const TSRESOL_POW10_MAX = 19;
const TSRESOL_POW2_MAX = 63;
/** The pcapng default resolution, used when an IDB has no if_tsresol. */
export const TSRESOL_USEC = 6;
/** Nanosecond resolution: exact for tsNs, the writer's default. */
export const TSRESOL_NSEC = 9;

/** Largest if_tsresol value (the option is one byte). */
const TSRESOL_MAX = 0xff;

const NS_PER_SEC = 1_000_000_000n;
/** An EPB timestamp is two u32 halves of one 64-bit count of units. */
const TS_HIGH_SHIFT = 32n;
const U32_MASK = 0xffff_ffffn;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const utf8 = new TextDecoder();
const toUtf8 = new TextEncoder();

/** The if_tsresol value for 2^-exponent seconds per unit. */
export function tsresolPow2(exponent: number): number {
  return TSRESOL_POW2_BIT | exponent;
}

/** True when `tsresol` is an if_tsresol value this codec can convert. */
export function isValidTsresol(tsresol: number): boolean {
  if (!Number.isInteger(tsresol) || tsresol < 0 || tsresol > TSRESOL_MAX) return false;
  const exp = tsresol & TSRESOL_EXP_MASK;
  return tsresol & TSRESOL_POW2_BIT ? exp <= TSRESOL_POW2_MAX : exp <= TSRESOL_POW10_MAX;
}

/** Timestamp units per second for an if_tsresol value. */
export function tsresolUnitsPerSecond(tsresol: number): bigint {
  const exp = BigInt(tsresol & TSRESOL_EXP_MASK);
  return tsresol & TSRESOL_POW2_BIT ? 1n << exp : 10n ** exp;
}

/** ns = units * mul / div and units = ns * div / mul, both rounding down; the ratio reduced. */
interface TsScale {
  mul: bigint;
  div: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function tsScale(tsresol: number): TsScale {
  const ups = tsresolUnitsPerSecond(tsresol);
  const g = gcd(NS_PER_SEC, ups);
  return { mul: NS_PER_SEC / g, div: ups / g };
}

/** Per-interface reading state, parallel to `interfaces`. */
interface ReadIface {
  scale: TsScale;
  offsetNs: bigint;
  /** Largest caplen accepted. */
  bound: number;
}

/** Short block name for messages. */
function blockName(type: number): string {
  for (const [name, code] of Object.entries(BLOCK_TYPE)) if (code === type) return name;
  return `block type ${hex32(type)}`;
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

/** Reader of a pcapng file; construct through openCaptureReader/readCaptureBuffer. */
export class PcapngReader extends ReaderBase {
  readonly format = 'pcapng';
  readonly interfaces: CaptureInterface[] = [];
  private readonly state: ReadIface[] = [];
  /** Byte order of the current section. */
  private le = true;
  private section = -1;
  /** File-wide index of the current section's interface 0. */
  private sectionBase = 0;

  /** Parse the first Section Header Block at the source's cursor; throws CaptureFormatError. */
  constructor(src: ByteSource, copy: boolean) {
    super(src, copy);
    const at = src.offset;
    if (!src.ensure(WORD) || u32(src.bytes, src.pos + BLK_TYPE, true) !== BLOCK_TYPE.SHB) {
      throw this.fail(at, 'unknown-magic', 'a pcapng file starts with a Section Header Block');
    }
    this.readSection(at, 'truncated-header');
  }

  protected readPacket(): CapturedPacket | null {
    const src = this.src;
    for (;;) {
      const at = src.offset;
      if (!src.ensure(BLOCK_HEADER_LEN)) {
        if (src.available === 0) return null;
        throw this.fail(at, 'truncated-block',
          `${src.available} bytes at end of file, a block header needs ${BLOCK_HEADER_LEN}`);
      }
      const b = src.bytes;
      const p = src.pos;
      // The SHB type is a palindrome, so it is recognised before its byte order is known.
      if (u32(b, p + BLK_TYPE, true) === BLOCK_TYPE.SHB) {
        this.readSection(at, 'truncated-block');
        continue;
      }
      const type = u32(b, p + BLK_TYPE, this.le);
      const len = u32(b, p + BLK_LEN, this.le);
      switch (type) {
        case BLOCK_TYPE.EPB: return this.readEpb(at, len, false);
        case BLOCK_TYPE.PB: return this.readEpb(at, len, true);
        case BLOCK_TYPE.SPB: return this.readSpb(at, len);
        case BLOCK_TYPE.IDB:
          this.readIdb(at, len);
          break;
        default:
          this.skipBlock(at, type, len);
      }
    }
  }

  private readSection(at: number, truncated: CaptureErrorCode): void {
    const src = this.src;
    if (!src.ensure(SHB_MAJOR)) {
      throw this.fail(at, truncated, `${src.available} bytes, a section header needs ${SHB_MAJOR} to give its byte order`);
    }
    const bom = u32(src.bytes, src.pos + SHB_BOM, true);
    if (bom !== BYTE_ORDER_MAGIC && bom !== BYTE_ORDER_MAGIC_SWAPPED) {
      throw this.fail(at + SHB_BOM, 'bad-byte-order-magic', `${hex32(bom)} read little-endian, expected ${hex32(BYTE_ORDER_MAGIC)} in either order`);
    }
    // The new section's byte order governs this block already (its lengths, its trailer).
    const le = bom === BYTE_ORDER_MAGIC;
    this.le = le;
    const len = u32(src.bytes, src.pos + BLK_LEN, le);
    this.checkLength(at, 'SHB', len, SHB_MIN_LEN);
    this.load(at, 'SHB', len, truncated);
    const major = u16(src.bytes, src.pos + SHB_MAJOR, le);
    if (major !== PCAPNG_VERSION_MAJOR) {
      throw this.fail(at + SHB_MAJOR, 'bad-version', `pcapng major version ${major}, expected ${PCAPNG_VERSION_MAJOR}`);
    }
    this.walkOptions(at, SHB_OPTIONS, len, () => {});
    this.section++;
    this.sectionBase = this.interfaces.length;
    src.skip(len);
  }

  private readIdb(at: number, len: number): void {
    this.checkLength(at, 'IDB', len, IDB_MIN_LEN);
    this.load(at, 'IDB', len, 'truncated-block');
    const b = this.src.bytes;
    const p = this.src.pos;
    const le = this.le;
    const iface: CaptureInterface = {
      linkType: u16(b, p + IDB_LINKTYPE, le),
      snaplen: u32(b, p + IDB_SNAPLEN, le),
      tsresol: TSRESOL_USEC,
      section: this.section,
    };
    this.walkOptions(at, IDB_OPTIONS, len, (code, v, n) => {
      switch (code) {
        case OPTION.IF_NAME:
          iface.name = utf8.decode(b.subarray(p + v, p + v + n));
          break;
        case OPTION.IF_DESCRIPTION:
          iface.description = utf8.decode(b.subarray(p + v, p + v + n));
          break;
        case OPTION.IF_TSRESOL:
          this.checkOptionLen(at + v, 'if_tsresol', n, IF_TSRESOL_LEN);
          iface.tsresol = b[p + v]!;
          if (!isValidTsresol(iface.tsresol)) {
            throw this.fail(at + v, 'bad-option', `if_tsresol 0x${iface.tsresol.toString(16)} is finer than a 64-bit timestamp can use`);
          }
          break;
        case OPTION.IF_TSOFFSET:
          this.checkOptionLen(at + v, 'if_tsoffset', n, IF_TSOFFSET_LEN);
          iface.tsoffsetSec = i64(b, p + v, le);
          break;
      }
    });
    const snaplen = iface.snaplen;
    this.interfaces.push(iface);
    this.state.push({
      scale: tsScale(iface.tsresol),
      offsetNs: (iface.tsoffsetSec ?? 0n) * NS_PER_SEC,
      bound: snaplen > 0 && snaplen < MAX_CAPLEN ? snaplen : MAX_CAPLEN,
    });
    this.src.skip(len);
  }

  private readEpb(at: number, len: number, obsolete: boolean): CapturedPacket {
    const src = this.src;
    const name = obsolete ? 'PB' : 'EPB';
    const le = this.le;
    this.checkLength(at, name, len, EPB_MIN_LEN);
    if (!src.ensure(EPB_DATA)) {
      throw this.fail(at, 'truncated-block', `${name} of ${len} bytes, only ${src.available} remain in the file`);
    }
    let b = src.bytes;
    let p = src.pos;
    const local = obsolete ? u16(b, p + EPB_IFACE, le) : u32(b, p + EPB_IFACE, le);
    const id = this.interfaceIndex(at + EPB_IFACE, name, local);
    const caplen = u32(b, p + EPB_CAPLEN, le);
    this.checkCaplen(at + EPB_CAPLEN, id, caplen);
    const optStart = EPB_DATA + pad4(caplen);
    if (optStart + BLOCK_TRAILER_LEN > len) {
      throw this.fail(at + BLK_LEN, 'bad-block-length',
        `${name} length ${len} cannot hold caplen ${caplen} (needs at least ${optStart + BLOCK_TRAILER_LEN})`);
    }
    this.load(at, name, len, 'truncated-block');
    b = src.bytes;
    p = src.pos;
    const st = this.state[id]!;
    const units = (BigInt(u32(b, p + EPB_TS_HIGH, le)) << TS_HIGH_SHIFT) | BigInt(u32(b, p + EPB_TS_LOW, le));
    const packet: CapturedPacket = {
      data: b.subarray(p + EPB_DATA, p + EPB_DATA + caplen),
      origLen: u32(b, p + EPB_ORIGLEN, le),
      tsNs: (units * st.scale.mul) / st.scale.div + st.offsetNs,
      linkType: this.interfaces[id]!.linkType,
      interfaceId: id,
    };
    this.walkOptions(at, optStart, len, (code, v, n) => {
      if (code === OPTION.COMMENT) {
        packet.comment ??= utf8.decode(b.subarray(p + v, p + v + n));
      } else if (code === OPTION.EPB_FLAGS) {
        this.checkOptionLen(at + v, obsolete ? 'pack_flags' : 'epb_flags', n, EPB_FLAGS_LEN);
        const direction = directionOf(u32(b, p + v, le));
        if (direction) packet.direction = direction;
      }
    });
    src.skip(len);
    return packet;
  }

  private readSpb(at: number, len: number): CapturedPacket {
    const src = this.src;
    this.checkLength(at, 'SPB', len, SPB_MIN_LEN);
    const id = this.interfaceIndex(at, 'SPB', 0);
    if (!src.ensure(SPB_DATA)) {
      throw this.fail(at, 'truncated-block', `SPB of ${len} bytes, only ${src.available} remain in the file`);
    }
    const origLen = u32(src.bytes, src.pos + SPB_ORIGLEN, this.le);
    // "the Captured Packet Length ... is the minimum value between the Original Packet Length
    // and the SnapLen" of interface 0; the block length bounds it too.
    const snaplen = this.interfaces[id]!.snaplen;
    const caplen = Math.min(origLen, snaplen > 0 ? snaplen : origLen, len - SPB_MIN_LEN);
    this.checkCaplen(at + SPB_ORIGLEN, id, caplen);
    this.load(at, 'SPB', len, 'truncated-block');
    const b = src.bytes;
    const p = src.pos;
    const packet: CapturedPacket = {
      data: b.subarray(p + SPB_DATA, p + SPB_DATA + caplen),
      origLen,
      tsNs: 0n,
      linkType: this.interfaces[id]!.linkType,
      interfaceId: id,
    };
    src.skip(len);
    return packet;
  }

  /** Move past a block that is not parsed, without buffering it; its trailer is still checked. */
  private skipBlock(at: number, type: number, len: number): void {
    const src = this.src;
    const name = blockName(type);
    this.checkLength(at, name, len, MIN_BLOCK_LEN);
    src.skip(len - BLOCK_TRAILER_LEN);
    if (!src.ensure(BLOCK_TRAILER_LEN)) {
      throw this.fail(at, 'truncated-block', `${name} of ${len} bytes, the file ends before its trailing length`);
    }
    this.checkTrailer(at, name, len, u32(src.bytes, src.pos, this.le));
    src.skip(BLOCK_TRAILER_LEN);
  }

  private checkLength(at: number, name: string, len: number, min: number): void {
    if (len % WORD !== 0) {
      throw this.fail(at + BLK_LEN, 'bad-block-length', `${name} length ${len} is not a multiple of ${WORD}`);
    }
    if (len < min) {
      throw this.fail(at + BLK_LEN, 'bad-block-length', `${name} length ${len} is below its ${min}-byte minimum`);
    }
  }

  /** Buffer a whole parsed block (length already checked) and verify its trailer. */
  private load(at: number, name: string, len: number, truncated: CaptureErrorCode): void {
    const src = this.src;
    if (len > MAX_BLOCK_LEN) {
      throw this.fail(at + BLK_LEN, 'bad-block-length', `${name} length ${len} exceeds the ${MAX_BLOCK_LEN}-byte limit for a parsed block`);
    }
    if (!src.ensure(len)) {
      throw this.fail(at, truncated, `${name} of ${len} bytes, only ${src.available} remain in the file`);
    }
    this.checkTrailer(at, name, len, u32(src.bytes, src.pos + len - BLOCK_TRAILER_LEN, this.le));
  }

  private checkTrailer(at: number, name: string, len: number, trailer: number): void {
    if (trailer !== len) {
      throw this.fail(at + len - BLOCK_TRAILER_LEN, 'trailer-mismatch', `${name} leading length ${len}, trailing length ${trailer}`);
    }
  }

  /** The file-wide index of the current section's interface `local`. */
  private interfaceIndex(offset: number, name: string, local: number): number {
    const count = this.interfaces.length - this.sectionBase;
    if (local >= count) {
      throw this.fail(offset, 'unknown-interface', `${name} names interface ${local}, section ${this.section} has ${count}`);
    }
    return this.sectionBase + local;
  }

  private checkCaplen(offset: number, id: number, caplen: number): void {
    const bound = this.state[id]!.bound;
    if (caplen <= bound) return;
    const snaplen = this.interfaces[id]!.snaplen;
    const what = bound === snaplen ? `interface ${id}'s snaplen ${snaplen}` : `the ${MAX_CAPLEN}-byte limit`;
    throw this.fail(offset, 'caplen-too-large', `caplen ${caplen} exceeds ${what}`);
  }

  private checkOptionLen(offset: number, name: string, n: number, expected: number): void {
    if (n !== expected) throw this.fail(offset, 'bad-option', `${name} has length ${n}, expected ${expected}`);
  }

  /**
   * Visit the options of the loaded block at `at` from block offset `from` to its trailer.
   * `visit` gets the code, the value's block offset and its unpadded length.
   */
  private walkOptions(at: number, from: number, len: number, visit: (code: number, v: number, n: number) => void): void {
    const b = this.src.bytes;
    const p = this.src.pos;
    const le = this.le;
    const end = len - BLOCK_TRAILER_LEN;
    let o = from;
    while (o < end) {
      // Block lengths and option offsets are multiples of 4, so this cannot happen in a block
      // that passed checkLength; it stays as the bounds guard for the header read below.
      if (end - o < OPT_HEADER_LEN) {
        throw this.fail(at + o, 'bad-option', `${end - o} stray bytes where an option header (${OPT_HEADER_LEN} bytes) should be`);
      }
      const code = u16(b, p + o + OPT_CODE, le);
      if (code === OPTION.ENDOFOPT) return;
      const n = u16(b, p + o + OPT_LEN, le);
      const next = o + OPT_HEADER_LEN + pad4(n);
      if (next > end) {
        throw this.fail(at + o, 'bad-option',
          `option ${code} of ${n} bytes (${pad4(n)} padded) runs ${next - end} bytes past the end of the block's options`);
      }
      visit(code, o + OPT_VALUE, n);
      o = next;
    }
  }
}

function directionOf(flags: number): PacketDirection | undefined {
  switch (flags & FLAGS_DIRECTION_MASK) {
    case FLAGS_INBOUND: return 'inbound';
    case FLAGS_OUTBOUND: return 'outbound';
    default: return undefined;
  }
}

/** An interface of a PcapngWriter. */
export interface PcapngInterfaceSpec {
  /** LINKTYPE_* of the interface's packets. */
  linkType: number;
  /** if_name (e.g. "eth0"). */
  name?: string;
  /** if_description. */
  description?: string;
  /** Stored bytes per packet at most; 0 = no limit (MAX_CAPLEN still applies). Default 262144. */
  snaplen?: number;
  /** if_tsresol (see CaptureInterface.tsresol): TSRESOL_NSEC by default, so tsNs is exact. */
  tsresol?: number;
}

/** Options of PcapngWriter and encodePcapng. */
export interface PcapngWriterOptions extends SinkOptions {
  /** The section's interfaces; packets name them by index. At least one. */
  interfaces: readonly PcapngInterfaceSpec[];
  /** shb_userappl; default "twinflow". An empty string omits the option. */
  application?: string;
}

/** Per-interface writing state. */
interface WriteIface {
  linkType: number;
  scale: TsScale;
  /** Stored bytes per packet at most. */
  bound: number;
}

/** An option ready to be written. */
interface EncodedOption {
  code: number;
  value: Uint8Array;
}

function textOption(code: number, text: string | undefined): EncodedOption[] {
  if (text === undefined || text === '') return [];
  const value = toUtf8.encode(text);
  if (value.length > OPT_VALUE_MAX) throw new RangeError(`${WRITE_ERRORS.optionTooLong}: ${value.length}`);
  return [{ code, value }];
}

/** Bytes the options take, opt_endofopt included; 0 for none. */
function optionsLen(options: readonly EncodedOption[]): number {
  if (options.length === 0) return 0;
  let n = OPT_HEADER_LEN;
  for (const o of options) n += OPT_HEADER_LEN + pad4(o.value.length);
  return n;
}

/** Write `options` and opt_endofopt at `off` of `r`; returns the offset after them. */
function putOptions(r: Uint8Array, off: number, options: readonly EncodedOption[]): number {
  if (options.length === 0) return off;
  for (const o of options) {
    putU16(r, off + OPT_CODE, o.code);
    putU16(r, off + OPT_LEN, o.value.length);
    r.set(o.value, off + OPT_VALUE);
    const end = off + OPT_VALUE + o.value.length;
    off = off + OPT_HEADER_LEN + pad4(o.value.length);
    r.fill(0, end, off);
  }
  putU16(r, off + OPT_CODE, OPTION.ENDOFOPT);
  putU16(r, off + OPT_LEN, 0);
  return off + OPT_HEADER_LEN;
}

/**
 * Writes a pcapng stream: one little-endian section (section length "unknown", so it can be
 * piped, e.g. to `wireshark -k -i -`), the declared interfaces' IDBs, then one EPB per packet
 * (epb_flags when the packet has a direction, opt_comment when it has a non-empty comment).
 * SHB and IDBs are buffered at construction; flush() pushes them out at once for a live reader.
 * Throws RangeError for an undeclared interfaceId, a link type mismatch, a negative timestamp
 * or one beyond 64 bits of the interface's resolution, origLen < stored length, or a comment
 * over 65535 UTF-8 bytes. Packets longer than their interface's snaplen are stored truncated.
 */
export class PcapngWriter extends WriterBase {
  /** The declared interfaces as a reader will report them. */
  readonly interfaces: readonly CaptureInterface[];
  private readonly ifaces: WriteIface[];

  /** Create `target` (a path, truncated if it exists, or a Writable); write SHB and IDBs. */
  constructor(target: CaptureTarget | ByteSink, options: PcapngWriterOptions) {
    if (options.interfaces.length === 0) throw new RangeError(WRITE_ERRORS.noInterfaces);
    const interfaces: CaptureInterface[] = [];
    const idbOptions: EncodedOption[][] = [];
    for (const spec of options.interfaces) {
      const tsresol = spec.tsresol ?? TSRESOL_NSEC;
      if (!isValidTsresol(tsresol)) throw new RangeError(`${WRITE_ERRORS.tsresol}: ${tsresol}`);
      const iface: CaptureInterface = {
        linkType: checkLinkType(spec.linkType),
        snaplen: checkSnaplen(spec.snaplen ?? MAX_CAPLEN, 0),
        tsresol,
        section: 0,
      };
      if (spec.name !== undefined) iface.name = spec.name;
      if (spec.description !== undefined) iface.description = spec.description;
      interfaces.push(iface);
      const tsresolOption = tsresol === TSRESOL_USEC ? [] : [{ code: OPTION.IF_TSRESOL, value: Uint8Array.of(tsresol) }];
      idbOptions.push([
        ...textOption(OPTION.IF_NAME, spec.name),
        ...textOption(OPTION.IF_DESCRIPTION, spec.description),
        ...tsresolOption,
      ]);
    }
    const shbOptions = textOption(OPTION.SHB_USERAPPL, options.application ?? 'twinflow');
    super(target, options, DEFAULT_WRITE_BUFFER);
    this.interfaces = interfaces;
    this.ifaces = interfaces.map((i) => ({
      linkType: i.linkType,
      scale: tsScale(i.tsresol),
      bound: i.snaplen > 0 ? i.snaplen : MAX_CAPLEN,
    }));
    this.writeShb(shbOptions);
    interfaces.forEach((iface, i) => this.writeIdb(iface, idbOptions[i]!));
  }

  private writeShb(options: readonly EncodedOption[]): void {
    const len = SHB_MIN_LEN + optionsLen(options);
    const r = this.sink.reserve(len);
    putU32(r, BLK_TYPE, BLOCK_TYPE.SHB);
    putU32(r, BLK_LEN, len);
    putU32(r, SHB_BOM, BYTE_ORDER_MAGIC);
    putU16(r, SHB_MAJOR, PCAPNG_VERSION_MAJOR);
    putU16(r, SHB_MINOR, PCAPNG_VERSION_MINOR);
    putI64(r, SHB_SECTION_LEN, SECTION_LENGTH_UNKNOWN);
    putOptions(r, SHB_OPTIONS, options);
    putU32(r, len - BLOCK_TRAILER_LEN, len);
    this.sink.submit();
  }

  private writeIdb(iface: CaptureInterface, options: readonly EncodedOption[]): void {
    const len = IDB_MIN_LEN + optionsLen(options);
    const r = this.sink.reserve(len);
    putU32(r, BLK_TYPE, BLOCK_TYPE.IDB);
    putU32(r, BLK_LEN, len);
    putU16(r, IDB_LINKTYPE, iface.linkType);
    putU16(r, IDB_RESERVED, 0);
    putU32(r, IDB_SNAPLEN, iface.snaplen);
    putOptions(r, IDB_OPTIONS, options);
    putU32(r, len - BLOCK_TRAILER_LEN, len);
    this.sink.submit();
  }

  protected encode(packet: PacketInput): void {
    const id = packet.interfaceId ?? 0;
    const iface = Number.isInteger(id) ? this.ifaces[id] : undefined;
    if (iface === undefined) throw new RangeError(`${WRITE_ERRORS.interfaceId}: ${id} (${this.ifaces.length} declared)`);
    checkPacketLinkType(packet, iface.linkType);
    const units = (checkTime(packet.tsNs) * iface.scale.div) / iface.scale.mul;
    if (units > U64_MAX) throw new RangeError(`${WRITE_ERRORS.timeRange}: ${packet.tsNs} ns`);
    const data = packet.data;
    const caplen = Math.min(data.length, iface.bound);
    const origLen = origLenOf(packet, caplen);
    const options: EncodedOption[] = textOption(OPTION.COMMENT, packet.comment);
    if (packet.direction !== undefined) {
      const flags = new Uint8Array(EPB_FLAGS_LEN);
      putU32(flags, 0, packet.direction === 'inbound' ? FLAGS_INBOUND : FLAGS_OUTBOUND);
      options.unshift({ code: OPTION.EPB_FLAGS, value: flags });
    }
    const optStart = EPB_DATA + pad4(caplen);
    const len = optStart + optionsLen(options) + BLOCK_TRAILER_LEN;
    const r = this.sink.reserve(len);
    putU32(r, BLK_TYPE, BLOCK_TYPE.EPB);
    putU32(r, BLK_LEN, len);
    putU32(r, EPB_IFACE, id);
    putU32(r, EPB_TS_HIGH, Number(units >> TS_HIGH_SHIFT));
    putU32(r, EPB_TS_LOW, Number(units & U32_MASK));
    putU32(r, EPB_CAPLEN, caplen);
    putU32(r, EPB_ORIGLEN, origLen);
    r.set(caplen === data.length ? data : data.subarray(0, caplen), EPB_DATA);
    r.fill(0, EPB_DATA + caplen, optStart);
    putOptions(r, optStart, options);
    putU32(r, len - BLOCK_TRAILER_LEN, len);
    this.sink.submit();
  }
}

/** A whole pcapng file in memory (for tests and small fixtures). */
export function encodePcapng(packets: Iterable<PacketInput>, options: PcapngWriterOptions): Uint8Array {
  const sink = new MemorySink(options.bufferSize ?? ENCODE_BUFFER);
  const w = new PcapngWriter(sink, options);
  for (const p of packets) w.write(p);
  sink.close();
  return sink.bytes();
}
