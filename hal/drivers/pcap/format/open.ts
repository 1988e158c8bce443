// Opening a capture for reading: format detection from the magic number.
//
// Contract: the input is untrusted. The first four bytes choose the codec (pcap magics in either
// byte order and resolution, or the pcapng Section Header Block type); anything else is an
// `unknown-magic` CaptureFormatError (a gzip header is named as such, since compressed captures
// are common and are not read here). The file header is parsed before the reader is returned,
// so a reader in hand has a valid header. A file is read in bounded chunks (see source.ts); a
// buffer is read in place and its packets' data are views of it.

import { u32 } from './bytes.ts';
import { CaptureFormatError, WRITE_ERRORS } from './errors.ts';
import { DEFAULT_CHUNK_SIZE } from './limits.ts';
import type { CaptureReader, CaptureReaderOptions, CapturedPacket } from './packet.ts';
import { pcapMagicInfo, PcapReader } from './pcap.ts';
import { BLOCK_TYPE, PcapngReader } from './pcapng.ts';
import type { ReaderBase } from './reader.ts';
import { FileSource, MemorySource } from './source.ts';
import type { ByteSource } from './source.ts';

/** Bytes that identify the format. */
const MAGIC_LEN = 4;
/** First two bytes of a gzip stream, as a big-endian u16. */
const GZIP_MAGIC = 0x1f8b;
const GZIP_MAGIC_SHIFT = 16;

function readerFor(src: ByteSource, copy: boolean): ReaderBase {
  if (!src.ensure(MAGIC_LEN)) {
    throw new CaptureFormatError(src.name, src.offset, 'truncated-header',
      `input has ${src.available} bytes, a capture starts with a ${MAGIC_LEN}-byte magic number`);
  }
  const magicLe = u32(src.bytes, src.pos, true);
  if (pcapMagicInfo(magicLe) !== null) return new PcapReader(src, copy);
  if (magicLe === BLOCK_TYPE.SHB) return new PcapngReader(src, copy);
  const magicBe = u32(src.bytes, src.pos, false);
  const hint = magicBe >>> GZIP_MAGIC_SHIFT === GZIP_MAGIC ? ' (gzip-compressed: decompress it first)' : '';
  throw new CaptureFormatError(src.name, src.offset, 'unknown-magic',
    `0x${magicBe.toString(16).padStart(8, '0')}${hint}`);
}

/**
 * Open the capture at `path` (pcap or pcapng, detected from its magic) and parse its header.
 * Throws the OS error if the file cannot be opened, CaptureFormatError if it is not a valid
 * capture. Reads synchronously, `chunkSize` bytes at a time (default 1 MiB), so memory stays
 * bounded for any file size; regular files and pipes both work. Close the reader when done
 * (iterating it to the end, or breaking out of the loop, closes it).
 */
export function openCaptureReader(path: string, options: CaptureReaderOptions = {}): CaptureReader {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`${WRITE_ERRORS.chunkSize}: ${chunkSize}`);
  const src = new FileSource(path, chunkSize);
  try {
    return readerFor(src, options.copy ?? false);
  } catch (err) {
    src.close();
    throw err;
  }
}

/**
 * Every packet of an in-memory capture (tests, small fixtures). Packets' data are views of
 * `buf` (no copy unless `copy`), valid as long as `buf` is unchanged. Throws CaptureFormatError
 * on the first malformed record; `interfaces` is not returned, use openBufferReader for it.
 */
export function readCaptureBuffer(buf: Uint8Array, options: Pick<CaptureReaderOptions, 'copy'> = {}): CapturedPacket[] {
  return [...openBufferReader(buf, options)];
}

/** A reader over an in-memory capture, for when interfaces or packet-by-packet errors matter. */
export function openBufferReader(buf: Uint8Array, options: Pick<CaptureReaderOptions, 'copy'> = {}): CaptureReader {
  return readerFor(new MemorySource(buf), options.copy ?? false);
}
