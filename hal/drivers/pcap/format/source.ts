// Byte sources for the readers: a file read synchronously in bounded chunks, or a buffer.
//
// Contract: a source is a cursor over the input. ensure(n) makes n bytes available at the
// cursor as bytes[pos .. pos + n); the window stays valid until the next ensure(), which may
// move bytes to the front of the buffer (a record straddling two chunks is thereby joined) or
// replace the buffer. A file source holds max(chunkSize, largest n asked for) bytes; readers ask
// only for lengths they have checked against limits.ts, so memory is bounded whatever the
// file's length fields say. skip() moves the cursor without reading the skipped bytes when the
// file is seekable (regular files), and reads-and-discards chunk by chunk otherwise (pipes).
// Offsets are plain numbers: exact up to 2^53 bytes.

import fs from 'node:fs';

import { BUFFER_NAME } from './errors.ts';

/** A forward-only cursor over the bytes of a capture. */
export interface ByteSource {
  /** File path or BUFFER_NAME, for messages. */
  readonly name: string;
  /** Buffer holding the window; re-read after every ensure(). */
  readonly bytes: Uint8Array;
  /** Index in `bytes` of the byte at the cursor. */
  readonly pos: number;
  /** Offset from the start of the input of the byte at the cursor. */
  readonly offset: number;
  /** Bytes available at the cursor without reading (after a failed ensure: all that remain). */
  readonly available: number;
  /** Make n bytes available at the cursor; false when the input ends first. */
  ensure(n: number): boolean;
  /** Advance the cursor by n bytes (possibly past the end of input). */
  skip(n: number): void;
  /** Release the underlying file, if any. Idempotent. */
  close(): void;
}

/** The cursor over an in-memory capture; windows are views of the caller's buffer. */
export class MemorySource implements ByteSource {
  readonly name = BUFFER_NAME;
  readonly bytes: Uint8Array;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get offset(): number {
    return this.pos;
  }

  get available(): number {
    return Math.max(0, this.bytes.length - this.pos);
  }

  ensure(n: number): boolean {
    return this.bytes.length - this.pos >= n;
  }

  skip(n: number): void {
    this.pos += n;
  }

  close(): void {}
}

/** The cursor over a file, read with fs.readSync in chunks of `chunkSize` bytes. */
export class FileSource implements ByteSource {
  readonly name: string;
  bytes: Uint8Array;
  pos = 0;
  /** Index in `bytes` one past the last byte read. */
  private end = 0;
  /** File offset of bytes[end]: where the next read starts. */
  private filePos = 0;
  /** Skipped bytes not yet read past (pipes only: a seekable file just moves filePos). */
  private toDiscard = 0;
  private fd: number | null;
  private readonly seekable: boolean;
  private readonly chunkSize: number;

  /** Open `path` for reading. Throws the OS error when it cannot be opened. */
  constructor(path: string, chunkSize: number) {
    this.name = path;
    this.chunkSize = chunkSize;
    this.fd = fs.openSync(path, 'r');
    try {
      this.seekable = fs.fstatSync(this.fd).isFile();
    } catch (err) {
      this.close();
      throw err;
    }
    this.bytes = new Uint8Array(chunkSize);
  }

  get offset(): number {
    return this.filePos + this.toDiscard - (this.end - this.pos);
  }

  get available(): number {
    return this.end - this.pos;
  }

  ensure(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.fd === null) return false;
    this.discardSkipped();
    const kept = this.end - this.pos;
    // Keep the partial record and move it to the front: the window [pos, pos + n) is contiguous
    // afterwards, whichever chunk boundary it straddled.
    if (n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(n, this.chunkSize));
      grown.set(this.bytes.subarray(this.pos, this.end));
      this.bytes = grown;
    } else if (this.pos > 0) {
      this.bytes.copyWithin(0, this.pos, this.end);
    }
    this.pos = 0;
    this.end = kept;
    while (this.end < n) {
      const got = this.read(this.end, this.bytes.length - this.end);
      if (got === 0) break;
      this.end += got;
    }
    return this.end >= n;
  }

  skip(n: number): void {
    const buffered = this.end - this.pos;
    if (n <= buffered) {
      this.pos += n;
      return;
    }
    this.pos = this.end = 0;
    if (this.seekable) this.filePos += n - buffered;
    else this.toDiscard += n - buffered;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    fs.closeSync(fd);
  }

  /** Read and drop the bytes a skip() went past on a non-seekable file, a chunk at a time. */
  private discardSkipped(): void {
    while (this.toDiscard > 0) {
      const got = this.read(0, Math.min(this.toDiscard, this.bytes.length));
      if (got === 0) {
        // The skip went past the end: keep the offset where the caller believes it is.
        this.filePos += this.toDiscard;
        this.toDiscard = 0;
        return;
      }
      this.toDiscard -= got;
    }
  }

  private read(at: number, len: number): number {
    const got = fs.readSync(this.fd!, this.bytes, at, len, this.seekable ? this.filePos : null);
    this.filePos += got;
    return got;
  }
}
