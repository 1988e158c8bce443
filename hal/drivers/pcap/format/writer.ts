// What PcapWriter and PcapngWriter share: the output sink's lifecycle and the checks every
// packet passes before a record is encoded.
//
// Contract: write() either appends one complete record or throws (RangeError for a packet the
// format cannot represent, Error after close) having appended nothing, so a file never holds a
// half record because of bad input. The returned boolean and drain() expose a stream target's
// back-pressure; paths and memory never ask to wait.

import { WRITE_ERRORS } from './errors.ts';
import { isValidLinkType } from './linktype.ts';
import { MAX_CAPLEN } from './limits.ts';
import type { PacketInput } from './packet.ts';
import { ByteSink, openSink } from './sink.ts';
import type { CaptureTarget, SinkOptions } from './sink.ts';

/** Largest value of a 32-bit length field. */
const U32_MAX = 0xffff_ffff;

/** Base of the two writers. */
export abstract class WriterBase {
  protected readonly sink: ByteSink;

  protected constructor(target: CaptureTarget | ByteSink, options: SinkOptions, defaultBuffer: number) {
    this.sink = target instanceof ByteSink ? target : openSink(target, options, defaultBuffer);
  }

  /**
   * Append one packet record. Returns false when a stream target is above its high-water mark:
   * the caller should `await drain()` before writing more (as with stream.write()).
   */
  write(packet: PacketInput): boolean {
    this.encode(packet);
    return !this.sink.needsDrain;
  }

  /** Push buffered records to the file or stream now (e.g. before a live viewer waits). */
  flush(): void {
    this.sink.flush();
  }

  /** Resolves when a stream target has room again; immediately otherwise. */
  drain(): Promise<void> {
    return this.sink.drain();
  }

  /**
   * Flush and close. For a path this is synchronous (returns undefined; the file is complete
   * and closed, or it throws). For a Writable it returns a Promise that settles once the stream
   * has finished (or accepted the last chunk when opened with `end: false`), rejecting with any
   * stream error. `await writer.close()` is right for both. Idempotent.
   */
  close(): void | Promise<void> {
    return this.sink.close();
  }

  /** Reserve, fill and submit the record for `packet`, or throw before reserving. */
  protected abstract encode(packet: PacketInput): void;
}

/** Throw unless `snaplen` is an integer in [min, MAX_CAPLEN]. */
export function checkSnaplen(snaplen: number, min: number): number {
  if (!Number.isInteger(snaplen) || snaplen < min || snaplen > MAX_CAPLEN) {
    throw new RangeError(`${WRITE_ERRORS.snaplen}: ${snaplen} (allowed ${min}..${MAX_CAPLEN})`);
  }
  return snaplen;
}

/** Throw unless `linkType` fits a capture file. */
export function checkLinkType(linkType: number): number {
  if (!isValidLinkType(linkType)) throw new RangeError(`${WRITE_ERRORS.linkType}: ${linkType}`);
  return linkType;
}

/** Throw unless the packet's (optional) link type is the one of its file or interface. */
export function checkPacketLinkType(packet: PacketInput, linkType: number): void {
  if (packet.linkType !== undefined && packet.linkType !== linkType) {
    throw new RangeError(`${WRITE_ERRORS.linkTypeMismatch}: ${packet.linkType} vs ${linkType}`);
  }
}

/** The original length to store for a record of `caplen` bytes. */
export function origLenOf(packet: PacketInput, caplen: number): number {
  const origLen = packet.origLen ?? packet.data.length;
  if (!Number.isInteger(origLen) || origLen < caplen || origLen > U32_MAX) {
    throw new RangeError(`${WRITE_ERRORS.origLen}: ${origLen} for ${caplen} captured bytes`);
  }
  return origLen;
}

/** Throw unless the timestamp is non-negative. */
export function checkTime(tsNs: bigint): bigint {
  if (tsNs < 0n) throw new RangeError(`${WRITE_ERRORS.negativeTime}: ${tsNs}`);
  return tsNs;
}
