// What every capture reader shares: the lifecycle (open → packets → null | error → closed), the
// stickiness of errors, the optional copy of packet data, and iteration.
//
// Contract: a format reader implements readPacket() over a ByteSource and throws
// CaptureFormatError for malformed input. Once it has thrown, the position in the file is no
// longer trustworthy (a length field was wrong, or the file ended mid-record), so the base never
// calls it again: every later next() throws an `after-error` CaptureFormatError that names the
// offset where reading stopped and carries the first error as its cause.

import { CaptureFormatError, WRITE_ERRORS } from './errors.ts';
import { copyPacket } from './packet.ts';
import type { CaptureFormat, CaptureInterface, CaptureReader, CapturedPacket } from './packet.ts';
import type { ByteSource } from './source.ts';

/** Base of PcapReader and PcapngReader. */
export abstract class ReaderBase implements CaptureReader {
  abstract readonly format: CaptureFormat;
  abstract readonly interfaces: readonly CaptureInterface[];
  protected readonly src: ByteSource;
  private readonly copy: boolean;
  private failure: CaptureFormatError | null = null;
  private closed = false;

  protected constructor(src: ByteSource, copy: boolean) {
    this.src = src;
    this.copy = copy;
  }

  /** The next packet in file order, or null at a clean end of input. */
  protected abstract readPacket(): CapturedPacket | null;

  next(): CapturedPacket | null {
    if (this.closed) throw new Error(WRITE_ERRORS.readerClosed);
    if (this.failure) {
      throw new CaptureFormatError(this.failure.file, this.failure.offset, 'after-error',
        `reading stopped here: ${this.failure.detail}`, { cause: this.failure });
    }
    let packet: CapturedPacket | null;
    try {
      packet = this.readPacket();
    } catch (err) {
      if (err instanceof CaptureFormatError) this.failure = err;
      throw err;
    }
    return packet && this.copy ? copyPacket(packet) : packet;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.close();
  }

  *[Symbol.iterator](): Generator<CapturedPacket, void, undefined> {
    try {
      for (let p = this.next(); p !== null; p = this.next()) yield p;
    } finally {
      this.close();
    }
  }

  /** A CaptureFormatError at `offset` in this input. */
  protected fail(offset: number, code: CaptureFormatError['code'], detail: string): CaptureFormatError {
    return new CaptureFormatError(this.src.name, offset, code, detail);
  }
}
